//! The store itself: the connection pool, the migrations of each backend, and the bridge from
//! async port methods to blocking diesel calls.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use diesel::backend::Backend as DieselBackend;
use diesel::connection::SimpleConnection;
use diesel::migration::MigrationSource;
use diesel::prelude::*;
use diesel::r2d2::{NopErrorHandler, Pool};
use diesel::sql_types::{BigInt, Nullable, Text};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use idmsync_ports::StoreError;
use tokio::runtime::{Handle, RuntimeFlavor};

use crate::conn::{Conn, Manager};
use crate::error::DbError;
use crate::fence::Fences;
use crate::lock::SpareConns;
use crate::url::DatabaseUrl;

/// One set of migrations per backend: the same tables, constraints and indexes, with the column
/// types each engine needs (see the comment at the top of each `up.sql`).
pub(crate) const SQLITE_MIGRATIONS: EmbeddedMigrations =
    embed_migrations!("../../migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");
const MYSQL_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/mysql");

/// How the store uses its database; the binary fills it from `database.*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreOptions {
    /// Connections the pool keeps at most (`database.pool_size`; at least one). A sync uses
    /// one at a time; the rest serve the REST API. A run lock on PostgreSQL or MySQL holds one
    /// more connection of its own, outside the pool.
    pub pool_size: u32,
    /// How long to wait for a pooled connection, and for the first one at start-up
    /// (`database.connect_timeout`).
    pub connect_timeout: Duration,
    /// How long a SQLite run lock stays valid without a heartbeat (`database.lock_lease`): a
    /// holder that died frees it after this long. The holder renews it every third of it.
    /// PostgreSQL and MySQL locks die with their session and ignore it.
    pub lock_lease: Duration,
}

impl Default for StoreOptions {
    /// Four connections (SQLite has one writer anyway; a few readers serve the API), ten
    /// seconds to connect, a one-minute lease.
    fn default() -> Self {
        Self {
            pool_size: 4,
            connect_timeout: Duration::from_secs(10),
            lock_lease: Duration::from_secs(60),
        }
    }
}

/// The diesel store: a connection pool to one SQLite, PostgreSQL or MySQL/MariaDB database,
/// implementing the store, reader and lock ports. Cheap to clone (the pool is shared), so the
/// sync service and the REST API can hold the same store.
#[derive(Clone, Debug)]
pub struct DieselStore {
    pool: Pool<Manager>,
    url: DatabaseUrl,
    options: StoreOptions,
    /// The run locks this store holds and the runs begun under them (`fence.rs`).
    fences: Arc<Fences>,
    /// Lock connections whose lock was released (`lock.rs`), for the next lock to use.
    spare_lock_conns: Arc<SpareConns>,
}

impl DieselStore {
    /// Opens the store with [`StoreOptions::default`]; see [`DieselStore::connect_with`].
    ///
    /// # Errors
    /// As [`DieselStore::connect_with`].
    pub fn connect(url: &DatabaseUrl) -> Result<Self, StoreError> {
        Self::connect_with(url, StoreOptions::default())
    }

    /// Opens a pool to `url`, whose scheme selects the backend, creating a SQLite file and its
    /// parent folders if missing. A first connection is opened at once, so that a wrong path,
    /// an unreachable host, wrong credentials or a missing database fail at start-up with the
    /// driver's reason rather than at the first sync after a pool timeout.
    ///
    /// # Errors
    /// `Unavailable`, naming the database (host and database, or file) but never the password.
    pub fn connect_with(url: &DatabaseUrl, options: StoreOptions) -> Result<Self, StoreError> {
        if let Some(parent) = url
            .sqlite_path()
            .and_then(|path| path.parent())
            .filter(|p| !p.as_os_str().is_empty())
        {
            std::fs::create_dir_all(parent).map_err(|e| {
                StoreError::Unavailable(format!(
                    "{url}: cannot create the folder {}: {e}",
                    parent.display()
                ))
            })?;
        }
        // This first connection also switches a SQLite file to WAL before the pool opens more.
        let first = blocking(|| Conn::open(url)).map_err(|e| StoreError::Unavailable(e.0))?;
        drop(first);
        let pool = Pool::builder()
            .max_size(options.pool_size.max(1))
            // No idle connections kept topped up in the background: connections open on demand
            // in the caller's thread, so none is half-open when the process exits.
            .min_idle(Some(0))
            .connection_timeout(options.connect_timeout)
            // r2d2 logs every failed attempt of its background retries (dozens a minute while
            // the database is down); the manager logs once per burst instead.
            .error_handler(Box::new(NopErrorHandler))
            .build(Manager::new(url.clone()))
            .map_err(|e| StoreError::Unavailable(url.scrub(&format!("{url}: {e}"))))?;
        tracing::debug!(database = %url, "database pool ready");
        Ok(Self {
            pool,
            url: url.clone(),
            options,
            fences: Arc::default(),
            spare_lock_conns: Arc::default(),
        })
    }

