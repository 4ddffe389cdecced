//! Migrations: idempotent, refused when the database is newer, and what an unmigrated database
//! reports.

use diesel::sql_types::Text;
use diesel::{QueryableByName, RunQueryDsl};
use idmsync_ports::{StoreError, SyncStore};
use idmsync_store_diesel::{DatabaseUrl, DieselStore};

use crate::support::{fresh, tenant};

#[test]
fn migrate_twice_applies_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url: DatabaseUrl = format!("sqlite://{}", dir.path().join("idm.db").display())
        .parse()
        .expect("url");
    let store = DieselStore::connect(&url).expect("connect");
    let applied = store.migrate().expect("first migrate");
    assert_eq!(
        applied,
        vec!["2025-11-26-000000_create_idm_tables".to_string()]
    );
    assert_eq!(
        store.migrate().expect("second migrate"),
        Vec::<String>::new()
    );
    // A second store on the same file sees the schema as current too.
    let again = DieselStore::connect(&url).expect("connect again");
    assert_eq!(
        again.migrate().expect("third migrate"),
        Vec::<String>::new()
    );
}

#[derive(QueryableByName)]
struct JournalMode {
    #[diesel(sql_type = Text)]
    journal_mode: String,
}

#[test]
fn the_database_runs_in_wal_mode() {
    let db = fresh();
    let modes: Vec<JournalMode> = diesel::sql_query("PRAGMA journal_mode")
        .load(&mut db.raw())
        .expect("pragma");
    assert_eq!(modes[0].journal_mode, "wal");
}

#[test]
fn a_database_migrated_by_a_newer_binary_is_refused() {
    let db = fresh();
    db.execute("INSERT INTO __diesel_schema_migrations (version) VALUES ('20990101000000')");
    let err = db.store.migrate().expect_err("unknown migration");
    assert!(
        matches!(&err, StoreError::Schema(m) if m.contains("20990101000000") && m.contains("idm.db")),
        "{err:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unmigrated_database_is_a_schema_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url: DatabaseUrl = format!("sqlite://{}", dir.path().join("idm.db").display())
        .parse()
        .expect("url");
    let store = DieselStore::connect(&url).expect("connect");
    let err = store
        .load_state(&tenant("acme"))
        .await
        .expect_err("no tables");
    assert!(
        matches!(&err, StoreError::Schema(m) if m.contains("idm.db")),
        "{err:?}"
    );
}
