//! The SCIM guard: deactivations over a sliding window rather than per run.
//!
//! A pulled source's run sees the whole directory, so the engine's guard can judge one run. A
//! provider pushes one user at a time: a mis-scoped provisioning job deletes a whole tenant in
//! a thousand requests, each its own small batch that the per-run guard would let through. So
//! the deactivations committed through SCIM (deletes, `active: false`) are counted over
//! `source.scim.guard_window_secs`, and a write that would take the count past
//! `sync.max_deactivations` of the active users is refused (503) until an administrator lets
//! them through for one window ([`WindowGuard::release`]).

use std::collections::VecDeque;
use std::time::Duration;

use idmsync_domain::MaxDeactivations;
use tokio::time::Instant;

/// The deactivations of the window, and whether an administrator let them through.
#[derive(Debug)]
pub(crate) struct WindowGuard {
    window: Duration,
    max: MaxDeactivations,
    /// Committed deactivations: when, and how many.
    recent: VecDeque<(Instant, u64)>,
    released_until: Option<Instant>,
    /// Whether a deactivation was refused since the run log was last read for a release made
    /// by another process (`idmsync scim release-guard`).
    pub(crate) tripped: bool,
}

impl WindowGuard {
    pub(crate) fn new(window: Duration, max: MaxDeactivations) -> Self {
        Self {
            window,
            max,
            recent: VecDeque::new(),
            released_until: None,
            tripped: false,
        }
    }

    /// Deactivations committed within the window before `now`.
    pub(crate) fn counted(&mut self, now: Instant) -> u64 {
        while let Some(&(at, _)) = self.recent.front() {
            if now.saturating_duration_since(at) < self.window {
                break;
            }
            self.recent.pop_front();
        }
        self.recent.iter().map(|(_, n)| n).sum()
    }

    /// Whether one more deactivation may be planned, `pending` already being planned in the
    /// batch, with `active` users active now; otherwise why not, in an operator's words. A share
    /// (`10%`) is of the users that were active when the window began: those active now and
    /// those the window deactivated, so that each deactivation does not shrink the allowance.
    pub(crate) fn allows(&mut self, now: Instant, active: u64, pending: u64) -> Result<(), String> {
        if self.released_until.is_some_and(|until| now < until) {
            return Ok(());
        }
        let counted = self.counted(now);
        let base = active + counted;
        let limit = self.max.limit(base);
        if counted + pending < limit {
            return Ok(());
        }
        self.tripped = true;
        Err(format!(
            "the safety guard refuses this deactivation: {counted} user(s) were deactivated \
             through SCIM in the last {} s, and sync.max_deactivations ({}) of the {base} users \
             active then allows {limit}; an administrator can let them through for one window \
             (`idmsync scim release-guard`, or POST /api/enterprise/scim/guard/release)",
            self.window.as_secs(),
            self.max,
        ))
    }

    /// Counts `n` deactivations committed at `now`.
    pub(crate) fn record(&mut self, now: Instant, n: u64) {
        if n > 0 {
            self.recent.push_back((now, n));
        }
    }

    /// Lets every deactivation through until one window after `at`, forgetting those counted
    /// before; returns when that is.
    pub(crate) fn release(&mut self, at: Instant) -> Instant {
        let until = at + self.window;
        self.released_until = Some(self.released_until.map_or(until, |u| u.max(until)));
        self.recent.retain(|(when, _)| *when > at);
        self.tripped = false;
        until
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);

    #[test]
    fn deactivations_count_over_the_window_and_then_expire() {
        let start = Instant::now();
        let mut guard = WindowGuard::new(HOUR, MaxDeactivations::Count(3));
        assert!(guard.allows(start, 100, 0).is_ok());
        guard.record(start, 2);
        assert!(guard.allows(start, 100, 0).is_ok());
        let refused = guard.allows(start, 100, 1).expect_err("third of three");
        assert!(refused.contains("2 user(s)"), "{refused}");
        assert!(refused.contains("release-guard"), "{refused}");
        guard.record(start + Duration::from_secs(60), 1);
        assert!(guard
            .allows(start + Duration::from_secs(61), 100, 0)
            .is_err());
        // The first two leave the window; the third is still counted.
        assert!(guard.allows(start + HOUR, 100, 1).is_ok());
        assert!(guard.allows(start + HOUR, 100, 2).is_err());
    }

    #[test]
    fn a_share_is_of_the_users_active_when_the_window_began() {
        let now = Instant::now();
        let mut guard = WindowGuard::new(HOUR, MaxDeactivations::Percent(10.0));
        assert!(guard.allows(now, 100, 9).is_ok());
        assert!(guard.allows(now, 100, 10).is_err());
        assert!(guard.allows(now, 5, 0).is_err(), "10% of 5 is none");
        // Nine deactivated, 91 left: still 10% of 100, so one more passes, two do not.
        guard.record(now, 9);
        assert!(guard.allows(now, 91, 0).is_ok());
        assert!(guard.allows(now, 91, 1).is_err());
        let mut all = WindowGuard::new(HOUR, MaxDeactivations::Percent(100.0));
        all.record(now, 5);
        assert!(all.allows(now, 1, 0).is_ok(), "100% lets the last one go");
    }

    #[test]
    fn a_release_lets_everything_through_for_one_window() {
        let now = Instant::now();
        let mut guard = WindowGuard::new(HOUR, MaxDeactivations::Count(1));
        guard.record(now, 1);
        assert!(guard.allows(now, 100, 0).is_err());
        let until = guard.release(now);
        assert_eq!(until, now + HOUR);
        assert!(guard.allows(now, 100, 50).is_ok());
        guard.record(now, 50);
        assert!(
            guard.allows(until, 100, 0).is_ok(),
            "released ones are not counted"
        );
        guard.record(until, 1);
        assert!(guard.allows(until, 100, 0).is_err());
    }
}
