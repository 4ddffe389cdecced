//! [`Slapd`]: one running slapd process, its temporary directory, and how it starts, stops and
//! dies.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write as _};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::builder::SlapdBuilder;
use crate::conf::{base_entries, Conf};
use crate::harness::{accepts, client, free_ports, tail, TestDirectory};
use crate::tools::{require_installed, run, SLAPADD, SLAPD};

/// The rootdn's password; fixed, so `cargo xtask ldap` users can type it.
const ADMIN_PASSWORD: &str = "admin-secret";
/// The sync account's password; fixed, so `config/ldap-example.toml` can contain it.
const SYNC_PASSWORD: &str = "sync-secret";
/// How long slapd may take to answer after being started. Generous: CI machines are slow and
/// busy, and a hung start is reported with slapd's log long before a test harness timeout.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// The pause between two readiness probes.
const POLL_INTERVAL: Duration = Duration::from_millis(10);
/// How often a start on free ports is retried when another process took a port in between.
const PORT_ATTEMPTS: usize = 5;
/// slapd's log level: only the messages it logs at every level (startup and fatal errors), not
/// per-operation traffic. Any `-d` also keeps slapd in the foreground as our child process.
const LOG_LEVEL: &str = "32768";
/// What slapd logs once its ports are bound and its configuration and database are loaded.
const STARTING: &str = "slapd starting";
/// Debian and Ubuntu ship this AppArmor profile; enforced, it stops slapd from reading a
/// configuration in a temporary directory.
const APPARMOR_PROFILE: &str = "/etc/apparmor.d/usr.sbin.slapd";

/// A running OpenLDAP server in a temporary directory, loaded with the base entries and the
/// builder's LDIF.
///
/// Dropping it kills slapd and removes the directory. Its ports are fixed for its lifetime, so
/// [`stop`](Slapd::stop) and [`start_again`](Slapd::start_again) look to a client like a server
/// restart.
///
/// Keep it owned by a test or a benchmark, not in a `static`: statics are never dropped, so
/// slapd and its directory would outlive the process.
#[derive(Debug)]
pub struct Slapd {
    dir: TempDir,
    suffix: String,
    ports: Ports,
    ca_file: Option<PathBuf>,
    child: Arc<Mutex<Option<Child>>>,
}

/// The ports one server listens on, all on 127.0.0.1.
#[derive(Debug, Clone, Copy)]
struct Ports {
    ldap: u16,
    ldaps: Option<u16>,
}

/// Why a start failed; `address_in_use` failures on free ports are retried on other ports.
struct StartFailure {
    message: String,
    address_in_use: bool,
}

impl Slapd {
    /// Starts configuring a server; see [`SlapdBuilder`] for the options.
    pub fn builder() -> SlapdBuilder {
        SlapdBuilder::new()
    }

    /// Prepares the directory, loads the entries and starts slapd (see [`SlapdBuilder::start`]).
    pub(crate) fn launch(builder: SlapdBuilder) -> Slapd {
        require_installed();
        let dir = tempfile::Builder::new()
            .prefix("idmsync-slapd-")
            .tempdir()
            .expect("creating a temporary directory for slapd");
        let tls = builder.tls.then(|| crate::tls::generate(dir.path()));
        let mut slapd = Slapd {
            suffix: builder.suffix.clone(),
            ports: Ports {
                ldap: 0,
                ldaps: None,
            },
            ca_file: tls.as_ref().map(|files| files.ca.clone()),
            child: Arc::new(Mutex::new(None)),
            dir,
        };
        let conf = Conf {
            dir: slapd.dir.path(),
            suffix: &slapd.suffix,
            admin_dn: &slapd.admin_dn(),
            admin_password: ADMIN_PASSWORD,
            sync_dn: &slapd.sync_dn(),
            sync_size_limit: builder.sync_size_limit,
            tls: tls.as_ref(),
            hidden: &builder.hidden,
            syncprov: builder.syncprov,
        }
        .render();
        write_file(&slapd.conf_path(), &conf);
        fs::create_dir(slapd.dir.path().join("db")).expect("creating slapd's database directory");
        slapd.load(&builder.ldif);

        for attempt in 1..=PORT_ATTEMPTS {
            slapd.ports = match builder.port {
                Some(port) => Ports {
                    ldap: port,
                    ldaps: builder.tls.then(|| {
                        port.checked_add(1)
                            .expect("no room for the ldaps port after the fixed port")
                    }),
                },
                None => {
                    let ports = free_ports(if builder.tls { 2 } else { 1 });
                    Ports {
                        ldap: ports[0],
                        ldaps: ports.get(1).copied(),
                    }
                }
            };
            match slapd.spawn_until_ready() {
                Ok(child) => {
                    *slapd.lock_child() = Some(child);
                    return slapd;
                }
                Err(failure)
                    if failure.address_in_use
                        && builder.port.is_none()
                        && attempt < PORT_ATTEMPTS =>
                {
                    // Another process took a free port between our check and slapd's bind.
                }
                Err(failure) => slapd.fail(failure),
            }
        }
        unreachable!("the last attempt either returns or panics")
    }

