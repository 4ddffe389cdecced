//! `database.url`: which database the store opens. Parsed once at start-up so that a typo fails
//! before any work, taken apart into its components so that the password never reaches a
//! driver's URL parser (whose errors echo what they could not parse), and printed only in a
//! masked form so that no log line or error can carry it.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

/// A parsed `database.url`.
///
/// Accepted forms, which select the backend:
/// - `sqlite://relative/path.db` (relative to the working directory) and
///   `sqlite:///absolute/path.db`;
/// - `postgres://user:password@host:port/database` (or `postgresql://`, with libpq's query
///   parameters such as `sslmode`, several `host:port` separated by commas);
/// - `mysql://user:password@host:port/database` (or `mariadb://`).
///
/// The password may be written as is, whatever it contains (`#`, `?`, `/`, `@`, `%`, `:`…):
/// the user information is everything up to the **last** `@`, the user is what comes before
/// its first `:`, the password everything after. A `%` followed by two hex digits is decoded as
/// an escape, any other `%` is kept. An `@` in a query parameter or the database name must
/// therefore be written `%40`.
///
/// `Debug` and `Display` show the user, hosts, database and parameters, and replace the
/// password (in the user information or a `password=` query parameter) with `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(Target);

/// Where a [`DatabaseUrl`] leads.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// The SQLite file, as written after `sqlite://`.
    Sqlite(String),
    /// A database server.
    Server(ServerUrl),
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
        // A scheme is letters, digits and `+-.` (RFC 3986); anything else means `://` sits
        // inside a bare path or a secret, which must not be echoed.
        let scheme_char = |b: u8| b.is_ascii_alphanumeric() || b"+-.".contains(&b);
        if scheme.is_empty() || !scheme.bytes().all(scheme_char) {
            return Err(UrlError::NoScheme);
        }
        match scheme.to_ascii_lowercase().as_str() {
            "sqlite" => match rest {
                "" => Err(UrlError::NoPath),
                ":memory:" => Err(UrlError::InMemory),
                path => Ok(Self(Target::Sqlite(path.to_string()))),
            },
            "postgres" | "postgresql" => Ok(Self(Target::Server(ServerUrl::parse(
                Backend::Postgres,
                "postgres",
                rest,
            )))),
            // The MySQL client library accepts only its own scheme.
            "mysql" | "mariadb" => Ok(Self(Target::Server(ServerUrl::parse(
                Backend::Mysql,
                "mysql",
                rest,
            )))),
            _ => Err(UrlError::UnknownScheme(scheme.to_string())),
        }
    }
}

impl DatabaseUrl {
    /// The engine this URL selects.
    pub(crate) fn backend(&self) -> Backend {
        match &self.0 {
            Target::Sqlite(_) => Backend::Sqlite,
            Target::Server(server) => server.backend,
        }
    }

    /// The SQLite file to open, `None` for a server; lets read-only commands refuse a file
    /// that does not exist instead of creating it.
    pub fn sqlite_path(&self) -> Option<&Path> {
        match &self.0 {
            Target::Sqlite(path) => Some(Path::new(path)),
            Target::Server(_) => None,
        }
    }

    /// The file or the server, for opening a connection.
    pub(crate) fn target(&self) -> &Target {
        &self.0
    }

    /// `text` with every occurrence of the password replaced by `***`: the last line of defence
    /// for messages that come from a driver. Passwords shorter than four characters are left
    /// alone, since replacing them would garble every message while protecting next to nothing.
    pub(crate) fn scrub(&self, text: &str) -> String {
        let mut text = text.to_string();
        if let Target::Server(server) = &self.0 {
            for secret in server.secrets() {
                if secret.chars().count() >= 4 {
                    text = text.replace(secret.as_str(), "***");
                }
            }
        }
        text
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Target::Sqlite(path) => write!(f, "sqlite://{path}"),
            Target::Server(server) => server.fmt(f),
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

/// A PostgreSQL or MySQL URL taken apart. Every part is kept as written except the password,
/// which is kept decoded and is only ever handed to the driver's option builder.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct ServerUrl {
    backend: Backend,
    /// The scheme the driver parses: `postgres` or `mysql`.
    scheme: &'static str,
    /// The user as written, if any.
    user: Option<String>,
    /// The password of the user information as written, if it has one (even empty).
    password: Option<String>,
    /// `host[:port][,host[:port]…]` as written (may be empty: the driver's default).
    hosts: String,
    /// The database with its leading `/`, as written; empty without one.
    path: String,
    /// The query parameters in order, as written; a `password` among them is a secret.
    params: Vec<(String, Option<String>)>,
}

/// The query parameter that carries a password in libpq's URLs.
const PASSWORD_PARAM: &str = "password";

impl ServerUrl {
    /// PostgreSQL or MySQL.
    pub(crate) fn backend(&self) -> Backend {
        self.backend
    }

