//! In-memory fakes of the ports a scheduler drives: a source with a fixed snapshot that can be
//! held at a gate or made to fail, and a store that keeps rows and runs in memory.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use idmsync_domain::plan::SourceData;
use idmsync_domain::{
    ChangeSet, ExternalId, LogLine, MemberRef, Outcome, RunId, RunRecord, RunResult, SourceGroup,
    SourceId, SourcePassword, SourceUser, StoreState, StoredUser, Tenant, UserStatus, Watermark,
};
use idmsync_ports::{
    Clock, DirectoryReader, DynProgress, GroupView, HeldLock, IdentitySource, NewRun, Page,
    Readiness, RunLock, RunLogReader, SourceError, StoreError, SyncStore, Totals, UserFilter,
    UserView,
};
use tokio::sync::{watch, Semaphore};

/// Wall time that follows tokio's clock, so that paused tokio time drives both the schedule
/// loop's sleeps and what the scheduler and the engine read as "now".
pub struct TokioClock {
    base: DateTime<Utc>,
    start: tokio::time::Instant,
}

impl TokioClock {
    pub fn starting_at(base: DateTime<Utc>) -> Self {
        Self {
            base,
            start: tokio::time::Instant::now(),
        }
    }
}

impl Clock for TokioClock {
    fn now(&self) -> DateTime<Utc> {
        let elapsed = chrono::TimeDelta::from_std(self.start.elapsed()).expect("small duration");
        self.base + elapsed
    }
}

/// Users alice and bob, both members of group staff.
pub struct FakeSource {
    /// When set, each read of users waits for a permit: the run stays in progress until the
    /// test calls [`FakeSource::release`].
    gate: Option<Semaphore>,
    failing: AtomicBool,
}

impl FakeSource {
    pub fn open() -> Self {
        Self {
            gate: None,
            failing: AtomicBool::new(false),
        }
    }

    pub fn gated() -> Self {
        Self {
            gate: Some(Semaphore::new(0)),
            ..Self::open()
        }
    }

    /// Lets one held (or the next) read of users through.
    pub fn release(&self) {
        if let Some(gate) = &self.gate {
            gate.add_permits(1);
        }
    }

    pub fn set_failing(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }

    async fn read_users(&self) -> Result<Vec<SourceUser>, SourceError> {
        if let Some(gate) = &self.gate {
            gate.acquire()
                .await
                .map_err(|e| SourceError::Failed(e.to_string()))?
                .forget();
        }
        if self.failing.load(Ordering::SeqCst) {
            return Err(SourceError::Unavailable(
                "the test directory is down".into(),
            ));
        }
        Ok(["alice", "bob"].into_iter().map(user).collect())
    }
}

fn user(id: &str) -> SourceUser {
    SourceUser {
        source_id: SourceId::new(id).expect("id"),
        external_id: ExternalId::new(id).expect("id"),
        locator: None,
        first_name: "First".into(),
        last_name: id.into(),
        email: None,
        password: SourcePassword::Unmanaged,
        enabled: true,
    }
}

fn groups() -> Vec<SourceGroup> {
    vec![SourceGroup {
        source_id: SourceId::new("staff").expect("id"),
        external_id: ExternalId::new("staff").expect("id"),
        locator: None,
        name: "Staff".into(),
        members: vec![
            MemberRef::ExternalId("alice".into()),
            MemberRef::ExternalId("bob".into()),
        ],
    }]
}

#[async_trait]
impl IdentitySource for FakeSource {
    fn name(&self) -> String {
        "fake".into()
    }

    async fn watermark(&self) -> Result<Watermark, SourceError> {
        Ok(Watermark("w".into()))
    }

    async fn snapshot(&self, _progress: &DynProgress) -> Result<SourceData, SourceError> {
        Ok(SourceData {
            users: self.read_users().await?,
            groups: groups(),
            unreadable: Vec::new(),
        })
    }

    async fn users_changed_since(
        &self,
        _since: &Watermark,
        _progress: &DynProgress,
    ) -> Result<Vec<SourceUser>, SourceError> {
        self.read_users().await
    }

