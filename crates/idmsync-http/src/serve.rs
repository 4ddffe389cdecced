//! Serving a router on a listener, over HTTP or HTTPS, until told to stop.

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum_server::tls_rustls::{RustlsAcceptor, RustlsConfig};
use axum_server::{Handle, Server};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;
use tokio::net::TcpListener;

use crate::error::HttpError;

/// The PEM files of an HTTPS listener: the certificate chain (server certificate first) and its
/// private key (PKCS#8, PKCS#1 or SEC1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate chain.
    pub cert: PathBuf,
    /// The private key.
    pub key: PathBuf,
}

/// Serves `router` on `listener` until `shutdown` resolves, then stops accepting and lets
/// in-flight requests finish (graceful), so that a stopping service does not cut off a client
/// mid-answer. With `tls`, HTTPS (rustls) from PEM files, read before the first connection is
/// accepted so that a bad file fails the start rather than every handshake.
///
/// The listener is bound by the caller, which lets the binary report the address and tests bind
/// port 0.
///
/// # Errors
/// [`HttpError::TlsFile`] or [`HttpError::Tls`] when the certificate or key is unusable;
/// [`HttpError::Serve`] when the listener fails.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    tls: Option<TlsFiles>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), HttpError> {
    let tls = match tls {
        Some(files) => Some(tls_config(&files).await?),
        None => None,
    };
    let handle = Handle::new();
    let server = Server::<SocketAddr>::from_listener(listener).handle(handle.clone());
    let stopper = tokio::spawn(async move {
        shutdown.await;
        handle.graceful_shutdown(None);
    });
    let app = router.into_make_service();
    let served = match tls {
        Some(config) => {
            server
                .acceptor(RustlsAcceptor::new(config))
                .serve(app)
                .await
        }
        None => server.serve(app).await,
    };
    stopper.abort();
    Ok(served?)
}

/// The rustls configuration from the PEM files. The ring provider is named explicitly rather
/// than taken from the process default, which is ambiguous (and panics) when another crate of
/// the binary switches on a second provider.
async fn tls_config(files: &TlsFiles) -> Result<RustlsConfig, HttpError> {
    let certs = CertificateDer::pem_slice_iter(&read(&files.cert).await?)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_error(&files.cert, e))?;
    if certs.is_empty() {
        return Err(file_error(&files.cert, "no certificate in the file"));
    }
    let key = PrivateKeyDer::from_pem_slice(&read(&files.key).await?)
        .map_err(|e| file_error(&files.key, e))?;
    let mut config =
        ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .and_then(|builder| builder.with_no_client_auth().with_single_cert(certs, key))
            .map_err(|e| HttpError::Tls(e.to_string()))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(RustlsConfig::from_config(Arc::new(config)))
}

async fn read(path: &Path) -> Result<Vec<u8>, HttpError> {
    tokio::fs::read(path).await.map_err(|e| file_error(path, e))
}

fn file_error(path: &Path, message: impl ToString) -> HttpError {
    HttpError::TlsFile {
        path: path.to_path_buf(),
        message: message.to_string(),
    }
}
