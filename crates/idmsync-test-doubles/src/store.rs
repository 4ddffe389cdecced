//! [`MemoryStore`]: the store ports in memory, with rows, edges, runs and log lines kept as the
//! database adapter keeps them, so that tests of the engine and the scheduler can assert on what
//! a run left behind instead of on which calls it made.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use idmsync_domain::change::Edge;
use idmsync_domain::{
    ChangeSet, Counts, Document, LogLine, Outcome, RunId, RunRecord, RunResult, SourceId,
    StoreState, StoredGroup, StoredUser, SyncMode, Tenant, UserStatus,
};
use idmsync_ports::{
    DirectoryReader, DynProgress, GroupDetail, GroupView, HeldLock, HistoryLine, NewRun, Page,
    Readiness, RunLock, RunLogReader, StoreError, SyncStore, Totals, UserDetail, UserFilter,
    UserView,
};
use tokio::sync::watch;

/// A user row and when a run last wrote it, which the users view shows; `None` for a row no
/// run wrote.
#[derive(Debug, Clone)]
struct UserRow {
    user: StoredUser,
    last_sync_at: Option<DateTime<Utc>>,
}

/// One tenant's rows. Edges are `(group, member)` source ids, in the order they were added, as
/// the database's edge tables key them; documents are keyed by `(group, source id)` likewise.
#[derive(Debug, Clone, Default)]
struct Rows {
    users: Vec<UserRow>,
    groups: Vec<StoredGroup>,
    memberships: Vec<(SourceId, SourceId)>,
    nesting: Vec<(SourceId, SourceId)>,
    documents: Vec<Document>,
}

/// Everything the store holds. One value behind one channel, so that an apply changes rows and
/// the run log together, and tests can wait for the run log to reach a state.
#[derive(Debug, Default)]
struct Db {
    tenants: HashMap<String, Rows>,
    runs: Vec<RunRecord>,
    lines: HashMap<RunId, Vec<LogLine>>,
}

/// The operations a test can make fail on their own, to see how a run copes with a store that
/// breaks part way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StoreOp {
    /// `load_state`, `load_state_for` and `documents`: what a run or a pushed source reads
    /// before it starts.
    LoadState,
    /// `apply`; the store stays as it was, as after a rolled-back transaction.
    Apply,
    /// Every query of the run log and directory readers: what the API shows.
    Read,
}

/// The store ports of one database in memory: users, groups, memberships and nesting per
/// tenant, the run log with its lines, and the tenants' run locks.
///
/// `apply` writes what the database adapter writes (rows and documents upserted by key and
/// never deleted, edges removed then added by source id, the change set's log lines appended, the
/// run ended) and refuses what the database refuses (an edge naming a row that is neither
/// stored nor written, an edge already stored, a run that does not exist), all or nothing.
pub struct MemoryStore {
    db: watch::Sender<Db>,
    down: AtomicBool,
    failing: Mutex<HashMap<StoreOp, StoreError>>,
    locked_elsewhere: AtomicBool,
    /// The tenants whose lock a runner of this process holds.
    held: Arc<Mutex<HashSet<String>>>,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

/// A lock taken from a [`MemoryStore`]; frees the tenant when dropped, as a closed session does.
struct Held {
    tenant: String,
    held: Arc<Mutex<HashSet<String>>>,
}

impl HeldLock for Held {}

impl Drop for Held {
    fn drop(&mut self) {
        self.held
            .lock()
            .expect("the lock table")
            .remove(&self.tenant);
    }
}

impl MemoryStore {
    /// An empty database.
    pub fn new() -> Self {
        Self {
            db: watch::Sender::new(Db::default()),
            down: AtomicBool::new(false),
            failing: Mutex::new(HashMap::new()),
            locked_elsewhere: AtomicBool::new(false),
            held: Arc::default(),
        }
    }

    /// Makes every query fail as an unreachable database would, or (with `false`) answer again.
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    /// Makes every call of `op` fail with `error`.
    pub fn fail(&self, op: StoreOp, error: StoreError) {
        self.failing.lock().expect("the failures").insert(op, error);
    }

    /// Makes calls of `op` succeed again.
    pub fn stop_failing(&self, op: StoreOp) {
        self.failing.lock().expect("the failures").remove(&op);
    }

