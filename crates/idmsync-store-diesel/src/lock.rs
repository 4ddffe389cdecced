//! The tenant's run lock, one runner at a time across every node sharing the database.
//!
//! - **PostgreSQL**: a session-level advisory lock, `pg_try_advisory_lock(namespace,
//!   hashtext(tenant))`; advisory locks are per database, so tenants of other databases never
//!   collide. Two tenants whose names hash alike share a lock: they merely take turns.
//! - **MySQL/MariaDB**: `GET_LOCK(name, 0)`. User locks are server-wide, so the name hashes the
//!   database and the tenant (`fence::mysql_lock_name!`).
//! - **SQLite**: a row in `idm_run_locks` with a lease, taken inside `BEGIN IMMEDIATE` (one
//!   writer at a time makes check-then-insert atomic), renewed by a heartbeat thread every third
//!   of the lease and deleted on release. A lease is taken over once it has expired, or at once
//!   when the process that holds it provably no longer runs (`process.rs`: a holder killed with
//!   SIGKILL left it behind).
//!
//! Server locks live on a connection of their own, opened for the lock and closed with it: a
//! pooled connection would go back to the pool still holding the lock. A holder that dies takes
//! its session, and so its lock, with it; a dead SQLite holder stops renewing its lease.
//!
//! A lock can be lost while its run goes on (a terminated session, a process paused past its
//! lease); the run's writes are fenced against that (`fence.rs`): every lock taken here is
//! registered with the store's [`Fences`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Nullable, Text};
use idmsync_domain::Tenant;
use idmsync_ports::{HeldLock, RunLock, StoreError};

use crate::conn::{on_backend, Conn};
use crate::error::DbError;
use crate::fence::{mysql_lock_name, Fence, Fences};
use crate::process::Process;
use crate::schema::idm_run_locks;
use crate::store::{blocking, DieselStore};
use crate::url::Backend;

/// The lock statements of a server backend; each yields one nullable integer, `taken`, which is
/// 1 when the lock was taken or released.
struct ServerSql {
    take: &'static str,
    release: &'static str,
}

/// The first key, 1768189299, is "idms" in ASCII: idmsync's namespace of two-key advisory
/// locks, which never meet another application's single-key ones.
const PG_SQL: ServerSql = ServerSql {
    take: "SELECT pg_try_advisory_lock(1768189299, hashtext($1))::int::int8 AS taken",
    release: "SELECT pg_advisory_unlock(1768189299, hashtext($1))::int::int8 AS taken",
};

const MYSQL_SQL: ServerSql = ServerSql {
    take: concat!(
        "SELECT CAST(GET_LOCK(",
        mysql_lock_name!(),
        ", 0) AS SIGNED) AS taken"
    ),
    release: concat!(
        "SELECT CAST(RELEASE_LOCK(",
        mysql_lock_name!(),
        ") AS SIGNED) AS taken"
    ),
};

#[derive(QueryableByName)]
struct Taken {
    #[diesel(sql_type = Nullable<diesel::sql_types::BigInt>)]
    taken: Option<i64>,
}

/// Runs one of the [`ServerSql`] statements for `tenant`.
fn server_lock(conn: &mut Conn, sql: &str, tenant: &str) -> QueryResult<bool> {
    let query = diesel::sql_query(sql).bind::<Text, _>(tenant);
    let row: Taken = on_backend!(conn, c => query.get_result(c))?;
    Ok(row.taken == Some(1))
}

#[async_trait]
impl RunLock for DieselStore {
    async fn try_lock(&self, tenant: &Tenant) -> Result<Option<Box<dyn HeldLock>>, StoreError> {
        match self.url().backend() {
            Backend::Sqlite => LeaseLock::take(self, tenant),
            Backend::Postgres => SessionLock::take(self, tenant, PG_SQL),
            Backend::Mysql => SessionLock::take(self, tenant, MYSQL_SQL),
        }
    }
}

/// The most released lock connections a store keeps: one per tenant locked at once is enough.
const SPARE_LIMIT: usize = 4;

/// Connections whose server lock was released, kept for the next lock. Opening a PostgreSQL
/// or MariaDB connection (a server process or thread, authentication, session settings) cost
/// more than the rest of a small SCIM batch, which takes the lock once per batch (issue 18).
/// A connection is kept only once its release was confirmed: it holds no lock.
#[derive(Default)]
pub(crate) struct SpareConns(Mutex<Vec<Conn>>);

impl std::fmt::Debug for SpareConns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let spare = self.0.lock().map_or(0, |s| s.len());
        f.debug_struct("SpareConns").field("spare", &spare).finish()
    }
}

