//! Shared fixtures: a migrated store on a fresh test database per test on each backend (the
//! databases and raw connections come from `idmsync-test-db`), the macro that runs a store test
//! on every backend, and builders for change sets.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, TimeZone, Utc};
use idmsync_domain::change::{Edge, Event, GroupWrite, Key, UserWrite};
use idmsync_domain::{
    ChangeSet, Counts, DeactivatedBy, ExternalId, Outcome, PasswordHash, RunId, RunResult,
    SourceId, StoreState, StoredGroup, StoredUser, SyncMode, Tenant, Trigger, UserStatus,
    Watermark,
};
use idmsync_ports::{
    DirectoryReader, HeldLock, NewRun, RunLock, RunLogReader, StoreError, SyncStore, UserFilter,
};
use idmsync_store_diesel::{DatabaseUrl, DieselStore, StoreOptions};

pub use idmsync_test_db::{unique, Backend, Raw, TestDatabase, MYSQL, POSTGRES};

/// Runs a test body once per backend, as three tests `NAME::sqlite`, `NAME::postgres` and
/// `NAME::mysql`, each on a fresh migrated database ([`fresh`]).
macro_rules! backend_tests {
    ($(async fn $name:ident($db:ident: Db) $body:block)*) => {$(
        idmsync_test_db::backend_tests! {
            #[tokio::test(flavor = "multi_thread")]
            async fn $name(backend) {
                #[allow(unused_imports)]
                use crate::support::{Backend, Db};
                let $db: Db = crate::support::fresh(backend);
                $body
            }
        }
    )*};
}
pub(crate) use backend_tests;

/// The store's URL of `database`.
pub fn url(database: &TestDatabase) -> DatabaseUrl {
    database.url.parse().expect("valid url")
}

/// A migrated store on a database of its own.
pub struct Db {
    /// The run locks [`Db::begin`] took, held until the test ends (dropped first).
    locks: Mutex<HashMap<String, Box<dyn HeldLock>>>,
    pub store: DieselStore,
    pub database: TestDatabase,
}

impl Db {
    /// Runs one raw SQL statement.
    pub fn execute(&self, sql: &str) {
        self.database.raw().execute(sql);
    }

    /// Begins a run of `t` at `hour` under the tenant's run lock, as the engine does: the
    /// store begins runs only under a lock it handed out. The lock is taken on the tenant's
    /// first run and held for the rest of the test.
    pub async fn begin(&self, t: &Tenant, hour: u32) -> RunId {
        let held = self.locks.lock().expect("locks").contains_key(t.as_str());
        if !held {
            let lock = self.store.try_lock(t).await.expect("try").expect("free");
            self.locks
                .lock()
                .expect("locks")
                .insert(t.to_string(), lock);
        }
        self.store
            .begin_run(&new_run(t, hour))
            .await
            .expect("begin")
    }

    /// The log lines of `run`, as they print.
    pub async fn printed_lines(&self, run: RunId) -> Vec<String> {
        let lines = self.store.lines(run).await.expect("lines");
        lines.iter().map(ToString::to_string).collect()
    }

    /// A second store on the same database, as another node would open it.
    pub fn another_store(&self, options: StoreOptions) -> DieselStore {
        DieselStore::connect_with(&url(&self.database), options).expect("connect")
    }
}

pub fn fresh(backend: Backend) -> Db {
    let database = TestDatabase::create(backend);
    let store = DieselStore::connect(&url(&database)).expect("connect");
    store.migrate().expect("migrate");
    Db {
        locks: Mutex::default(),
        store,
        database,
    }
}

/// Every backend, for the few tests that loop instead of using [`backend_tests`].
pub fn backends() -> [Backend; 3] {
    Backend::ALL
}

/// Everything a reader can see of the tenant, to compare before and after a failed apply.
pub async fn everything(db: &Db) -> String {
    let acme = tenant("acme");
    let all = UserFilter::default();
    let state = db.store.load_state(&acme).await.expect("state");
    let users = db.store.users(&acme, &all, None).await.expect("users");
    let groups = db.store.groups(&acme, &all, None).await.expect("groups");
    let mut documents = db.store.documents(&acme).await.expect("documents");
    documents.sort_by(|a, b| (a.group, &a.source_id).cmp(&(b.group, &b.source_id)));
    let runs = db.store.runs(&acme, None).await.expect("runs");
    let mut lines = Vec::new();
    for run in &runs {
        lines.push(db.store.lines(run.id).await.expect("lines"));
    }
    format!("{state:?}\n{users:?}\n{groups:?}\n{documents:?}\n{runs:?}\n{lines:?}")
}

pub fn tenant(name: &str) -> Tenant {
    Tenant::new(name).expect("tenant")
}

pub fn at(hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 11, 26, hour, 0, 0)
        .single()
        .expect("valid time")
}

pub fn key(source: &str, external: &str) -> Key {
    Key::new(
        SourceId::new(source).expect("source id"),
        ExternalId::new(external).expect("external id"),
    )
}

pub fn edge(group: &Key, member: &Key) -> Edge {
    Edge {
        group: group.clone(),
        member: member.clone(),
    }
}

