//! Which process holds a SQLite lease, and whether it provably no longer runs: a holder killed
//! with SIGKILL (or a machine that lost power) leaves its lease behind, and a restart should not
//! have to wait for it to expire.
//!
//! A process id means something only on the same boot of the same kernel and in the same pid
//! namespace, and only until the pid is reused; so a lease records the pid with the boot id
//! (`/proc/sys/kernel/random/boot_id`), the pid namespace (`/proc/self/ns/pid`) and the
//! process's start time (field 22 of `/proc/PID/stat`). Where any of them cannot be read (not
//! Linux, another machine sharing the file, another container), nothing is provable and the
//! lease is left to expire.

use std::sync::OnceLock;

/// A process as a lease records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Process {
    /// Its process id.
    pub(crate) pid: i64,
    /// The kernel's boot id when it ran.
    pub(crate) boot_id: Option<String>,
    /// Its pid namespace, as `/proc/PID/ns/pid` names it (`pid:[4026531836]`).
    pub(crate) pid_namespace: Option<String>,
    /// When it started, in clock ticks after boot.
    pub(crate) start: Option<i64>,
}

impl Process {
    /// This process.
    pub(crate) fn current() -> &'static Process {
        static CURRENT: OnceLock<Process> = OnceLock::new();
        CURRENT.get_or_init(|| {
            let pid = i64::from(std::process::id());
            Process {
                pid,
                boot_id: std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
                    .ok()
                    .map(|id| id.trim().to_string())
                    .filter(|id| !id.is_empty()),
                pid_namespace: std::fs::read_link("/proc/self/ns/pid")
                    .ok()
                    .map(|link| link.to_string_lossy().into_owned()),
                start: Stat::read(pid).ok().flatten().map(|stat| stat.start),
            }
        })
    }

    /// Whether this process provably no longer runs: it ran on this boot in this pid namespace,
    /// and its pid is now free, a zombie's, or a younger process's. `false` whenever that cannot
    /// be known.
    pub(crate) fn is_gone(&self) -> bool {
        let me = Process::current();
        let comparable = self.boot_id.is_some()
            && self.boot_id == me.boot_id
            && self.pid_namespace.is_some()
            && self.pid_namespace == me.pid_namespace;
        let Some(start) = self.start.filter(|_| comparable) else {
            return false;
        };
        match Stat::read(self.pid) {
            Ok(None) => true,
            Ok(Some(stat)) => stat.dead || stat.start != start,
            // Unreadable (hidden by `hidepid`, say): not provable.
            Err(()) => false,
        }
    }
}

/// What `/proc/PID/stat` says about a process.
struct Stat {
    /// A zombie (`Z`) or dead (`X`): it has exited, its parent has not reaped it yet.
    dead: bool,
    start: i64,
}

impl Stat {
    /// `Ok(None)` when there is no such process, `Err` when its stat cannot be read or parsed.
    fn read(pid: i64) -> Result<Option<Stat>, ()> {
        let text = match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(_) => return Err(()),
        };
        // `pid (comm) state ppid …`: comm may hold spaces and parentheses, so the fields are
        // counted from the last `)`; the state is field 3, the start time field 22.
        let fields: Vec<&str> = text
            .rsplit_once(')')
            .map(|(_, rest)| rest.split_whitespace().collect())
            .ok_or(())?;
        let state = fields.first().ok_or(())?;
        let start = fields.get(19).and_then(|s| s.parse().ok()).ok_or(())?;
        Ok(Some(Stat {
            dead: matches!(*state, "Z" | "X" | "x"),
            start,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::Process;

    #[test]
    fn this_process_is_alive_and_an_exited_one_is_gone() {
        let me = Process::current().clone();
        if me.boot_id.is_none() || me.start.is_none() {
            // Not Linux: nothing is ever provable, which `is_gone` must say.
            assert!(!me.is_gone());
            return;
        }
        assert!(!me.is_gone());
        let mut child = std::process::Command::new("true").spawn().expect("spawn");
        let pid = i64::from(child.id());
        child.wait().expect("wait");
        let exited = Process { pid, ..me.clone() };
        assert!(exited.is_gone(), "{exited:?}");
        // The same pid with another start time is a reused pid.
        let reused = Process {
            start: me.start.map(|s| s + 1),
            ..me.clone()
        };
        assert!(reused.is_gone());
        // Another boot, or an unknown one, proves nothing.
        let elsewhere = Process {
            pid,
            boot_id: Some("another-boot".into()),
            ..me.clone()
        };
        assert!(!elsewhere.is_gone());
        let unknown = Process {
            pid,
            start: None,
            ..me
        };
        assert!(!unknown.is_gone());
    }
}
