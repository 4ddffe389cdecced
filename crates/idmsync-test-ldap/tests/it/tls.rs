//! `tls(true)`: ldaps:// and StartTLS with the server's own test CA.

use std::path::Path;
use std::process::{Command, Output};

use idmsync_test_ldap::Slapd;

/// `ldapwhoami` as the sync account trusting only `ca`. `LDAPNOINIT` is not set: it would also
/// disable the `LDAPTLS_*` variables.
fn whoami(slapd: &Slapd, url: &str, ca: &Path, start_tls: bool) -> Output {
    let mut command = Command::new("ldapwhoami");
    command
        .env("LDAPTLS_CACERT", ca)
        .env("LDAPTLS_REQCERT", "demand")
        .args([
            "-x",
            "-H",
            url,
            "-D",
            &slapd.sync_dn(),
            "-w",
            slapd.sync_password(),
        ]);
    if start_tls {
        command.arg("-ZZ");
    }
    command.output().expect("running ldapwhoami")
}

#[test]
fn ldaps_and_start_tls_work_with_the_test_ca() {
    let slapd = Slapd::builder().tls(true).start();
    let ca = slapd.ca_file().expect("a CA file with tls(true)");
    let ldaps = slapd.ldaps_url().expect("an ldaps URL with tls(true)");
    assert!(ldaps.starts_with("ldaps://127.0.0.1:"), "{ldaps}");
    assert_ne!(ldaps.rsplit(':').next(), slapd.url().rsplit(':').next());

    let out = whoami(&slapd, &ldaps, &ca, false);
    assert!(out.status.success(), "ldaps: {out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains(&slapd.sync_dn()));
    let out = whoami(&slapd, &slapd.url(), &ca, true);
    assert!(out.status.success(), "StartTLS: {out:?}");

    // Another server's CA is not trusted: the certificate really is checked.
    let other = Slapd::builder().tls(true).start();
    let wrong_ca = other.ca_file().expect("a CA file with tls(true)");
    assert!(!whoami(&slapd, &ldaps, &wrong_ca, false).status.success());
    assert!(!whoami(&slapd, &slapd.url(), &wrong_ca, true)
        .status
        .success());
}

#[test]
fn without_tls_there_is_no_ldaps() {
    let slapd = Slapd::builder().start();
    assert_eq!(slapd.ldaps_url(), None);
    assert_eq!(slapd.ca_file(), None);
}