    /// Brings the schema up to date and returns the names of the migrations it applied (none
    /// when it is current), so that start-up can log what changed. Safe to call on every start,
    /// and from several processes at once: they take turns ([`migrate_exclusively`]), and the
    /// later ones find the schema current.
    ///
    /// # Errors
    /// `Schema` when a migration fails, the database holds migrations this binary does not
    /// know (it was migrated by a newer version), or another process kept migrating for longer
    /// than five minutes; `Unavailable` without a connection.
    pub fn migrate(&self) -> Result<Vec<String>, StoreError> {
        let url = &self.url;
        blocking(|| {
            // A connection of its own: it holds a session lock, which must not go back to the
            // pool, and SQLite's waits longer for the write lock than a pooled one.
            let mut conn = Conn::open(url).map_err(|e| StoreError::Unavailable(e.0))?;
            migrate_exclusively(&mut conn).map_err(|e| e.into_store(url))
        })
    }

    /// How many migrations this binary knows that the database has not applied; zero when the
    /// schema is current. Also proves the database answers.
    ///
    /// # Errors
    /// `Unavailable` without a connection, `Schema` when migrations cannot be listed.
    pub fn pending_migrations(&self) -> Result<usize, StoreError> {
        self.blocking(|conn| match conn {
            Conn::Sqlite(c) => pending(c, SQLITE_MIGRATIONS),
            Conn::Pg(c) => pending(c, POSTGRES_MIGRATIONS),
            Conn::Mysql(c) => pending(c, MYSQL_MIGRATIONS),
        })
    }

    /// The server's product and version, e.g. `PostgreSQL 15.8`; also proves it answers.
    ///
    /// # Errors
    /// `Unavailable` without a connection.
    pub fn server_version(&self) -> Result<String, StoreError> {
        self.blocking(|conn| Ok(conn.server_version()?))
    }

    /// The database, redacted, for messages.
    pub(crate) fn url(&self) -> &DatabaseUrl {
        &self.url
    }

    /// The options the store was opened with.
    pub(crate) fn options(&self) -> StoreOptions {
        self.options
    }

    /// The run locks this store holds, and the runs begun under them.
    pub(crate) fn fences(&self) -> &Fences {
        &self.fences
    }

    /// The same, for a lock that must deregister itself when dropped.
    pub(crate) fn fences_handle(&self) -> Arc<Fences> {
        Arc::clone(&self.fences)
    }

    /// Where a released lock's connection waits for the next lock.
    pub(crate) fn spare_lock_conns(&self) -> Arc<SpareConns> {
        Arc::clone(&self.spare_lock_conns)
    }

    /// Runs `work` in a read transaction, so that its queries see one consistent snapshot.
    pub(crate) fn read<T: Send>(
        &self,
        work: impl FnOnce(&mut Conn) -> Result<T, DbError> + Send,
    ) -> Result<T, StoreError> {
        self.blocking(|conn| conn.transaction(work))
    }

    /// Runs `work` in a write transaction, all or nothing; see [`Conn::write_transaction`].
    pub(crate) fn write<T: Send>(
        &self,
        work: impl FnOnce(&mut Conn) -> Result<T, DbError> + Send,
    ) -> Result<T, StoreError> {
        self.blocking(|conn| conn.write_transaction(work))
    }

    /// Runs blocking diesel work with a pooled connection without stalling the async runtime
    /// (see [`blocking`]).
    pub(crate) fn blocking<T: Send>(
        &self,
        work: impl FnOnce(&mut Conn) -> Result<T, DbError> + Send,
    ) -> Result<T, StoreError> {
        blocking(|| {
            let mut conn = self.pool.get()?;
            work(&mut conn)
        })
        .map_err(|e| e.into_store(&self.url))
    }
}

/// Runs `work`, which blocks (on SQLite, or on a database driver's answer), without stalling an
/// async runtime: on a multi-thread runtime `block_in_place` hands this worker's other tasks
/// away; on a current-thread runtime (tests, tools) it runs on a thread of its own, since that
/// runtime's only thread may not wait on another runtime (the drivers', `runtime.rs`); outside
/// tokio it simply runs.
pub(crate) fn blocking<T: Send>(work: impl FnOnce() -> T + Send) -> T {
    match Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(work)
        }
        Ok(_) => std::thread::scope(|scope| {
            scope
                .spawn(work)
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        }),
        Err(_) => work(),
    }
}

/// How long a process waits for another one's migrations before giving up.
const MIGRATION_WAIT: Duration = Duration::from_secs(300);

/// PostgreSQL's migration lock: a single-key advisory lock ("idmsmigr" in ASCII), which never
/// meets the two-key run locks.
const PG_MIGRATION_LOCK: &str = "SELECT pg_advisory_lock(7594315214177789810)";
const PG_MIGRATION_UNLOCK: &str = "SELECT pg_advisory_unlock(7594315214177789810)";

/// MySQL's migration lock, named after the database (user locks are server-wide).
const MYSQL_MIGRATION_LOCK: &str = "SELECT CAST(GET_LOCK(CONCAT('idmsync-migrations.', \
     LEFT(SHA2(DATABASE(), 256), 40)), 300) AS SIGNED) AS taken";
