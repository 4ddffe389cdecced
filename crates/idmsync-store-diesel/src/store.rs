//! The store itself: the connection pool, the per-connection settings, the migrations, and the
//! bridge from async port methods to blocking diesel calls. What is specific to SQLite lives
//! here, behind the `Conn` alias that a `#[derive(MultiConnection)]` enum will replace.

use std::collections::BTreeSet;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::migration::MigrationSource;
use diesel::r2d2::{ConnectionManager, CustomizeConnection, ManageConnection, Pool};
use diesel::sqlite::Sqlite;
use diesel::Connection;
use diesel::SqliteConnection;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use idmsync_ports::StoreError;
use tokio::runtime::{Handle, RuntimeFlavor};

use crate::error::DbError;
use crate::url::DatabaseUrl;

/// The connection every query function takes; the one place to widen for more backends.
pub(crate) type Conn = SqliteConnection;

pub(crate) const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");

/// Connections `connect` pools: SQLite has one writer at a time, so a few connections serve the
/// readers (the REST API) while a sync writes.
const DEFAULT_POOL_SIZE: u32 = 4;

/// How long to wait for a pooled connection (or the first one, at start-up) before giving up.
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(10);

/// Set on every new SQLite connection: WAL lets readers run beside the writer, the busy timeout
/// makes a second writer wait instead of failing at once, foreign keys are off by default in
/// SQLite, and `NORMAL` synchronisation is durable enough in WAL mode at a fraction of the cost.
/// The timeout comes first so that switching to WAL can wait for a lock too.
const SQLITE_PRAGMAS: &str = "PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; \
     PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;";

#[derive(Debug)]
struct SqlitePragmas;

impl CustomizeConnection<Conn, diesel::r2d2::Error> for SqlitePragmas {
    fn on_acquire(&self, conn: &mut Conn) -> Result<(), diesel::r2d2::Error> {
        conn.batch_execute(SQLITE_PRAGMAS)
            .map_err(diesel::r2d2::Error::QueryError)
    }
}

/// The diesel store: a connection pool to one database, implementing the store and reader
/// ports. Cheap to clone (the pool is shared), so the sync service and the REST API can hold
/// the same store.
#[derive(Clone, Debug)]
pub struct DieselStore {
    pool: Pool<ConnectionManager<Conn>>,
    url: DatabaseUrl,
}

impl DieselStore {
    /// Opens a pool of a few connections to `url`; see [`DieselStore::connect_with_pool_size`].
    ///
    /// # Errors
    /// As [`DieselStore::connect_with_pool_size`].
    pub fn connect(url: &DatabaseUrl) -> Result<Self, StoreError> {
        Self::connect_with_pool_size(url, DEFAULT_POOL_SIZE)
    }

    /// Opens a pool of at most `pool_size` connections (at least one) to `url`, creating the
    /// SQLite file and its parent folders if missing, and checks that a first connection works,
    /// so that a wrong path fails at start-up rather than at the first sync.
    ///
    /// # Errors
    /// `Unavailable` when the folder cannot be created or the database cannot be opened, and
    /// for backends not supported yet.
    pub fn connect_with_pool_size(url: &DatabaseUrl, pool_size: u32) -> Result<Self, StoreError> {
        let path = url.sqlite_path()?;
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| {
                StoreError::Unavailable(format!(
                    "{url}: cannot create the folder {}: {e}",
                    parent.display()
                ))
            })?;
        }
        let manager = ConnectionManager::<Conn>::new(path.to_string_lossy());
        // One connection up front reports SQLite's own reason at once, where the pool would
        // retry until its timeout; it also switches the file to WAL before the pool opens more.
        let unavailable = |e: diesel::r2d2::Error| StoreError::Unavailable(format!("{url}: {e}"));
        let mut first = manager.connect().map_err(unavailable)?;
        SqlitePragmas.on_acquire(&mut first).map_err(unavailable)?;
        drop(first);
        let pool = Pool::builder()
            .max_size(pool_size.max(1))
            .min_idle(Some(1))
            .connection_timeout(CONNECTION_TIMEOUT)
            .connection_customizer(Box::new(SqlitePragmas))
            .build(manager)
            .map_err(|e| StoreError::Unavailable(format!("{url}: {e}")))?;
        tracing::debug!(database = %url, "database pool ready");
        Ok(Self {
            pool,
            url: url.clone(),
        })
    }

    /// Brings the schema up to date and returns the names of the migrations it applied (none
    /// when it is current), so that start-up can log what changed. Safe to call on every start.
    ///
    /// # Errors
    /// `Schema` when a migration fails or the database holds migrations this binary does not
    /// know (it was migrated by a newer version); `Unavailable` without a connection.
    pub fn migrate(&self) -> Result<Vec<String>, StoreError> {
        self.blocking(|conn| {
            let known: BTreeSet<String> = MigrationSource::<Sqlite>::migrations(&MIGRATIONS)
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
                    "the database has migrations this binary does not know ({}); it was \
                     migrated by a newer idmsync",
                    unknown.join(", ")
                )));
            }
            let pending = conn
                .pending_migrations(MIGRATIONS)
                .map_err(migration_error)?;
            let names = pending.iter().map(|m| m.name().to_string()).collect();
            conn.run_migrations(&pending).map_err(migration_error)?;
            Ok(names)
        })
    }

    /// Runs `work` in a read transaction, so that its queries see one consistent snapshot.
    pub(crate) fn read<T>(
        &self,
        work: impl FnOnce(&mut Conn) -> Result<T, DbError>,
    ) -> Result<T, StoreError> {
        self.blocking(|conn| conn.transaction(work))
    }

    /// Runs `work` in a write transaction, all or nothing. SQLite's `BEGIN IMMEDIATE` takes the
    /// write lock up front: a deferred transaction that reads first could not upgrade its lock
    /// once another writer committed, and would fail instead of waiting.
    pub(crate) fn write<T>(
        &self,
        work: impl FnOnce(&mut Conn) -> Result<T, DbError>,
    ) -> Result<T, StoreError> {
        self.blocking(|conn| conn.immediate_transaction(work))
    }

    /// Runs blocking diesel work with a pooled connection without stalling the async runtime:
    /// on a multi-thread runtime `block_in_place` hands this worker's other tasks away; on a
    /// current-thread runtime (tests, tools) or outside tokio it simply runs.
    fn blocking<T>(
        &self,
        work: impl FnOnce(&mut Conn) -> Result<T, DbError>,
    ) -> Result<T, StoreError> {
        let run = || {
            let mut conn = self.pool.get()?;
            work(&mut conn)
        };
        let result = match Handle::try_current() {
            Ok(handle) if handle.runtime_flavor() == RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(run)
            }
            _ => run(),
        };
        result.map_err(|e| e.into_store(&self.url))
    }
}

fn migration_error(e: impl std::fmt::Display) -> DbError {
    DbError::Migration(e.to_string())
}
