//! Serving a router on a listener, over HTTP or HTTPS, until told to stop, within the limits
//! of [`ServeOptions`].

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum_server::tls_rustls::{RustlsAcceptor, RustlsConfig};
use axum_server::{AddrListener, Address, Handle, Server};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::HttpError;

/// The limits of one listener, so that clients that open connections and send nothing, or
/// half a request, cannot take every file descriptor of the process. The binary's
/// `[http]` keys would be `max_connections` and `header_timeout_secs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServeOptions {
    /// Connections served at once. Past it the listener stops accepting: further clients wait
    /// in the kernel's listen backlog (and, once that is full, their connection attempts are
    /// not answered) until a connection closes. Each listener has its own cap, so a flood of
    /// the API cannot shut out the probes of a separate `metrics_listen`.
    pub max_connections: usize,
    /// How long a client has for each step before its connection is closed: the TLS handshake,
    /// then the first request's headers (any protocol), then each further request's headers
    /// on a kept-alive HTTP/1 connection (which also ends idle keep-alive connections).
    /// Request bodies and the handlers' own work are not limited by it.
    pub header_timeout: Duration,
}

impl Default for ServeOptions {
    /// 512 connections, well below the common 1,024 file descriptor limit, and far above what
    /// probes, scrapers and admin scripts use; 10 seconds, an age for a request's headers.
    fn default() -> Self {
        Self {
            max_connections: 512,
            header_timeout: Duration::from_secs(10),
        }
    }
}

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
/// accepted so that a bad file fails the start rather than every handshake. Within the limits
/// of `options`.
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
    options: ServeOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), HttpError> {
    let tls = match tls {
        Some(files) => Some(tls_config(&files).await?),
        None => None,
    };
    let handle = Handle::new();
    let listener = CappedListener {
        listener,
        permits: Arc::new(Semaphore::new(options.max_connections.max(1))),
    };
    let mut server = Server::<Capped>::from_listener(listener)
        .handle(handle.clone())
        .first_request_timeout(options.header_timeout)
        .accept_error_handler(|peer: Option<&Capped>, error: &io::Error| match peer {
            // The listener itself: out of file descriptors (EMFILE), say.
            None => tracing::warn!(%error, "cannot accept connections; retrying"),
            // One client: a failed or timed-out TLS handshake.
            Some(Capped(peer)) => tracing::debug!(%peer, %error, "connection refused"),
        });
    server
        .http_builder()
        .http1()
        .header_read_timeout(options.header_timeout);
    let stopper = tokio::spawn(async move {
        shutdown.await;
        handle.graceful_shutdown(None);
    });
    let app = router.into_make_service();
    let served = match tls {
        Some(config) => {
            let acceptor = RustlsAcceptor::new(config).handshake_timeout(options.header_timeout);
            server.acceptor(acceptor).serve(app).await
        }
        None => server.serve(app).await,
    };
    stopper.abort();
    Ok(served?)
}

/// The address of a [`CappedListener`]'s clients: axum-server's listener and stream types hang
/// off the address type, so the cap needs one of its own.
#[derive(Debug, Clone, Copy)]
struct Capped(SocketAddr);

impl Address for Capped {
    type Stream = CappedStream;
    type Listener = CappedListener;
}

/// A TCP listener that accepts a connection only with a permit, which the connection holds
/// until it closes.
struct CappedListener {
    listener: TcpListener,
    permits: Arc<Semaphore>,
}

impl AddrListener<CappedStream, Capped> for CappedListener {
    async fn bind_to(_addr: Capped) -> io::Result<Self> {
        // `serve` always passes a bound listener.
        Err(io::Error::other("a capped listener is bound by its caller"))
    }

    async fn accept_stream(&self) -> io::Result<(CappedStream, Capped)> {
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(io::Error::other)?;
        let (stream, peer) = self.listener.accept().await?;
        Ok((
            CappedStream {
                stream,
                _permit: permit,
            },
            Capped(peer),
        ))
    }

    fn get_local_addr(&self) -> io::Result<Capped> {
        self.listener.local_addr().map(Capped)
    }
}

/// An accepted connection and its place under the cap, given back when it is dropped.
struct CappedStream {
    stream: TcpStream,
    _permit: OwnedSemaphorePermit,
}

impl AsyncRead for CappedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for CappedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// Reads and parses the certificate and key as [`serve`] would, for `idmsync config check`.
///
/// # Errors
/// As [`serve`] for its TLS files.
pub async fn check_tls_files(files: &TlsFiles) -> Result<(), HttpError> {
    tls_config(files).await.map(drop)
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
