//! [`Throttle`]: counts failed logins per login name and refuses further attempts for a while
//! once there are too many, so that guessing passwords online is slow.
//!
//! # Atomic per login
//! An attempt takes a slot ([`Throttle::begin`]) *before* its password is checked and settles
//! it afterwards ([`Attempt::failed`], [`Attempt::succeeded`], [`Attempt::uncounted`]). A login
//! has `max_failures` slots, minus its recent failures; an attempt that finds them all taken
//! waits until one is settled, and one that finds the login locked is refused at once. So
//! however many attempts for one login arrive together, at most `max_failures` wrong passwords
//! reach the directory or the hash within the window: the directory's own lockout is never
//! tripped by idmsync, and the right password after a lockout is refused like any other.
//! An attempt dropped before it is settled (the client went away mid-check) counts as a
//! failure, since its password may already have reached the directory.
//!
//! # Bounded memory
//! At most [`ThrottleOptions::MAX_TRACKED`] logins are tracked, each as a keyed 64-bit digest
//! of the login (SipHash with a per-process random key, so that neither long logins nor chosen
//! collisions matter) and a few counters: about 5 MB when full. To track a new login in a full
//! table, expired entries go first, then the idle unlocked entries with the fewest failures,
//! oldest first. Locked logins and logins with an attempt in flight are never evicted, so no
//! flood of other logins can unlock a login or reset its count. When every entry is locked or
//! in flight, an attempt for an untracked login is refused (fail closed) until room is made by
//! an expiry or a settled attempt: letting it through untracked would let the flood buy
//! unlimited guesses. Filling the table that way takes `max_failures` × `MAX_TRACKED` wrong
//! passwords within one lockout window, each costing an argon2 verification or a bind.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use idmsync_ports::Clock;
use tokio::sync::futures::OwnedNotified;
use tokio::sync::Notify;

/// `auth.max_failures` and `auth.lockout_secs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleOptions {
    /// Failures of one login, each within `lockout` of the previous one, that lock it; 0 turns
    /// throttling off.
    pub max_failures: u32,
    /// How long a locked login is refused, and how long a failure is remembered.
    pub lockout: Duration,
}

impl ThrottleOptions {
    /// How many logins the throttle tracks at most (see the module's documentation for what
    /// happens when the table is full).
    pub const MAX_TRACKED: usize = 100_000;
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

/// How often a full table is reported in the log at most.
const FULL_WARNING_INTERVAL: TimeDelta = TimeDelta::seconds(60);

/// One tracked login.
#[derive(Debug)]
struct Entry {
    /// Failures, each within the lockout of the previous one (stale once `last` is older).
    failures: u32,
    /// The latest failure, or when the entry was made.
    last: DateTime<Utc>,
    /// Attempts that took a slot and have not settled yet.
    in_flight: u32,
    /// Wakes attempts waiting for a slot; made by the first one that waits.
    settled: Option<Arc<Notify>>,
}

/// What [`Throttle::begin`] decided under the lock.
enum Admission {
    Go,
    Locked,
    Full,
    /// Every free slot is in flight: wait for one of them to settle.
    Wait(OwnedNotified),
}

/// How an attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Failed,
    Succeeded,
    Uncounted,
}

/// The tracked logins.
#[derive(Default)]
struct Table {
    entries: HashMap<u64, Entry>,
    /// Set when making room freed nothing: until then (or until an attempt settles), a new
    /// login is refused without scanning the table again.
    no_room_before: Option<DateTime<Utc>>,
    /// When a full table was last logged.
    warned_full: Option<DateTime<Utc>>,
}

/// Per-login failure counts and attempts in flight, in memory: per process, lost on restart,
/// not shared between the nodes of a cluster (each node throttles on its own). Logins are as
/// the caller folds them, so `JLennon` and `jlennon` share a count when logins ignore case.
pub(crate) struct Throttle {
    options: ThrottleOptions,
    lockout: TimeDelta,
    capacity: usize,
    clock: Arc<dyn Clock>,
    digest: RandomState,
    table: Mutex<Table>,
}

/// A slot taken by one login attempt; settle it with the outcome. Dropped unsettled, it counts
/// as a failure.
pub(crate) struct Attempt<'a> {
    throttle: &'a Throttle,
    /// `None` when throttling is off.
    key: Option<u64>,
    login: String,
    settled: bool,
}

