//! [`Throttle`]: counts failed logins per login name and refuses further attempts for a while
//! once there are too many, so that guessing passwords online is slow.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use idmsync_ports::Clock;

/// How many logins the throttle remembers at most. A flood of attempts on random names must
/// not grow the process without bound; past this, expired entries go first, then the oldest.
const MAX_TRACKED: usize = 10_000;

/// `auth.max_failures` and `auth.lockout_secs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleOptions {
    /// Failures of one login, each within `lockout` of the previous one, that lock it; 0 turns
    /// throttling off.
    pub max_failures: u32,
    /// How long a locked login is refused, and how long a failure is remembered.
    pub lockout: Duration,
}

impl Default for ThrottleOptions {
    /// Five failures, five minutes: a person who mistypes gets several tries, a script gets
    /// about one guess a minute per login.
    fn default() -> Self {
        Self {
            max_failures: 5,
            lockout: Duration::from_secs(300),
        }
    }
}

/// Failures of one login.
#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: DateTime<Utc>,
}

/// Per-login failure counts, in memory: per process, lost on restart, not shared between the
/// nodes of a cluster (each node throttles on its own). Keys are logins as the caller folds
/// them, so `JLennon` and `jlennon` share a count when logins ignore case.
pub(crate) struct Throttle {
    options: ThrottleOptions,
    lockout: TimeDelta,
    clock: Arc<dyn Clock>,
    failures: Mutex<HashMap<String, Failures>>,
}

impl Throttle {
    /// A throttle telling time by `clock`.
    pub fn new(options: ThrottleOptions, clock: Arc<dyn Clock>) -> Self {
        Self {
            options,
            // A lockout beyond chrono's range is as good as forever.
            lockout: TimeDelta::from_std(options.lockout).unwrap_or(TimeDelta::MAX),
            clock,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// Whether `key` is locked out now.
    pub fn locked(&self, key: &str) -> bool {
        if self.options.max_failures == 0 {
            return false;
        }
        let now = self.clock.now();
        self.map()
            .get(key)
            .is_some_and(|f| f.count >= self.options.max_failures && !self.expired(f, now))
    }

    /// Counts a failure of `key`; a failure older than the lockout no longer counts.
    pub fn failed(&self, key: &str) {
        if self.options.max_failures == 0 {
            return;
        }
        let now = self.clock.now();
        let mut map = self.map();
        if map.len() >= MAX_TRACKED && !map.contains_key(key) {
            self.make_room(&mut map, now);
        }
        let entry = map.entry(key.to_owned()).or_insert(Failures {
            count: 0,
            last: now,
        });
        if self.expired(entry, now) {
            entry.count = 0;
        }
        entry.count = entry.count.saturating_add(1);
        entry.last = now;
        if entry.count == self.options.max_failures {
            tracing::warn!(
                login = key,
                failures = entry.count,
                lockout_secs = self.options.lockout.as_secs(),
                "too many failed logins: refusing this login for a while"
            );
        }
    }

    /// Forgets the failures of `key` after a successful login.
    pub fn succeeded(&self, key: &str) {
        self.map().remove(key);
    }

    fn expired(&self, failures: &Failures, now: DateTime<Utc>) -> bool {
        now.signed_duration_since(failures.last) >= self.lockout
    }

    /// Drops expired entries, and the oldest one if that freed nothing.
    fn make_room(&self, map: &mut HashMap<String, Failures>, now: DateTime<Utc>) {
        map.retain(|_, f| !self.expired(f, now));
        if map.len() >= MAX_TRACKED {
            let oldest = map
                .iter()
                .min_by_key(|(_, f)| f.last)
                .map(|(k, _)| k.clone());
            if let Some(oldest) = oldest {
                map.remove(&oldest);
            }
        }
    }

    /// The map; a panic elsewhere while holding the lock leaves counts that are still valid.
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, Failures>> {
        self.failures.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use chrono::TimeZone;

    use super::*;

    /// A clock the test moves by hand.
    struct ManualClock(Mutex<DateTime<Utc>>);

    impl ManualClock {
        fn advance(&self, secs: i64) {
            let mut now = self.0.lock().expect("clock");
            *now += TimeDelta::seconds(secs);
        }
    }

    impl Clock for ManualClock {
        fn now(&self) -> DateTime<Utc> {
            *self.0.lock().expect("clock")
        }
    }

    fn throttle(max_failures: u32, lockout_secs: u64) -> (Throttle, Arc<ManualClock>) {
        let start = Utc
            .with_ymd_and_hms(2024, 1, 1, 0, 0, 0)
            .single()
            .expect("valid time");
        let clock = Arc::new(ManualClock(Mutex::new(start)));
        let options = ThrottleOptions {
            max_failures,
            lockout: Duration::from_secs(lockout_secs),
        };
        (Throttle::new(options, clock.clone()), clock)
    }

    #[test]
    fn locks_after_max_failures_until_the_lockout_ends() {
        let (t, clock) = throttle(3, 60);
        for _ in 0..2 {
            t.failed("jlennon");
            assert!(!t.locked("jlennon"));
        }
        t.failed("jlennon");
        assert!(t.locked("jlennon"));
        assert!(!t.locked("pmccartney"), "other logins are not affected");
        clock.advance(59);
        assert!(t.locked("jlennon"));
        clock.advance(1);
        assert!(!t.locked("jlennon"));
        t.failed("jlennon");
        assert!(!t.locked("jlennon"), "old failures no longer count");
    }

    #[test]
    fn failures_spread_wider_than_the_window_never_lock() {
        let (t, clock) = throttle(2, 10);
        t.failed("jlennon");
        clock.advance(10);
        t.failed("jlennon");
        assert!(!t.locked("jlennon"));
    }

    #[test]
    fn a_success_resets_the_count() {
        let (t, _) = throttle(2, 60);
        t.failed("jlennon");
        t.succeeded("jlennon");
        t.failed("jlennon");
        assert!(!t.locked("jlennon"));
    }

    #[test]
    fn zero_max_failures_turns_throttling_off() {
        let (t, _) = throttle(0, 60);
        for _ in 0..100 {
            t.failed("jlennon");
        }
        assert!(!t.locked("jlennon"));
    }

    #[test]
    fn memory_is_bounded() {
        let (t, clock) = throttle(1, 60);
        t.failed("first");
        clock.advance(1);
        for i in 0..MAX_TRACKED {
            t.failed(&format!("flood-{i}"));
        }
        assert!(t.map().len() <= MAX_TRACKED);
        assert!(!t.locked("first"), "the oldest entry made room");
        assert!(t.locked("flood-9999"));
    }
}
