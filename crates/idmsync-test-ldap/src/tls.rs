//! A throwaway test CA and a server certificate for 127.0.0.1 and localhost, made with the
//! `openssl` command line tool.
//!
//! The openssl CLI rather than a crate: it is on every Debian machine, and a certificate crate
//! would add a crypto stack to every test build for a few milliseconds of work per server. EC
//! P-256 keys because they are generated instantly (RSA keys take a noticeable fraction of a
//! second each).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::tools::run;

/// The PEM files of one server's TLS setup.
pub(crate) struct TlsFiles {
    /// The CA certificate clients must trust (`LDAPTLS_CACERT`, a TLS connector's root).
    pub ca: PathBuf,
    /// The server certificate, signed by `ca`, for IP 127.0.0.1 and DNS localhost.
    pub cert: PathBuf,
    /// The server certificate's private key.
    pub key: PathBuf,
}

/// Creates a fresh CA and server certificate in `dir`.
pub(crate) fn generate(dir: &Path) -> TlsFiles {
    let files = TlsFiles {
        ca: dir.join("ca.pem"),
        cert: dir.join("server.pem"),
        key: dir.join("server.key"),
    };
    let ca_key = dir.join("ca.key");
    let csr = dir.join("server.csr");
    let extensions = dir.join("server.ext");
    std::fs::write(
        &extensions,
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=critical,CA:FALSE\n\
         keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap_or_else(|e| panic!("writing {}: {e}", extensions.display()));
    let ec_key = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    run(
        Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-days",
                "3650",
                "-subj",
                "/CN=idmsync test CA",
            ])
            .args(ec_key)
            .args(["-addext", "basicConstraints=critical,CA:TRUE"])
            .args(["-addext", "keyUsage=critical,keyCertSign,cRLSign"])
            .arg("-keyout")
            .arg(&ca_key)
            .arg("-out")
            .arg(&files.ca),
        "openssl (test CA)",
    );
    run(
        Command::new("openssl")
            .args(["req", "-subj", "/CN=localhost"])
            .args(ec_key)
            .arg("-keyout")
            .arg(&files.key)
            .arg("-out")
            .arg(&csr),
        "openssl (server key)",
    );
    run(
        Command::new("openssl")
            .args(["x509", "-req", "-days", "3650", "-set_serial", "1"])
            .arg("-in")
            .arg(&csr)
            .arg("-CA")
            .arg(&files.ca)
            .arg("-CAkey")
            .arg(&ca_key)
            .arg("-extfile")
            .arg(&extensions)
            .arg("-out")
            .arg(&files.cert),
        "openssl (server certificate)",
    );
    files
}
