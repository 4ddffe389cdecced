//! Fencing: a run writes only while it still holds its tenant's run lock, proven inside the very
//! transaction that writes, so that a runner that lost its lock (a terminated PostgreSQL
//! session, a killed MariaDB connection, a SQLite process paused past its lease) cannot commit
//! beside, or after, the runner that took the lock over.
//!
//! - **PostgreSQL and MariaDB**: taking the lock advances the tenant's row in `idm_run_fences`
//!   (its `generation`, and `holder`: the lock session's backend pid or connection id), on the
//!   lock's own connection right after the server lock was granted. A run's write transaction
//!   first locks that row (`FOR UPDATE`) and checks that the generation is still its lock's,
//!   then, at its end, that the lock session still holds the server lock (`pg_locks`,
//!   `IS_USED_LOCK`). A runner that takes over advances the row, which waits for any transaction
//!   still holding it: the old runner's commit, if its checks passed, lands before the new
//!   runner begins; if its lock is gone, its transaction rolls back.
//! - **SQLite**: a write transaction is `BEGIN IMMEDIATE`, so no other writer runs beside it;
//!   its first statement checks that the lease row still names this lock's holder and has not
//!   expired.
//!
//! Which lock fences which run is kept in memory ([`Fences`]): `try_lock` registers the lock it
//! hands out for its tenant, `begin_run` binds the new run to it, `apply` checks the run's lock.
//! A store that holds no lock for a tenant refuses to begin a run for it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use chrono::Utc;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use idmsync_domain::{RunId, Tenant};

use crate::conn::{on_backend, Conn};
use crate::error::DbError;
use crate::schema::idm_run_locks;

/// The name of a tenant's MySQL user lock, an SQL expression of one bound parameter (the
/// tenant): user locks are server-wide, so it hashes the database and the tenant (`idmsync.` +
/// 40 hex digits, within MySQL's 64 characters).
macro_rules! mysql_lock_name {
    () => {
        "CONCAT('idmsync.', LEFT(SHA2(CONCAT(DATABASE(), '/', ?), 256), 40))"
    };
}
pub(crate) use mysql_lock_name;

/// Advances the tenant's fence row on the connection that has just taken the server lock, and
/// returns the proof a run checks against it.
const PG_ADVANCE: &str = "INSERT INTO idm_run_fences (tenant, generation, holder) \
     VALUES ($1, 1, pg_backend_pid()) ON CONFLICT (tenant) DO UPDATE \
     SET generation = idm_run_fences.generation + 1, holder = EXCLUDED.holder \
     RETURNING generation, holder";
const MYSQL_ADVANCE: &str = "INSERT INTO idm_run_fences (tenant, generation, holder) \
     VALUES (?, 1, CONNECTION_ID()) \
     ON DUPLICATE KEY UPDATE generation = generation + 1, holder = VALUES(holder)";

const MYSQL_READ: &str = "SELECT generation, holder FROM idm_run_fences WHERE tenant = ?";

/// Locks the tenant's fence row for the rest of the transaction and reads it.
const PG_HOLD: &str = "SELECT generation, holder FROM idm_run_fences WHERE tenant = $1 FOR UPDATE";
const MYSQL_HOLD: &str =
    "SELECT generation, holder FROM idm_run_fences WHERE tenant = ? FOR UPDATE";

/// 1 when the session `$2` still holds the tenant's (`$1`) advisory lock in this database (the
/// run lock of `lock.rs`: a two-key lock is `classid`, `objid` and `objsubid = 2`).
const PG_ALIVE: &str = "SELECT COUNT(*) AS n FROM pg_locks \
     WHERE locktype = 'advisory' AND granted AND objsubid = 2 \
     AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
     AND classid = 1768189299 AND objid = hashtext($1)::oid AND pid = $2";
/// 1 when connection `?` (the second parameter) holds the tenant's user lock.
const MYSQL_ALIVE: &str = concat!(
    "SELECT CAST(COALESCE(IS_USED_LOCK(",
    mysql_lock_name!(),
    ") = ?, 0) AS SIGNED) AS n"
);