    /// Makes every tenant's lock look held by another process.
    pub fn lock_elsewhere(&self) {
        self.locked_elsewhere.store(true, Ordering::SeqCst);
    }

    /// The other process lets the locks go.
    pub fn release_elsewhere(&self) {
        self.locked_elsewhere.store(false, Ordering::SeqCst);
    }

    /// The run log of every tenant, oldest first.
    pub fn runs(&self) -> Vec<RunRecord> {
        self.db.borrow().runs.clone()
    }

    /// The users of `tenant` in the order they were first written.
    pub fn user_rows(&self, tenant: &Tenant) -> Vec<StoredUser> {
        self.rows(tenant, |r| r.users.iter().map(|u| u.user.clone()).collect())
    }

    /// The groups of `tenant` in the order they were first written.
    pub fn group_rows(&self, tenant: &Tenant) -> Vec<StoredGroup> {
        self.rows(tenant, |r| r.groups.clone())
    }

    /// The memberships of `tenant` as `group > user` external ids, then its nesting as
    /// `parent >> child`, each sorted: edges as a reader of a failing test wants to see them.
    pub fn edges(&self, tenant: &Tenant) -> Vec<String> {
        self.rows(tenant, |r| {
            let (users, groups) = (r.user_names(false), r.group_names(false));
            let lines = |edges: &[(SourceId, SourceId)], sep: &str, members: &Names<'_>| {
                sorted(
                    edges
                        .iter()
                        .map(|(g, m)| format!("{} {sep} {}", groups[g], members[m]))
                        .collect(),
                )
            };
            let mut edges = lines(&r.memberships, ">", &users);
            edges.extend(lines(&r.nesting, ">>", &groups));
            edges
        })
    }

    /// Adds a run to the log as if an earlier process had recorded it; its id is the next one.
    pub fn seed_run(&self, mut run: RunRecord) {
        self.db.send_modify(|db| {
            run.id = next_id(&db.runs);
            db.runs.push(run);
        });
    }

    /// Adds `user` to `tenant`, or replaces the row with its source id, as a row that no run
    /// wrote (one left by the product idmsync replaces, say), which has no time of last sync.
    pub fn seed_user(&self, tenant: &Tenant, user: StoredUser) {
        self.db.send_modify(|db| {
            let rows = db.tenants.entry(tenant.as_str().to_owned()).or_default();
            rows.put_user(UserRow {
                user,
                last_sync_at: None,
            });
        });
    }

    /// Adds `document` to `tenant`, or replaces the one with its key, as if a run had written
    /// it.
    pub fn seed_document(&self, tenant: &Tenant, document: Document) {
        self.db.send_modify(|db| {
            let rows = db.tenants.entry(tenant.as_str().to_owned()).or_default();
            rows.put_document(document);
        });
    }

    /// Waits until the run log satisfies `done`.
    pub async fn wait_for(&self, mut done: impl FnMut(&[RunRecord]) -> bool) {
        self.db
            .subscribe()
            .wait_for(|db| done(&db.runs))
            .await
            .expect("the store is alive");
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

    fn rows<T>(&self, tenant: &Tenant, read: impl FnOnce(&Rows) -> T) -> T {
        let db = self.db.borrow();
        read(db.tenants.get(tenant.as_str()).unwrap_or(&Rows::default()))
    }

    /// The error the database would answer with now, if any.
    fn check(&self, op: Option<StoreOp>) -> Result<(), StoreError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(StoreError::Unavailable("test database is down".into()));
        }
        match op.and_then(|op| self.failing.lock().expect("the failures").get(&op).cloned()) {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }

    /// Records `run` as running; returns its id.
    fn insert_run(db: &mut Db, run: &NewRun) -> RunId {
        let id = next_id(&db.runs);
        db.runs.push(RunRecord {
            id,
            tenant: run.tenant.clone(),
            mode: run.mode,
            trigger: run.trigger,
            source: run.source.clone(),
            started_at: run.started_at,
            finished_at: None,
            outcome: Outcome::Running,
            reason: None,
            counts: Counts::default(),
            watermark: None,
        });
        id
    }

