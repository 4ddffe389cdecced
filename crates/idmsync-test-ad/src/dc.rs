//! [`SambaDc`]: provisioning a domain, configuring Samba for tests, starting it and changing
//! the directory through it.

use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::time::{Duration, Instant};

use idmsync_test_ldap::harness::{self, accepts, client, tail, MachineLock};
use idmsync_test_ldap::TestDirectory;
use tempfile::TempDir;

/// The Kerberos realm and DNS domain of the test domain.
const REALM: &str = "EXAMPLE.TEST";
/// The NetBIOS domain name.
const DOMAIN: &str = "EXAMPLE";
/// The naming context of [`REALM`].
const BASE_DN: &str = "DC=example,DC=test";
/// Administrator's password; fixed (and complex enough for AD's policy) so people can type it.
const ADMIN_PASSWORD: &str = "Admin-secret-1";
/// The sync account's login and password; fixed so `config/ad-example.toml` can contain it.
const SYNC_ACCOUNT: &str = "idmsync";
const SYNC_PASSWORD: &str = "Sync-secret-1";
/// Where the sync account lives, outside any OU the fixtures or tests fill.
const SERVICES_OU: &str = "OU=Services";
/// Samba's binaries (`/usr/sbin` is not on every PATH).
const SAMBA: &str = "/usr/sbin/samba";
const SAMBA_TOOL: &str = "/usr/bin/samba-tool";
/// The AD schema that provisioning reads, packaged apart from Samba itself.
const AD_SCHEMA: &str =
    "/usr/share/samba/setup/ad-schema/AD_DS_Attributes__Windows_Server_2012_R2.ldf";
/// What to do when Samba is missing; every "not installed" panic says it.
const INSTALL_HINT: &str = "idmsync-test-ad runs a real Samba AD domain controller: install it \
     with `apt-get install samba samba-ad-dc samba-ad-provision winbind ldap-utils` (or run `cargo xtask ci`, which \
     installs them)";
/// How long Samba may take to answer once started.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long Samba may take to stop once its standard input is closed.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// The pause between two readiness probes.
const POLL_INTERVAL: Duration = Duration::from_millis(50);
/// The port whose socket is the machine-wide lock of Samba tests (its LDAP port is fixed).
const LOCK_PORT: u16 = 38_389;
/// Samba's LDAP port; it cannot be changed.
const LDAP_PORT: u16 = 389;

/// A running Samba AD domain controller for `EXAMPLE.TEST` in a temporary directory, with
/// LDAP on `127.0.0.1:389` (simple binds allowed) and LDAPS on `127.0.0.1:636` (self-signed).
///
/// Dropping it stops Samba, removes the directory and releases the machine-wide lock that
/// [`start`](SambaDc::start) took.
#[derive(Debug)]
pub struct SambaDc {
    child: Option<Child>,
    /// Samba exits when this closes; dropping it is the graceful stop.
    stdin: Option<ChildStdin>,
    dir: TempDir,
    _lock: MachineLock,
}

impl SambaDc {
    /// Provisions the domain, starts Samba and returns once the sync account can bind.
    ///
    /// # Panics
    /// If Samba is not installed (the message says how to install it), this process is not
    /// root, another process already listens on 127.0.0.1:389, or provisioning or the start
    /// fails (with the tail of Samba's log).
    pub fn start() -> SambaDc {
        require_installed();
        let lock = MachineLock::acquire(LOCK_PORT, "Samba");
        let address = SocketAddr::from(([127, 0, 0, 1], LDAP_PORT));
        assert!(
            !accepts(&address),
            "something already listens on {address} (another Samba or a slapd; \
             `ss -ltnp 'sport = :389'` shows it); Samba's LDAP port cannot be moved"
        );
        let dir = tempfile::Builder::new()
            .prefix("idmsync-samba-")
            .tempdir()
            .expect("creating a temporary directory for Samba");
        let mut dc = SambaDc {
            child: None,
            stdin: None,
            dir,
            _lock: lock,
        };
        dc.provision();
        dc.spawn();
        dc
    }

    /// `ldap://127.0.0.1`: plain LDAP, where simple binds are allowed.
    pub fn url(&self) -> String {
        "ldap://127.0.0.1".to_owned()
    }

    /// `ldaps://127.0.0.1`, with the certificate Samba generated for itself (not trusted by
    /// anything: clients need `insecure_skip_verify`).
    pub fn ldaps_url(&self) -> String {
        "ldaps://127.0.0.1".to_owned()
    }

    /// `DC=example,DC=test`.
    pub fn base_dn(&self) -> &str {
        BASE_DN
    }

    /// `EXAMPLE.TEST`: the realm, and the suffix of userPrincipalNames.
    pub fn realm(&self) -> &str {
        REALM
    }

    /// `EXAMPLE`: the NetBIOS domain name (`EXAMPLE\user` logins).
    pub fn domain(&self) -> &str {
        DOMAIN
    }