    /// `ldap://127.0.0.1:PORT`: plain LDAP, where StartTLS is also offered when TLS is on.
    pub fn url(&self) -> String {
        format!("ldap://127.0.0.1:{}", self.ports.ldap)
    }

    /// `ldaps://127.0.0.1:PORT` when built with [`tls(true)`](SlapdBuilder::tls).
    pub fn ldaps_url(&self) -> Option<String> {
        self.ports
            .ldaps
            .map(|port| format!("ldaps://127.0.0.1:{port}"))
    }

    /// The PEM certificate of the test CA that signed the server certificate, when built with
    /// [`tls(true)`](SlapdBuilder::tls): what a client must trust to connect. Each server has
    /// its own CA, so a client trusting another server's CA is rejected.
    pub fn ca_file(&self) -> Option<PathBuf> {
        self.ca_file.clone()
    }

    /// The naming context the database serves (`dc=example,dc=com` unless configured).
    pub fn suffix(&self) -> &str {
        &self.suffix
    }

    /// `cn=admin,<suffix>`: the rootdn, which bypasses access control; for changing the
    /// directory under test, not for idmsync itself.
    pub fn admin_dn(&self) -> String {
        format!("cn=admin,{}", self.suffix)
    }

    /// The rootdn's password.
    pub fn admin_password(&self) -> &str {
        ADMIN_PASSWORD
    }

    /// `cn=sync,ou=services,<suffix>`: the read-only service account idmsync binds as. It can
    /// read every entry and attribute except `userPassword`, and is subject to
    /// [`sync_size_limit`](SlapdBuilder::sync_size_limit).
    pub fn sync_dn(&self) -> String {
        format!("cn=sync,ou=services,{}", self.suffix)
    }

    /// The sync account's password.
    pub fn sync_password(&self) -> &str {
        SYNC_PASSWORD
    }

    /// Applies `ldif` (change records, `changetype: modify|add|delete|modrdn`; records without a
    /// changetype are modifications) with `ldapmodify` as the admin, through the running server
    /// so that operational attributes (modifyTimestamp, entryCSN) change as they would in
    /// production.
    ///
    /// # Panics
    /// If ldapmodify fails, with its stderr and the LDIF.
    pub fn modify(&self, ldif: &str) {
        TestDirectory::modify(self, ldif);
    }

    /// Adds the entries in `ldif` (plain LDIF, no changetype needed) with `ldapadd` as the
    /// admin, through the running server.
    ///
    /// # Panics
    /// If ldapadd fails, with its stderr and the LDIF.
    pub fn add(&self, ldif: &str) {
        TestDirectory::add(self, ldif);
    }

    /// A handle that can kill this server from anywhere (another thread, a paging callback),
    /// for tests of a server that dies mid-operation. It stays valid across
    /// [`start_again`](Slapd::start_again): it then kills the new process.
    pub fn killer(&self) -> Killer {
        Killer {
            child: Arc::clone(&self.child),
        }
    }

