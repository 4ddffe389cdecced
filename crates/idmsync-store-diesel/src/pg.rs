//! Opening a PostgreSQL connection: tokio-postgres over rustls, with libpq's `sslmode` and
//! `sslrootcert` as libpq users write them in the URL.

use std::path::Path;

use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_async::AsyncPgConnection;
use idmsync_tls::Verify;
use tokio_postgres::config::SslMode;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::runtime::{self, Blocking};
use crate::url::ServerUrl;

/// A PostgreSQL connection as the store uses it: synchronous diesel over tokio-postgres.
pub(crate) type PgConn = Blocking<AsyncPgConnection>;

/// Connects to `url`, a `postgres://` URL with any of tokio-postgres' parameters plus libpq's
/// TLS ones (the password is set on the driver's options, never parsed by it):
///
/// | `sslmode` | TLS | verifies |
/// |---|---|---|
/// | `disable` | never | — |
/// | `allow`, `prefer` (default) | when the server offers it | nothing, or the chain with `sslrootcert` |
/// | `require` | always | nothing, or the chain with `sslrootcert` |
/// | `verify-ca` | always | the chain |
/// | `verify-full` | always | the chain and the host name |
///
/// The chain is verified against `sslrootcert`, or the system's trust store without one
/// (libpq would read `~/.postgresql/root.crt`; an operator names the file instead).
///
/// # Errors
/// The reason in words: an unknown `sslmode`, an unreadable CA file, the driver's refusal
/// (connection refused, authentication failed, no such database, the server does not offer TLS).
pub(crate) fn connect(url: &ServerUrl) -> Result<PgConn, String> {
    let (rest, params) = url.driver_url(&["sslmode", "sslrootcert"]);
    let root = params.get("sslrootcert").map(Path::new);
    let unverified = if root.is_some() {
        Verify::Chain
    } else {
        Verify::Nothing
    };
    let (mode, verify) = match params.get("sslmode").unwrap_or("prefer") {
        "disable" => (SslMode::Disable, unverified),
        "allow" | "prefer" => (SslMode::Prefer, unverified),
        "require" => (SslMode::Require, unverified),
        "verify-ca" => (SslMode::Require, Verify::Chain),
        "verify-full" => (SslMode::Require, Verify::Full),
        other => {
            return Err(format!(
                "sslmode `{other}` is not one of disable, allow, prefer, require, verify-ca, \
                 verify-full"
            ))
        }
    };
    let mut config: tokio_postgres::Config = rest
        .parse()
        .map_err(|e| format!("not a PostgreSQL URL: {e}"))?;
    // Set here, never parsed from a URL: whatever it contains cannot end up in a parse error.
    if let Some(password) = url.password() {
        config.password(password);
    }
    config.ssl_mode(mode);
    let tls = if mode == SslMode::Disable {
        // Never used, but tokio-postgres wants a connector; no CA file is read for it.
        idmsync_tls::client_config(None, Verify::Nothing)
    } else {
        idmsync_tls::client_config(root, verify)
    }
    .map_err(|e| format!("sslrootcert: {e}"))?;
    let conn = runtime::block_on(async {
        let (client, connection) = config
            .connect(MakeRustlsConnect::new(tls))
            .await
            .map_err(|e| with_causes(&e))?;
        AsyncPgConnection::try_from_client_and_connection(client, connection)
            .await
            .map_err(|e| e.to_string())
    })?;
    Ok(AsyncConnectionWrapper::from(conn))
}

/// `error: cause: cause…`: tokio-postgres says "error performing TLS handshake" and keeps the
/// reason (an unknown issuer, a name mismatch) as the error's source.
fn with_causes(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        let text = inner.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        cause = inner.source();
    }
    message
}