    async fn groups_changed_since(
        &self,
        _since: &Watermark,
        _progress: &DynProgress,
    ) -> Result<Vec<SourceGroup>, SourceError> {
        Ok(groups())
    }
}

/// Rows, runs and the tenant lock of one tenant, in memory. The run log is a watch channel so
/// that tests can wait for a run to be recorded or to end.
pub struct FakeStore {
    state: Mutex<StoreState>,
    runs: watch::Sender<Vec<RunRecord>>,
    down: AtomicBool,
    locked_elsewhere: AtomicBool,
}

struct Held;
impl HeldLock for Held {}

impl FakeStore {
    pub fn new() -> Self {
        Self {
            state: Mutex::new(StoreState::default()),
            runs: watch::Sender::new(Vec::new()),
            down: AtomicBool::new(false),
            locked_elsewhere: AtomicBool::new(false),
        }
    }

    /// Makes every query fail as an unreachable database would.
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    /// Makes the tenant's lock look held by another process.
    pub fn lock_elsewhere(&self) {
        self.locked_elsewhere.store(true, Ordering::SeqCst);
    }

    /// The other process lets the lock go.
    pub fn release_elsewhere(&self) {
        self.locked_elsewhere.store(false, Ordering::SeqCst);
    }

    /// The run log, oldest first.
    pub fn runs(&self) -> Vec<RunRecord> {
        self.runs.borrow().clone()
    }

    /// Adds a run to the log as if an earlier process had recorded it.
    pub fn seed_run(&self, mut run: RunRecord) {
        self.runs.send_modify(|runs| {
            run.id = RunId(runs.len() as i64 + 1);
            runs.push(run);
        });
    }

    /// Waits until the run log satisfies `done`.
    pub async fn wait_for(&self, done: impl FnMut(&Vec<RunRecord>) -> bool) {
        self.runs
            .subscribe()
            .wait_for(done)
            .await
            .expect("store alive");
    }

    /// Waits until `n` runs have ended.
    pub async fn wait_for_ended(&self, n: usize) {
        self.wait_for(|runs| {
            runs.iter()
                .filter(|r| r.outcome != Outcome::Running)
                .count()
                >= n
        })
        .await;
    }

    fn check(&self) -> Result<(), StoreError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(StoreError::Unavailable("test database is down".into()));
        }
        Ok(())
    }

    fn push(&self, run: &NewRun, result: Option<&RunResult>) -> Result<RunId, StoreError> {
        self.check()?;
        let mut id = RunId(0);
        self.runs.send_modify(|runs| {
            id = RunId(runs.len() as i64 + 1);
            runs.push(RunRecord {
                id,
                tenant: run.tenant.clone(),
                mode: run.mode,
                trigger: run.trigger,
                source: run.source.clone(),
                started_at: run.started_at,
                finished_at: None,
                outcome: Outcome::Running,
                reason: None,
                counts: Default::default(),
                watermark: None,
            });
        });
        if let Some(result) = result {
            self.end(id, result);
        }
        Ok(id)
    }

    fn end(&self, id: RunId, result: &RunResult) {
        self.runs.send_modify(|runs| {
            if let Some(r) = runs.iter_mut().find(|r| r.id == id) {
                r.outcome = result.outcome;
                r.reason = result.reason.clone();
                r.counts = result.counts;
                r.watermark = result.watermark.clone();
                r.finished_at = Some(result.finished_at);
            }
        });
    }
}

#[async_trait]
impl SyncStore for FakeStore {
    async fn load_state(&self, _tenant: &Tenant) -> Result<StoreState, StoreError> {
        self.check()?;
        Ok(self.state.lock().expect("state").clone())
    }

    async fn last_success(&self, _tenant: &Tenant) -> Result<Option<RunRecord>, StoreError> {
        self.check()?;
        let runs = self.runs.borrow();
        Ok(runs
            .iter()
            .rev()
            .find(|r| r.outcome == Outcome::Succeeded)
            .cloned())
    }

    async fn begin_run(&self, run: &NewRun) -> Result<RunId, StoreError> {
        self.push(run, None)
    }

