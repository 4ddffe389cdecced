//! Throw-away PostgreSQL and MariaDB servers that serve TLS with certificates the test made,
//! for the store's TLS tests.
//!
//! The machine's servers cannot show verification succeed: its PostgreSQL serves Debian's
//! self-signed snakeoil certificate, issued to the host name, and its MariaDB serves no TLS. A
//! [`TlsServer`] gets a CA of its own (made with rcgen, so no other server trusts it) and a server
//! certificate for the names the test asks for, and it refuses clear text itself: PostgreSQL's
//! `pg_hba.conf` rejects `hostnossl` connections, MariaDB's account is `REQUIRE SSL`. So a test
//! sees a refusal come from the server, not only from the client's own checks.
//!
//! Starting one costs a few seconds (mostly `mariadb-install-db` or `initdb`); each server lives
//! in a temporary directory, on a free port of 127.0.0.1, until it is dropped. A missing program
//! fails the test with the Debian package that provides it: a test that skipped would prove
//! nothing.

use std::fs;
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use diesel::Connection as _;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair, KeyUsagePurpose};
use tempfile::TempDir;

use crate::{off_runtime, Backend, MysqlConnection, PgConnection, Raw};

/// How long a server may take to accept its first connection after being started. Generous:
/// the machines that run the tests are small and busy, and a hung start is reported with the
/// server's log long before a harness timeout.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a server may take to exit once told to stop, before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);
/// The pause between two probes of a starting or stopping server.
const POLL_INTERVAL: Duration = Duration::from_millis(50);
/// How often a start is retried on another free port, when another process took the port
/// between our check and the server's bind.
const PORT_ATTEMPTS: usize = 5;
/// The database the store uses on the server, and on MariaDB its account (`REQUIRE SSL`, no
/// password).
const IDMSYNC: &str = "idmsync";

/// A database server in a temporary directory that serves TLS with a certificate from a CA of
/// its own, and refuses clear-text logins. Dropping it stops the server and removes the
/// directory.
pub struct TlsServer {
    engine: Engine,
    port: u16,
    ca: PathBuf,
    child: Child,
    dir: TempDir,
}

impl TlsServer {
    /// Starts a server of `backend` whose certificate is issued to `names` (host names and IP
    /// addresses, such as `localhost` and `127.0.0.1`), and returns once it accepts
    /// connections.
    ///
    /// # Panics
    /// When `backend` has no server (SQLite), when the server's programs are not installed
    /// (naming the package), or when it does not start (with the tail of its log).
    pub fn start(backend: Backend, names: &[&str]) -> Self {
        let engine = Engine::find(backend);
        let dir = tempfile::Builder::new()
            .prefix("idmsync-tls-db-")
            .tempdir()
            .expect("creating a temporary directory for the TLS test server");
        let ca = certificates(dir.path(), names);
        engine.initialise(dir.path());
        let mut last_failure = String::new();
        for _ in 0..PORT_ATTEMPTS {
            let port = free_port();
            let mut child = engine.spawn(dir.path(), port);
            match ready(&engine, &mut child, dir.path(), port) {
                Ok(mut admin) => {
                    // Owned before the setup, so that a failing setup still stops the server.
                    let server = Self {
                        engine,
                        port,
                        ca,
                        child,
                        dir,
                    };
                    server.engine.create_store_database(&mut admin);
                    return server;
                }
                Err(failure) if failure.contains("Address already in use") => {
                    last_failure = failure;
                }
                Err(failure) => panic!("{failure}"),
            }
        }
        panic!("no free port after {PORT_ATTEMPTS} attempts: {last_failure}")
    }

    /// What `database.url` says to reach the server through `host` (`localhost` or
    /// `127.0.0.1`: the name the certificate is checked against), without TLS parameters.
    pub fn url(&self, host: &str) -> String {
        let port = self.port;
        match self.engine {
            Engine::Mariadb { .. } => format!("mysql://{IDMSYNC}@{host}:{port}/{IDMSYNC}"),
            Engine::Postgres { .. } => format!("postgres://postgres@{host}:{port}/{IDMSYNC}"),
        }
    }

    /// The PEM file of the CA that issued the server's certificate, and nothing else's.
    pub fn ca_file(&self) -> &Path {
        &self.ca
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        // Never panic here: a panic while a failed test unwinds would abort the test binary.
        if let Err(e) = stop(&self.engine, &mut self.child) {
            eprintln!(
                "idmsync-test-db: could not stop the TLS test server in {}: {e}",
                self.dir.path().display()
            );
        }
    }
}

