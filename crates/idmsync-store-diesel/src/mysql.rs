//! Opening a MySQL/MariaDB connection: mysql_async over rustls, with diesel's `ssl_mode` and
//! `ssl_ca` URL parameters.

use std::path::PathBuf;

use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_async::AsyncMysqlConnection;
use mysql_async::{DriverError, Opts, OptsBuilder, SslOpts};

use crate::load::Infiles;
use crate::runtime::{self, Blocking};
use crate::url::ServerUrl;

/// A MySQL/MariaDB connection as the store uses it: synchronous diesel over mysql_async.
pub(crate) type MysqlConn = Blocking<AsyncMysqlConnection>;

/// How a connection uses TLS, from `ssl_mode` (the values of MySQL's `--ssl-mode`, any case).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SslMode {
    /// No TLS: the default, as with MariaDB's client library.
    Disabled,
    /// TLS when the server offers it, without verification.
    Preferred,
    /// TLS, without verification (the chain is verified when `ssl_ca` is given).
    Required,
    /// TLS, the chain verified against `ssl_ca` or Mozilla's roots (built into mysql_async).
    VerifyCa,
    /// TLS, the chain and the host name verified.
    VerifyIdentity,
}

/// Connects to `url`, a `mysql://` URL with any of mysql_async's parameters plus `ssl_mode`
/// (`disabled`, `preferred`, `required`, `verify_ca`, `verify_identity`) and `ssl_ca` (a PEM
/// file of CA certificates). The password is set on the driver's options, never parsed by it.
///
/// # Errors
/// The reason in words: an unknown parameter or `ssl_mode`, the driver's refusal (connection
/// refused, access denied, unknown database, the server does not offer TLS).
pub(crate) fn connect(url: &ServerUrl) -> Result<MysqlConn, String> {
    let (rest, params) = url.driver_url(&["ssl_mode", "ssl_ca"]);
    let ca = params.get("ssl_ca").map(PathBuf::from);
    let mode = match params
        .get("ssl_mode")
        .map(|m| m.to_ascii_lowercase().replace('-', "_"))
        .as_deref()
    {
        None | Some("disabled") => SslMode::Disabled,
        Some("preferred") => SslMode::Preferred,
        Some("required") => SslMode::Required,
        Some("verify_ca") => SslMode::VerifyCa,
        Some("verify_identity") => SslMode::VerifyIdentity,
        Some(other) => {
            return Err(format!(
                "ssl_mode `{other}` is not one of disabled, preferred, required, verify_ca, \
                 verify_identity"
            ))
        }
    };
    let opts = Opts::from_url(&rest).map_err(|e| format!("not a MySQL URL: {e}"))?;
    let base = OptsBuilder::from_opts(opts)
        // Set here, never parsed from a URL: whatever it contains cannot end up in an error.
        .pass(url.password())
        // diesel-async caches statements itself.
        .stmt_cache_size(0)
        // Matched rows, not changed ones, as diesel counts them on every backend.
        .client_found_rows(true)
        // The rows of `LOAD DATA LOCAL INFILE` (load.rs), never a file.
        .local_infile_handler(Some(Infiles));
    let tls = |ssl: SslOpts| {
        // A TCP connection to the local server would otherwise be swapped for its Unix socket,
        // without TLS.
        base.clone().ssl_opts(ssl).prefer_socket(false)
    };
    let trusting = |ssl: SslOpts| match &ca {
        Some(path) => ssl.with_root_certs(vec![path.clone().into()]),
        None => ssl,
    };
    let unverified = match &ca {
        Some(_) => trusting(SslOpts::default()).with_danger_skip_domain_validation(true),
        None => SslOpts::default().with_danger_accept_invalid_certs(true),
    };
    let conn = runtime::block_on(async {
        let conn = match mode {
            SslMode::Disabled => mysql_async::Conn::new(base.clone()).await,
            SslMode::Preferred => match mysql_async::Conn::new(tls(unverified)).await {
                Err(mysql_async::Error::Driver(DriverError::NoClientSslFlagFromServer)) => {
                    mysql_async::Conn::new(base.clone()).await
                }
                other => other,
            },
            SslMode::Required => mysql_async::Conn::new(tls(unverified)).await,
            SslMode::VerifyCa => {
                let ssl = trusting(SslOpts::default()).with_danger_skip_domain_validation(true);
                mysql_async::Conn::new(tls(ssl)).await
            }
            SslMode::VerifyIdentity => {
                mysql_async::Conn::new(tls(trusting(SslOpts::default()))).await
            }
        }
        .map_err(|e| e.to_string())?;
        AsyncMysqlConnection::try_from(conn)
            .await
            .map_err(|e| e.to_string())
    })?;
    Ok(AsyncConnectionWrapper::from(conn))
}