impl SpareConns {
    fn take(&self) -> Option<Conn> {
        self.0.lock().ok()?.pop()
    }

    fn give(&self, conn: Conn) {
        if let Ok(mut spare) = self.0.lock() {
            if spare.len() < SPARE_LIMIT {
                spare.push(conn);
            }
        }
    }
}

/// A server lock and the connection that holds it.
struct SessionLock {
    conn: Mutex<Option<Conn>>,
    sql: ServerSql,
    tenant: String,
    fences: Arc<Fences>,
    fence: Arc<Fence>,
    spare: Arc<SpareConns>,
}

impl SessionLock {
    fn take(
        store: &DieselStore,
        tenant: &Tenant,
        sql: ServerSql,
    ) -> Result<Option<Box<dyn HeldLock>>, StoreError> {
        let url = store.url();
        let spare = store.spare_lock_conns();
        blocking(|| {
            let fresh = || -> Result<(Conn, bool), StoreError> {
                let mut conn = Conn::open(url).map_err(|e| StoreError::Unavailable(e.0))?;
                let taken = server_lock(&mut conn, sql.take, tenant.as_str())
                    .map_err(|e| DbError::from(e).into_store(url))?;
                Ok((conn, taken))
            };
            let (mut conn, taken) = match spare.take() {
                Some(mut conn) => match server_lock(&mut conn, sql.take, tenant.as_str()) {
                    Ok(taken) => (conn, taken),
                    // The server closed the spare connection meanwhile.
                    Err(_) => fresh()?,
                },
                None => fresh()?,
            };
            if !taken {
                spare.give(conn);
                return Ok(None);
            }
            // On an error, dropping the connection releases the lock.
            let fence =
                Fence::advance(&mut conn, tenant.as_str()).map_err(|e| e.into_store(url))?;
            let fence = Arc::new(fence);
            store.fences().taken(Arc::clone(&fence));
            tracing::debug!(%tenant, "run lock taken");
            let lock: Box<dyn HeldLock> = Box::new(SessionLock {
                conn: Mutex::new(Some(conn)),
                sql,
                tenant: tenant.to_string(),
                fences: store.fences_handle(),
                fence,
                spare: Arc::clone(&spare),
            });
            Ok(Some(lock))
        })
    }
}

impl HeldLock for SessionLock {}

impl Drop for SessionLock {
    /// Releases the lock and keeps the connection for the next lock; when the release fails,
    /// closing the connection releases the lock too, so that is only worth a debug line.
    fn drop(&mut self) {
        self.fences.released(&self.fence);
        let Some(mut conn) = self.conn.get_mut().ok().and_then(Option::take) else {
            return;
        };
        match blocking(|| server_lock(&mut conn, self.sql.release, &self.tenant)) {
            Ok(true) => self.spare.give(conn),
            Ok(false) => {
                tracing::debug!(tenant = %self.tenant, "the run lock was no longer held when released");
            }
            Err(e) => {
                tracing::debug!(tenant = %self.tenant, %e, "releasing the run lock failed; closing its connection releases it");
            }
        }
    }
}

/// A SQLite lease and the heartbeat thread that renews it; dropping it stops the thread, which
/// deletes the lease.
struct LeaseLock {
    stop: Option<mpsc::Sender<()>>,
    heartbeat: Option<JoinHandle<()>>,
    fences: Arc<Fences>,
    fence: Arc<Fence>,
}

/// A lease row: holder, expiry, and the process that holds it.
type Lease = (
    String,
    NaiveDateTime,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<i64>,
);

/// Why a lease can be taken.
enum Takeover {
    /// Nobody holds it.
    Free,
    /// Its holder stopped renewing it.
    Expired,
    /// The process that holds it (this pid) no longer runs.
    HolderGone(i64),
}

impl Takeover {
    /// Whether the tenant's `current` lease can be taken at `now`, and why.
    fn of(current: Option<Lease>, now: NaiveDateTime) -> Option<Takeover> {
        let Some((_, until, pid, boot_id, pid_namespace, start)) = current else {
            return Some(Takeover::Free);
        };
        if until < now {
            return Some(Takeover::Expired);
        }
        let pid = pid?;
        let holder = Process {
            pid,
            boot_id,
            pid_namespace,
            start,
        };
        holder.is_gone().then_some(Takeover::HolderGone(pid))
    }
}