    /// `CN=Administrator,CN=Users,DC=example,DC=test`, for changing the directory under test.
    pub fn admin_dn(&self) -> String {
        format!("CN=Administrator,CN=Users,{BASE_DN}")
    }

    /// Administrator's password.
    pub fn admin_password(&self) -> &str {
        ADMIN_PASSWORD
    }

    /// `CN=idmsync,OU=Services,DC=example,DC=test`: an ordinary domain user, which is all
    /// idmsync needs to read users and groups (Authenticated Users may read them in AD).
    pub fn sync_dn(&self) -> String {
        format!("CN={SYNC_ACCOUNT},{SERVICES_OU},{BASE_DN}")
    }

    /// The sync account's password.
    pub fn sync_password(&self) -> &str {
        SYNC_PASSWORD
    }

    /// Applies `ldif` change records (`changetype: add|modify|delete|modrdn`; records without
    /// one are modifications) with `ldapmodify` as Administrator, through the running server,
    /// so that uSNChanged and whenChanged move as in production.
    ///
    /// # Panics
    /// If ldapmodify fails, with its stderr.
    pub fn modify(&self, ldif: &str) {
        TestDirectory::modify(self, ldif);
    }

    /// Adds the entries in `ldif` (plain LDIF, parents first) with `ldapadd` as Administrator.
    ///
    /// # Panics
    /// If ldapadd fails, with its stderr.
    pub fn add(&self, ldif: &str) {
        TestDirectory::add(self, ldif);
    }

    /// Sets the password of the account `sam_account_name` and enables it (for bind tests),
    /// with `samba-tool` on the domain's database.
    ///
    /// # Panics
    /// If samba-tool fails, for instance because the password breaks the complexity policy.
    pub fn set_password(&self, sam_account_name: &str, password: &str) {
        self.samba_tool(&[
            "user",
            "setpassword",
            sam_account_name,
            &format!("--newpassword={password}"),
        ]);
        self.samba_tool(&["user", "enable", sam_account_name]);
    }

    /// Runs `samba-tool ARGS` on this domain's database and returns its standard output.
    ///
    /// # Panics
    /// If samba-tool fails, with its output.
    pub fn samba_tool(&self, args: &[&str]) -> String {
        let output = run(
            Command::new(SAMBA_TOOL)
                .args(args)
                .arg("-s")
                .arg(self.conf_path()),
            "samba-tool",
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Provisions the domain, adapts smb.conf for tests and creates the sync account, all
    /// before Samba starts (samba-tool writes the database directly).
    fn provision(&self) {
        let target = self.dir.path();
        run(
            Command::new(SAMBA_TOOL)
                .args(["domain", "provision"])
                .arg(format!("--realm={REALM}"))
                .arg(format!("--domain={DOMAIN}"))
                .args(["--server-role=dc", "--dns-backend=NONE"])
                .arg(format!("--adminpass={ADMIN_PASSWORD}"))
                .arg(format!("--targetdir={}", target.display()))
                .args([
                    "--option=interfaces=lo",
                    "--option=bind interfaces only=yes",
                ]),
            "samba-tool domain provision",
        );
        let conf = fs::read_to_string(self.conf_path()).expect("reading the provisioned smb.conf");
        fs::write(self.conf_path(), test_conf(&conf, target)).expect("writing smb.conf");
        fs::create_dir_all(target.join("run")).expect("creating Samba's run directory");
        self.samba_tool(&["ou", "add", &format!("{SERVICES_OU},{BASE_DN}")]);
        self.samba_tool(&[
            "user",
            "create",
            SYNC_ACCOUNT,
            SYNC_PASSWORD,
            &format!("--userou={SERVICES_OU}"),
        ]);
    }

    /// Starts Samba in the foreground (its standard input piped from here) and waits until the
    /// sync account can bind.
    fn spawn(&mut self) {
        let log = fs::File::create(self.log_path()).expect("creating Samba's log file");
        let mut child = Command::new(SAMBA)
            .args(["--interactive", "--model=single", "--debug-stdout", "-s"])
            .arg(self.conf_path())
            .stdin(Stdio::piped())
            .stdout(log.try_clone().expect("sharing Samba's log file"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("could not start {SAMBA}: {e}; {INSTALL_HINT}"));
        self.stdin = child.stdin.take();
        self.child = Some(child);
        let address = SocketAddr::from(([127, 0, 0, 1], LDAP_PORT));
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                self.fail(&format!("samba exited with {status} while starting"));
            }
            if accepts(&address) && self.sync_account_binds() {
                return;
            }
            if Instant::now() >= deadline {
                self.fail(&format!(
                    "samba did not answer binds within {READY_TIMEOUT:?}"
                ));
            }
            std::thread::sleep(POLL_INTERVAL);
        }
    }

    /// Whether the sync account can bind and read the root DSE (Samba has no WhoAmI).
    fn sync_account_binds(&self) -> bool {
        client("ldapsearch")
            .args([
                "-x",
                "-H",
                &self.url(),
                "-D",
                &self.sync_dn(),
                "-w",
                SYNC_PASSWORD,
            ])
            .args(["-s", "base", "-b", "", "highestCommittedUSN"])
            .output()
            .is_ok_and(|output| output.status.success())
    }

    /// Stops Samba (and panics with `message` and its log).
    fn fail(&mut self, message: &str) -> ! {
        self.stop();
        panic!(
            "{message}\n--- last lines of Samba's log ({})\n{}",
            self.log_path().display(),
            tail(&self.log_path(), 40)
        );
    }

    /// Closes Samba's standard input, which makes it stop (and stop the processes it forked),
    /// then waits for it; kills it if it does not stop in time.
    fn stop(&mut self) {
        drop(self.stdin.take());
        let Some(mut child) = self.child.take() else {
            return;
        };
        let deadline = Instant::now() + STOP_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(POLL_INTERVAL);
        }
        // It ignored the end of its input: kill and reap it; failures mean it is already gone.
        let _ = child.kill();
        let _ = child.wait();
    }

