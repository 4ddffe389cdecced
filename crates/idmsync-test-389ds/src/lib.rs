//! A real 389 Directory Server instance for tests, created with `dscreate` on free loopback
//! ports and removed with `dsctl … remove` when dropped.
//!
//! 389-ds differs from OpenLDAP where idmsync must care: access control instructions (ACIs) in
//! the directory, paged-search limits per account, `nsAccountLock`, `uniqueMember` values with
//! an optional UID, and its own `nsUniqueId` beside `entryUUID`. The instance has the suffix
//! `dc=example,dc=com`, a sync account that an ACI lets read everything (operational
//! attributes included) and whose paged limits are lifted, and an equality index on
//! `modifyTimestamp` for differential searches, as docs/configuration.md tells operators to
//! set up.
//!
//! `dscreate` needs root and lib389 without systemd: Debian's `389-ds-base` installed and
//! `with_systemd = 0` in `/usr/share/dirsrv/inf/defaults.inf` (`cargo xtask ci` sees to both).
//! Creating an instance takes about ten seconds, and one runs at a time on a machine.

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use idmsync_test_ldap::harness::{self, MachineLock};
use idmsync_test_ldap::TestDirectory;
use tempfile::TempDir;

/// The suffix of every instance, the one `idmsync_test_ldap::fixtures` are written for.
pub const SUFFIX: &str = "dc=example,dc=com";
/// Directory Manager, 389-ds's administrator.
const ADMIN_DN: &str = "cn=Directory Manager";
const ADMIN_PASSWORD: &str = "Directory-Manager-1";
/// The sync account, and its password.
const SYNC_DN: &str = "uid=idmsync,ou=services,dc=example,dc=com";
const SYNC_PASSWORD: &str = "Sync-secret-1";
/// lib389's defaults, which must say `with_systemd = 0` for `dscreate` to work here.
const DEFAULTS: &str = "/usr/share/dirsrv/inf/defaults.inf";
/// The programs this crate runs.
const DSCREATE: &str = "/usr/sbin/dscreate";
const DSCTL: &str = "/usr/sbin/dsctl";
const DSCONF: &str = "/usr/sbin/dsconf";
/// What to do when 389-ds is missing or not set up; every "not installed" panic says it.
const INSTALL_HINT: &str = "idmsync-test-389ds runs a real 389 Directory Server: install it \
     with `apt-get install 389-ds-base ldap-utils` and set `with_systemd = 0` in \
     /usr/share/dirsrv/inf/defaults.inf (or run `cargo xtask ci`, which does both), as root";
/// The port whose socket is the machine-wide lock of 389-ds tests.
const LOCK_PORT: u16 = 38_390;

/// A running 389 Directory Server instance, used through [`TestDirectory`]; dropping it
/// removes the instance.
#[derive(Debug)]
pub struct Ds389 {
    name: String,
    port: u16,
    /// LDIF files of changes, and the `dscreate` answer file.
    dir: TempDir,
    _lock: MachineLock,
}

