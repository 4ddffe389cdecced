//! [`FakeSource`]: a directory in memory that the test edits between runs, with what the
//! engine's and the scheduler's tests need to steer a run: a gate that holds it in progress,
//! an error to fail it with, and a record of what was read.

use std::sync::Mutex;

use async_trait::async_trait;
use idmsync_domain::plan::{Departed, Departures, SourceData, Unreadable};
use idmsync_domain::{
    ExternalId, MemberRef, SourceGroup, SourceId, SourcePassword, SourceUser, Watermark,
};
use idmsync_ports::{DynProgress, IdentitySource, SourceError};
use tokio::sync::Semaphore;

/// A user whose source id and external id are both `login`, enabled, with an unmanaged
/// password: most tests care about who is there, not about the fields.
pub fn user(login: &str) -> SourceUser {
    SourceUser {
        source_id: SourceId::new(login).expect("a valid source id"),
        external_id: ExternalId::new(login).expect("a valid external id"),
        locator: None,
        first_name: "First".into(),
        last_name: login.into(),
        email: None,
        password: SourcePassword::Unmanaged,
        enabled: true,
        match_value: None,
    }
}

/// A group whose source id and external id are both `id`, named like it, with `members` as
/// external ids.
pub fn group(id: &str, members: &[&str]) -> SourceGroup {
    SourceGroup {
        source_id: SourceId::new(id).expect("a valid source id"),
        external_id: ExternalId::new(id).expect("a valid external id"),
        locator: None,
        name: id.into(),
        members: members
            .iter()
            .map(|m| MemberRef::ExternalId((*m).into()))
            .collect(),
    }
}

/// An entry and the change that last touched it, so that a differential read returns exactly
/// what changed after a watermark, as a directory's change numbers do.
struct Stamped<T> {
    at: u64,
    entry: T,
}

/// The directory: the number of changes made so far (the watermark) and the entries.
#[derive(Default)]
struct Directory {
    changes: u64,
    users: Vec<Stamped<SourceUser>>,
    groups: Vec<Stamped<SourceGroup>>,
    unreadable: Vec<Stamped<Unreadable>>,
    /// Source ids of the users removed, when the directory keeps tombstones.
    removed_users: Vec<Stamped<SourceId>>,
}

impl Directory {
    fn stamp(&mut self) -> u64 {
        self.changes += 1;
        self.changes
    }
}

/// Puts `entry` in `list`, replacing the one with the same external id: an edit in the
/// directory. Entries are told apart by external id, not source id, so that a test can give
/// two entries one source id, as a careless custom source may.
fn put<T>(list: &mut Vec<Stamped<T>>, at: u64, entry: T, id: impl Fn(&T) -> &ExternalId) {
    list.retain(|s| id(&s.entry) != id(&entry));
    list.push(Stamped { at, entry });
}

/// The entries of `list` changed after `since` (all of them without a watermark).
fn after<T: Clone>(list: &[Stamped<T>], since: Option<u64>) -> Vec<T> {
    list.iter()
        .filter(|s| since.is_none_or(|w| s.at > w))
        .map(|s| s.entry.clone())
        .collect()
}

/// A directory in memory. Its watermark is the number of edits made to it, and a differential
/// read returns the entries edited after the watermark it is given; entries removed are simply
/// absent, as from a directory without tombstones, so only a full run notices them, unless it
/// was made [`FakeSource::with_tombstones`].
#[derive(Default)]
pub struct FakeSource {
    directory: Mutex<Directory>,
    /// Whether differential reads report the users removed since the watermark, as RFC 4533 and
    /// DirSync do.
    tombstones: bool,
    /// When set, each read waits for a permit: the run stays in progress until the test calls
    /// [`FakeSource::release`].
    gate: Option<Semaphore>,
    error: Mutex<Option<SourceError>>,
    reads: Mutex<Vec<String>>,
}

impl FakeSource {
    /// An empty directory that answers at once.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty directory whose reads wait for [`FakeSource::release`].
    pub fn gated() -> Self {
        Self {
            gate: Some(Semaphore::new(0)),
            ..Self::default()
        }
    }

