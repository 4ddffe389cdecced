//! The machine-wide lock that lets one Samba domain controller run at a time (its LDAP port is
//! fixed), held as a listening socket on a fixed loopback port.
//!
//! A socket rather than a lock file: the kernel releases it when the holder exits, however it
//! exits, so a test killed mid-run never leaves a stale lock behind, and it needs no unsafe
//! `flock` call. Two binds of the same port conflict between threads of one process as between
//! processes, so the same lock orders parallel tests of one binary.

use std::io::ErrorKind;
use std::net::TcpListener;
use std::time::{Duration, Instant};

/// The port whose socket is the lock; nothing else of idmsync's uses it.
const LOCK_PORT: u16 = 38_389;
/// How long to wait for another domain controller's test to finish; longer than any test
/// should take, so a wait this long means something hangs.
const WAIT: Duration = Duration::from_secs(900);
/// Pause between two attempts.
const RETRY: Duration = Duration::from_millis(200);

/// Held while a domain controller runs; dropping it releases the lock.
#[derive(Debug)]
pub(crate) struct MachineLock {
    _socket: TcpListener,
}

impl MachineLock {
    /// Waits until no other holder on this machine has the lock, then takes it.
    ///
    /// # Panics
    /// After [`WAIT`], or when the port cannot be bound for another reason than being held.
    pub(crate) fn acquire() -> Self {
        let deadline = Instant::now() + WAIT;
        loop {
            match TcpListener::bind(("127.0.0.1", LOCK_PORT)) {
                Ok(socket) => return Self { _socket: socket },
                Err(e) if e.kind() == ErrorKind::AddrInUse && Instant::now() < deadline => {
                    std::thread::sleep(RETRY);
                }
                Err(e) => panic!(
                    "could not take the Samba lock (127.0.0.1:{LOCK_PORT}) within {WAIT:?}: \
                     {e}; another test's domain controller may hang"
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
        let held = MachineLock::acquire();
        assert!(TcpListener::bind(("127.0.0.1", LOCK_PORT)).is_err());
        drop(held);
        drop(MachineLock::acquire());
    }
}