    /// Stops the server and waits until it has exited; does nothing if it is not running.
    ///
    /// This is the same SIGKILL as [`Killer::kill`]: the mdb database is crash-safe, so a
    /// graceful shutdown would look no different to the data or to a client, whose
    /// connections are cut either way.
    pub fn stop(&mut self) {
        self.killer().kill();
    }

    /// Starts the server again after [`stop`](Slapd::stop) or a [`Killer::kill`] (stopping it
    /// first if it is still running), on the same ports and with the same data, and returns once
    /// it answers.
    ///
    /// # Panics
    /// If slapd does not come back, for instance because another process took its port.
    pub fn start_again(&mut self) {
        self.stop();
        match self.spawn_until_ready() {
            Ok(child) => *self.lock_child() = Some(child),
            Err(failure) => self.fail(failure),
        }
    }

    /// Loads the base entries and `ldif` into the (empty, stopped) database with slapadd.
    fn load(&self, ldif: &[String]) {
        let path = self.dir.path().join("initial.ldif");
        let mut file = File::create(&path).expect("creating slapd's initial LDIF");
        let base = base_entries(&self.suffix, &self.sync_dn(), SYNC_PASSWORD);
        for text in std::iter::once(&base).chain(ldif) {
            // A blank line ends the previous entry whatever the text's last line was.
            write!(file, "{text}\n\n").expect("writing slapd's initial LDIF");
        }
        drop(file);
        run(
            Command::new(SLAPADD)
                .arg("-q")
                .arg("-f")
                .arg(self.conf_path())
                .arg("-l")
                .arg(&path),
            "slapadd (loading the base entries and the builder's LDIF, in that order)",
        );
        // Benchmark LDIF can be large; the database has it now.
        fs::remove_file(&path).expect("removing slapd's initial LDIF");
    }

    /// Starts slapd and waits until it accepts connections on every port and the sync account
    /// can bind. Returns the process, or why it did not come up (having killed it).
    fn spawn_until_ready(&self) -> Result<Child, StartFailure> {
        let log_path = self.log_path();
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .expect("opening slapd's log file");
        let log_start = fs::metadata(&log_path).map_or(0, |meta| meta.len());
        let mut child = Command::new(SLAPD)
            .arg("-f")
            .arg(self.conf_path())
            .arg("-h")
            .arg(self.listen_urls())
            .args(["-d", LOG_LEVEL])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("sharing slapd's log file"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("could not start {SLAPD}: {e}"));
        // What this start has logged so far (the log file is shared by restarts).
        let new_log = || {
            let log = fs::read(&log_path).unwrap_or_default();
            String::from_utf8_lossy(log.get(log_start as usize..).unwrap_or_default()).into_owned()
        };
        let failure = |child: &mut Child, message: String| {
            // Killing a process that already exited is harmless; reaping it is what matters.
            let _ = child.kill();
            let _ = child.wait();
            StartFailure {
                message,
                address_in_use: new_log().contains("Address already in use"),
            }
        };

        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            match child.try_wait() {
                Ok(Some(status)) => {
                    return Err(failure(
                        &mut child,
                        format!("slapd exited with {status} while starting"),
                    ))
                }
                Ok(None) => {}
                Err(e) => return Err(failure(&mut child, format!("waiting for slapd: {e}"))),
            }
            // slapd binds its ports before it logs "slapd starting" and listens after, so once
            // both are true the listeners are this slapd's, not those of a process that took a
            // port first (which slapd would have died of).
            if new_log().contains(STARTING) && self.addresses().iter().all(accepts) {
                break;
            }
            if Instant::now() >= deadline {
                let message = format!("slapd did not listen within {READY_TIMEOUT:?}");
                return Err(failure(&mut child, message));
            }
            std::thread::sleep(POLL_INTERVAL);
        }
        // The database is open and the sync account works.
        let whoami = client("ldapwhoami")
            .args(["-x", "-H", &self.url(), "-D", &self.sync_dn(), "-w"])
            .arg(SYNC_PASSWORD)
            .output()
            .expect("running ldapwhoami");
        if !whoami.status.success() {
            let message = format!(
                "slapd listens but the sync account cannot bind: {}",
                String::from_utf8_lossy(&whoami.stderr).trim()
            );
            return Err(failure(&mut child, message));
        }
        Ok(child)
    }

    /// Panics with `failure`, slapd's listen URLs and the tail of its log.
    fn fail(&self, failure: StartFailure) -> ! {
        let apparmor = if Path::new(APPARMOR_PROFILE).exists() {
            format!(
                "\nnote: {APPARMOR_PROFILE} exists; if AppArmor enforces it, slapd cannot read \
                 its temporary directory: `aa-complain {SLAPD}` or \
                 `apparmor_parser -R {APPARMOR_PROFILE}`"
            )
        } else {
            String::new()
        };
        panic!(
            "{} (listen URLs: {})\n--- last lines of slapd's log\n{}{apparmor}",
            failure.message,
            self.listen_urls(),
            tail(&self.log_path(), 30),
        )
    }

    /// slapd's `-h` argument.
    fn listen_urls(&self) -> String {
        match self.ldaps_url() {
            Some(ldaps) => format!("{}/ {ldaps}/", self.url()),
            None => format!("{}/", self.url()),
        }
    }

    fn addresses(&self) -> Vec<SocketAddr> {
        [Some(self.ports.ldap), self.ports.ldaps]
            .into_iter()
            .flatten()
            .map(|port| SocketAddr::from(([127, 0, 0, 1], port)))
            .collect()
    }

    fn conf_path(&self) -> PathBuf {
        self.dir.path().join("slapd.conf")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("slapd.log")
    }

    fn lock_child(&self) -> std::sync::MutexGuard<'_, Option<Child>> {
        lock(&self.child)
    }
}