/// A server's programs, and what differs between the two engines.
enum Engine {
    Mariadb {
        install_db: PathBuf,
        server: PathBuf,
        /// `--user=root` when running as root, which mariadbd otherwise refuses.
        user: Option<&'static str>,
    },
    Postgres {
        bin: PathBuf,
        /// The `postgres` account's uid and gid when running as root, which initdb and
        /// postgres refuse.
        owner: Option<(u32, u32)>,
    },
}

impl Engine {
    /// Finds the programs, or panics naming the package that installs them.
    fn find(backend: Backend) -> Self {
        let root = fs::metadata("/proc/self").is_ok_and(|me| me.uid() == 0);
        match backend {
            Backend::Mysql => {
                let find = |candidates: &[&str]| {
                    candidates
                        .iter()
                        .find_map(|name| program(name))
                        .unwrap_or_else(|| missing(candidates, "mariadb-server"))
                };
                Engine::Mariadb {
                    install_db: find(&["mariadb-install-db", "mysql_install_db"]),
                    server: find(&["/usr/sbin/mariadbd", "/usr/sbin/mysqld", "mariadbd"]),
                    user: root.then_some("root"),
                }
            }
            Backend::Postgres => {
                let bin = postgres_bin().unwrap_or_else(|| {
                    missing(&["/usr/lib/postgresql/*/bin/initdb"], "postgresql")
                });
                Engine::Postgres {
                    bin,
                    owner: root.then(postgres_account),
                }
            }
            Backend::Sqlite => panic!("SQLite has no server to serve TLS"),
        }
    }

    /// Creates the server's data directory (`data` in `dir`), empty but for its system tables.
    fn initialise(&self, dir: &Path) {
        let data = dir.join("data");
        let mut command = match self {
            Engine::Mariadb {
                install_db, user, ..
            } => {
                let tmp = dir.join("tmp");
                fs::create_dir(&tmp).expect("creating the server's temporary directory");
                let mut command = Command::new(install_db);
                // `--no-defaults` must come first; the machine's my.cnf is not this server's.
                command
                    .arg("--no-defaults")
                    .arg(format!("--datadir={}", data.display()))
                    // A starting MariaDB deletes every `#sql*` file in its tmpdir: in the shared
                    // /tmp, those of the other servers starting at the same time, and of the
                    // machine's own server.
                    .arg(format!("--tmpdir={}", tmp.display()))
                    // A root account without a password, for the readiness probe and the setup.
                    .arg("--auth-root-authentication-method=normal")
                    .args(["--skip-test-db", "--skip-name-resolve"]);
                command.args(user.map(|user| format!("--user={user}")));
                command
            }
            Engine::Postgres { bin, owner } => {
                // Clear text over TCP is refused by the server itself; the Unix socket is the
                // administrator's way in.
                write(
                    dir,
                    "pg_hba.conf",
                    "local all all trust\n\
                     hostssl all all 127.0.0.1/32 trust\n\
                     hostnossl all all 127.0.0.1/32 reject\n",
                );
                if let Some((uid, gid)) = owner {
                    // The server's user must own its directory and read its key.
                    let entries = fs::read_dir(dir).expect("listing the server's directory");
                    let paths = entries.flatten().map(|entry| entry.path());
                    for path in std::iter::once(dir.to_path_buf()).chain(paths) {
                        std::os::unix::fs::chown(&path, Some(*uid), Some(*gid))
                            .unwrap_or_else(|e| panic!("chown {}: {e}", path.display()));
                    }
                }
                let mut command = Command::new(bin.join("initdb"));
                command
                    .arg("-D")
                    .arg(&data)
                    .args(["-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C"])
                    .args(["--no-sync", "--no-instructions"]);
                as_owner(&mut command, dir, *owner);
                command
            }
        };
        let output = command
            .output()
            .unwrap_or_else(|e| panic!("could not run {command:?}: {e}"));
        assert!(
            output.status.success(),
            "{command:?} failed ({}):\n--- stdout\n{}--- stderr\n{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
        );
    }

