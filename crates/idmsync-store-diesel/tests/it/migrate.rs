//! Migrations: idempotent on every backend, refused when the database is newer, and what an
//! unmigrated database reports.

use std::sync::Barrier;

use diesel::sql_types::Text;
use diesel::{Connection, QueryableByName, RunQueryDsl, SqliteConnection};
use idmsync_ports::{StoreError, SyncStore};
use idmsync_store_diesel::DieselStore;

use crate::support::{backend_tests, backends, fresh, tenant, url, Backend, TestDatabase};

/// Every migration of `backend`, in order.
fn all_migrations(backend: Backend) -> Vec<String> {
    let mut expected = vec!["2025-11-26-000000_create_idm_tables".to_string()];
    if backend == Backend::Sqlite {
        expected.push("2025-12-01-000000_create_run_locks".to_string());
    }
    expected.push("2026-11-26-000000_drop_log_line_run_fk".to_string());
    expected.push("2026-11-27-000000_fence_run_locks".to_string());
    expected.push("2026-11-29-000000_add_password_check".to_string());
    expected.push("2026-11-30-000000_add_source_documents".to_string());
    expected
}

#[test]
fn migrate_twice_applies_once() {
    for backend in backends() {
        let database = TestDatabase::create(backend);
        let store = DieselStore::connect(&url(&database)).expect("connect");
        assert_eq!(
            store.migrate().expect("first migrate"),
            all_migrations(backend),
            "{backend:?}"
        );
        assert_eq!(
            store.migrate().expect("second migrate"),
            Vec::<String>::new()
        );
        // A second store on the same database sees the schema as current too.
        let again = DieselStore::connect(&url(&database)).expect("connect again");
        assert_eq!(
            again.migrate().expect("third migrate"),
            Vec::<String>::new()
        );
    }
}

/// Two processes starting at once on a fresh database (two stores, each with connections of
/// its own, released together): both connect (on SQLite, both switch the new file to WAL),
/// both migrations succeed, and each migration runs once.
#[test]
fn concurrent_migrations_of_a_fresh_database_both_succeed() {
    for backend in backends() {
        for _ in 0..3 {
            let database = TestDatabase::create(backend);
            let url = url(&database);
            let start = Barrier::new(2);
            let applied: Vec<Vec<String>> = std::thread::scope(|scope| {
                let runs: Vec<_> = (0..2)
                    .map(|_| {
                        scope.spawn(|| {
                            start.wait();
                            DieselStore::connect(&url)?.migrate()
                        })
                    })
                    .collect();
                runs.into_iter()
                    .map(|run| run.join().expect("thread").expect("both succeed"))
                    .collect()
            });
            let mut all = applied.concat();
            all.sort();
            assert_eq!(all, all_migrations(backend), "{backend:?}: {applied:?}");
        }
    }
}

#[derive(QueryableByName)]
struct JournalMode {
    #[diesel(sql_type = Text)]
    journal_mode: String,
}

/// SQLite only: the pragma the store sets on every connection.
#[test]
fn the_sqlite_database_runs_in_wal_mode() {
    let db = fresh(Backend::Sqlite);
    let path = db.database.url.trim_start_matches("sqlite://").to_string();
    let mut raw = SqliteConnection::establish(&path).expect("raw");
    let modes: Vec<JournalMode> = diesel::sql_query("PRAGMA journal_mode")
        .load(&mut raw)
        .expect("pragma");
    assert_eq!(modes[0].journal_mode, "wal");
}

backend_tests! {
    async fn a_database_migrated_by_a_newer_binary_is_refused(db: Db) {
        db.execute("INSERT INTO __diesel_schema_migrations (version) VALUES ('20990101000000')");
        let err = db.store.migrate().expect_err("unknown migration");
        assert!(
            matches!(&err, StoreError::Schema(m) if m.contains("20990101000000") && m.contains(&db.database.name)),
            "{err:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unmigrated_database_is_a_schema_error() {
    for backend in backends() {
        let database = TestDatabase::create(backend);
        let store = DieselStore::connect(&url(&database)).expect("connect");
        let err = store
            .load_state(&tenant("acme"))
            .await
            .expect_err("no tables");
        assert!(
            matches!(&err, StoreError::Schema(m) if m.contains(&database.name)),
            "{backend:?}: {err:?}"
        );
    }
}