impl LeaseLock {
    fn take(store: &DieselStore, tenant: &Tenant) -> Result<Option<Box<dyn HeldLock>>, StoreError> {
        let lease = store.options().lock_lease;
        let holder = holder_id();
        let me = Process::current();
        let taken = store.write(|conn| {
            use idm_run_locks::dsl as k;
            let Conn::Sqlite(c) = conn else {
                return Err(DbError::Rejected("a lease lock needs SQLite".into()));
            };
            let now = Utc::now().naive_utc();
            let mine = k::idm_run_locks.filter(k::tenant.eq(tenant.as_str()));
            let current: Option<Lease> = mine
                .select((
                    k::holder,
                    k::expires_at,
                    k::pid,
                    k::boot_id,
                    k::pid_namespace,
                    k::process_start,
                ))
                .first(c)
                .optional()?;
            let Some(takeover) = Takeover::of(current, now) else {
                return Ok(None);
            };
            diesel::delete(mine).execute(c)?;
            let insert = diesel::insert_into(k::idm_run_locks).values((
                k::tenant.eq(tenant.as_str()),
                k::holder.eq(&holder),
                k::expires_at.eq(expiry(now, lease)),
                k::pid.eq(me.pid),
                k::boot_id.eq(&me.boot_id),
                k::pid_namespace.eq(&me.pid_namespace),
                k::process_start.eq(me.start),
            ));
            insert.execute(c)?;
            Ok(Some(takeover))
        })?;
        match taken {
            None => return Ok(None),
            Some(Takeover::Free) => {}
            Some(Takeover::Expired) => {
                tracing::info!(%tenant, "took over a run lock whose lease had expired");
            }
            Some(Takeover::HolderGone(pid)) => tracing::info!(
                %tenant,
                pid,
                "took over the run lock of a process that no longer runs, without waiting for \
                 its lease to expire"
            ),
        }
        tracing::debug!(%tenant, %holder, "run lock taken");
        let fence = Arc::new(Fence::lease(tenant.as_str(), &holder));
        let (stop, stopped) = mpsc::channel();
        let heartbeat = {
            let store = store.clone();
            let tenant = tenant.to_string();
            std::thread::Builder::new()
                .name("idmsync-lock-heartbeat".into())
                .spawn(move || heartbeat(&store, &tenant, &holder, lease, &stopped))
                .map_err(|e| StoreError::Failed(format!("cannot start the lock heartbeat: {e}")))?
        };
        store.fences().taken(Arc::clone(&fence));
        Ok(Some(Box::new(LeaseLock {
            stop: Some(stop),
            heartbeat: Some(heartbeat),
            fences: store.fences_handle(),
            fence,
        })))
    }
}

impl HeldLock for LeaseLock {}

impl Drop for LeaseLock {
    fn drop(&mut self) {
        self.fences.released(&self.fence);
        drop(self.stop.take());
        if let Some(thread) = self.heartbeat.take() {
            if thread.join().is_err() {
                tracing::warn!("the lock heartbeat panicked; its lease expires on its own");
            }
        }
    }
}

/// Renews the lease every third of its length until told to stop (or its lock is dropped),
/// then deletes it. A renewal that finds the lease gone (it expired and another runner took
/// it, after this process stalled for a whole lease) is logged: there is nothing to retake.
fn heartbeat(
    store: &DieselStore,
    tenant: &str,
    holder: &str,
    lease: Duration,
    stopped: &mpsc::Receiver<()>,
) {
    use idm_run_locks::dsl as k;
    let mine = || {
        k::idm_run_locks
            .filter(k::tenant.eq(tenant))
            .filter(k::holder.eq(holder))
    };
    while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(lease / 3) {
        let renewed = store.write(|conn| {
            let until = expiry(Utc::now().naive_utc(), lease);
            let update = diesel::update(mine()).set(k::expires_at.eq(until));
            Ok(on_backend!(conn, c => update.execute(c))?)
        });
        match renewed {
            Ok(0) => tracing::warn!(%tenant, "the run lock's lease expired before its renewal"),
            Ok(_) => {}
            Err(e) => tracing::warn!(%tenant, %e, "renewing the run lock failed"),
        }
    }
    let release = |conn: &mut Conn| Ok(on_backend!(conn, c => diesel::delete(mine()).execute(c))?);
    if let Err(e) = store.write(release) {
        tracing::warn!(%tenant, %e, "releasing the run lock failed; its lease expires on its own");
    }
}

/// `now` plus the lease; an absurd lease saturates instead of overflowing.
fn expiry(now: NaiveDateTime, lease: Duration) -> NaiveDateTime {
    chrono::TimeDelta::from_std(lease)
        .ok()
        .and_then(|lease| now.checked_add_signed(lease))
        .unwrap_or(NaiveDateTime::MAX)
}

/// A holder id unique across processes and within one: process id, start time, counter.
fn holder_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "{}-{nanos}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}