#[derive(QueryableByName)]
struct FenceRow {
    #[diesel(sql_type = BigInt)]
    generation: i64,
    #[diesel(sql_type = BigInt)]
    holder: i64,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// What proves that a run still holds its lock.
#[derive(Debug)]
enum Proof {
    /// PostgreSQL or MariaDB: the fence row's generation when the lock was taken, and the
    /// session (backend pid, connection id) that holds the server lock.
    Session { generation: i64, session: i64 },
    /// SQLite: the lease's holder id.
    Lease { holder: String },
}

/// One taken run lock, as the runs begun under it check it.
#[derive(Debug)]
pub(crate) struct Fence {
    tenant: String,
    proof: Proof,
}

impl Fence {
    /// Advances the tenant's fence row on `conn`, the connection that has just taken the
    /// tenant's server lock, and returns the fence of that lock.
    pub(crate) fn advance(conn: &mut Conn, tenant: &str) -> Result<Fence, DbError> {
        let row: FenceRow = match conn {
            Conn::Pg(c) => diesel::sql_query(PG_ADVANCE)
                .bind::<Text, _>(tenant)
                .get_result(c)?,
            Conn::Mysql(c) => {
                diesel::sql_query(MYSQL_ADVANCE)
                    .bind::<Text, _>(tenant)
                    .execute(c)?;
                diesel::sql_query(MYSQL_READ)
                    .bind::<Text, _>(tenant)
                    .get_result(c)?
            }
            Conn::Sqlite(_) => {
                return Err(DbError::Rejected(
                    "SQLite's run lock is a lease, not a server lock".into(),
                ))
            }
        };
        Ok(Fence {
            tenant: tenant.to_string(),
            proof: Proof::Session {
                generation: row.generation,
                session: row.holder,
            },
        })
    }

    /// The fence of a SQLite lease taken under `holder`.
    pub(crate) fn lease(tenant: &str, holder: &str) -> Fence {
        Fence {
            tenant: tenant.to_string(),
            proof: Proof::Lease {
                holder: holder.to_string(),
            },
        }
    }

    /// First thing in a write transaction: proves that the lock is still this one and keeps it
    /// so until the transaction ends (PostgreSQL and MariaDB: the fence row stays locked, so a
    /// runner taking over waits for this transaction; SQLite: no other writer can run).
    ///
    /// # Errors
    /// `LockLost` when another runner took the lock over, the lease expired, or the lock's
    /// session is gone; the caller's transaction then rolls back.
    pub(crate) fn hold(&self, conn: &mut Conn) -> Result<(), DbError> {
        let tenant = self.tenant.as_str();
        match (&self.proof, &mut *conn) {
            (Proof::Lease { holder }, Conn::Sqlite(c)) => {
                use idm_run_locks::dsl as k;
                let lease: Option<(String, chrono::NaiveDateTime)> = k::idm_run_locks
                    .filter(k::tenant.eq(tenant))
                    .select((k::holder, k::expires_at))
                    .first(c)
                    .optional()?;
                match lease {
                    Some((h, _)) if h != *holder => Err(self.lost(
                        "another runner took its lease over after it expired (this process \
                         stalled for longer than database.lock_lease, or its holder was \
                         thought dead)",
                    )),
                    None => Err(self.lost("its lease is gone (released or taken over)")),
                    Some((_, until)) if until < Utc::now().naive_utc() => Err(self.lost(
                        "its lease expired (this process stalled for longer than \
                         database.lock_lease)",
                    )),
                    Some(_) => Ok(()),
                }
            }
            (Proof::Session { generation, .. }, _) => {
                let sql = match conn {
                    Conn::Pg(_) => PG_HOLD,
                    _ => MYSQL_HOLD,
                };
                let query = diesel::sql_query(sql).bind::<Text, _>(tenant);
                let row: Option<FenceRow> =
                    on_backend!(&mut *conn, c => query.get_result(c).optional())?;
                match row {
                    Some(row) if row.generation == *generation => self.still_held(conn),
                    _ => Err(self.lost("another runner has taken the lock since")),
                }
            }
            (Proof::Lease { .. }, _) => Err(DbError::Rejected(
                "a SQLite lease cannot fence a server database".into(),
            )),
        }
    }