impl Ds389 {
    /// Creates and starts an instance, then adds the sync account, its ACI and limits, and
    /// the `modifyTimestamp` index.
    ///
    /// # Panics
    /// If 389-ds is not installed or set up (the message says how), this process is not root,
    /// or `dscreate` fails (with its output).
    pub fn start() -> Ds389 {
        require_installed();
        let lock = MachineLock::acquire(LOCK_PORT, "389-ds");
        static INSTANCES: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "idmsync{}x{}",
            std::process::id(),
            INSTANCES.fetch_add(1, Ordering::SeqCst)
        );
        let ports = harness::free_ports(2);
        let (port, secure_port) = (ports[0], ports[1]);
        let dir = tempfile::tempdir().expect("a temporary directory");
        let inf = dir.path().join("instance.inf");
        std::fs::write(
            &inf,
            format!(
                "[general]\nfull_machine_name = localhost\nstart = True\n\
                 [slapd]\ninstance_name = {name}\nport = {port}\nsecure_port = {secure_port}\n\
                 root_password = {ADMIN_PASSWORD}\nself_sign_cert = False\n\
                 [backend-userroot]\nsuffix = {SUFFIX}\ncreate_suffix_entry = True\n"
            ),
        )
        .expect("writing the instance's answer file");
        let ds = Ds389 {
            name,
            port,
            dir,
            _lock: lock,
        };
        run(
            Command::new(DSCREATE).arg("from-file").arg(&inf),
            "dscreate",
        );
        ds.set_up();
        ds
    }

    /// Turns on RFC 4533 content synchronisation as docs/configuration.md tells operators to:
    /// the Retro Changelog and Content Synchronization plugins, then a restart, after which
    /// the instance answers on the same port.
    pub fn enable_content_sync(&self) {
        // Content synchronisation finds entries by the nsUniqueId the changelog records.
        for args in [
            &[
                "retro-changelog",
                "set",
                "--attribute",
                "nsuniqueid:targetUniqueId",
            ][..],
            &["retro-changelog", "enable"],
            &["contentsync", "enable"],
        ] {
            run(
                Command::new(DSCONF)
                    .args(["-D", ADMIN_DN, "-w", ADMIN_PASSWORD, &self.url(), "plugin"])
                    .args(args),
                "dsconf plugin",
            );
        }
        run(
            Command::new(DSCTL).arg(&self.name).arg("restart"),
            "dsctl restart",
        );
    }

    /// The sync account (paged limits lifted, as 389-ds needs for directories past its
    /// look-through limit), the ACI that lets it read every attribute, and the index.
    fn set_up(&self) {
        self.add(&format!(
            "dn: ou=services,{SUFFIX}\nobjectClass: organizationalUnit\nou: services\n\n\
             dn: {SYNC_DN}\nobjectClass: inetOrgPerson\nuid: idmsync\ncn: idmsync\nsn: sync\n\
             userPassword: {SYNC_PASSWORD}\nnsPagedSizeLimit: -1\nnsPagedLookThroughLimit: -1\n"
        ));
        self.modify(&format!(
            "dn: {SUFFIX}\nchangetype: modify\nadd: aci\naci: (targetattr=\"*||entryUUID||\
             nsUniqueId||modifyTimestamp||nsAccountLock\")(version 3.0; acl \"idmsync reads the \
             directory\"; allow (read,search,compare) userdn=\"ldap:///{SYNC_DN}\";)\n"
        ));
        run(
            Command::new(DSCONF)
                .args(["-D", ADMIN_DN, "-w", ADMIN_PASSWORD, &self.url()])
                .args(["backend", "index", "add", "--attr", "modifyTimestamp"])
                .args(["--index-type", "eq", "userRoot"]),
            "dsconf backend index add",
        );
    }
}

impl TestDirectory for Ds389 {
    fn url(&self) -> String {
        format!("ldap://127.0.0.1:{}", self.port)
    }
    fn suffix(&self) -> &str {
        SUFFIX
    }
    fn admin_dn(&self) -> String {
        ADMIN_DN.to_owned()
    }
    fn admin_password(&self) -> &str {
        ADMIN_PASSWORD
    }
    fn sync_dn(&self) -> String {
        SYNC_DN.to_owned()
    }
    fn sync_password(&self) -> &str {
        SYNC_PASSWORD
    }
    fn scratch(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Ds389 {
    /// Stops and removes the instance; a failure is printed, not raised, since a panic in drop
    /// would hide the test's own.
    fn drop(&mut self) {
        for args in [vec!["stop"], vec!["remove", "--do-it"]] {
            let output = Command::new(DSCTL).arg(&self.name).args(&args).output();
            if !output.as_ref().is_ok_and(|o| o.status.success()) {
                eprintln!("dsctl {} {args:?} failed: {output:?}", self.name);
            }
        }
    }
}

/// Runs a 389-ds tool with the install hint in its panics.
fn run(command: &mut Command, what: &str) {
    harness::run(command, what, INSTALL_HINT);
}

/// Panics with the install hint unless the tools are there, lib389 runs without systemd and
/// this process is root.
fn require_installed() {
    let missing: Vec<&str> = [DSCREATE, DSCTL, DSCONF, "/usr/sbin/ns-slapd"]
        .into_iter()
        .filter(|path| !Path::new(path).is_file())
        .collect();
    assert!(
        missing.is_empty(),
        "{INSTALL_HINT}; missing: {}",
        missing.join(", ")
    );
    let defaults = std::fs::read_to_string(DEFAULTS).unwrap_or_default();
    assert!(
        defaults
            .lines()
            .any(|l| l.trim().replace(' ', "") == "with_systemd=0"),
        "{INSTALL_HINT}; {DEFAULTS} still says with_systemd = 1"
    );
    let id = Command::new("id")
        .arg("-u")
        .output()
        .expect("running id -u");
    assert!(
        String::from_utf8_lossy(&id.stdout).trim() == "0",
        "389-ds instances are created as root only: run these tests as root (CI does)"
    );
}
