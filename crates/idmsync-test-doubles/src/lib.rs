//! The test doubles that several crates' tests need, written once (dev only): a clock stopped
//! at one instant and one moved by hand, hashers fast enough for tests that count rather than
//! hash (plain, broken, counting), a progress recorder, and in-memory fakes of the source ([`FakeSource`]) and of the
//! store ([`MemoryStore`]) that let the engine's and the scheduler's tests assert on what a run
//! leaves behind.

mod feed;
mod source;
mod store;

pub use feed::FakeFeed;
pub use source::{group, user, FakeSource};
pub use store::{MemoryStore, StoreOp};

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use idmsync_domain::{Password, PasswordHash, PasswordHasher, SourceId};
use idmsync_ports::{Clock, Progress};

/// The instant the doubles start at unless told otherwise: 2026-11-26 12:00 UTC.
pub fn reference_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, 12, 0, 0)
        .single()
        .expect("a valid time")
}

/// A clock stopped at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixedClock(pub DateTime<Utc>);

impl Default for FixedClock {
    fn default() -> Self {
        Self(reference_time())
    }
}

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}

/// A clock the test moves by hand, shared with the code under test through an `Arc`.
#[derive(Debug)]
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    /// A clock at `start`.
    pub fn at(start: DateTime<Utc>) -> Arc<Self> {
        Arc::new(Self(Mutex::new(start)))
    }

    /// A clock at [`reference_time`].
    pub fn new() -> Arc<Self> {
        Self::at(reference_time())
    }

    /// Moves the clock `secs` seconds on (back, if negative).
    pub fn advance(&self, secs: i64) {
        *self.0.lock().expect("the clock's lock") += TimeDelta::seconds(secs);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().expect("the clock's lock")
    }
}

/// A hasher whose "hash" is `plain:` and the password: instant, and readable in assertions.
/// Its check is readable too ([`PlainHasher::check_of`]), and it knows one outdated form of
/// hash ([`PlainHasher::outdated`]) that still verifies but needs rehashing, as an argon2 hash
/// with old parameters does.
#[derive(Debug, Clone, Copy, Default)]
pub struct PlainHasher;

impl PlainHasher {
    /// The hash of `clear`, for assertions on stored rows.
    pub fn of(clear: &str) -> String {
        format!("plain:{clear}")
    }

    /// A hash of `clear` made "with old parameters": it verifies, and needs rehashing.
    pub fn outdated(clear: &str) -> String {
        format!("plain-v0:{clear}")
    }

    /// The check of `clear` as the password of `user` whose hash is `phc`.
    pub fn check_of(user: &str, phc: &str, clear: &str) -> String {
        format!("check:{user}:{phc}:{clear}")
    }
}

impl PasswordHasher for PlainHasher {
    fn hash(&self, clear: &Password) -> Option<PasswordHash> {
        Some(PasswordHash::new(Self::of(clear.expose())))
    }

    fn verify(&self, clear: &Password, hash: &PasswordHash) -> bool {
        let clear = clear.expose();
        hash.as_str() == Self::of(clear) || hash.as_str() == Self::outdated(clear)
    }

    fn check(&self, user: &SourceId, clear: &Password, hash: &PasswordHash) -> Option<String> {
        Some(Self::check_of(user.as_str(), hash.as_str(), clear.expose()))
    }

    fn needs_rehash(&self, hash: &PasswordHash) -> bool {
        !hash.as_str().starts_with("plain:")
    }
}

/// A hasher that fails: `hash` gives nothing, `verify` never matches, as if the library broke.
#[derive(Debug, Clone, Copy, Default)]
pub struct BrokenHasher;

impl PasswordHasher for BrokenHasher {
    fn hash(&self, _: &Password) -> Option<PasswordHash> {
        None
    }

    fn verify(&self, _: &Password, _: &PasswordHash) -> bool {
        false
    }
}

/// Counts the slow work of the hasher it wraps (verifications and hashes): what a login or a
/// run costs in argon2, which tests assert on.
#[derive(Debug, Default)]
pub struct Counting<H> {
    inner: H,
    verifications: AtomicUsize,
    hashes: AtomicUsize,
    /// The threads that hashed, so a test can see the work spread.
    hashing_threads: Mutex<HashSet<ThreadId>>,
}

/// The counting plain hasher.
pub type CountingHasher = Counting<PlainHasher>;

impl<H> Counting<H> {
    /// Verifications so far.
    pub fn verifications(&self) -> usize {
        self.verifications.load(Ordering::SeqCst)
    }

    /// Hashes so far.
    pub fn hashes(&self) -> usize {
        self.hashes.load(Ordering::SeqCst)
    }

    /// How many threads hashed.
    pub fn hashing_threads(&self) -> usize {
        self.hashing_threads
            .lock()
            .expect("the threads' lock")
            .len()
    }
}

impl<H: PasswordHasher> PasswordHasher for Counting<H> {
    fn hash(&self, clear: &Password) -> Option<PasswordHash> {
        self.hashes.fetch_add(1, Ordering::SeqCst);
        self.hashing_threads
            .lock()
            .expect("the threads' lock")
            .insert(std::thread::current().id());
        self.inner.hash(clear)
    }

    fn verify(&self, clear: &Password, hash: &PasswordHash) -> bool {
        self.verifications.fetch_add(1, Ordering::SeqCst);
        self.inner.verify(clear, hash)
    }

    fn check(&self, user: &SourceId, clear: &Password, hash: &PasswordHash) -> Option<String> {
        self.inner.check(user, clear, hash)
    }

    fn needs_rehash(&self, hash: &PasswordHash) -> bool {
        self.inner.needs_rehash(hash)
    }
}

/// Records every progress report as a line: `stage NAME Some(N)`, `advance N`.
#[derive(Debug, Default)]
pub struct ProgressRecorder(Mutex<Vec<String>>);

impl ProgressRecorder {
    /// The lines recorded so far.
    pub fn lines(&self) -> Vec<String> {
        self.0.lock().expect("the recorder's lock").clone()
    }

    fn push(&self, line: String) {
        self.0.lock().expect("the recorder's lock").push(line);
    }
}

impl Progress for ProgressRecorder {
    fn stage(&self, name: &str, total: Option<u64>) {
        self.push(format!("stage {name} {total:?}"));
    }

    fn advance(&self, n: u64) {
        self.push(format!("advance {n}"));
    }
}
