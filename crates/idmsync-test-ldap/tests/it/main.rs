//! Integration tests of idmsync-test-ldap: each starts a real slapd and checks it with the
//! OpenLDAP command line tools, the way a person would.

mod fixture;
mod generated;
mod lifecycle;
mod limits;
mod tls;

use std::process::{Command, Output};

use idmsync_test_ldap::Slapd;

/// `ldapsearch -x -LLL` as the sync account on the plain URL with extra `args`. Returns the
/// output whatever the exit status, so tests can check failures too.
fn search(slapd: &Slapd, args: &[&str]) -> Output {
    Command::new("ldapsearch")
        .env("LDAPNOINIT", "1")
        .args(["-x", "-LLL", "-o", "ldif-wrap=no", "-H", &slapd.url()])
        .args(["-D", &slapd.sync_dn(), "-w", slapd.sync_password()])
        .args(args)
        .output()
        .expect("running ldapsearch")
}

/// The DNs that a successful paged subtree search as the sync account returns, as printed
/// (non-ASCII DNs base64-encoded, `dn::`).
fn paged_dns(slapd: &Slapd, base: &str, filter: &str) -> Vec<String> {
    let out = search(slapd, &["-E", "pr=50/noprompt", "-b", base, filter, "1.1"]);
    assert_success(&out, "paged ldapsearch");
    stdout(&out)
        .lines()
        .filter(|line| line.starts_with("dn:"))
        .map(str::to_string)
        .collect()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn assert_success(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        stdout(out),
    );
}

/// `ldapwhoami` bound as `dn` with `password`; true if the bind succeeded.
fn can_bind(url: &str, dn: &str, password: &str) -> bool {
    Command::new("ldapwhoami")
        .env("LDAPNOINIT", "1")
        .args(["-x", "-H", url, "-D", dn, "-w", password])
        .output()
        .expect("running ldapwhoami")
        .status
        .success()
}
