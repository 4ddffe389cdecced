//! Running one program and measuring it: wall time, CPU time (user + system) and peak resident
//! memory of that child alone, from the kernel's own accounting.

use std::ffi::OsStr;
use std::io;
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command, ExitStatus};
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

/// The hidden xtask subcommand that runs a program and reports its usage (see [`Measured`]).
pub const SUBCOMMAND: &str = "__measure";

/// A command to be measured. It runs through a fresh `xtask __measure` process, which runs the
/// program and `wait4`s for it.
///
/// Why the detour: Linux carries a process's peak RSS across `exec`, starting from the memory
/// of the process that forked it, so a program spawned straight from the bench (holding a
/// generated directory of hundreds of MB) would report at least the bench's size. The
/// intermediate process is small when it forks, so its child's peak is the program's own.
/// Arguments, environment, working directory and standard streams set on
/// [`command`](Self::command) reach the program unchanged.
pub struct Measured {
    /// `xtask __measure <report> <program>`: add the program's arguments and streams here.
    pub command: Command,
    report: tempfile::TempPath,
}

impl Measured {
    /// A measured run of `program`.
    pub fn new(program: impl AsRef<OsStr>) -> Result<Measured> {
        let report = tempfile::Builder::new()
            .prefix("xtask-measure-")
            .tempfile()
            .context("creating a measurement report file")?
            .into_temp_path();
        let mut command =
            Command::new(std::env::current_exe().context("locating the xtask binary")?);
        command.arg(SUBCOMMAND).arg(&report).arg(program);
        Ok(Measured { command, report })
    }

    /// Runs the program and returns how it exited and what it cost.
    pub fn run(mut self) -> Result<(ExitStatus, Usage)> {
        let status = self
            .command
            .status()
            .with_context(|| format!("running {:?}", self.command))?;
        let text = std::fs::read_to_string(&self.report).unwrap_or_default();
        parse_report(&text).with_context(|| {
            format!(
                "{:?} ended with {status} without a usage report",
                self.command
            )
        })
    }

    /// Starts the program and returns at once, for a program that runs until it is told to
    /// stop (`idmsync serve`).
    pub fn spawn(mut self) -> Result<Running> {
        let child = self
            .command
            .spawn()
            .with_context(|| format!("starting {:?}", self.command))?;
        Ok(Running {
            what: format!("{:?}", self.command),
            child,
            report: self.report,
        })
    }
}

/// A measured program started by [`Measured::spawn`], still running.
pub struct Running {
    what: String,
    /// The `xtask __measure` process.
    child: Child,
    report: tempfile::TempPath,
}

impl Running {
    /// The pid of the measured program itself (the only child of the `__measure` process),
    /// once it has started; signals go to it, not to the process measuring it.
    pub fn program_pid(&self) -> Option<u32> {
        let pid = self.child.id();
        let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).ok()?;
        children.split_whitespace().next()?.parse().ok()
    }

    /// Whether the program has ended (then the `__measure` process ends too).
    pub fn has_ended(&mut self) -> Result<bool> {
        Ok(self
            .child
            .try_wait()
            .with_context(|| format!("checking on {}", self.what))?
            .is_some())
    }

    /// Waits for the program to end and returns how it exited and what it cost.
    pub fn wait(mut self) -> Result<(ExitStatus, Usage)> {
        let status = self
            .child
            .wait()
            .with_context(|| format!("waiting for {}", self.what))?;
        let text = std::fs::read_to_string(&self.report).unwrap_or_default();
        parse_report(&text)
            .with_context(|| format!("{} ended with {status} without a usage report", self.what))
    }
}

/// `xtask __measure <report> <program> [args...]`: runs the program (inheriting everything),
/// writes its exit status and usage to `<report>`, and exits 0.
pub fn subcommand(args: &[String]) -> Result<()> {
    let [report, program, rest @ ..] = args else {
        anyhow::bail!("usage: xtask {SUBCOMMAND} REPORT PROGRAM [ARGS...]");
    };
    let (status, usage) = measure(Command::new(program).args(rest))?;
    std::fs::write(
        report,
        format!(
            "{} {} {} {}\n",
            status.into_raw(),
            usage.wall.as_nanos(),
            usage.cpu.as_nanos(),
            usage.max_rss_kib
        ),
    )
    .with_context(|| format!("writing {report}"))
}

/// Reads what [`subcommand`] wrote.
fn parse_report(text: &str) -> Option<(ExitStatus, Usage)> {
    let mut fields = text.split_whitespace();
    let status = fields.next()?.parse().ok()?;
    let mut nanos = || fields.next()?.parse::<u64>().ok();
    let wall = Duration::from_nanos(nanos()?);
    let cpu = Duration::from_nanos(nanos()?);
    let max_rss_kib = nanos()?;
    Some((
        ExitStatus::from_raw(status),
        Usage {
            wall,
            cpu,
            max_rss_kib,
        },
    ))
}

/// Spawns `command`, waits for it with `wait4` and returns how it exited and what it cost.
///
/// `wait4` rather than `getrusage(RUSAGE_CHILDREN)`: the latter's peak RSS is the maximum over
/// every child ever reaped, while `wait4` reports this child's. The command's stdout and stderr
/// must not be pipes: nothing reads them while it runs.
fn measure(command: &mut Command) -> Result<(ExitStatus, Usage)> {
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

/// The `p`th percentile of `values` by nearest rank: the smallest value that at least `p`% of
/// the values do not exceed (of 100 values, p99 is the 99th smallest); `None` if empty.
pub fn percentile(values: &[f64], p: f64) -> Option<f64> {
    let mut sorted: Vec<f64> = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    if n == 0 {
        return None;
    }
    // Nearest rank: ceil(p / 100 × n), 1-based, kept within 1..=n.
    let rank = (p / 100.0 * n as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, n) - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_ranks() {
        let hundred: Vec<f64> = (1..=100).rev().map(f64::from).collect();
        assert_eq!(percentile(&hundred, 50.0), Some(50.0));
        assert_eq!(percentile(&hundred, 99.0), Some(99.0));
        assert_eq!(percentile(&hundred, 100.0), Some(100.0));
        assert_eq!(percentile(&[3.0, 1.0], 50.0), Some(1.0));
        assert_eq!(percentile(&[3.0, 1.0], 99.0), Some(3.0));
        assert_eq!(percentile(&[], 50.0), None);
    }

    #[test]
    fn medians_resist_outliers() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[3.0]), Some(3.0));
        assert_eq!(median(&[9.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 100.0, 2.0]), Some(3.0));
    }

    #[test]
    fn reports_round_trip() {
        let usage = Usage {
            wall: Duration::from_millis(1500),
            cpu: Duration::from_millis(700),
            max_rss_kib: 4242,
        };
        let (status, parsed) = parse_report("768 1500000000 700000000 4242\n").expect("report");
        assert_eq!(status.code(), Some(3));
        assert_eq!(parsed, usage);
        assert!(parse_report("").is_none());
    }

    #[test]
    fn a_child_is_measured_and_its_status_kept() {
        // The usage of `sh` includes the pipeline's processes, which sh waited for.
        let (status, usage) = measure(Command::new("sh").args([
            "-c",
            "head -c 50000000 /dev/zero | wc -c >/dev/null; exit 3",
        ]))
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