    fn load(
        &self,
        tenant: &Tenant,
        groups: Option<(&[SourceId], &[SourceId])>,
    ) -> Result<StoreState, StoreError> {
        self.check(Some(StoreOp::LoadState))?;
        Ok(self.rows(tenant, |rows| rows.state(groups)))
    }
}

fn next_id(runs: &[RunRecord]) -> RunId {
    RunId(i64::try_from(runs.len()).expect("few runs") + 1)
}

/// The record of `run`, or the database's refusal of a run that does not exist.
fn find_run(db: &mut Db, run: RunId) -> Result<&mut RunRecord, StoreError> {
    db.runs
        .iter_mut()
        .find(|r| r.id == run)
        .ok_or_else(|| StoreError::Failed(format!("run {run} does not exist")))
}

/// Ends `run` with `result` and appends `lines` after those it has.
fn end_run(
    db: &mut Db,
    run: RunId,
    result: &RunResult,
    lines: impl Iterator<Item = LogLine>,
) -> Result<(), StoreError> {
    let record = find_run(db, run)?;
    record.outcome = result.outcome;
    record.reason.clone_from(&result.reason);
    record.counts = result.counts;
    record.watermark.clone_from(&result.watermark);
    record.finished_at = Some(result.finished_at);
    db.lines.entry(run).or_default().extend(lines);
    Ok(())
}

/// External ids by source id.
type Names<'a> = HashMap<&'a SourceId, &'a str>;

impl Rows {
    /// The users' external ids, of the active users only when `active`.
    fn user_names(&self, active: bool) -> Names<'_> {
        self.users
            .iter()
            .map(|u| &u.user)
            .filter(|u| !active || u.status == UserStatus::Active)
            .map(|u| (&u.source_id, u.external_id.as_str()))
            .collect()
    }

    /// The groups' external ids, of the active groups only when `active`.
    fn group_names(&self, active: bool) -> Names<'_> {
        self.groups
            .iter()
            .filter(|g| !active || g.status == UserStatus::Active)
            .map(|g| (&g.source_id, g.external_id.as_str()))
            .collect()
    }

    /// The planner's view: every row, and the edges of `groups` (all edges without a list),
    /// as index pairs into the rows.
    /// Every row, and every edge or (with `scope`) the edges of its groups and of the entries
    /// that left.
    fn state(&self, scope: Option<(&[SourceId], &[SourceId])>) -> StoreState {
        let index = |ids: Vec<&SourceId>| -> HashMap<SourceId, u32> {
            (0..).zip(ids).map(|(i, id)| (id.clone(), i)).collect()
        };
        let users = index(self.users.iter().map(|u| &u.user.source_id).collect());
        let group_index = index(self.groups.iter().map(|g| &g.source_id).collect());
        let wanted = |(g, m): &&(SourceId, SourceId)| {
            scope.is_none_or(|(groups, left)| {
                groups.contains(g) || left.contains(g) || left.contains(m)
            })
        };
        let pairs = |edges: &[(SourceId, SourceId)], members: &HashMap<SourceId, u32>| {
            edges
                .iter()
                .filter(wanted)
                .map(|(g, m)| (group_index[g], members[m]))
                .collect()
        };
        StoreState {
            users: self.users.iter().map(|u| u.user.clone()).collect(),
            groups: self.groups.clone(),
            memberships: pairs(&self.memberships, &users),
            nesting: pairs(&self.nesting, &group_index),
        }
    }

    /// Inserts `row`, or replaces the row with its source id.
    fn put_user(&mut self, row: UserRow) {
        match self
            .users
            .iter_mut()
            .find(|u| u.user.source_id == row.user.source_id)
        {
            Some(stored) => *stored = row,
            None => self.users.push(row),
        }
    }

    /// Writes `changes` as the database adapter does, counting each row on `progress`.
    fn apply(
        &mut self,
        changes: &ChangeSet,
        at: DateTime<Utc>,
        progress: &DynProgress,
    ) -> Result<(), StoreError> {
        for w in &changes.users {
            progress.advance(1);
            self.put_user(UserRow {
                user: w.row.clone(),
                last_sync_at: Some(at),
            });
        }
        for w in &changes.groups {
            progress.advance(1);
            match self
                .groups
                .iter_mut()
                .find(|g| g.source_id == w.row.source_id)
            {
                Some(stored) => *stored = w.row.clone(),
                None => self.groups.push(w.row.clone()),
            }
        }
        let users: HashSet<&SourceId> = self.users.iter().map(|u| &u.user.source_id).collect();
        let groups: HashSet<&SourceId> = self.groups.iter().map(|g| &g.source_id).collect();
        let memberships = edit(
            &self.memberships,
            (&changes.memberships_added, &changes.memberships_removed),
            (&groups, &users, "user"),
            progress,
        )?;
        let nesting = edit(
            &self.nesting,
            (&changes.nesting_added, &changes.nesting_removed),
            (&groups, &groups, "group"),
            progress,
        )?;
        self.memberships = memberships;
        self.nesting = nesting;
        for d in &changes.documents {
            progress.advance(1);
            self.put_document(d.clone());
        }
        Ok(())
    }

    /// Inserts `document`, or replaces the one with its key.
    fn put_document(&mut self, document: Document) {
        match self
            .documents
            .iter_mut()
            .find(|d| (d.group, &d.source_id) == (document.group, &document.source_id))
        {
            Some(stored) => *stored = document,
            None => self.documents.push(document),
        }
    }
}

