//! What every test directory shares, slapd here and Samba's domain controller in
//! `idmsync-test-ad`: the LDAP client tools run with useful panics, and [`TestDirectory`], what
//! a test needs of any directory, so that a test meant for OpenLDAP and Active Directory alike
//! is written once and run on both.

use std::io::{ErrorKind, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// A running directory a test can read as the sync account and change as its administrator.
pub trait TestDirectory {
    /// `ldap://host:port` of the server.
    fn url(&self) -> String;
    /// The naming context the test entries live under (`dc=example,dc=com`).
    fn suffix(&self) -> &str;
    /// The administrator's DN, which changes go through.
    fn admin_dn(&self) -> String;
    /// The administrator's password.
    fn admin_password(&self) -> &str;
    /// The DN of the read-only account idmsync binds as.
    fn sync_dn(&self) -> String;
    /// Its password.
    fn sync_password(&self) -> &str;
    /// A folder of the server's own for temporary files (the LDIF of a change).
    fn scratch(&self) -> &Path;

    /// Applies `ldif` (change records; a record without a changetype is a modification) with
    /// `ldapmodify` as the administrator, through the running server, so that operational
    /// attributes (modifyTimestamp, uSNChanged) change as in production.
    ///
    /// # Panics
    /// If ldapmodify fails, with its stderr and the LDIF.
    fn modify(&self, ldif: &str) {
        ldapmodify(self, ldif, false);
    }

    /// Adds the entries in `ldif` (plain LDIF, parents first) with `ldapadd`.
    ///
    /// # Panics
    /// If ldapadd fails, with its stderr and the LDIF.
    fn add(&self, ldif: &str) {
        ldapmodify(self, ldif, true);
    }

    /// Deletes the entry `dn` (a leaf).
    ///
    /// # Panics
    /// As [`TestDirectory::modify`].
    fn delete(&self, dn: &str) {
        self.modify(&format!("dn: {dn}\nchangetype: delete\n"));
    }

    /// Renames the entry `dn` to `new_rdn`, under `new_superior` when given (a move).
    ///
    /// # Panics
    /// As [`TestDirectory::modify`].
    fn rename(&self, dn: &str, new_rdn: &str, new_superior: Option<&str>) {
        let superior = new_superior.map_or_else(String::new, |s| format!("newsuperior: {s}\n"));
        self.modify(&format!(
            "dn: {dn}\nchangetype: modrdn\nnewrdn: {new_rdn}\ndeleteoldrdn: 1\n{superior}"
        ));
    }
}

/// `ldapmodify` (`ldapadd` with `add`) of `ldif` on `directory` as its administrator.
fn ldapmodify<D: TestDirectory + ?Sized>(directory: &D, ldif: &str, add: bool) {
    let what = if add { "ldapadd" } else { "ldapmodify" };
    let mut file = tempfile::Builder::new()
        .prefix("change-")
        .suffix(".ldif")
        .tempfile_in(directory.scratch())
        .expect("creating a temporary LDIF file");
    file.write_all(ldif.as_bytes())
        .expect("writing a temporary LDIF file");
    let mut command = client("ldapmodify");
    if add {
        command.arg("-a");
    }
    let output = command
        .args([
            "-x",
            "-H",
            &directory.url(),
            "-D",
            &directory.admin_dn(),
            "-w",
        ])
        .arg(directory.admin_password())
        .arg("-f")
        .arg(file.path())
        .output()
        .expect("running ldapmodify");
    assert!(
        output.status.success(),
        "{what} on {} failed ({}): {}\n--- LDIF\n{ldif}",
        directory.url(),
        output.status,
        String::from_utf8_lossy(&output.stderr).trim(),
    );
}

/// An LDAP client tool (ldapmodify, ldapsearch, ldapwhoami) with `LDAPNOINIT` set, so that a
/// developer's `~/.ldaprc` or `/etc/ldap/ldap.conf` (a `BASE`, a `URI`, TLS settings) cannot
/// change what a harness's own calls do.
pub fn client(program: &str) -> Command {
    let mut command = Command::new(program);
    command.env("LDAPNOINIT", "1");
    command
}

/// Runs `command` to completion and returns its output, panicking (with `what`, the exit
/// status, stdout and stderr, and `hint` on how to install it) if it cannot start or fails.
pub fn run(command: &mut Command, what: &str, hint: &str) -> Output {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("could not run {what} ({command:?}): {e}; {hint}"));
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{command:?}\n--- stdout\n{}--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    output
}

/// The last `lines` lines of the text file at `path` (a server's log), or a note that it could
/// not be read; for panic messages.
pub fn tail(path: &Path, lines: usize) -> String {
    match std::fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let all: Vec<&str> = text.lines().collect();
            all[all.len().saturating_sub(lines)..].join("\n")
        }
        Err(e) => format!("(could not read {}: {e})", path.display()),
    }
}

/// Whether something accepts TCP connections at `address`.
pub fn accepts(address: &SocketAddr) -> bool {
    TcpStream::connect_timeout(address, Duration::from_secs(1)).is_ok()
}

/// `n` ports free on 127.0.0.1 right now (each bound to port 0 at once, so they differ).
pub fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("binding a free port on 127.0.0.1"))
        .collect();
    listeners
        .iter()
        .map(|listener| listener.local_addr().expect("reading a bound port").port())
        .collect()
}

/// A machine-wide lock, for servers of which one may run at a time (Samba's fixed LDAP port,
/// 389-ds's shared configuration tree): a listening socket on a fixed loopback port.
///
/// A socket rather than a lock file: the kernel releases it when the holder exits, however it
/// exits, so a test killed mid-run never leaves a stale lock behind, and it needs no unsafe
/// `flock` call. Two binds of the same port conflict between threads of one process as between
/// processes, so the same lock orders parallel tests of one binary.
#[derive(Debug)]
pub struct MachineLock {
    _socket: TcpListener,
}

impl MachineLock {
    /// How long to wait for another holder; longer than any test should take, so a wait this
    /// long means something hangs.
    const WAIT: Duration = Duration::from_secs(900);

    /// Waits until no other holder on this machine has the lock of `port`, then takes it.
    ///
    /// # Panics
    /// After [`MachineLock::WAIT`], naming `what` the lock is for, or when the port cannot be
    /// bound for another reason than being held.
    pub fn acquire(port: u16, what: &str) -> Self {
        let deadline = Instant::now() + Self::WAIT;
        loop {
            match TcpListener::bind(("127.0.0.1", port)) {
                Ok(socket) => return Self { _socket: socket },
                Err(e) if e.kind() == ErrorKind::AddrInUse && Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(200));
                }
                Err(e) => panic!(
                    "could not take the {what} lock (127.0.0.1:{port}) within {:?}: {e}; \
                     another test's server may hang",
                    Self::WAIT
                ),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lock_is_exclusive_until_dropped() {
        let port = free_ports(1)[0];
        let held = MachineLock::acquire(port, "test");
        assert!(TcpListener::bind(("127.0.0.1", port)).is_err());
        drop(held);
        drop(MachineLock::acquire(port, "test"));
    }

    #[test]
    fn free_ports_differ() {
        let ports = free_ports(3);
        assert_eq!(ports.len(), 3);
        assert!(ports[0] != ports[1] && ports[1] != ports[2] && ports[0] != ports[2]);
    }
}