    fn conf_path(&self) -> PathBuf {
        self.dir.path().join("etc/smb.conf")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("samba.log")
    }
}

impl TestDirectory for SambaDc {
    fn url(&self) -> String {
        SambaDc::url(self)
    }
    fn suffix(&self) -> &str {
        self.base_dn()
    }
    fn admin_dn(&self) -> String {
        SambaDc::admin_dn(self)
    }
    fn admin_password(&self) -> &str {
        SambaDc::admin_password(self)
    }
    fn sync_dn(&self) -> String {
        SambaDc::sync_dn(self)
    }
    fn sync_password(&self) -> &str {
        SambaDc::sync_password(self)
    }
    fn scratch(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for SambaDc {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The provisioned smb.conf made fit for tests: only the LDAP service (no file serving, DNS,
/// Kerberos or replication to wait for), simple binds in clear text allowed (the default
/// demands TLS or signing, which `ldap server require strong auth` on the provision command
/// line does not change), and every run-time file inside `dir`, so that it cannot collide
/// with a system Samba.
fn test_conf(provisioned: &str, dir: &Path) -> String {
    let dir = dir.display();
    let mut out = String::new();
    for line in provisioned.lines() {
        let key = line
            .trim_start()
            .split('=')
            .next()
            .unwrap_or_default()
            .trim();
        if matches!(
            key,
            "server services" | "log file" | "logging" | "max log size"
        ) {
            continue;
        }
        out.push_str(line);
        out.push('\n');
        if line.trim() == "[global]" {
            for setting in [
                "server services = ldap".to_owned(),
                "ldap server require strong auth = no".to_owned(),
                format!("pid directory = {dir}/run"),
                format!("ncalrpc dir = {dir}/run/ncalrpc"),
                format!("winbindd socket directory = {dir}/run/winbindd"),
                format!("ntp signd socket directory = {dir}/run/ntp_signd"),
                format!("log file = {dir}/samba.log.%m"),
            ] {
                out.push('\t');
                out.push_str(&setting);
                out.push('\n');
            }
        }
    }
    out
}

/// Panics with the install hint unless Samba and the LDAP client tools are there, and unless
/// this process is root (Samba refuses to run otherwise).
fn require_installed() {
    let missing: Vec<&str> = [SAMBA, SAMBA_TOOL, AD_SCHEMA]
        .into_iter()
        .filter(|path| !Path::new(path).is_file())
        .chain(
            ["ldapmodify", "ldapsearch"]
                .into_iter()
                .filter(|tool| Command::new(tool).arg("-VV").output().is_err()),
        )
        .collect();
    assert!(
        missing.is_empty(),
        "{INSTALL_HINT}; missing: {}",
        missing.join(", ")
    );
    let id = Command::new("id")
        .arg("-u")
        .output()
        .expect("running id -u");
    assert!(
        String::from_utf8_lossy(&id.stdout).trim() == "0",
        "Samba runs as root only: run the AD tests as root (CI does)"
    );
}

/// Runs `command` to completion with the install hint in its panics; see [`harness::run`].
fn run(command: &mut Command, what: &str) -> Output {
    harness::run(command, what, INSTALL_HINT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_test_configuration_replaces_services_and_paths() {
        let provisioned = "# Global parameters\n[global]\n\tlog file = /var/log/samba/log.%m\n\
                           \tserver services = s3fs, rpc, ldap\n\trealm = EXAMPLE.TEST\n\n\
                           [sysvol]\n\tpath = /x\n";
        let conf = test_conf(provisioned, Path::new("/tmp/dc"));
        assert!(conf.contains("\tserver services = ldap\n"), "{conf}");
        assert!(
            conf.contains("ldap server require strong auth = no"),
            "{conf}"
        );
        assert!(conf.contains("pid directory = /tmp/dc/run"), "{conf}");
        assert!(!conf.contains("s3fs"), "{conf}");
        assert!(!conf.contains("/var/log/samba"), "{conf}");
        assert!(conf.contains("\trealm = EXAMPLE.TEST\n"), "{conf}");
        assert!(conf.contains("[sysvol]\n\tpath = /x\n"), "{conf}");
    }
}