/// `edges` with `removed` taken out and then `added` put in; fails, as the database's keys
/// make it, when an edge names a row that does not exist or adds an edge already there.
fn edit(
    edges: &[(SourceId, SourceId)],
    (added, removed): (&[Edge], &[Edge]),
    (groups, members, kind): (&HashSet<&SourceId>, &HashSet<&SourceId>, &str),
    progress: &DynProgress,
) -> Result<Vec<(SourceId, SourceId)>, StoreError> {
    let pair = |e: &Edge| -> Result<(SourceId, SourceId), StoreError> {
        for (ids, key, what) in [(groups, &e.group, "group"), (members, &e.member, kind)] {
            if !ids.contains(&key.source_id) {
                return Err(StoreError::Failed(format!(
                    "the edge from group {} to {kind} {} names the {what} with source id `{}`, \
                     which is neither stored nor written",
                    e.group.external_id, e.member.external_id, key.source_id
                )));
            }
        }
        Ok((e.group.source_id.clone(), e.member.source_id.clone()))
    };
    let gone = removed
        .iter()
        .map(pair)
        .collect::<Result<HashSet<_>, _>>()?;
    progress.advance(removed.len() as u64);
    let mut next: Vec<(SourceId, SourceId)> = edges
        .iter()
        .filter(|e| !gone.contains(e))
        .cloned()
        .collect();
    for e in added {
        let edge = pair(e)?;
        if next.contains(&edge) {
            return Err(StoreError::Failed(format!(
                "the edge from group {} to {kind} {} is stored already",
                e.group.external_id, e.member.external_id
            )));
        }
        progress.advance(1);
        next.push(edge);
    }
    Ok(next)
}

#[async_trait]
impl SyncStore for MemoryStore {
    async fn load_state(&self, tenant: &Tenant) -> Result<StoreState, StoreError> {
        self.load(tenant, None)
    }

    async fn load_state_for(
        &self,
        tenant: &Tenant,
        groups: &[SourceId],
        left: &[SourceId],
    ) -> Result<StoreState, StoreError> {
        self.load(tenant, Some((groups, left)))
    }

    async fn newest_run(&self, tenant: &Tenant) -> Result<Option<RunId>, StoreError> {
        self.check(None)?;
        let db = self.db.borrow();
        Ok(db
            .runs
            .iter()
            .rev()
            .find(|r| &r.tenant == tenant)
            .map(|r| r.id))
    }

    async fn documents(&self, tenant: &Tenant) -> Result<Vec<Document>, StoreError> {
        self.check(Some(StoreOp::LoadState))?;
        Ok(self.rows(tenant, |rows| rows.documents.clone()))
    }

    async fn last_success(&self, tenant: &Tenant) -> Result<Option<RunRecord>, StoreError> {
        self.check(None)?;
        Ok(self
            .db
            .borrow()
            .runs
            .iter()
            .rev()
            .find(|r| {
                &r.tenant == tenant && r.outcome == Outcome::Succeeded && r.mode != SyncMode::User
            })
            .cloned())
    }

