//! `database.url`: which database the store opens. Parsed once at start-up so that a typo fails
//! before any work, and printed only in a redacted form so that no log line or error can carry
//! a password.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

/// A parsed `database.url`.
///
/// Accepted forms, which select the backend:
/// - `sqlite://relative/path.db` (relative to the working directory) and
///   `sqlite:///absolute/path.db`;
/// - `postgres://user:password@host:port/database` (or `postgresql://`, with libpq's query
///   parameters such as `sslmode`);
/// - `mysql://user:password@host:port/database` (or `mariadb://`).
///
/// `Debug` and `Display` replace the password of a server URL (in the user info or a
/// `password=` query parameter) with `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(Target);

#[derive(Clone, PartialEq, Eq)]
enum Target {
    /// The SQLite file, as written after `sqlite://`.
    Sqlite(String),
    /// A database server; `url` holds the credentials and is never printed as is.
    Server { backend: Backend, url: String },
}

/// The database engine a URL selects; decides the migrations, the bind limit and the few
/// statements that differ between engines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Backend {
    Sqlite,
    Postgres,
    Mysql,
}

/// Why a `database.url` cannot be used. Messages never repeat a password, and leave naming the
/// setting to the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    /// Not a URL at all (a bare path, say); the text is not echoed since it may hold a secret.
    #[error("no scheme: expected sqlite://PATH, postgres://… or mysql://…")]
    NoScheme,
    /// A scheme this build does not know.
    #[error("scheme `{0}` is not supported: expected sqlite, postgres or mysql")]
    UnknownScheme(String),
    /// `sqlite://` with nothing after it.
    #[error("`sqlite://` names no file")]
    NoPath,
    /// `sqlite://:memory:`: every pooled connection would open its own empty database.
    #[error(
        "`sqlite://:memory:` is not supported: each pooled connection would see its own database"
    )]
    InMemory,
}

impl FromStr for DatabaseUrl {
    type Err = UrlError;

    fn from_str(text: &str) -> Result<Self, UrlError> {
        let (scheme, rest) = text.split_once("://").ok_or(UrlError::NoScheme)?;
        match scheme.to_ascii_lowercase().as_str() {
            "sqlite" => match rest {
                "" => Err(UrlError::NoPath),
                ":memory:" => Err(UrlError::InMemory),
                path => Ok(Self(Target::Sqlite(path.to_string()))),
            },
            "postgres" | "postgresql" => Ok(Self::server(Backend::Postgres, text)),
            // The MySQL client library accepts only its own scheme.
            "mysql" | "mariadb" => Ok(Self::server(Backend::Mysql, &format!("mysql://{rest}"))),
            _ => Err(UrlError::UnknownScheme(scheme.to_string())),
        }
    }
}

impl DatabaseUrl {
    fn server(backend: Backend, url: &str) -> Self {
        Self(Target::Server {
            backend,
            url: url.to_string(),
        })
    }

    /// The engine this URL selects.
    pub(crate) fn backend(&self) -> Backend {
        match &self.0 {
            Target::Sqlite(_) => Backend::Sqlite,
            Target::Server { backend, .. } => *backend,
        }
    }

    /// The SQLite file to open, `None` for a server.
    pub(crate) fn sqlite_path(&self) -> Option<&Path> {
        match &self.0 {
            Target::Sqlite(path) => Some(Path::new(path)),
            Target::Server { .. } => None,
        }
    }

    /// What the client library connects with: the file path, or the URL with its credentials.
    /// Never print it: `Display` is the redacted form.
    pub(crate) fn connection_string(&self) -> &str {
        match &self.0 {
            Target::Sqlite(path) => path,
            Target::Server { url, .. } => url,
        }
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Target::Sqlite(path) => write!(f, "sqlite://{path}"),
            Target::Server { url, .. } => f.write_str(&redact(url)),
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("DatabaseUrl")
            .field(&self.to_string())
            .finish()
    }
}

/// `scheme://user:secret@host/db?password=secret` → `scheme://user:***@host/db?password=***`.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "***".to_string();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{user}:***@{host}"),
            None => format!("{userinfo}@{host}"),
        },
        None => authority.to_string(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let query: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((key, _)) if key.eq_ignore_ascii_case("password") => {
                        format!("{key}=***")
                    }
                    _ => pair.to_string(),
                })
                .collect();
            format!("{path}?{}", query.join("&"))
        }
        None => tail.to_string(),
    };
    format!("{scheme}://{authority}{tail}")
}

/// Query parameters taken out of a URL by [`take_params`], percent-decoded.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Params(Vec<(String, String)>);

impl Params {
    /// The value of `name`; a later occurrence wins, as in libpq.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// Takes the query parameters named in `names` out of a server URL: the URL without them, for
/// the driver, and their values, for the options the driver does not parse itself (TLS).
pub(crate) fn take_params(url: &str, names: &[&str]) -> (String, Params) {
    let Some((base, query)) = url.split_once('?') else {
        return (url.to_string(), Params::default());
    };
    let mut kept = Vec::new();
    let mut taken = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if names.contains(&key) {
            taken.push((key.to_string(), percent_decode(value)));
        } else {
            kept.push(pair);
        }
    }
    let url = if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    (url, Params(taken))
}

/// `%2F` → `/`; anything that is not a valid escape stays as written.
fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::take_params;

    #[test]
    fn takes_only_the_named_parameters() {
        let check = |url: &str, rest: &str, taken: &[(&str, &str)]| {
            let (got_rest, got_taken) = take_params(url, &["sslmode", "sslrootcert"]);
            assert_eq!(got_rest, rest, "{url}");
            let got: Vec<(&str, &str)> = got_taken
                .0
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            assert_eq!(got, taken, "{url}");
        };
        check("postgres://h/db", "postgres://h/db", &[]);
        check(
            "postgres://h/db?sslmode=verify-full&connect_timeout=3",
            "postgres://h/db?connect_timeout=3",
            &[("sslmode", "verify-full")],
        );
        check(
            "postgres://h/db?sslrootcert=%2Fetc%2Fca.pem&sslmode=require",
            "postgres://h/db",
            &[("sslrootcert", "/etc/ca.pem"), ("sslmode", "require")],
        );
        check("postgres://h/db?a=%zz", "postgres://h/db?a=%zz", &[]);
    }
}