impl TestDirectory for Slapd {
    fn url(&self) -> String {
        Slapd::url(self)
    }
    fn suffix(&self) -> &str {
        Slapd::suffix(self)
    }
    fn admin_dn(&self) -> String {
        Slapd::admin_dn(self)
    }
    fn admin_password(&self) -> &str {
        Slapd::admin_password(self)
    }
    fn sync_dn(&self) -> String {
        Slapd::sync_dn(self)
    }
    fn sync_password(&self) -> &str {
        Slapd::sync_password(self)
    }
    fn scratch(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Slapd {
    fn drop(&mut self) {
        // Never panic here: a panic while a failed test unwinds would abort the test binary.
        if let Err(e) = terminate(&self.child) {
            eprintln!("idmsync-test-ldap: could not kill slapd: {e}");
        }
    }
}

/// Kills a [`Slapd`] from any thread: SIGKILL, then waits for the process to exit. Cheap to
/// clone; made by [`Slapd::killer`].
#[derive(Debug, Clone)]
pub struct Killer {
    child: Arc<Mutex<Option<Child>>>,
}

impl Killer {
    /// Kills slapd with SIGKILL (no goodbye to clients: connections just break, as when a
    /// server crashes or a network drops) and waits until it has exited. Idempotent: killing a
    /// server that is not running does nothing.
    ///
    /// # Panics
    /// If the process cannot be signalled or waited for (which would mean it was reaped behind
    /// this crate's back).
    pub fn kill(&self) {
        terminate(&self.child).expect("killing slapd");
    }
}

/// Kills and reaps the process in `child`, if any.
fn terminate(child: &Mutex<Option<Child>>) -> io::Result<()> {
    if let Some(mut process) = lock(child).take() {
        process.kill()?;
        process.wait()?;
    }
    Ok(())
}

/// Locks the process slot. A panic while it was held (a failed test) leaves the slot itself
/// consistent, so poisoning is ignored.
fn lock(child: &Mutex<Option<Child>>) -> std::sync::MutexGuard<'_, Option<Child>> {
    child.lock().unwrap_or_else(PoisonError::into_inner)
}

fn write_file(path: &Path, contents: &str) {
    fs::write(path, contents).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
}