    /// Last thing before the commit: the server lock's session still holds it. (SQLite: the
    /// check of [`Fence::hold`] still stands, since no other writer could run since.)
    ///
    /// # Errors
    /// `LockLost` when the lock's session no longer holds it.
    pub(crate) fn still_held(&self, conn: &mut Conn) -> Result<(), DbError> {
        let Proof::Session { session, .. } = self.proof else {
            return Ok(());
        };
        let tenant = self.tenant.as_str();
        let alive: Count = match conn {
            Conn::Pg(c) => diesel::sql_query(PG_ALIVE)
                .bind::<Text, _>(tenant)
                // pg_locks.pid is an int4.
                .bind::<diesel::sql_types::Integer, _>(i32::try_from(session).unwrap_or(-1))
                .get_result(c)?,
            Conn::Mysql(c) => diesel::sql_query(MYSQL_ALIVE)
                .bind::<Text, _>(tenant)
                .bind::<BigInt, _>(session)
                .get_result(c)?,
            Conn::Sqlite(_) => return Ok(()),
        };
        if alive.n > 0 {
            Ok(())
        } else {
            Err(self.lost(
                "the database session that held it has ended (terminated, or its connection \
                 was lost)",
            ))
        }
    }

    fn lost(&self, why: &str) -> DbError {
        DbError::LockLost(format!(
            "this run no longer holds the run lock of tenant `{}`: {why}; nothing of it was \
             written",
            self.tenant
        ))
    }
}

/// The run locks a store holds, by tenant, and the lock each run it began was begun under.
/// Shared by the clones of a store; the binary hands the same store to the engine as its store
/// and its lock.
#[derive(Debug, Default)]
pub(crate) struct Fences {
    held: Mutex<HashMap<String, Arc<Fence>>>,
    runs: Mutex<HashMap<i64, Arc<Fence>>>,
}

/// Locks a mutex, ignoring poisoning: the maps stay consistent whatever a holder did.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Fences {
    /// Registers a lock just taken; it replaces any older one of the tenant, which has lost it.
    pub(crate) fn taken(&self, fence: Arc<Fence>) {
        lock(&self.held).insert(fence.tenant.clone(), fence);
    }

    /// Forgets a lock being released, unless a newer one of the tenant replaced it.
    pub(crate) fn released(&self, fence: &Arc<Fence>) {
        let mut held = lock(&self.held);
        if held
            .get(&fence.tenant)
            .is_some_and(|f| Arc::ptr_eq(f, fence))
        {
            held.remove(&fence.tenant);
        }
    }

    /// The lock of `tenant` this store holds, for a run about to begin.
    ///
    /// # Errors
    /// `LockLost` when it holds none.
    pub(crate) fn of_tenant(&self, tenant: &Tenant) -> Result<Arc<Fence>, DbError> {
        lock(&self.held)
            .get(tenant.as_str())
            .cloned()
            .ok_or_else(|| {
                DbError::LockLost(format!(
                    "a run of tenant `{tenant}` can only begin under its run lock, and this store \
                 does not hold it"
                ))
            })
    }

    /// Remembers that `run` was begun under `fence`.
    pub(crate) fn bind(&self, run: RunId, fence: Arc<Fence>) {
        lock(&self.runs).insert(run.0, fence);
    }

    /// The lock `run` of `tenant` was begun under.
    ///
    /// # Errors
    /// `LockLost` when this store began no such run under a lock.
    pub(crate) fn of_run(&self, run: RunId, tenant: &Tenant) -> Result<Arc<Fence>, DbError> {
        lock(&self.runs)
            .get(&run.0)
            .filter(|fence| fence.tenant == tenant.as_str())
            .cloned()
            .ok_or_else(|| {
                DbError::LockLost(format!(
                    "run {run} of tenant `{tenant}` was not begun under a run lock of this store; \
                     nothing of it was written"
                ))
            })
    }

    /// Forgets `run`, which has ended.
    pub(crate) fn ended(&self, run: RunId) {
        lock(&self.runs).remove(&run.0);
    }
}
