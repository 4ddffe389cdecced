//! The Debian packages that the test servers need, and installing them when they are missing.
//!
//! Tests talk to real servers (`idmsync-test-ldap` runs OpenLDAP's slapd, `idmsync-test-ad` a
//! Samba AD domain controller), so CI must have those servers installed before it runs a single
//! test. A fresh machine has nothing; `cargo xtask ci` runs as root there and installs what is
//! missing. Each server is one entry in [`TEST_SERVERS`].

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

/// Something the tests need, how to tell whether it is installed, and what installs it.
pub struct Requirement {
    /// What it is for, for messages.
    pub purpose: &'static str,
    /// Files (absolute paths) or programs (looked up on PATH) that exist once it is installed.
    pub probes: &'static [&'static str],
    /// The Debian packages that provide it.
    pub packages: &'static [&'static str],
}

/// The servers the test suites start.
pub const TEST_SERVERS: &[Requirement] = &[
    Requirement {
        purpose: "OpenLDAP server and client tools for idmsync-test-ldap",
        probes: &["/usr/sbin/slapd", "ldapsearch", "ldapmodify", "ldapwhoami"],
        packages: &["slapd", "ldap-utils"],
    },
    Requirement {
        purpose: "PostgreSQL and MariaDB servers for idmsync-test-db (the machine's servers and \
                  the throw-away TLS servers of the store's TLS tests)",
        // Debian keeps initdb under /usr/lib/postgresql/<version>/bin: pg_ctlcluster, from the
        // same packages, stands for it.
        probes: &["/usr/sbin/mariadbd", "mariadb-install-db", "pg_ctlcluster"],
        packages: &["mariadb-server", "postgresql"],
    },
    Requirement {
        purpose: "Samba AD domain controller for idmsync-test-ad",
        probes: &[
            "/usr/sbin/samba",
            "/usr/bin/samba-tool",
            // The AD schema `samba-tool domain provision` reads: a package of its own, which
            // `--no-install-recommends` leaves out.
            "/usr/share/samba/setup/ad-schema/AD_DS_Attributes__Windows_Server_2012_R2.ldf",
            "ldapsearch",
        ],
        packages: &[
            "samba",
            "samba-ad-dc",
            "samba-ad-provision",
            "winbind",
            "ldap-utils",
        ],
    },
    Requirement {
        purpose: "389 Directory Server for idmsync-test-389ds",
        probes: &[
            "/usr/sbin/dscreate",
            "/usr/sbin/dsctl",
            "/usr/sbin/ns-slapd",
        ],
        packages: &["389-ds-base"],
    },
    Requirement {
        purpose: "Chromium and chromedriver for the console's browser tests (tests/e2e/console.rs)",
        probes: &["/usr/bin/chromium", "/usr/bin/chromedriver"],
        packages: &["chromium", "chromium-driver"],
    },
    Requirement {
        purpose: "systemd-analyze, which scores the shipped systemd unit (xtask's unit check)",
        probes: &["systemd-analyze"],
        packages: &["systemd"],
    },
];

/// The SCIM conformance suite the SCIM end-to-end test runs against `idmsync serve`:
/// `scim2-tester` through its command line, `scim2` (from `scim2-cli`), from PyPI. Pinned, so
/// that a new release's new checks arrive in a change of ours rather than in a red CI.
pub const SCIM_TESTER: &[&str] = &["scim2-cli==0.6.0", "scim2-tester==0.5.2"];

/// Installs [`SCIM_TESTER`] with pip unless `scim2` is already on PATH.
///
/// # Errors
/// When pip fails, or `scim2` is still missing afterwards (pip's scripts directory not on PATH).
pub fn ensure_scim_tester() -> Result<()> {
    if exists("scim2") {
        return Ok(());
    }
    eprintln!(
        "missing: the SCIM conformance suite (installing {})",
        SCIM_TESTER.join(" ")
    );
    let status = Command::new("python3")
        .args(["-m", "pip", "install", "--quiet"])
        .args(SCIM_TESTER)
        .status()
        .context("running python3 -m pip (is Python 3 installed?)")?;
    if !status.success() {
        bail!(
            "`python3 -m pip install {}` failed with {status}",
            SCIM_TESTER.join(" ")
        );
    }
    if !exists("scim2") {
        bail!(
            "installed {} but `scim2` is not on PATH: add pip's scripts directory to PATH",
            SCIM_TESTER.join(" ")
        );
    }
    Ok(())
}