    /// Takes `rest` (the URL after `scheme://`) apart: the user information up to the last `@`
    /// (a password may contain anything), then the hosts up to the first `/` or `?`, the
    /// database up to the first `?`, and the `&`-separated parameters.
    fn parse(backend: Backend, scheme: &'static str, rest: &str) -> Self {
        let (userinfo, location) = match rest.rfind('@') {
            Some(at) => (Some(&rest[..at]), &rest[at + 1..]),
            None => (None, rest),
        };
        let (user, password) = match userinfo {
            None => (None, None),
            Some(info) => match info.split_once(':') {
                Some((user, password)) => (Some(user), Some(password)),
                None => (Some(info), None),
            },
        };
        let (location, query) = match location.split_once('?') {
            Some((location, query)) => (location, Some(query)),
            None => (location, None),
        };
        let (hosts, path) = location.split_at(location.find('/').unwrap_or(location.len()));
        let params = query
            .into_iter()
            .flat_map(|q| q.split('&'))
            .filter(|pair| !pair.is_empty())
            .map(|pair| match pair.split_once('=') {
                Some((key, value)) => (key.to_string(), Some(value.to_string())),
                None => (pair.to_string(), None),
            })
            .collect();
        Self {
            backend,
            scheme,
            user: user.filter(|u| !u.is_empty()).map(str::to_string),
            password: password.map(str::to_string),
            hosts: hosts.to_string(),
            path: path.to_string(),
            params,
        }
    }

    /// The password to log in with, decoded: a `password` query parameter (the last one wins,
    /// as in libpq), else the user information's.
    pub(crate) fn password(&self) -> Option<String> {
        self.params
            .iter()
            .rev()
            .find(|(key, _)| key == PASSWORD_PARAM)
            .map(|(_, value)| value.as_deref().unwrap_or_default())
            .or(self.password.as_deref())
            .map(percent_decode)
    }

    /// Every form of the password this URL holds, as written and decoded.
    fn secrets(&self) -> Vec<String> {
        let written = self
            .params
            .iter()
            .filter(|(key, _)| key == PASSWORD_PARAM)
            .filter_map(|(_, value)| value.clone())
            .chain(self.password.clone());
        let mut secrets: Vec<String> = written.flat_map(|w| [percent_decode(&w), w]).collect();
        // Longest first, so that a secret that contains another is replaced whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        secrets
    }

    /// The URL for the driver's parser, without any password (the caller sets it with the
    /// driver's option builder) and without the parameters named in `taken`, whose decoded
    /// values are returned for the options the driver does not parse itself (TLS). The user is
    /// re-encoded, so that whatever it holds reaches the driver as written.
    pub(crate) fn driver_url(&self, taken: &[&str]) -> (String, Params) {
        let mut url = format!("{}://", self.scheme);
        if let Some(user) = &self.user {
            url.push_str(&percent_encode(&percent_decode(user)));
            url.push('@');
        }
        url.push_str(&self.hosts);
        url.push_str(&self.path);
        let mut kept = Vec::new();
        let mut params = Vec::new();
        for (key, value) in &self.params {
            if key == PASSWORD_PARAM {
                continue;
            }
            if taken.contains(&key.as_str()) {
                params.push((key.clone(), percent_decode(value.as_deref().unwrap_or(""))));
                continue;
            }
            kept.push(match value {
                Some(value) => format!("{key}={value}"),
                None => key.clone(),
            });
        }
        if !kept.is_empty() {
            url.push('?');
            url.push_str(&kept.join("&"));
        }
        (url, Params(params))
    }
}

impl fmt::Display for ServerUrl {
    /// `scheme://user:***@hosts/database?key=value&password=***`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://", self.scheme)?;
        if let Some(user) = &self.user {
            f.write_str(user)?;
        }
        if self.password.is_some() {
            f.write_str(":***")?;
        }
        if self.user.is_some() || self.password.is_some() {
            f.write_str("@")?;
        }
        write!(f, "{}{}", self.hosts, self.path)?;
        for (i, (key, value)) in self.params.iter().enumerate() {
            f.write_str(if i == 0 { "?" } else { "&" })?;
            match value {
                _ if key.eq_ignore_ascii_case(PASSWORD_PARAM) => write!(f, "{key}=***")?,
                Some(value) => write!(f, "{key}={value}")?,
                None => f.write_str(key)?,
            }
        }
        Ok(())
    }
}

