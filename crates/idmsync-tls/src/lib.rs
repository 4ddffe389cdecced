//! rustls client configurations for every TLS connection idmsync opens: to the directory
//! (LDAPS, StartTLS) and to PostgreSQL. One TLS stack, rustls with the ring provider, so that
//! the binary links no OpenSSL and needs no C library at run time.
//!
//! Design decisions:
//! - **Trust** is either one PEM file of CA certificates that the operator names (`ca_file`,
//!   `sslrootcert`) or, without one, the system's trust store (`/etc/ssl/certs` and the like,
//!   read by `rustls-native-certs`), as OpenSSL-based clients did.
//! - **Verification** has the three levels that database clients name: the whole certificate
//!   ([`Verify::Full`], libpq's `verify-full`), its chain but not the host name
//!   ([`Verify::Chain`], `verify-ca`, for servers addressed by an IP their certificate does not
//!   list), or nothing but the encryption ([`Verify::Nothing`], `require`). Handshake signatures
//!   are checked at every level, so `Nothing` still proves that the peer holds the key of the
//!   certificate it sent.
#![deny(missing_docs)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};

/// The configuration type the adapters hand to their TLS connectors (ldap3, tokio-postgres).
pub use rustls::ClientConfig;

/// How much of the server's certificate a connection verifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verify {
    /// Chain to a trusted root, validity dates and the host name: the default everywhere.
    Full,
    /// Chain and dates, not the host name (libpq's `verify-ca`, MySQL's `VERIFY_CA`).
    Chain,
    /// Encryption only: any certificate is accepted (libpq's `require`, the directory's
    /// `tls_insecure`). For tests and trusted networks; the docs say so where it is offered.
    Nothing,
}

/// Why no TLS configuration could be built. The messages name the file, never its contents.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The CA file cannot be read.
    #[error("cannot read {}: {reason}", path.display())]
    Unreadable {
        /// The file as configured.
        path: PathBuf,
        /// The operating system's reason.
        reason: String,
    },
    /// The CA file holds no PEM certificate that rustls accepts as a root.
    #[error("{} holds no usable PEM certificate{}", path.display(), reason.as_deref().map(|r| format!(" ({r})")).unwrap_or_default())]
    NoCertificate {
        /// The file as configured.
        path: PathBuf,
        /// What rustls said of the first certificate it refused, if any.
        reason: Option<String>,
    },
    /// The system trust store could not be read and no CA file was named.
    #[error("no CA file given and the system's trust store is unusable: {0}")]
    SystemRoots(String),
    /// rustls refused the configuration (no protocol version the provider supports).
    #[error("cannot set up TLS: {0}")]
    Config(String),
}

/// The ring provider: the one cryptography every TLS connection of the binary uses.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A client configuration that trusts `ca_file` (or the system's roots without one) and
/// verifies as `verify` says.
///
/// # Errors
/// [`TlsError`] when the CA file cannot be read or holds no certificate, or when neither a CA
/// file nor the system's trust store gives a root (only for levels that verify).
pub fn client_config(ca_file: Option<&Path>, verify: Verify) -> Result<ClientConfig, TlsError> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?;
    let verifier: Arc<dyn ServerCertVerifier> = match verify {
        Verify::Nothing => Arc::new(AnyCertificate(provider)),
        Verify::Full | Verify::Chain => {
            let roots = Arc::new(roots(ca_file)?);
            let webpki = WebPkiServerVerifier::builder_with_provider(roots, provider)
                .build()
                .map_err(|e| TlsError::Config(e.to_string()))?;
            if verify == Verify::Full {
                webpki
            } else {
                Arc::new(AnyName(webpki))
            }
        }
    };
    Ok(builder
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth())
}

/// The roots to trust: every certificate of `ca_file`, or the system's.
fn roots(ca_file: Option<&Path>) -> Result<RootCertStore, TlsError> {
    let mut store = RootCertStore::empty();
    match ca_file {
        Some(path) => {
            let pem = std::fs::read(path).map_err(|e| TlsError::Unreadable {
                path: path.to_path_buf(),
                reason: e.to_string(),
            })?;
            let mut refused = None;
            for cert in CertificateDer::pem_slice_iter(&pem).flatten() {
                if let Err(e) = store.add(cert) {
                    refused.get_or_insert(e.to_string());
                }
            }
            if store.is_empty() {
                return Err(TlsError::NoCertificate {
                    path: path.to_path_buf(),
                    reason: refused,
                });
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            // Unreadable files among the system's are skipped, as OpenSSL does; only a store
            // with no usable root at all is an error.
            let (added, _) = store.add_parsable_certificates(found.certs);
            if added == 0 {
                let reason = found.errors.first().map_or_else(
                    || "it holds no certificate".to_string(),
                    ToString::to_string,
                );
                return Err(TlsError::SystemRoots(reason));
            }
        }
    }
    Ok(store)
}

/// [`Verify::Chain`]: the web PKI verifier, with a certificate for another name accepted. Name
/// errors are the only ones forgiven, and webpki reports them only after the chain verified.
#[derive(Debug)]
struct AnyName(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for AnyName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// [`Verify::Nothing`]: any certificate, but the handshake's signatures still checked.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