pub fn user(k: &Key) -> StoredUser {
    StoredUser {
        source_id: k.source_id.clone(),
        external_id: k.external_id.clone(),
        locator: Some(format!("uid={},ou=people", k.external_id)),
        first_name: format!("First {}", k.external_id),
        last_name: format!("Last {}", k.external_id),
        email: Some(format!("{}@example.com", k.external_id)),
        status: UserStatus::Active,
        deactivated_by: None,
        admin: false,
        password_hash: None,
    }
}

pub fn inactive(mut u: StoredUser) -> StoredUser {
    u.status = UserStatus::Inactive;
    u.deactivated_by = Some(DeactivatedBy::Sync);
    u
}

pub fn group(k: &Key) -> StoredGroup {
    StoredGroup {
        source_id: k.source_id.clone(),
        external_id: k.external_id.clone(),
        locator: None,
        name: format!("Group {}", k.external_id),
        status: UserStatus::Active,
    }
}

pub fn created_user(row: StoredUser) -> UserWrite {
    UserWrite {
        event: Event::Created,
        row,
    }
}

pub fn created_group(row: StoredGroup) -> GroupWrite {
    GroupWrite {
        event: Event::Created,
        row,
    }
}

pub fn new_run(t: &Tenant, hour: u32) -> NewRun {
    NewRun {
        tenant: t.clone(),
        mode: SyncMode::Full,
        trigger: Trigger::Manual,
        source: "file".to_string(),
        started_at: at(hour),
    }
}

pub fn succeeded(changes: &ChangeSet, hour: u32) -> RunResult {
    RunResult {
        outcome: Outcome::Succeeded,
        reason: None,
        counts: changes.counts(),
        watermark: Some(Watermark(format!("wm-{hour}"))),
        finished_at: at(hour),
    }
}

pub fn ended(outcome: Outcome, reason: &str, hour: u32) -> RunResult {
    RunResult {
        outcome,
        reason: Some(reason.to_string()),
        counts: Counts::default(),
        watermark: None,
        finished_at: at(hour),
    }
}

/// Applies `changes` to `run` as a run that succeeded at `hour`.
pub async fn succeed(
    store: &DieselStore,
    run: RunId,
    t: &Tenant,
    changes: &ChangeSet,
    hour: u32,
) -> Result<(), StoreError> {
    let result = succeeded(changes, hour);
    store
        .apply(run, t, changes, &result, &idmsync_ports::NoProgress)
        .await
}

/// Begins a run at `hour` and applies `changes` as a successful run.
pub async fn sync(db: &Db, t: &Tenant, changes: &ChangeSet, hour: u32) -> RunId {
    let run = db.begin(t, hour).await;
    succeed(&db.store, run, t, changes, hour)
        .await
        .expect("apply");
    run
}

/// Edges as sorted `(group source id, member source id)` pairs.
pub type Pairs = Vec<(String, String)>;

pub fn edges_by_source(state: &StoreState) -> (Pairs, Pairs) {
    let users = |i: u32| state.users[i as usize].source_id.to_string();
    let groups = |i: u32| state.groups[i as usize].source_id.to_string();
    let mut memberships: Vec<_> = state
        .memberships
        .iter()
        .map(|&(g, u)| (groups(g), users(u)))
        .collect();
    let mut nesting: Vec<_> = state
        .nesting
        .iter()
        .map(|&(p, c)| (groups(p), groups(c)))
        .collect();
    memberships.sort();
    nesting.sort();
    (memberships, nesting)
}

pub fn pairs(list: &[(&str, &str)]) -> Pairs {
    let mut v: Vec<_> = list
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    v.sort();
    v
}

/// The password check of `u1`'s hash in [`directory`].
pub const CHECK: &str = "5b3c0f6e9d2a41b8c7e6f5a4b3c2d1e0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4";

/// A directory of users `u1..u4`, groups `g1..g3`, with memberships, and a nesting cycle
/// g1 → g2 → g1 plus g1 → g3. `u4` is inactive. Users `u1` has a password and is admin.
pub fn directory() -> ChangeSet {
    let (u1, u2, u3, u4) = (
        key("s-u1", "jlennon"),
        key("s-u2", "pmccartney"),
        key("s-u3", "gharrison"),
        key("s-u4", "rstarr"),
    );
    let (g1, g2, g3) = (
        key("s-g1", "beatles"),
        key("s-g2", "wings"),
        key("s-g3", "apple"),
    );
    let mut admin = user(&u1);
    admin.admin = true;
    admin.password_hash =
        Some(PasswordHash::new("$argon2id$v=19$hash").with_check(Some(CHECK.into())));
    admin.email = None;
    ChangeSet {
        users: vec![
            created_user(admin),
            created_user(user(&u2)),
            created_user(user(&u3)),
            created_user(inactive(user(&u4))),
        ],
        groups: vec![
            created_group(group(&g1)),
            created_group(group(&g2)),
            created_group(group(&g3)),
        ],
        memberships_added: vec![
            edge(&g1, &u3),
            edge(&g1, &u1),
            edge(&g1, &u2),
            edge(&g1, &u4),
            edge(&g2, &u2),
        ],
        nesting_added: vec![edge(&g1, &g2), edge(&g2, &g1), edge(&g1, &g3)],
        ..ChangeSet::default()
    }
}