    /// An empty directory whose differential reads report the users removed since the
    /// watermark as departed.
    pub fn with_tombstones() -> Self {
        Self {
            tombstones: true,
            ..Self::default()
        }
    }

    /// Lets one held (or the next) read through.
    pub fn release(&self) {
        if let Some(gate) = &self.gate {
            gate.add_permits(1);
        }
    }

    /// Makes every read fail with `error` from now on, or (with `None`) succeed again.
    pub fn set_error(&self, error: Option<SourceError>) {
        *self.error.lock().expect("the source's lock") = error;
    }

    /// Adds `user`, or replaces the user with its external id.
    pub fn put_user(&self, user: SourceUser) {
        let mut d = self.directory();
        let at = d.stamp();
        put(&mut d.users, at, user, |u| &u.external_id);
    }

    /// Adds `group`, or replaces the group with its external id.
    pub fn put_group(&self, group: SourceGroup) {
        let mut d = self.directory();
        let at = d.stamp();
        put(&mut d.groups, at, group, |g| &g.external_id);
    }

    /// Adds an entry the source cannot read.
    pub fn put_unreadable(&self, entry: Unreadable) {
        let mut d = self.directory();
        let at = d.stamp();
        d.unreadable.push(Stamped { at, entry });
    }

    /// Deletes the user with external id `login`.
    pub fn remove_user(&self, login: &str) {
        let mut d = self.directory();
        let at = d.stamp();
        let (gone, kept) = std::mem::take(&mut d.users)
            .into_iter()
            .partition(|u| u.entry.external_id.as_str() == login);
        d.users = kept;
        let gone: Vec<Stamped<SourceUser>> = gone;
        d.removed_users.extend(gone.into_iter().map(|u| Stamped {
            at,
            entry: u.entry.source_id,
        }));
    }

    /// What the engine asked for, in order: `watermark`, `snapshot`, `changed since N`.
    pub fn reads(&self) -> Vec<String> {
        self.reads.lock().expect("the source's lock").clone()
    }

    fn record(&self, read: String) {
        self.reads.lock().expect("the source's lock").push(read);
    }

    fn directory(&self) -> std::sync::MutexGuard<'_, Directory> {
        self.directory.lock().expect("the source's lock")
    }

    /// One read: recorded, held at the gate, failed if the test says so, else the entries
    /// changed after `since`.
    async fn read(&self, since: Option<&Watermark>) -> Result<SourceData, SourceError> {
        let asked = since.map_or_else(|| "snapshot".into(), |w| format!("changed since {}", w.0));
        self.record(asked);
        if let Some(gate) = &self.gate {
            gate.acquire()
                .await
                .map_err(|e| SourceError::Failed(e.to_string()))?
                .forget();
        }
        if let Some(error) = self.error.lock().expect("the source's lock").clone() {
            return Err(error);
        }
        let since = since
            .map(|w| {
                w.0.parse::<u64>().map_err(|_| SourceError::Invalid {
                    location: "the watermark".into(),
                    message: format!("{:?} is not a change number of the fake source", w.0),
                })
            })
            .transpose()?;
        let d = self.directory();
        let departed = match since {
            Some(_) if self.tombstones => Departed {
                users: Departures::Listed(after(&d.removed_users, since)),
                groups: Departures::Unknown,
            },
            _ => Departed::default(),
        };
        Ok(SourceData {
            users: after(&d.users, since),
            groups: after(&d.groups, since),
            unreadable: after(&d.unreadable, since),
            departed,
            documents: Vec::new(),
        })
    }
}

#[async_trait]
impl IdentitySource for FakeSource {
    fn name(&self) -> String {
        "fake".into()
    }

    async fn watermark(&self) -> Result<Watermark, SourceError> {
        self.record("watermark".into());
        Ok(Watermark(self.directory().changes.to_string()))
    }

    async fn snapshot(&self, _progress: &DynProgress) -> Result<SourceData, SourceError> {
        self.read(None).await
    }

    async fn changed_since(
        &self,
        since: &Watermark,
        _progress: &DynProgress,
    ) -> Result<SourceData, SourceError> {
        self.read(Some(since)).await
    }
}