    async fn begin_run(&self, run: &NewRun) -> Result<RunId, StoreError> {
        self.check(None)?;
        let mut id = RunId(0);
        self.db.send_modify(|db| {
            for cut_off in db
                .runs
                .iter_mut()
                .filter(|r| r.tenant == run.tenant && r.outcome == Outcome::Running)
            {
                cut_off.outcome = Outcome::Interrupted;
            }
            id = Self::insert_run(db, run);
        });
        Ok(id)
    }

    async fn record_skipped(&self, run: &NewRun, result: &RunResult) -> Result<RunId, StoreError> {
        self.check(None)?;
        let mut ended = Err(StoreError::Failed("not recorded".into()));
        self.db.send_modify(|db| {
            let id = Self::insert_run(db, run);
            ended = end_run(db, id, result, std::iter::empty()).map(|()| id);
        });
        ended
    }

    async fn apply(
        &self,
        run: RunId,
        tenant: &Tenant,
        changes: &ChangeSet,
        result: &RunResult,
        progress: &DynProgress,
    ) -> Result<(), StoreError> {
        self.check(Some(StoreOp::Apply))?;
        let mut applied = Ok(());
        // The rows are written on a copy, kept only if every write succeeded: the transaction.
        self.db.send_if_modified(|db| {
            let mut rows = db.tenants.get(tenant.as_str()).cloned().unwrap_or_default();
            applied = find_run(db, run)
                .map(drop)
                .and_then(|()| rows.apply(changes, result.finished_at, progress));
            if applied.is_err() {
                return false;
            }
            db.tenants.insert(tenant.as_str().to_owned(), rows);
            let lines = changes.log_lines().inspect(|_| progress.advance(1));
            applied = end_run(db, run, result, lines);
            true
        });
        applied
    }

    async fn finish_run(
        &self,
        run: RunId,
        result: &RunResult,
        lines: &[LogLine],
    ) -> Result<(), StoreError> {
        self.check(None)?;
        let mut ended = Ok(());
        self.db.send_modify(|db| {
            ended = end_run(db, run, result, lines.iter().cloned());
        });
        ended
    }
}

#[async_trait]
impl RunLock for MemoryStore {
    async fn try_lock(&self, tenant: &Tenant) -> Result<Option<Box<dyn HeldLock>>, StoreError> {
        self.check(None)?;
        if self.locked_elsewhere.load(Ordering::SeqCst)
            || !self
                .held
                .lock()
                .expect("the lock table")
                .insert(tenant.as_str().to_owned())
        {
            return Ok(None);
        }
        Ok(Some(Box::new(Held {
            tenant: tenant.as_str().to_owned(),
            held: Arc::clone(&self.held),
        })))
    }
}

/// `items` cut to `page`, as the database's `LIMIT` and `OFFSET` do.
fn window<T>(items: impl Iterator<Item = T>, page: Option<Page>) -> Vec<T> {
    let clamp = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
    match page {
        Some(p) => items.skip(clamp(p.start)).take(clamp(p.size)).collect(),
        None => items.collect(),
    }
}

/// Whether a row with `status`, `external_id` and the searchable `texts` (the external id
/// among them) passes `filter`, as the database's listing query decides.
fn selected(filter: &UserFilter, status: UserStatus, external_id: &str, texts: &[&str]) -> bool {
    filter.status.is_none_or(|s| s == status)
        && filter
            .external_id
            .as_deref()
            .is_none_or(|id| id == external_id)
        && filter.text.as_deref().is_none_or(|text| {
            let text = text.to_lowercase();
            texts.iter().any(|t| t.to_lowercase().contains(&text))
        })
}

/// `ids` sorted, the order the views promise.
fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort_unstable();
    ids
}

