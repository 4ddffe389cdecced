//! Shared fixtures: a fresh, uniquely named, migrated database per test on each backend
//! (SQLite in a temporary folder, PostgreSQL and MariaDB on the local servers, dropped
//! afterwards), the macro that runs a test on every backend, and builders for change sets.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use chrono::{DateTime, TimeZone, Utc};
use diesel::sql_types::BigInt;
use diesel::{Connection, QueryResult, RunQueryDsl, SqliteConnection};
use diesel_async::async_connection_wrapper::{AsyncConnectionWrapper, BlockOn};
use diesel_async::{AsyncMysqlConnection, AsyncPgConnection};
use idmsync_domain::change::{Edge, Event, GroupWrite, Key, UserWrite};
use idmsync_domain::{
    ChangeSet, Counts, DeactivatedBy, ExternalId, Outcome, PasswordHash, RunId, RunResult,
    SourceId, StoreState, StoredGroup, StoredUser, SyncMode, Tenant, Trigger, UserStatus,
    Watermark,
};
use idmsync_ports::{DirectoryReader, NewRun, RunLogReader, SyncStore, UserFilter};
use idmsync_store_diesel::{DatabaseUrl, DieselStore, StoreOptions};
use tempfile::TempDir;

/// The local PostgreSQL server the tests create their databases on (trust authentication).
pub const POSTGRES: &str = "postgres://postgres@127.0.0.1:5432";
/// The local MariaDB server (root with an empty password).
pub const MYSQL: &str = "mysql://root@127.0.0.1:3306";

/// The backends every store test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
    Mysql,
}

/// Runs a test body once per backend, as three tests `NAME::sqlite`, `NAME::postgres` and
/// `NAME::mysql`, each on a fresh migrated database.
macro_rules! backend_tests {
    ($(async fn $name:ident($db:ident: Db) $body:block)*) => {$(
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            use crate::support::{fresh, Backend, Db};

            async fn run($db: Db) $body

            #[tokio::test(flavor = "multi_thread")]
            async fn sqlite() {
                run(fresh(Backend::Sqlite)).await
            }

            #[tokio::test(flavor = "multi_thread")]
            async fn postgres() {
                run(fresh(Backend::Postgres)).await
            }

            #[tokio::test(flavor = "multi_thread")]
            async fn mysql() {
                run(fresh(Backend::Mysql)).await
            }
        }
    )*};
}
pub(crate) use backend_tests;

/// A PostgreSQL connection of the tests' own, its driver on [`Drivers`].
type PgConnection = AsyncConnectionWrapper<AsyncPgConnection, Drivers>;
/// A MySQL connection likewise.
type MysqlConnection = AsyncConnectionWrapper<AsyncMysqlConnection, Drivers>;

/// The raw connections' runtime: one for the whole test binary, so that dropping a connection
/// inside a test's async body drops no runtime.
pub struct Drivers(tokio::runtime::Handle);

impl BlockOn for Drivers {
    fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.0.block_on(f)
    }

    fn get_runtime() -> Self {
        static RUNTIME: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
        let runtime = RUNTIME.get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .expect("test runtime")
        });
        Drivers(runtime.handle().clone())
    }
}

