//! The database servers the store tests use, started if they are down.
//!
//! The machines this project runs on start PostgreSQL (127.0.0.1:5432) and MariaDB
//! (127.0.0.1:3306) before a session; this makes sure they are up before the tests need them,
//! and starts them with the same commands when they are not.

use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// A server the tests connect to, and the shell command that starts it.
struct Service {
    name: &'static str,
    address: &'static str,
    start: &'static str,
}

const SERVICES: &[Service] = &[
    Service {
        name: "PostgreSQL",
        address: "127.0.0.1:5432",
        start: "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
    },
    Service {
        name: "MariaDB",
        address: "127.0.0.1:3306",
        start: "start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd",
    },
];

fn accepts(address: &str) -> bool {
    address
        .parse::<SocketAddr>()
        .is_ok_and(|a| TcpStream::connect_timeout(&a, Duration::from_millis(500)).is_ok())
}

/// Starts every service that does not accept connections, and waits (bounded) until it does.
pub fn ensure_running() -> Result<()> {
    for service in SERVICES {
        if accepts(service.address) {
            continue;
        }
        eprintln!(
            "{} is not answering on {}; starting it",
            service.name, service.address
        );
        let status = Command::new("sh")
            .args(["-c", service.start])
            .status()
            .with_context(|| format!("starting {}", service.name))?;
        if !status.success() {
            bail!("`{}` failed with {status}", service.start);
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        while !accepts(service.address) {
            if Instant::now() > deadline {
                bail!(
                    "{} did not answer on {} within 60 s",
                    service.name,
                    service.address
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    Ok(())
}