impl Attempt<'_> {
    /// The password was wrong (or the login unknown): counts towards the lockout.
    pub fn failed(mut self) {
        self.settle(Outcome::Failed);
    }

    /// The login succeeded: forgets its failures.
    pub fn succeeded(mut self) {
        self.settle(Outcome::Succeeded);
    }

    /// Nothing was decided (the database or the directory could not be asked): frees the slot
    /// without counting.
    pub fn uncounted(mut self) {
        self.settle(Outcome::Uncounted);
    }

    fn settle(&mut self, outcome: Outcome) {
        if std::mem::replace(&mut self.settled, true) {
            return;
        }
        if let Some(key) = self.key {
            self.throttle.settle(key, &self.login, outcome);
        }
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        self.settle(Outcome::Failed);
    }
}

impl Throttle {
    /// A throttle telling time by `clock`.
    pub fn new(options: ThrottleOptions, clock: Arc<dyn Clock>) -> Self {
        Self::with_capacity(options, clock, ThrottleOptions::MAX_TRACKED)
    }

    /// A throttle tracking at most `capacity` logins (tests use small tables).
    fn with_capacity(options: ThrottleOptions, clock: Arc<dyn Clock>, capacity: usize) -> Self {
        Self {
            options,
            // A lockout beyond chrono's range is as good as forever.
            lockout: TimeDelta::from_std(options.lockout).unwrap_or(TimeDelta::MAX),
            capacity: capacity.max(1),
            clock,
            digest: RandomState::new(),
            table: Mutex::new(Table::default()),
        }
    }

