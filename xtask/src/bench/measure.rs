//! Running one program and measuring it: wall time, CPU time (user + system) and peak resident
//! memory of that child alone, from the kernel's own accounting.

use std::io;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, ExitStatus};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

/// What one program cost.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Usage {
    /// From spawn to exit, as seen by the bench.
    pub wall: Duration,
    /// User plus system CPU time of the child (and of children it waited for).
    pub cpu: Duration,
    /// The child's peak resident set size, in KiB (Linux reports `ru_maxrss` in KiB).
    pub max_rss_kib: u64,
}

impl Usage {
    /// The cost of running `self` then `other`: times add up, the peak is the larger one.
    pub fn then(self, other: Usage) -> Usage {
        Usage {
            wall: self.wall + other.wall,
            cpu: self.cpu + other.cpu,
            max_rss_kib: self.max_rss_kib.max(other.max_rss_kib),
        }
    }
}

/// Spawns `command`, waits for it with `wait4` and returns how it exited and what it cost.
///
/// `wait4` rather than `getrusage(RUSAGE_CHILDREN)`: the latter's peak RSS is the maximum over
/// every child the bench ever reaped (slapd, psql...), while `wait4` reports this child's. The
/// command's stdout and stderr must not be pipes: nothing reads them while it runs.
pub fn measure(command: &mut Command) -> Result<(ExitStatus, Usage)> {
    let started = Instant::now();
    let child = command
        .spawn()
        .with_context(|| format!("starting {command:?}"))?;
    let pid = libc::pid_t::try_from(child.id()).context("a pid that fits pid_t")?;
    let (status, rusage) = wait4(pid).with_context(|| format!("waiting for {command:?}"))?;
    let wall = started.elapsed();
    // `child` is reaped now; dropping a `Child` neither waits nor kills.
    drop(child);
    let cpu = timeval(rusage.ru_utime) + timeval(rusage.ru_stime);
    let usage = Usage {
        wall,
        cpu,
        max_rss_kib: u64::try_from(rusage.ru_maxrss).unwrap_or(0),
    };
    Ok((ExitStatus::from_raw(status), usage))
}

/// Waits for `pid` to exit and returns its raw wait status and resource usage.
///
/// The only unsafe code in the workspace (xtask's lints deny it elsewhere): std has no API for
/// a child's resource usage.
#[allow(unsafe_code)]
fn wait4(pid: libc::pid_t) -> io::Result<(i32, libc::rusage)> {
    let mut status: libc::c_int = 0;
    // SAFETY: `rusage` is a plain C struct of integers, for which all-zero bytes are valid.
    let mut rusage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: both pointers are to live, writable locals of the types wait4 expects, and
        // `pid` is our own unreaped child.
        let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut rusage) };
        if reaped == pid {
            return Ok((status, rusage));
        }
        let error = io::Error::last_os_error();
        if error.kind() != io::ErrorKind::Interrupted {
            return Err(error);
        }
    }
}

fn timeval(t: libc::timeval) -> Duration {
    let secs = u64::try_from(t.tv_sec).unwrap_or(0);
    let micros = u32::try_from(t.tv_usec).unwrap_or(0);
    Duration::from_secs(secs) + Duration::from_micros(u64::from(micros))
}

/// The median of `values` (the mean of the two middle ones for an even count); `None` if empty.
/// Medians rather than means: one run disturbed by another process on a shared 2-core machine
/// should not move the figure.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut sorted: Vec<f64> = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2]),
        _ => Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_resist_outliers() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[3.0]), Some(3.0));
        assert_eq!(median(&[9.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 100.0, 2.0]), Some(3.0));
    }

    #[test]
    fn a_child_is_measured_and_its_status_kept() {
        // The usage of `sh` includes the pipeline's processes, which sh waited for.
        let (status, usage) = measure(
            Command::new("sh")
                .args(["-c", "head -c 50000000 /dev/zero | wc -c >/dev/null; exit 3"]),
        )
        .expect("sh runs");
        assert_eq!(status.code(), Some(3));
        assert!(usage.wall > Duration::ZERO);
        assert!(usage.max_rss_kib > 100, "{usage:?}");
    }

    #[test]
    fn usages_add_up_and_keep_the_larger_peak() {
        let a = Usage {
            wall: Duration::from_secs(1),
            cpu: Duration::from_secs(2),
            max_rss_kib: 10,
        };
        let b = Usage {
            wall: Duration::from_secs(3),
            cpu: Duration::from_secs(1),
            max_rss_kib: 7,
        };
        let both = a.then(b);
        assert_eq!(both.wall, Duration::from_secs(4));
        assert_eq!(both.cpu, Duration::from_secs(3));
        assert_eq!(both.max_rss_kib, 10);
    }
}