#[async_trait]
impl DirectoryReader for MemoryStore {
    async fn users(
        &self,
        tenant: &Tenant,
        filter: &UserFilter,
        page: Option<Page>,
    ) -> Result<Vec<UserView>, StoreError> {
        self.check(Some(StoreOp::Read))?;
        Ok(self.rows(tenant, |rows| {
            let mut users: Vec<&UserRow> = rows
                .users
                .iter()
                .filter(|r| {
                    let u = &r.user;
                    let id = u.external_id.as_str();
                    let texts: Vec<&str> = [id, &u.first_name, &u.last_name]
                        .into_iter()
                        .chain(u.email.as_deref())
                        .collect();
                    selected(filter, u.status, id, &texts)
                })
                .collect();
            users.sort_by(|a, b| a.user.external_id.cmp(&b.user.external_id));
            window(users.into_iter(), page)
                .into_iter()
                .map(|r| r.view(tenant))
                .collect()
        }))
    }

    async fn user(
        &self,
        tenant: &Tenant,
        external_id: &str,
    ) -> Result<Option<UserDetail>, StoreError> {
        self.check(Some(StoreOp::Read))?;
        Ok(self.rows(tenant, |rows| {
            let row = rows
                .users
                .iter()
                .find(|r| r.user.external_id.as_str() == external_id)?;
            let direct: Vec<&SourceId> = rows
                .memberships
                .iter()
                .filter(|(_, user)| user == &row.user.source_id)
                .map(|(group, _)| group)
                .collect();
            let names = rows.group_names(false);
            let document = rows
                .documents
                .iter()
                .find(|d| !d.group && d.source_id == row.user.source_id)
                .map(|d| d.body.clone());
            Some(UserDetail {
                user: row.view(tenant),
                groups: sorted(direct.iter().map(|g| names[g].to_owned()).collect()),
                inherited: rows.ancestors(&direct),
                document,
            })
        }))
    }

    async fn group(
        &self,
        tenant: &Tenant,
        external_id: &str,
    ) -> Result<Option<GroupDetail>, StoreError> {
        self.check(Some(StoreOp::Read))?;
        Ok(self.rows(tenant, |rows| {
            let group = rows
                .groups
                .iter()
                .find(|g| g.external_id.as_str() == external_id)?;
            let names = rows.group_names(false);
            let parents = rows
                .nesting
                .iter()
                .filter(|(_, child)| child == &group.source_id)
                .map(|(parent, _)| names[parent].to_owned())
                .collect();
            Some(GroupDetail {
                group: rows.group_view(tenant, group),
                parents: sorted(parents),
            })
        }))
    }

    async fn totals(&self, tenant: &Tenant) -> Result<Totals, StoreError> {
        self.check(Some(StoreOp::Read))?;
        Ok(self.rows(tenant, |rows| {
            let (users_active, users_inactive) = tally(rows.users.iter().map(|u| u.user.status));
            let (groups_active, groups_inactive) = tally(rows.groups.iter().map(|g| g.status));
            Totals {
                users_active,
                users_inactive,
                groups_active,
                groups_inactive,
            }
        }))
    }

    async fn groups(
        &self,
        tenant: &Tenant,
        filter: &UserFilter,
        page: Option<Page>,
    ) -> Result<Vec<GroupView>, StoreError> {
        self.check(Some(StoreOp::Read))?;
        Ok(self.rows(tenant, |rows| {
            let mut groups: Vec<&StoredGroup> = rows
                .groups
                .iter()
                .filter(|g| {
                    let id = g.external_id.as_str();
                    selected(filter, g.status, id, &[id, &g.name])
                })
                .collect();
            groups.sort_by(|a, b| a.external_id.cmp(&b.external_id));
            window(groups.into_iter(), page)
                .into_iter()
                .map(|g| rows.group_view(tenant, g))
                .collect()
        }))
    }
}

impl UserRow {
    /// The row as the users view shows it.
    fn view(&self, tenant: &Tenant) -> UserView {
        let user = &self.user;
        UserView {
            tenant: tenant.to_string(),
            source_id: user.source_id.to_string(),
            external_id: user.external_id.to_string(),
            locator: user.locator.clone(),
            first_name: user.first_name.clone(),
            last_name: user.last_name.clone(),
            email: user.email.clone(),
            status: user.status,
            deactivated_by: user.deactivated_by.map(|b| b.as_str().to_owned()),
            admin: user.admin,
            last_sync_at: self.last_sync_at,
        }
    }
}

