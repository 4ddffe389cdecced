//! The run lock: one holder per tenant across store instances, released on drop, and freed when
//! its holder dies (a killed session on PostgreSQL and MariaDB, an expired lease on SQLite).

use std::time::{Duration, Instant};

use idmsync_domain::{Counts, Outcome, RunResult};
use idmsync_ports::{HeldLock, RunLock, RunLogReader, SyncStore};
use idmsync_store_diesel::{DieselStore, StoreOptions};

use crate::support::{at, backend_tests, new_run, tenant, Backend, Db};

/// Polls `try_lock` for `acme` until it succeeds, for locks whose release the server finishes
/// asynchronously (a terminated backend exits shortly after the signal), and returns the lock.
pub(crate) async fn eventually_locked(store: &DieselStore) -> Box<dyn HeldLock> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(held) = store.try_lock(&tenant("acme")).await.expect("try") {
            return held;
        }
        assert!(
            Instant::now() < deadline,
            "the dead holder's lock was never freed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn eventually_free(store: &DieselStore) {
    drop(eventually_locked(store).await);
}

/// Kills the session holding `acme`'s lock, as if its process had died.
pub(crate) fn kill_holder(db: &Db) {
    let name = &db.database.name;
    match (db.database.backend, db.database.admin()) {
        (Backend::Postgres, mut admin) => admin.execute(&format!(
            "SELECT pg_terminate_backend(pid) FROM pg_locks JOIN pg_database d \
             ON d.oid = pg_locks.database WHERE locktype = 'advisory' AND d.datname = '{name}'"
        )),
        (Backend::Mysql, mut admin) => {
            let id = admin
                .first_id(&format!(
                    "SELECT CAST(IS_USED_LOCK(CONCAT('idmsync.', \
                     LEFT(SHA2(CONCAT('{name}', '/', 'acme'), 256), 40))) AS SIGNED) AS id"
                ))
                .expect("the lock is held");
            admin.execute(&format!("KILL {id}"));
        }
        (backend, _) => unreachable!("{backend:?} has no sessions to kill"),
    }
}

backend_tests! {
    async fn a_second_runner_finds_the_lock_taken_until_it_is_dropped(db: Db) {
        let other = db.another_store(StoreOptions::default());
        let acme = tenant("acme");
        let held = db.store.try_lock(&acme).await.expect("try").expect("free");
        assert!(other.try_lock(&acme).await.expect("try").is_none());
        assert!(db.store.try_lock(&acme).await.expect("try").is_none(), "not re-entrant");
        // Another tenant has a lock of its own.
        let beta = other.try_lock(&tenant("beta")).await.expect("try");
        assert!(beta.is_some());
        drop(held);
        let again = other.try_lock(&acme).await.expect("try");
        assert!(again.is_some(), "released on drop");
    }

    async fn a_dead_holders_lock_becomes_free(db: Db) {
        let other = db.another_store(StoreOptions::default());
        let acme = tenant("acme");
        if db.database.backend == Backend::Sqlite {
            // A holder that died left its lease behind, expired a moment ago.
            db.execute(
                "INSERT INTO idm_run_locks (tenant, holder, expires_at) \
                 VALUES ('acme', 'dead', datetime('now', '-1 second'))",
            );
            eventually_free(&other).await;
            return;
        }
        let held = db.store.try_lock(&acme).await.expect("try").expect("free");
        assert!(other.try_lock(&acme).await.expect("try").is_none());
        kill_holder(&db);
        eventually_free(&other).await;
        // Dropping the dead holder's lock fails quietly.
        drop(held);
    }

    async fn skipped_runs_are_recorded_without_interrupting_the_live_one(db: Db) {
        let acme = tenant("acme");
        let live = db.begin(&acme, 1).await;
        let result = RunResult {
            outcome: Outcome::SkippedLocked,
            reason: Some("another run holds the lock".into()),
            counts: Counts::default(),
            watermark: None,
            finished_at: at(2),
        };
        let skipped = db
            .store
            .record_skipped(&new_run(&acme, 2), &result)
            .await
            .expect("skipped");
        let live = db.store.run(live).await.expect("run").expect("live");
        assert_eq!(live.outcome, Outcome::Running);
        let skipped = db.store.run(skipped).await.expect("run").expect("skipped");
        assert_eq!(skipped.outcome, Outcome::SkippedLocked);
        assert_eq!(skipped.finished_at, Some(at(2)));
        assert_eq!(skipped.reason, result.reason);
        assert!(db.store.lines(skipped.id).await.expect("lines").is_empty());
    }
}

/// SQLite: a live holder's heartbeat keeps a short lease from expiring.
#[tokio::test(flavor = "multi_thread")]
async fn a_live_sqlite_holder_keeps_its_lease() {
    let db = crate::support::fresh(Backend::Sqlite);
    let options = StoreOptions {
        lock_lease: Duration::from_millis(300),
        ..StoreOptions::default()
    };
    let holder = db.another_store(options);
    let other = db.another_store(options);
    let acme = tenant("acme");
    let held = holder.try_lock(&acme).await.expect("try").expect("free");
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    assert!(other.try_lock(&acme).await.expect("try").is_none());
    drop(held);
    assert!(other.try_lock(&acme).await.expect("try").is_some());
}

/// The server session that holds `acme`'s lock: the backend pid or connection id.
fn holder(db: &Db) -> i64 {
    let name = &db.database.name;
    let sql = match db.database.backend {
        Backend::Postgres => format!(
            "SELECT CAST(pid AS BIGINT) AS id FROM pg_locks JOIN pg_database d \
             ON d.oid = pg_locks.database WHERE locktype = 'advisory' AND d.datname = '{name}'"
        ),
        Backend::Mysql => format!(
            "SELECT CAST(IS_USED_LOCK(CONCAT('idmsync.', \
             LEFT(SHA2(CONCAT('{name}', '/', 'acme'), 256), 40))) AS SIGNED) AS id"
        ),
        Backend::Sqlite => unreachable!("SQLite has no lock sessions"),
    };
    db.database
        .admin()
        .first_id(&sql)
        .expect("the lock is held")
}

/// A released lock's connection takes the next lock (opening one per lock cost more than a
/// small SCIM batch); one the server closed meanwhile is replaced by a new connection.
async fn a_released_locks_connection_takes_the_next(backend: Backend) {
    let db = crate::support::fresh(backend);
    let acme = tenant("acme");
    let first = db.store.try_lock(&acme).await.expect("try").expect("free");
    let session = holder(&db);
    drop(first);
    let second = db.store.try_lock(&acme).await.expect("try").expect("free");
    assert_eq!(holder(&db), session, "the same connection");
    drop(second);
    let mut admin = db.database.admin();
    match backend {
        Backend::Postgres => admin.execute(&format!("SELECT pg_terminate_backend({session})")),
        _ => admin.execute(&format!("KILL {session}")),
    }
    let third = eventually_locked(&db.store).await;
    assert_ne!(holder(&db), session, "a new connection");
    drop(third);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_released_postgres_locks_connection_takes_the_next() {
    a_released_locks_connection_takes_the_next(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_released_mysql_locks_connection_takes_the_next() {
    a_released_locks_connection_takes_the_next(Backend::Mysql).await;
}