/// lib389's defaults, whose `with_systemd = 1` makes `dscreate` wait for systemd, which a
/// container or a CI runner does not have.
const DS389_DEFAULTS: &str = "/usr/share/dirsrv/inf/defaults.inf";

/// Turns lib389's systemd default off, so that `dscreate` starts test instances by itself;
/// does nothing (and needs no root) when it is off already.
///
/// # Errors
/// When the file cannot be read or written (not root).
pub fn ds389_without_systemd() -> Result<()> {
    let path = Path::new(DS389_DEFAULTS);
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading {DS389_DEFAULTS} (is 389-ds-base installed?)"))?;
    let off = without_systemd(&text);
    if off != text {
        std::fs::write(path, off).with_context(|| {
            format!("writing {DS389_DEFAULTS} to set with_systemd = 0 (as root)")
        })?;
        eprintln!("packages: set with_systemd = 0 in {DS389_DEFAULTS} for dscreate");
    }
    Ok(())
}

/// `text` with its `with_systemd` setting turned off.
fn without_systemd(text: &str) -> String {
    text.lines()
        .map(|line| {
            if line.trim().replace(' ', "").starts_with("with_systemd=") {
                "with_systemd = 0"
            } else {
                line
            }
        })
        .map(|line| format!("{line}\n"))
        .collect()
}

/// Installs the packages of every requirement whose probes are not all present, with
/// `apt-get update` then `apt-get install -y`; does nothing (and needs no root) when everything
/// is there.
pub fn ensure_installed(requirements: &[Requirement]) -> Result<()> {
    let missing: Vec<&Requirement> = requirements
        .iter()
        .filter(|requirement| !is_installed(requirement))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let packages: Vec<&str> = missing
        .iter()
        .flat_map(|requirement| requirement.packages.iter().copied())
        .collect();
    for requirement in &missing {
        eprintln!(
            "missing: {} (installing {})",
            requirement.purpose,
            requirement.packages.join(" ")
        );
    }
    apt_get(&["update"])?;
    apt_get(
        &[
            &["install", "-y", "--no-install-recommends"],
            packages.as_slice(),
        ]
        .concat(),
    )?;
    if let Some(still) = missing
        .iter()
        .find(|requirement| !is_installed(requirement))
    {
        bail!(
            "installed {} but {} is still missing (looked for {})",
            still.packages.join(" "),
            still.purpose,
            still.probes.join(", ")
        );
    }
    Ok(())
}

fn is_installed(requirement: &Requirement) -> bool {
    requirement.probes.iter().all(|probe| exists(probe))
}

/// Whether `probe` exists: as a path if it is absolute, else as a program on PATH.
fn exists(probe: &str) -> bool {
    let path = Path::new(probe);
    if path.is_absolute() {
        return path.is_file();
    }
    std::env::var_os("PATH").is_some_and(|paths| {
        std::env::split_paths(&paths).any(|dir: PathBuf| dir.join(probe).is_file())
    })
}

/// Runs apt-get non-interactively (slapd's package would otherwise ask for an admin password).
fn apt_get(args: &[&str]) -> Result<()> {
    eprintln!("$ apt-get {}", args.join(" "));
    let status = Command::new("apt-get")
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()
        .context("running apt-get (is this a Debian or Ubuntu machine?)")?;
    if !status.success() {
        bail!(
            "`apt-get {}` failed with {status}; it needs root: install the packages yourself \
             or run `cargo xtask ci` as root",
            args.join(" ")
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes_find_paths_and_programs_on_path() {
        assert!(exists("cargo") || exists("sh"), "nothing on PATH");
        assert!(!exists("no-such-program-idmsync"));
        assert!(!exists("/no/such/file"));
    }

    #[test]
    fn a_requirement_with_everything_present_needs_no_install() {
        // `ensure_installed` returns before apt-get when nothing is missing, so this runs
        // anywhere (no root, no network).
        let present = Requirement {
            purpose: "test",
            probes: &[env!("CARGO")],
            packages: &["never-installed"],
        };
        ensure_installed(&[present]).expect("nothing to install");
    }

    #[test]
    fn lib389_loses_only_its_systemd_default() {
        let text = "[slapd]\nwith_selinux = \nwith_systemd = 1\nuser = dirsrv\n";
        assert_eq!(
            without_systemd(text),
            "[slapd]\nwith_selinux = \nwith_systemd = 0\nuser = dirsrv\n"
        );
        assert_eq!(
            without_systemd(&without_systemd(text)),
            without_systemd(text)
        );
    }
}
