//! `database.url`: which database the store opens. Parsed once at start-up so that a typo fails
//! before any work, and printed only in a redacted form so that no log line or error can carry
//! a password.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use idmsync_ports::StoreError;

/// A parsed `database.url`.
///
/// Accepted forms:
/// - `sqlite://relative/path.db` (relative to the working directory) and
///   `sqlite:///absolute/path.db`;
/// - `postgres://…` / `postgresql://…` and `mysql://…` / `mariadb://…`, which parse (so that
///   configuration can be written for them already) but do not connect yet.
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
    Server { backend: Server, url: String },
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Server {
    Postgres,
    Mysql,
}

impl Server {
    fn name(self) -> &'static str {
        match self {
            Server::Postgres => "PostgreSQL",
            Server::Mysql => "MySQL/MariaDB",
        }
    }
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
            "postgres" | "postgresql" => Ok(Self::server(Server::Postgres, text)),
            "mysql" | "mariadb" => Ok(Self::server(Server::Mysql, text)),
            _ => Err(UrlError::UnknownScheme(scheme.to_string())),
        }
    }
}

impl DatabaseUrl {
    fn server(backend: Server, url: &str) -> Self {
        Self(Target::Server {
            backend,
            url: url.to_string(),
        })
    }

    /// The SQLite file to open, or the "not supported yet" error for a server URL.
    pub(crate) fn sqlite_path(&self) -> Result<&Path, StoreError> {
        match &self.0 {
            Target::Sqlite(path) => Ok(Path::new(path)),
            Target::Server { backend, .. } => Err(StoreError::Unavailable(format!(
                "{self}: {} is not supported yet; use a sqlite:// database.url",
                backend.name()
            ))),
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