impl fmt::Debug for ServerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ServerUrl").field(&self.to_string()).finish()
    }
}

/// Query parameters taken out of a URL by [`ServerUrl::driver_url`], percent-decoded.
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

/// Every byte but RFC 3986's unreserved characters as `%XX`.
fn percent_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{Backend, DatabaseUrl, Target};

    fn server(text: &str) -> super::ServerUrl {
        match text.parse::<DatabaseUrl>().expect("parses").0 {
            Target::Server(server) => server,
            Target::Sqlite(_) => panic!("a server URL"),
        }
    }

    /// `url` shows as `shown`, logs in with `password`, and reaches the driver as `driver`
    /// (TLS parameters taken out as `taken`).
    fn check(url: &str, shown: &str, password: Option<&str>, driver: &str, taken: &[(&str, &str)]) {
        let parsed = server(url);
        assert_eq!(parsed.to_string(), shown, "{url}");
        assert_eq!(parsed.password().as_deref(), password, "{url}");
        let (got, params) = parsed.driver_url(&["sslmode", "sslrootcert"]);
        assert_eq!(got, driver, "{url}");
        let got: Vec<(&str, &str)> = params
            .0
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(got, taken, "{url}");
    }

    #[test]
    fn server_urls_are_taken_apart_whatever_the_password_holds() {
        check(
            "postgres://idm:s3cret@db:5432/idm",
            "postgres://idm:***@db:5432/idm",
            Some("s3cret"),
            "postgres://idm@db:5432/idm",
            &[],
        );
        // The canary: every character that ends a part of a URL, unencoded.
        check(
            "postgres://idm:p#?/@%:w@db.example.com:5432/idm?sslmode=require&connect_timeout=3",
            "postgres://idm:***@db.example.com:5432/idm?sslmode=require&connect_timeout=3",
            Some("p#?/@%:w"),
            "postgres://idm@db.example.com:5432/idm?connect_timeout=3",
            &[("sslmode", "require")],
        );
        check(
            "postgresql://idm:a%40b%2Fc@h1:1,h2:2/db",
            "postgres://idm:***@h1:1,h2:2/db",
            Some("a@b/c"),
            "postgres://idm@h1:1,h2:2/db",
            &[],
        );
        check(
            "postgres://h/db?sslrootcert=%2Fetc%2Fca.pem&password=s3cret&sslmode=verify-full",
            "postgres://h/db?sslrootcert=%2Fetc%2Fca.pem&password=***&sslmode=verify-full",
            Some("s3cret"),
            "postgres://h/db",
            &[("sslrootcert", "/etc/ca.pem"), ("sslmode", "verify-full")],
        );
        check(
            "postgres://h/db?a=%zz&flag",
            "postgres://h/db?a=%zz&flag",
            None,
            "postgres://h/db?a=%zz&flag",
            &[],
        );
        // A user that needs encoding reaches the driver encoded; an empty password is one.
        check(
            "postgres://a b:@h/db",
            "postgres://a b:***@h/db",
            Some(""),
            "postgres://a%20b@h/db",
            &[],
        );
        check(
            "MariaDB://root@localhost",
            "mysql://root@localhost",
            None,
            "mysql://root@localhost",
            &[],
        );
        assert_eq!(server("mysql://u:x@h/d").backend, Backend::Mysql);
    }

    #[test]
    fn scrubbing_replaces_every_form_of_the_password() {
        let url: DatabaseUrl = "postgres://idm:p%23ss:word@h/db".parse().expect("url");
        assert_eq!(
            url.scrub("bad p#ss:word and p%23ss:word"),
            "bad *** and ***"
        );
        let short: DatabaseUrl = "postgres://idm:a@h/db".parse().expect("url");
        assert_eq!(short.scrub("a database"), "a database");
    }

    #[test]
    fn a_secret_that_looks_like_a_scheme_is_not_echoed() {
        let err = "p@ss/w://rd".parse::<DatabaseUrl>().expect_err("no scheme");
        assert_eq!(err, super::UrlError::NoScheme);
    }
}