    async fn record_skipped(&self, run: &NewRun, result: &RunResult) -> Result<RunId, StoreError> {
        self.push(run, Some(result))
    }

    async fn apply(
        &self,
        run: RunId,
        _tenant: &Tenant,
        changes: &ChangeSet,
        result: &RunResult,
        _progress: &DynProgress,
    ) -> Result<(), StoreError> {
        self.check()?;
        {
            let mut state = self.state.lock().expect("state");
            for w in &changes.users {
                upsert(&mut state.users, w.row.clone(), |u: &StoredUser| {
                    &u.source_id
                });
            }
            for w in &changes.groups {
                upsert(&mut state.groups, w.row.clone(), |g| &g.source_id);
            }
        }
        self.end(run, result);
        Ok(())
    }

    async fn finish_run(
        &self,
        run: RunId,
        result: &RunResult,
        _lines: &[LogLine],
    ) -> Result<(), StoreError> {
        self.check()?;
        self.end(run, result);
        Ok(())
    }
}

fn upsert<T>(rows: &mut Vec<T>, row: T, key: impl Fn(&T) -> &SourceId) {
    match rows.iter_mut().find(|r| key(r) == key(&row)) {
        Some(existing) => *existing = row,
        None => rows.push(row),
    }
}

#[async_trait]
impl RunLock for FakeStore {
    async fn try_lock(&self, _tenant: &Tenant) -> Result<Option<Box<dyn HeldLock>>, StoreError> {
        self.check()?;
        if self.locked_elsewhere.load(Ordering::SeqCst) {
            return Ok(None);
        }
        Ok(Some(Box::new(Held)))
    }
}

#[async_trait]
impl RunLogReader for FakeStore {
    async fn runs(
        &self,
        _tenant: &Tenant,
        page: Option<Page>,
    ) -> Result<Vec<RunRecord>, StoreError> {
        self.check()?;
        let runs = self.runs.borrow();
        let newest_first = runs.iter().rev().cloned();
        Ok(match page {
            Some(p) => newest_first
                .skip(p.start as usize)
                .take(p.size as usize)
                .collect(),
            None => newest_first.collect(),
        })
    }

    async fn run(&self, id: RunId) -> Result<Option<RunRecord>, StoreError> {
        self.check()?;
        Ok(self.runs.borrow().iter().find(|r| r.id == id).cloned())
    }

    async fn lines(&self, _id: RunId) -> Result<Vec<LogLine>, StoreError> {
        self.check()?;
        Ok(Vec::new())
    }
}

#[async_trait]
impl DirectoryReader for FakeStore {
    async fn users(
        &self,
        _tenant: &Tenant,
        _filter: &UserFilter,
        _page: Option<Page>,
    ) -> Result<Vec<UserView>, StoreError> {
        self.check()?;
        Ok(Vec::new())
    }

    async fn totals(&self, _tenant: &Tenant) -> Result<Totals, StoreError> {
        self.check()?;
        let state = self.state.lock().expect("state");
        let (users_active, users_inactive) = tally(state.users.iter().map(|u| u.status));
        let (groups_active, groups_inactive) = tally(state.groups.iter().map(|g| g.status));
        Ok(Totals {
            users_active,
            users_inactive,
            groups_active,
            groups_inactive,
        })
    }

    async fn groups(
        &self,
        _tenant: &Tenant,
        _filter: &UserFilter,
        _page: Option<Page>,
    ) -> Result<Vec<GroupView>, StoreError> {
        self.check()?;
        Ok(Vec::new())
    }
}

/// (active, inactive)
fn tally(statuses: impl Iterator<Item = UserStatus>) -> (u64, u64) {
    statuses.fold((0, 0), |(active, inactive), s| match s {
        UserStatus::Active => (active + 1, inactive),
        UserStatus::Inactive => (active, inactive + 1),
    })
}

/// The database half of readiness.
#[async_trait]
impl Readiness for FakeStore {
    async fn ready(&self) -> Result<(), String> {
        self.check().map_err(|e| e.to_string())
    }
}