    /// Starts the server on `port` of 127.0.0.1 and on a Unix socket in `dir`, its output in
    /// `dir/server.log`.
    fn spawn(&self, dir: &Path, port: u16) -> Child {
        let data = dir.join("data");
        let file = |name: &str| dir.join(name).display().to_string();
        let mut command = match self {
            Engine::Mariadb { server, user, .. } => {
                let mut command = Command::new(server);
                command
                    .arg("--no-defaults")
                    .arg(format!("--datadir={}", data.display()))
                    .args(["--bind-address=127.0.0.1", &format!("--port={port}")])
                    .arg(format!("--socket={}", file("mysqld.sock")))
                    .arg(format!("--pid-file={}", file("mysqld.pid")))
                    .arg(format!("--tmpdir={}", file("tmp")))
                    // Clients are 127.0.0.1, not a host name looked up in DNS.
                    .arg("--skip-name-resolve")
                    .arg(format!("--ssl-ca={}", file("ca.pem")))
                    .arg(format!("--ssl-cert={}", file("server.pem")))
                    .arg(format!("--ssl-key={}", file("server.key")));
                command.args(user.map(|user| format!("--user={user}")));
                command
            }
            Engine::Postgres { bin, owner } => {
                let mut command = Command::new(bin.join("postgres"));
                command
                    .arg("-D")
                    .arg(&data)
                    .args(["-p", &port.to_string(), "-k"])
                    .arg(dir)
                    .args(["-c", "listen_addresses=127.0.0.1"])
                    .args(["-c", &format!("hba_file={}", file("pg_hba.conf"))])
                    .args(["-c", "ssl=on"])
                    .args(["-c", &format!("ssl_cert_file={}", file("server.pem"))])
                    .args(["-c", &format!("ssl_key_file={}", file("server.key"))])
                    // Nothing here outlives the test.
                    .args(["-c", "fsync=off"]);
                as_owner(&mut command, dir, *owner);
                command
            }
        };
        let log = fs::File::create(dir.join("server.log")).expect("creating the server's log");
        command
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("sharing the server's log"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("could not start {command:?}: {e}"))
    }

    /// An administrator's connection over the server's Unix socket, which carries no TLS and
    /// which no other process can be listening on (unlike a port another process may have
    /// taken).
    fn admin(&self, dir: &Path, port: u16) -> Result<Raw, String> {
        off_runtime(|| match self {
            Engine::Mariadb { .. } => MysqlConnection::establish(&format!(
                "mysql://root@localhost/mysql?socket={}",
                dir.join("mysqld.sock").display()
            ))
            .map(Raw::Mysql),
            Engine::Postgres { .. } => PgConnection::establish(&format!(
                "host={} port={port} user=postgres dbname=postgres",
                dir.display()
            ))
            .map(Raw::Postgres),
        })
        .map_err(|e| e.to_string())
    }

    /// Creates the store's database and, on MariaDB, its account, which may only log in over
    /// TLS. (PostgreSQL's `pg_hba.conf` already refuses clear text to everyone over TCP.)
    fn create_store_database(&self, admin: &mut Raw) {
        match self {
            Engine::Mariadb { .. } => {
                admin.execute(&format!(
                    "CREATE DATABASE {IDMSYNC} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
                ));
                admin.execute(&format!("CREATE USER '{IDMSYNC}'@'%' REQUIRE SSL"));
                admin.execute(&format!("GRANT ALL ON {IDMSYNC}.* TO '{IDMSYNC}'@'%'"));
            }
            Engine::Postgres { .. } => admin.execute(&format!("CREATE DATABASE {IDMSYNC}")),
        }
    }

    /// The signal that stops the server at once without leaving anything behind: SIGKILL for
    /// MariaDB (its files go with the directory), SIGINT (a fast shutdown) for PostgreSQL,
    /// which a SIGKILL would make leave its System V shared memory segment behind.
    fn stop_signal(&self) -> &'static str {
        match self {
            Engine::Mariadb { .. } => "KILL",
            Engine::Postgres { .. } => "INT",
        }
    }
}

/// Writes a fresh CA (`ca.pem`) and a server certificate it issued to `names` (`server.pem`,
/// `server.key`) into `dir`, and returns the CA's path.
fn certificates(dir: &Path, names: &[&str]) -> PathBuf {
    let mut ca = CertificateParams::default();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "idmsync test CA");
    let ca =
        CertifiedIssuer::self_signed(ca, KeyPair::generate().expect("CA key")).expect("test CA");
    let names: Vec<String> = names.iter().map(|name| name.to_string()).collect();
    let key = KeyPair::generate().expect("server key");
    let server = CertificateParams::new(names)
        .expect("server certificate names")
        .signed_by(&key, &ca)
        .expect("server certificate");
    write(dir, "server.pem", &server.pem());
    let key_file = write(dir, "server.key", &key.serialize_pem());
    // PostgreSQL refuses a key that others may read.
    fs::set_permissions(&key_file, fs::Permissions::from_mode(0o600)).expect("chmod server.key");
    write(dir, "ca.pem", &ca.pem())
}