/// Runs `work` on a thread outside the test's async runtime: the raw server connections block
/// on a runtime of their own, which a thread already inside a runtime may not do.
fn off_runtime<T: Send>(work: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|scope| {
        scope
            .spawn(work)
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// A raw connection to a test database, for tests that must damage or inspect it behind the
/// store's back.
#[allow(clippy::large_enum_variant)] // a test holds one or two
pub enum Raw {
    Sqlite(SqliteConnection),
    Postgres(PgConnection),
    Mysql(MysqlConnection),
}

impl Raw {
    /// Runs one statement.
    pub fn execute(&mut self, sql: &str) {
        self.try_execute(sql)
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    /// Runs one statement that may fail, for tests that expect the database to refuse it.
    pub fn try_execute(&mut self, sql: &str) -> QueryResult<usize> {
        let query = diesel::sql_query(sql);
        off_runtime(|| match self {
            Raw::Sqlite(c) => {
                // A fresh SQLite connection does not enforce foreign keys until told to.
                diesel::sql_query("PRAGMA foreign_keys = ON").execute(c)?;
                query.execute(c)
            }
            Raw::Postgres(c) => query.execute(c),
            Raw::Mysql(c) => query.execute(c),
        })
    }

    /// The `id` column (a nullable integer) of the first row `sql` returns, if any row has one.
    pub fn first_id(&mut self, sql: &str) -> Option<i64> {
        #[derive(diesel::QueryableByName)]
        struct Row {
            #[diesel(sql_type = diesel::sql_types::Nullable<BigInt>)]
            id: Option<i64>,
        }
        let query = diesel::sql_query(sql);
        let rows: Vec<Row> = off_runtime(|| match self {
            Raw::Sqlite(c) => query.load(c),
            Raw::Postgres(c) => query.load(c),
            Raw::Mysql(c) => query.load(c),
        })
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
        rows.first().and_then(|row| row.id)
    }

    /// The single integer a `SELECT COUNT(*) …` returns.
    pub fn count(&mut self, sql: &str) -> i64 {
        let query = diesel::select(diesel::dsl::sql::<BigInt>(&format!("({sql})")));
        off_runtime(|| match self {
            Raw::Sqlite(c) => query.get_result(c),
            Raw::Postgres(c) => query.get_result(c),
            Raw::Mysql(c) => query.get_result(c),
        })
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }
}

/// Connects to the server of `backend`, or fails the test saying how to start it.
fn admin(backend: Backend) -> Raw {
    let started = off_runtime(|| match backend {
        Backend::Sqlite => unreachable!("SQLite has no server"),
        Backend::Postgres => {
            PgConnection::establish(&format!("{POSTGRES}/postgres")).map(Raw::Postgres)
        }
        Backend::Mysql => MysqlConnection::establish(&format!("{MYSQL}/mysql")).map(Raw::Mysql),
    });
    started.unwrap_or_else(|e| {
        let how = match backend {
            Backend::Postgres => {
                "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
            }
            _ => "start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd",
        };
        panic!("the {backend:?} test server on 127.0.0.1 is not reachable ({e}); start it with `{how}`")
    })
}

/// A unique name: tests run in parallel, and a crashed run leaves no state the next relies on.
pub fn unique(prefix: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .subsec_nanos();
    format!(
        "{prefix}_{}_{nanos}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// An empty database of its own: a SQLite file in a folder `connect` must create, or
/// `idmsync_test_…` on a local server, dropped (with its remaining sessions) on drop.
pub struct TestDatabase {
    pub backend: Backend,
    /// The file or database name, which error messages must name.
    pub name: String,
    pub url: String,
    dir: Option<TempDir>,
}

impl TestDatabase {
    pub fn create(backend: Backend) -> Self {
        if backend == Backend::Sqlite {
            let dir = tempfile::tempdir().expect("temp dir");
            let path = dir.path().join("nested/idm.db");
            return Self {
                backend,
                name: "idm.db".into(),
                url: format!("sqlite://{}", path.display()),
                dir: Some(dir),
            };
        }
        let name = unique("idmsync_test");
        let (server, create) = match backend {
            Backend::Postgres => (POSTGRES, format!("CREATE DATABASE {name}")),
            _ => (
                MYSQL,
                format!("CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"),
            ),
        };
        admin(backend).execute(&create);
        Self {
            backend,
            url: format!("{server}/{name}"),
            name,
            dir: None,
        }
    }

    pub fn url(&self) -> DatabaseUrl {
        self.url.parse().expect("valid url")
    }

    pub fn raw(&self) -> Raw {
        let url = &self.url;
        match self.backend {
            Backend::Sqlite => Raw::Sqlite(
                SqliteConnection::establish(url.trim_start_matches("sqlite://")).expect("raw"),
            ),
            Backend::Postgres => {
                Raw::Postgres(off_runtime(|| PgConnection::establish(url)).expect("raw"))
            }
            Backend::Mysql => {
                Raw::Mysql(off_runtime(|| MysqlConnection::establish(url)).expect("raw"))
            }
        }
    }

    /// The server's admin connection, for tests that kill sessions.
    pub fn admin(&self) -> Raw {
        admin(self.backend)
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let statement = match self.backend {
            Backend::Sqlite => return,
            Backend::Postgres => format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
            Backend::Mysql => format!("DROP DATABASE IF EXISTS {}", self.name),
        };
        admin(self.backend).execute(&statement);
        drop(self.dir.take());
    }
}

/// A migrated store on a database of its own.
pub struct Db {
    pub store: DieselStore,
    pub database: TestDatabase,
}

impl Db {
    /// Runs one raw SQL statement.
    pub fn execute(&self, sql: &str) {
        self.database.raw().execute(sql);
    }

    /// A second store on the same database, as another node would open it.
    pub fn another_store(&self, options: StoreOptions) -> DieselStore {
        DieselStore::connect_with(&self.database.url(), options).expect("connect")
    }
}

pub fn fresh(backend: Backend) -> Db {
    let database = TestDatabase::create(backend);
    let store = DieselStore::connect(&database.url()).expect("connect");
    store.migrate().expect("migrate");
    Db { store, database }
}

/// Every backend, for the few tests that loop instead of using [`backend_tests`].
pub fn backends() -> [Backend; 3] {
    [Backend::Sqlite, Backend::Postgres, Backend::Mysql]
}

/// Everything a reader can see of the tenant, to compare before and after a failed apply.
pub async fn everything(db: &Db) -> String {
    let acme = tenant("acme");
    let all = UserFilter::default();
    let state = db.store.load_state(&acme).await.expect("state");
    let users = db.store.users(&acme, &all, None).await.expect("users");
    let groups = db.store.groups(&acme, &all, None).await.expect("groups");
    let runs = db.store.runs(&acme, None).await.expect("runs");
    let mut lines = Vec::new();
    for run in &runs {
        lines.push(db.store.lines(run.id).await.expect("lines"));
    }
    format!("{state:?}\n{users:?}\n{groups:?}\n{runs:?}\n{lines:?}")
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
    Key {
        source_id: SourceId::new(source).expect("source id"),
        external_id: ExternalId::new(external).expect("external id"),
    }
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

/// Begins a run at `hour` and applies `changes` as a successful run.
pub async fn sync(db: &Db, t: &Tenant, changes: &ChangeSet, hour: u32) -> RunId {
    let run = db.store.begin_run(&new_run(t, hour)).await.expect("begin");
    db.store
        .apply(run, t, changes, &succeeded(changes, hour))
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
    admin.password_hash = Some(PasswordHash::new("$argon2id$v=19$hash"));
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
