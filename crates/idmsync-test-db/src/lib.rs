//! Test databases, one home for all of them: the store's integration tests, the end-to-end
//! tests of the binary and `cargo xtask bench` each get a fresh, uniquely named, empty
//! database on SQLite (a file in a temporary folder), PostgreSQL or MariaDB (on the machine's
//! servers), dropped when the test ends; [`Raw`] connections to damage or inspect it behind the
//! store's back; and [`backend_tests!`], which runs one test body on every backend. For TLS,
//! [`tls_server::TlsServer`] starts a throw-away PostgreSQL or MariaDB of its own that serves a
//! certificate the test generates.
//!
//! The servers are the machine's own: PostgreSQL on 127.0.0.1:5432 with trust authentication,
//! MariaDB on 127.0.0.1:3306 as root without a password (`cargo xtask ci` starts them if they
//! are down). A server that is not there fails the test, saying how to start it; nothing is
//! skipped.
#![deny(missing_docs)]

pub mod tls_server;

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use diesel::sql_types::{BigInt, Nullable};
use diesel::{Connection, QueryResult, QueryableByName, RunQueryDsl, SqliteConnection};
use diesel_async::async_connection_wrapper::{AsyncConnectionWrapper, BlockOn};
use diesel_async::{AsyncMysqlConnection, AsyncPgConnection};
use tempfile::TempDir;

/// The local PostgreSQL server the tests create their databases on (trust authentication).
pub const POSTGRES: &str = "postgres://postgres@127.0.0.1:5432";
/// The local MariaDB server (root with an empty password).
pub const MYSQL: &str = "mysql://root@127.0.0.1:3306";

/// The database engines idmsync supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A file; the embedded default.
    Sqlite,
    /// The local PostgreSQL.
    Postgres,
    /// The local MariaDB.
    Mysql,
}

impl Backend {
    /// Every backend, for tests that loop instead of using [`backend_tests!`].
    pub const ALL: [Backend; 3] = [Backend::Sqlite, Backend::Postgres, Backend::Mysql];
}

/// Runs each test body once per backend, as the tests `NAME::sqlite`, `NAME::postgres` and
/// `NAME::mysql`, with `$backend` bound to the [`Backend`]. The attribute says what kind of
/// test it is (`#[test]`, `#[tokio::test(flavor = "multi_thread")]` with `async fn`).
///
/// ```ignore
/// idmsync_test_db::backend_tests! {
///     #[test]
///     fn a_sync_converges(backend) {
///         let db = idmsync_test_db::TestDatabase::create(backend);
///         // …
///     }
/// }
/// ```
#[macro_export]
macro_rules! backend_tests {
    () => {};
    (#[$attr:meta] async fn $name:ident($backend:ident) $body:block $($rest:tt)*) => {
        $crate::backend_tests!(@one [$attr] [async] $name $backend $body);
        $crate::backend_tests!($($rest)*);
    };
    (#[$attr:meta] fn $name:ident($backend:ident) $body:block $($rest:tt)*) => {
        $crate::backend_tests!(@one [$attr] [] $name $backend $body);
        $crate::backend_tests!($($rest)*);
    };
    (@one [$attr:meta] [$($async:tt)?] $name:ident $backend:ident $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[$attr]
            $($async)? fn sqlite() {
                let $backend = $crate::Backend::Sqlite;
                $body
            }

            #[$attr]
            $($async)? fn postgres() {
                let $backend = $crate::Backend::Postgres;
                $body
            }

            #[$attr]
            $($async)? fn mysql() {
                let $backend = $crate::Backend::Mysql;
                $body
            }
        }
    };
}

/// A unique name: tests run in parallel (and several test binaries at once), and a crashed run
/// leaves nothing the next one relies on.
pub fn unique(prefix: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    format!(
        "{prefix}_{}_{nanos}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// An empty database of its own: a SQLite file in a folder that does not exist yet (the store
/// must create it), or `idmsync_test_…` on a local server (utf8mb4 on MariaDB, as the
/// operations guide asks), dropped with its remaining sessions on drop.
pub struct TestDatabase {
    /// Its engine.
    pub backend: Backend,
    /// The file or database name, which error messages must name.
    pub name: String,
    /// What `database.url` says to reach it.
    pub url: String,
    dir: Option<TempDir>,
}

impl TestDatabase {
    /// Creates the database.
    ///
    /// # Panics
    /// When the server is not reachable, saying how to start it.
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

    /// The SQLite file, `None` for a server database.
    pub fn sqlite_path(&self) -> Option<&Path> {
        self.url.strip_prefix("sqlite://").map(Path::new)
    }

    /// A raw connection to this database.
    ///
    /// # Panics
    /// When it cannot be opened.
    pub fn raw(&self) -> Raw {
        match (self.backend, self.sqlite_path()) {
            (Backend::Sqlite, Some(path)) => Raw::Sqlite(
                SqliteConnection::establish(&path.to_string_lossy()).expect("raw connection"),
            ),
            (Backend::Postgres, _) => {
                Raw::Postgres(off_runtime(|| PgConnection::establish(&self.url)).expect("raw"))
            }
            (_, _) => {
                Raw::Mysql(off_runtime(|| MysqlConnection::establish(&self.url)).expect("raw"))
            }
        }
    }

    /// The server's administrator connection, for tests that kill sessions or create users.
    pub fn admin(&self) -> Raw {
        admin(self.backend)
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let statement = match self.backend {
            Backend::Sqlite => return,
            // WITH (FORCE): a killed process may leave a session behind.
            Backend::Postgres => format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
            Backend::Mysql => format!("DROP DATABASE IF EXISTS {}", self.name),
        };
        admin(self.backend).execute(&statement);
        drop(self.dir.take());
    }
}

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
        static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
        let runtime = RUNTIME.get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .expect("the test drivers' runtime")
        });
        Drivers(runtime.handle().clone())
    }
}

/// Runs `work` on a thread outside any async runtime: the raw server connections block on
/// [`Drivers`], which a thread already inside a runtime (a test's async body) may not do.
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
    /// To a SQLite file.
    Sqlite(SqliteConnection),
    /// To PostgreSQL.
    Postgres(PgConnection),
    /// To MariaDB.
    Mysql(MysqlConnection),
}

impl Raw {
    /// Runs one statement.
    ///
    /// # Panics
    /// When it fails.
    pub fn execute(&mut self, sql: &str) {
        self.try_execute(sql)
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    /// Runs one statement that may fail, for tests that expect the database to refuse it.
    ///
    /// # Errors
    /// The database's refusal.
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
    ///
    /// # Panics
    /// When the query fails.
    pub fn first_id(&mut self, sql: &str) -> Option<i64> {
        #[derive(QueryableByName)]
        struct Row {
            #[diesel(sql_type = Nullable<BigInt>)]
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
    ///
    /// # Panics
    /// When the query fails.
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
        panic!(
            "the {backend:?} test server on 127.0.0.1 is not reachable ({e}); start it with \
             `{how}`"
        )
    })
}