const MYSQL_MIGRATION_UNLOCK: &str = "SELECT CAST(RELEASE_LOCK(CONCAT('idmsync-migrations.', \
     LEFT(SHA2(DATABASE(), 256), 40))) AS SIGNED) AS taken";

#[derive(QueryableByName)]
struct Taken {
    #[diesel(sql_type = Nullable<BigInt>)]
    taken: Option<i64>,
}

#[derive(QueryableByName)]
struct Version {
    #[diesel(sql_type = Text)]
    version: String,
}

/// Runs the pending migrations while holding the database's migration lock, so that processes
/// starting together on a fresh database never race (`CREATE TABLE` of the same table, the same
/// row into diesel's migration table): a PostgreSQL advisory lock, a MySQL `GET_LOCK`, SQLite's
/// write lock (`BEGIN IMMEDIATE`, all migrations in that one transaction). A SQLite database
/// that is already current is seen to be so without waiting for the write lock, which a
/// running sync may hold.
fn migrate_exclusively(conn: &mut Conn) -> Result<Vec<String>, DbError> {
    let wait = MIGRATION_WAIT.as_secs();
    match conn {
        Conn::Sqlite(c) => {
            if is_current(c, SQLITE_MIGRATIONS) {
                return Ok(Vec::new());
            }
            c.batch_execute(&format!("PRAGMA busy_timeout = {}", wait * 1000))?;
            conn.write_transaction(|conn| match conn {
                Conn::Sqlite(c) => migrate(c, SQLITE_MIGRATIONS),
                _ => unreachable!("a SQLite connection stays one"),
            })
        }
        Conn::Pg(c) => {
            c.batch_execute(&format!("SET lock_timeout = '{wait}s'"))?;
            diesel::sql_query(PG_MIGRATION_LOCK).execute(c)?;
            let migrated = migrate(c, POSTGRES_MIGRATIONS);
            // Closing the connection releases it too.
            if let Err(e) = diesel::sql_query(PG_MIGRATION_UNLOCK).execute(c) {
                tracing::debug!(%e, "releasing the migration lock failed");
            }
            migrated
        }
        Conn::Mysql(c) => {
            let taken: Taken = diesel::sql_query(MYSQL_MIGRATION_LOCK).get_result(c)?;
            if taken.taken != Some(1) {
                return Err(DbError::Migration(format!(
                    "another process has been migrating this database for {wait} s; try again \
                     when it is done"
                )));
            }
            let migrated = migrate(c, MYSQL_MIGRATIONS);
            if let Err(e) = diesel::sql_query(MYSQL_MIGRATION_UNLOCK).execute(c) {
                tracing::debug!(%e, "releasing the migration lock failed");
            }
            migrated
        }
    }
}

/// Whether the database has applied exactly the migrations this binary knows, read without
/// creating diesel's migration table (which `MigrationHarness` does first of all).
fn is_current(conn: &mut diesel::SqliteConnection, migrations: EmbeddedMigrations) -> bool {
    let Ok(known) = MigrationSource::<diesel::sqlite::Sqlite>::migrations(&migrations) else {
        return false;
    };
    let known: BTreeSet<String> = known
        .iter()
        .map(|m| m.name().version().to_string())
        .collect();
    let applied = diesel::sql_query("SELECT version FROM __diesel_schema_migrations")
        .load::<Version>(conn)
        .map(|rows| rows.into_iter().map(|r| r.version).collect::<BTreeSet<_>>());
    applied.is_ok_and(|applied| applied == known)
}

/// Applies `migrations`' pending migrations on `conn`, refusing a database that has migrations
/// this binary does not know.
fn migrate<DB, C>(conn: &mut C, migrations: EmbeddedMigrations) -> Result<Vec<String>, DbError>
where
    DB: DieselBackend,
    C: MigrationHarness<DB>,
    EmbeddedMigrations: MigrationSource<DB>,
{
    let known: BTreeSet<String> = MigrationSource::<DB>::migrations(&migrations)
        .map_err(migration_error)?
        .iter()
        .map(|m| m.name().version().to_string())
        .collect();
    let applied = conn.applied_migrations().map_err(migration_error)?;
    let unknown: Vec<String> = applied
        .iter()
        .map(ToString::to_string)
        .filter(|v| !known.contains(v))
        .collect();
    if !unknown.is_empty() {
        return Err(DbError::Migration(format!(
            "the database has migrations this binary does not know ({}); it was migrated by a \
             newer idmsync",
            unknown.join(", ")
        )));
    }
    let pending = conn
        .pending_migrations(migrations)
        .map_err(migration_error)?;
    let names = pending.iter().map(|m| m.name().to_string()).collect();
    conn.run_migrations(&pending).map_err(migration_error)?;
    Ok(names)
}

fn pending<DB, C>(conn: &mut C, migrations: EmbeddedMigrations) -> Result<usize, DbError>
where
    DB: DieselBackend,
    C: MigrationHarness<DB>,
    EmbeddedMigrations: MigrationSource<DB>,
{
    conn.pending_migrations(migrations)
        .map(|p| p.len())
        .map_err(migration_error)
}

fn migration_error(e: impl std::fmt::Display) -> DbError {
    DbError::Migration(e.to_string())
}