/// Writes `text` to the file `name` in `dir`, and returns its path.
fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, text).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
    path
}

/// Runs `command` in `dir`, as `owner` (uid, gid) when the tests run as root.
fn as_owner(command: &mut Command, dir: &Path, owner: Option<(u32, u32)>) {
    // A working directory that `owner` cannot enter would stop the server from starting.
    command.current_dir(dir);
    if let Some((uid, gid)) = owner {
        command.uid(uid).gid(gid);
    }
}

/// Waits until the server accepts an administrator's connection, and returns it; or, having
/// killed the server, why it did not come up.
fn ready(engine: &Engine, child: &mut Child, dir: &Path, port: u16) -> Result<Raw, String> {
    let deadline = Instant::now() + READY_TIMEOUT;
    let failed = |child: &mut Child, why: String| {
        // Killing a process that already exited is harmless; reaping it is what matters.
        let _ = child.kill();
        let _ = child.wait();
        let log = fs::read_to_string(dir.join("server.log")).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(30).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        format!(
            "the TLS test server on 127.0.0.1:{port} {why}\n--- last lines of its log\n{}",
            tail.join("\n")
        )
    };
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Err(failed(child, format!("exited with {status}"))),
            Ok(None) => {}
            Err(e) => return Err(failed(child, format!("could not be waited for: {e}"))),
        }
        let refusal = match engine.admin(dir, port) {
            Ok(admin) => return Ok(admin),
            Err(refusal) => refusal,
        };
        if Instant::now() >= deadline {
            let why = format!("did not accept a connection within {READY_TIMEOUT:?}: {refusal}");
            return Err(failed(child, why));
        }
        std::thread::sleep(POLL_INTERVAL);
    }
}

/// Stops the server with its [`Engine::stop_signal`] and waits for it, killing it if it takes
/// longer than [`STOP_TIMEOUT`].
fn stop(engine: &Engine, child: &mut Child) -> std::io::Result<()> {
    // std can only SIGKILL a child; the shell's `kill` builtin sends any signal (and needs no
    // procps). It fails, quietly, for a server that has already exited.
    Command::new("sh")
        .args(["-c", "kill -s \"$0\" \"$1\""])
        .args([engine.stop_signal(), &child.id().to_string()])
        .stderr(Stdio::null())
        .status()?;
    let deadline = Instant::now() + STOP_TIMEOUT;
    while child.try_wait()?.is_none() {
        if Instant::now() >= deadline {
            child.kill()?;
            child.wait()?;
            break;
        }
        std::thread::sleep(POLL_INTERVAL);
    }
    Ok(())
}

/// A port of 127.0.0.1 that was free a moment ago.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("binding a free port on 127.0.0.1")
        .port()
}

/// `name` if it is an absolute path to a file, else where it is on PATH.
fn program(name: &str) -> Option<PathBuf> {
    if Path::new(name).is_absolute() {
        return Path::new(name).is_file().then(|| name.into());
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// The newest of Debian's PostgreSQL installations (`/usr/lib/postgresql/<version>/bin`), or
/// the one whose programs are on PATH.
fn postgres_bin() -> Option<PathBuf> {
    let newest = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version: u32 = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .max();
    newest
        .map(|(_, bin)| bin)
        .or_else(|| Some(program("initdb")?.parent()?.to_path_buf()))
}

/// The uid and gid of the `postgres` account, which the postgresql package creates.
fn postgres_account() -> (u32, u32) {
    let output = Command::new("getent")
        .args(["passwd", "postgres"])
        .output()
        .expect("running getent");
    let line = String::from_utf8_lossy(&output.stdout).into_owned();
    let fields: Vec<&str> = line.trim().split(':').collect();
    match (
        fields.get(2).and_then(|uid| uid.parse().ok()),
        fields.get(3).and_then(|gid| gid.parse().ok()),
    ) {
        (Some(uid), Some(gid)) => (uid, gid),
        _ => panic!(
            "running as root, the TLS test server needs the `postgres` account to run \
             PostgreSQL as (initdb refuses root); install the package: \
             `apt-get install postgresql`"
        ),
    }
}

/// Fails the test: none of `candidates` is installed.
fn missing(candidates: &[&str], package: &str) -> ! {
    panic!(
        "the TLS test server needs one of {} (none found); install the package: \
         `apt-get install {package}`",
        candidates.join(", ")
    )
}