    /// A slot for one attempt of `login`, or `None` when the login is locked (or cannot be
    /// tracked, the table being full of locked logins). Waits while the login's free slots are
    /// all taken by attempts in flight.
    pub async fn begin(&self, login: &str) -> Option<Attempt<'_>> {
        let attempt = |key| Attempt {
            throttle: self,
            key,
            login: login.to_owned(),
            settled: false,
        };
        if self.options.max_failures == 0 {
            return Some(attempt(None));
        }
        let key = self.digest.hash_one(login);
        loop {
            let settled = match self.admit(key, login) {
                Admission::Go => return Some(attempt(Some(key))),
                Admission::Locked | Admission::Full => return None,
                Admission::Wait(settled) => settled,
            };
            settled.await;
        }
    }

    /// Takes a slot for `key` if there is one; else says why not.
    fn admit(&self, key: u64, login: &str) -> Admission {
        let now = self.clock.now();
        let max = self.options.max_failures;
        let mut table = self.table();
        if let Some(entry) = table.entries.get_mut(&key) {
            if self.expired(entry, now) {
                entry.failures = 0;
            }
            if entry.failures >= max {
                tracing::debug!(login, "login locked out after too many failures");
                return Admission::Locked;
            }
            if entry.failures + entry.in_flight >= max {
                let settled = entry.settled.get_or_insert_with(Default::default);
                // Made under the lock, so a settle right after it is not missed.
                return Admission::Wait(settled.clone().notified_owned());
            }
            entry.in_flight += 1;
            return Admission::Go;
        }
        if table.entries.len() >= self.capacity && !self.make_room(&mut table, now) {
            if table
                .warned_full
                .is_none_or(|at| now.signed_duration_since(at) >= FULL_WARNING_INTERVAL)
            {
                table.warned_full = Some(now);
                tracing::warn!(
                    tracked = table.entries.len(),
                    "the login throttle is full of locked logins: refusing logins it does not \
                     track yet until some lockouts end (a password-guessing flood?)"
                );
            }
            return Admission::Full;
        }
        table.entries.insert(
            key,
            Entry {
                failures: 0,
                last: now,
                in_flight: 1,
                settled: None,
            },
        );
        Admission::Go
    }

    /// Records how an attempt of `key` ended and wakes the attempts waiting for a slot.
    fn settle(&self, key: u64, login: &str, outcome: Outcome) {
        let now = self.clock.now();
        let max = self.options.max_failures;
        let mut table = self.table();
        table.no_room_before = None;
        // In-flight entries are never evicted, so the entry is there.
        let Some(entry) = table.entries.get_mut(&key) else {
            return;
        };
        entry.in_flight = entry.in_flight.saturating_sub(1);
        match outcome {
            Outcome::Failed => {
                if self.expired(entry, now) {
                    entry.failures = 0;
                }
                entry.failures = entry.failures.saturating_add(1);
                entry.last = now;
                if entry.failures == max {
                    tracing::warn!(
                        login,
                        failures = entry.failures,
                        lockout_secs = self.options.lockout.as_secs(),
                        "too many failed logins: refusing this login for a while"
                    );
                }
            }
            Outcome::Succeeded => entry.failures = 0,
            Outcome::Uncounted => {}
        }
        if let Some(settled) = &entry.settled {
            settled.notify_waiters();
        }
        if entry.in_flight == 0 && entry.failures == 0 {
            table.entries.remove(&key);
        }
    }

    /// Whether the failures of `entry` are too old to count.
    fn expired(&self, entry: &Entry, now: DateTime<Utc>) -> bool {
        now.signed_duration_since(entry.last) >= self.lockout
    }

    /// Frees at least one place in a full table, and a sixteenth of it when it can, so that a
    /// flood scans the table once per many new logins; `false` when nothing could go.
    fn make_room(&self, table: &mut Table, now: DateTime<Utc>) -> bool {
        if table.no_room_before.is_some_and(|until| now < until) {
            return false;
        }
        let max = self.options.max_failures;
        let idle = |e: &Entry| e.in_flight == 0;
        table
            .entries
            .retain(|_, e| !(idle(e) && self.expired(e, now)));
        let target = self.capacity - 1 - self.capacity / 16;
        if table.entries.len() > target {
            let mut unlocked: Vec<(u32, DateTime<Utc>, u64)> = table
                .entries
                .iter()
                .filter(|(_, e)| idle(e) && e.failures < max)
                .map(|(key, e)| (e.failures, e.last, *key))
                .collect();
            let excess = (table.entries.len() - target).min(unlocked.len());
            if excess > 0 && excess < unlocked.len() {
                unlocked.select_nth_unstable(excess);
            }
            for (_, _, key) in &unlocked[..excess] {
                table.entries.remove(key);
            }
        }
        if table.entries.len() < self.capacity {
            return true;
        }
        // Everything left is locked or in flight: no room before the first lock ends, unless
        // an attempt settles first (which clears this).
        table.no_room_before = table
            .entries
            .values()
            .filter(|e| idle(e))
            .map(|e| {
                e.last
                    .checked_add_signed(self.lockout)
                    .unwrap_or(DateTime::<Utc>::MAX_UTC)
            })
            .min();
        false
    }

    /// The table; a panic elsewhere while holding the lock leaves counts that are still valid.
    fn table(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {

    use idmsync_test_doubles::ManualClock;

    use super::*;

    fn throttle(max_failures: u32, lockout_secs: u64) -> (Throttle, Arc<ManualClock>) {
        sized(max_failures, lockout_secs, ThrottleOptions::MAX_TRACKED)
    }

    fn sized(
        max_failures: u32,
        lockout_secs: u64,
        capacity: usize,
    ) -> (Throttle, Arc<ManualClock>) {
        let clock = ManualClock::new();
        let options = ThrottleOptions {
            max_failures,
            lockout: Duration::from_secs(lockout_secs),
        };
        (
            Throttle::with_capacity(options, clock.clone(), capacity),
            clock,
        )
    }

    /// Whether an attempt of `login` would be let through now (the slot is given back).
    async fn open(t: &Throttle, login: &str) -> bool {
        t.begin(login).await.map(Attempt::uncounted).is_some()
    }

    async fn fail(t: &Throttle, login: &str) {
        t.begin(login).await.expect("not locked").failed();
    }

    #[tokio::test]
    async fn locks_after_max_failures_until_the_lockout_ends() {
        let (t, clock) = throttle(3, 60);
        for _ in 0..2 {
            fail(&t, "jlennon").await;
            assert!(open(&t, "jlennon").await);
        }
        fail(&t, "jlennon").await;
        assert!(!open(&t, "jlennon").await);
        assert!(
            open(&t, "pmccartney").await,
            "other logins are not affected"
        );
        clock.advance(59);
        assert!(!open(&t, "jlennon").await);
        clock.advance(1);
        assert!(open(&t, "jlennon").await);
        fail(&t, "jlennon").await;
        assert!(open(&t, "jlennon").await, "old failures no longer count");
    }

    #[tokio::test]
    async fn failures_spread_wider_than_the_window_never_lock() {
        let (t, clock) = throttle(2, 10);
        fail(&t, "jlennon").await;
        clock.advance(10);
        fail(&t, "jlennon").await;
        assert!(open(&t, "jlennon").await);
    }

    #[tokio::test]
    async fn a_success_resets_the_count_and_forgets_the_login() {
        let (t, _) = throttle(2, 60);
        fail(&t, "jlennon").await;
        t.begin("jlennon").await.expect("open").succeeded();
        assert!(t.table().entries.is_empty());
        fail(&t, "jlennon").await;
        assert!(open(&t, "jlennon").await);
    }

    #[tokio::test]
    async fn zero_max_failures_turns_throttling_off() {
        let (t, _) = throttle(0, 60);
        for _ in 0..100 {
            fail(&t, "jlennon").await;
        }
        assert!(open(&t, "jlennon").await);
        assert!(t.table().entries.is_empty());
    }

    /// Slots are taken before the check: with three in flight, a fourth attempt waits, and is
    /// refused once the three turn out to be failures.
    #[tokio::test]
    async fn attempts_in_flight_hold_the_slots() {
        let (t, _) = throttle(3, 60);
        let slots = [
            t.begin("jlennon").await.expect("slot"),
            t.begin("jlennon").await.expect("slot"),
            t.begin("jlennon").await.expect("slot"),
        ];
        let fourth = t.begin("jlennon");
        tokio::pin!(fourth);
        assert!(
            futures_poll(&mut fourth).is_none(),
            "a fourth attempt waits while three are in flight"
        );
        let [a, b, c] = slots;
        a.failed();
        b.failed();
        assert!(futures_poll(&mut fourth).is_none(), "one slot still taken");
        c.failed();
        assert!(fourth.await.is_none(), "locked once the three failed");
    }

    #[tokio::test]
    async fn a_waiting_attempt_goes_when_a_slot_is_given_back() {
        let (t, _) = throttle(1, 60);
        let first = t.begin("jlennon").await.expect("slot");
        let second = t.begin("jlennon");
        tokio::pin!(second);
        assert!(futures_poll(&mut second).is_none());
        first.uncounted();
        second
            .await
            .expect("slot after an uncounted attempt")
            .succeeded();
    }

    #[tokio::test]
    async fn an_attempt_dropped_unsettled_counts_as_a_failure() {
        let (t, _) = throttle(1, 60);
        drop(t.begin("jlennon").await.expect("slot"));
        assert!(!open(&t, "jlennon").await);
    }

    /// Polls once: `Some` if ready.
    fn futures_poll<F: std::future::Future + Unpin>(f: &mut F) -> Option<F::Output> {
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        match std::pin::Pin::new(f).poll(&mut cx) {
            std::task::Poll::Ready(v) => Some(v),
            std::task::Poll::Pending => None,
        }
    }

    #[tokio::test]
    async fn a_flood_evicts_unlocked_logins_but_never_locked_ones() {
        let (t, clock) = sized(2, 60, 100);
        fail(&t, "locked").await;
        fail(&t, "locked").await;
        fail(&t, "once").await;
        clock.advance(1);
        for i in 0..1_000 {
            fail(&t, &format!("flood-{i}")).await;
            assert!(t.table().entries.len() <= 100);
        }
        assert!(!open(&t, "locked").await, "still locked");
        assert!(
            t.table().entries.len() <= 100,
            "{}",
            t.table().entries.len()
        );
        fail(&t, "once").await;
        assert!(
            open(&t, "once").await,
            "the oldest unlocked login made room: its count started again"
        );
    }

    #[tokio::test]
    async fn a_table_full_of_locked_logins_refuses_new_ones_until_a_lock_ends() {
        let (t, clock) = sized(1, 60, 10);
        for i in 0..10 {
            fail(&t, &format!("locked-{i}")).await;
        }
        assert!(!open(&t, "newcomer").await, "no room: refused, not tracked");
        assert!(!open(&t, "locked-3").await, "locked logins stay locked");
        clock.advance(30);
        assert!(!open(&t, "newcomer").await);
        clock.advance(30);
        assert!(open(&t, "newcomer").await, "expired locks make room");
    }

    #[tokio::test]
    async fn a_lockout_beyond_the_calendar_locks_for_good() {
        let (t, clock) = sized(1, u64::MAX, 2);
        fail(&t, "a").await;
        fail(&t, "b").await;
        clock.advance(3_000_000_000);
        assert!(!open(&t, "a").await);
        assert!(!open(&t, "newcomer").await, "the table stays full");
    }
}