impl Rows {
    /// `group` as the groups view shows it, with its direct active members and child groups.
    fn group_view(&self, tenant: &Tenant, group: &StoredGroup) -> GroupView {
        let of = |edges: &[(SourceId, SourceId)], members: &Names<'_>| {
            sorted(
                edges
                    .iter()
                    .filter(|(parent, _)| parent == &group.source_id)
                    .filter_map(|(_, m)| members.get(m).map(|id| (*id).to_owned()))
                    .collect(),
            )
        };
        GroupView {
            tenant: tenant.to_string(),
            external_id: group.external_id.to_string(),
            name: group.name.clone(),
            status: group.status,
            members: of(&self.memberships, &self.user_names(true)),
            child_groups: of(&self.nesting, &self.group_names(true)),
        }
    }

    /// The external ids of the active groups above `groups` in the nesting, none of `groups`,
    /// sorted, as the database adapter walks them: through every edge, whatever the status of
    /// the group it passes, each group once (which ends cycles).
    fn ancestors(&self, groups: &[&SourceId]) -> Vec<String> {
        let mut seen: HashSet<&SourceId> = groups.iter().copied().collect();
        let mut level = groups.to_vec();
        let mut found = Vec::new();
        while !level.is_empty() {
            let mut next = Vec::new();
            for (parent, _) in self
                .nesting
                .iter()
                .filter(|(_, child)| level.contains(&child))
            {
                if seen.insert(parent) {
                    next.push(parent);
                    found.push(parent);
                }
            }
            level = next;
        }
        let active = self.group_names(true);
        sorted(
            found
                .into_iter()
                .filter_map(|g| active.get(g).map(|id| (*id).to_owned()))
                .collect(),
        )
    }
}

/// (active, inactive)
fn tally(statuses: impl Iterator<Item = UserStatus>) -> (u64, u64) {
    statuses.fold((0, 0), |(active, inactive), s| match s {
        UserStatus::Active => (active + 1, inactive),
        UserStatus::Inactive => (active, inactive + 1),
    })
}

#[async_trait]
impl RunLogReader for MemoryStore {
    async fn runs(
        &self,
        tenant: &Tenant,
        page: Option<Page>,
    ) -> Result<Vec<RunRecord>, StoreError> {
        self.check(Some(StoreOp::Read))?;
        let db = self.db.borrow();
        let newest_first = db
            .runs
            .iter()
            .rev()
            .filter(|r| &r.tenant == tenant)
            .cloned();
        Ok(window(newest_first, page))
    }

    async fn run(&self, id: RunId) -> Result<Option<RunRecord>, StoreError> {
        self.check(Some(StoreOp::Read))?;
        Ok(self.db.borrow().runs.iter().find(|r| r.id == id).cloned())
    }

    async fn lines(&self, id: RunId) -> Result<Vec<LogLine>, StoreError> {
        self.check(Some(StoreOp::Read))?;
        Ok(self.db.borrow().lines.get(&id).cloned().unwrap_or_default())
    }

    /// The newest `limit` matching lines, as the database adapter reads them (newest run and
    /// line first), then each run's lines in written order.
    async fn history(
        &self,
        tenant: &Tenant,
        external_id: &str,
        limit: u64,
    ) -> Result<Vec<HistoryLine>, StoreError> {
        self.check(Some(StoreOp::Read))?;
        let db = self.db.borrow();
        let newest_first = db
            .runs
            .iter()
            .rev()
            .filter(|r| &r.tenant == tenant)
            .flat_map(|r| {
                let lines = db.lines.get(&r.id).map_or(&[][..], Vec::as_slice);
                lines.iter().rev().map(move |line| HistoryLine {
                    run: r.id,
                    started_at: r.started_at,
                    line: line.clone(),
                })
            })
            .filter(|h| h.line.names(external_id));
        let mut found = window(
            newest_first,
            Some(Page {
                start: 0,
                size: limit,
            }),
        );
        found.reverse();
        found.sort_by_key(|h| std::cmp::Reverse(h.run));
        Ok(found)
    }
}

/// The database half of readiness.
#[async_trait]
impl Readiness for MemoryStore {
    async fn ready(&self) -> Result<(), String> {
        self.check(None).map_err(|e| e.to_string())
    }
}
