//! The OpenLDAP programs and files this crate drives, and running them with useful panics.

use std::path::PathBuf;
use std::process::{Command, Output};

use crate::harness;

/// Debian's slapd binary (`/usr/sbin` is not on every user's PATH, so it is named in full).
pub(crate) const SLAPD: &str = "/usr/sbin/slapd";
/// slapadd: slapd's offline loader, far faster than ldapadd for large fixtures.
pub(crate) const SLAPADD: &str = "/usr/sbin/slapadd";
/// Where Debian's slapd package keeps its schema files.
pub(crate) const SCHEMA_DIR: &str = "/etc/ldap/schema";
/// Where Debian's slapd package keeps its dynamically loaded backends and overlays.
pub(crate) const MODULE_DIR: &str = "/usr/lib/ldap";

/// What to do when the OpenLDAP packages are missing; every "not installed" panic says it.
const INSTALL_HINT: &str = "idmsync-test-ldap runs a real OpenLDAP server: install it with \
     `apt-get install slapd ldap-utils` (or run `cargo xtask ci`, which installs them)";

/// Panics with the install hint unless slapd, its schemas, its mdb backend and the client tools
/// are all there. Checked before anything else so that a missing package is never reported as
/// an obscure "No such file" from the middle of a start.
pub(crate) fn require_installed() {
    let needed: Vec<PathBuf> = [
        SLAPD.to_string(),
        SLAPADD.to_string(),
        format!("{MODULE_DIR}/back_mdb.so"),
        format!("{SCHEMA_DIR}/core.schema"),
        format!("{SCHEMA_DIR}/nis.schema"),
    ]
    .into_iter()
    .map(PathBuf::from)
    .chain(["ldapmodify", "ldapwhoami"].map(|tool| on_path(tool).unwrap_or_else(|| tool.into())))
    .collect();
    check_installed(&needed);
}

/// Panics with the install hint if any of `paths` is not an existing file.
fn check_installed(paths: &[PathBuf]) {
    let missing: Vec<String> = paths
        .iter()
        .filter(|p| !p.is_file())
        .map(|p| p.display().to_string())
        .collect();
    assert!(
        missing.is_empty(),
        "{INSTALL_HINT}; missing: {}",
        missing.join(", ")
    );
}

/// The full path of `program` if it is on PATH.
fn on_path(program: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

/// Runs `command` to completion with the install hint in its panics; see [`harness::run`].
pub(crate) fn run(command: &mut Command, what: &str) -> Output {
    harness::run(command, what, INSTALL_HINT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[should_panic(expected = "apt-get install slapd ldap-utils")]
    fn a_missing_program_names_the_packages_to_install() {
        check_installed(&[PathBuf::from("/nonexistent/sbin/slapd")]);
    }

    #[test]
    fn the_installed_tools_are_found() {
        require_installed();
    }
}
