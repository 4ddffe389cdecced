//! Connections: clear errors for an unreachable server, wrong credentials and a missing
//! database (naming the host, never the password), and a connection lost in the middle of an
//! apply, which must leave the database exactly as before.

use std::sync::Arc;
use std::time::{Duration, Instant};

use idmsync_domain::{ChangeSet, RunId, Tenant};
use idmsync_ports::{StoreError, SyncStore};
use idmsync_store_diesel::{DatabaseUrl, DieselStore};
use tokio::task::JoinHandle;

use crate::support::{
    created_group, created_user, edge, everything, fresh, group, key, succeed, sync, tenant,
    unique, user, Backend, Db, Raw, TestDatabase, MYSQL, POSTGRES,
};

fn unavailable(url: &str) -> String {
    let url: DatabaseUrl = url.parse().expect("url");
    match DieselStore::connect(&url).expect_err("cannot connect") {
        StoreError::Unavailable(message) => message,
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn an_unreachable_server_is_named_without_its_password() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    for scheme in ["postgres", "mysql"] {
        let message = unavailable(&format!("{scheme}://idm:s3cret@127.0.0.1:{port}/idm"));
        assert!(message.contains(&format!("127.0.0.1:{port}")), "{message}");
        assert!(!message.contains("s3cret"), "{message}");
    }
}

#[test]
fn a_missing_database_is_named() {
    let missing = unique("idmsync_missing");
    for server in [POSTGRES, MYSQL] {
        let message = unavailable(&format!("{server}/{missing}"));
        assert!(message.contains(&missing), "{message}");
        assert!(message.contains("127.0.0.1"), "{message}");
    }
}

#[test]
fn a_wrong_password_is_refused_without_being_printed() {
    // MariaDB: the PostgreSQL test server trusts every local connection.
    let database = TestDatabase::create(Backend::Mysql);
    let user = unique("idm_user");
    let mut admin = database.admin();
    admin.execute(&format!(
        "CREATE USER '{user}'@'%' IDENTIFIED BY 'right-one'"
    ));
    admin.execute(&format!(
        "CREATE USER '{user}'@'localhost' IDENTIFIED BY 'right-one'"
    ));
    let message = unavailable(&format!(
        "mysql://{user}:wr0ng-s3cret@127.0.0.1:3306/{}",
        database.name
    ));
    admin.execute(&format!("DROP USER '{user}'@'%'"));
    admin.execute(&format!("DROP USER '{user}'@'localhost'"));
    assert!(message.contains("Access denied"), "{message}");
    assert!(message.contains("127.0.0.1:3306"), "{message}");
    assert!(!message.contains("wr0ng-s3cret"), "{message}");
}

/// 50,000 users in 20 groups, 4 memberships each: a change set whose apply takes long enough
/// to be caught in the middle.
pub(crate) fn large_change_set() -> ChangeSet {
    let users: Vec<_> = (0..50_000)
        .map(|i| key(&format!("s-u{i}"), &format!("user{i:05}")))
        .collect();
    let groups: Vec<_> = (0..20)
        .map(|i| key(&format!("s-g{i}"), &format!("group{i:02}")))
        .collect();
    ChangeSet {
        users: users.iter().map(|k| created_user(user(k))).collect(),
        groups: groups.iter().map(|k| created_group(group(k))).collect(),
        memberships_added: (0..users.len())
            .flat_map(|u| (0..4).map(move |k| (u, (u + k) % 20)))
            .map(|(u, g)| edge(&groups[g], &users[u]))
            .collect(),
        ..ChangeSet::default()
    }
}

/// The session of `db` that is inside a writing transaction, if any: on PostgreSQL one with a
/// transaction id, on MySQL one running an `INSERT`.
pub(crate) fn writer(db: &Db, admin: &mut Raw) -> Option<i64> {
    let name = &db.database.name;
    admin.first_id(&match admin {
        Raw::Postgres(_) => format!(
            "SELECT pid::int8 AS id FROM pg_stat_activity \
             WHERE datname = '{name}' AND backend_xid IS NOT NULL"
        ),
        // Every INSERT of the store's sessions after `begin_run` belongs to the apply.
        Raw::Mysql(_) => format!(
            "SELECT CAST(ID AS SIGNED) AS id FROM information_schema.PROCESSLIST \
             WHERE DB = '{name}' AND INFO LIKE 'INSERT%'"
        ),
        Raw::Sqlite(_) => unreachable!("SQLite has no sessions"),
    })
}

/// An apply of `changes` as `run` on a task of its own, once its session has started writing
/// (polled through `writer`, so the test acts while the transaction is open); with the
/// session's id and the admin connection that found it.
pub(crate) async fn writing(
    db: &Db,
    acme: &Tenant,
    run: RunId,
    changes: &Arc<ChangeSet>,
) -> (JoinHandle<Result<(), StoreError>>, i64, Raw) {
    let applying = {
        let (store, changes, acme) = (db.store.clone(), Arc::clone(changes), acme.clone());
        tokio::spawn(async move { succeed(&store, run, &acme, &changes, 1).await })
    };
    let mut admin = db.database.admin();
    let deadline = Instant::now() + Duration::from_secs(60);
    let session = loop {
        if let Some(id) = writer(db, &mut admin) {
            break id;
        }
        if applying.is_finished() {
            panic!("the apply ended before it was caught: {:?}", applying.await);
        }
        assert!(Instant::now() < deadline, "the apply never started writing");
        std::thread::sleep(Duration::from_millis(2));
    };
    (applying, session, admin)
}

/// Starts a large apply, kills its session from another connection as soon as its transaction
/// has written something, and checks that nothing of it remains and that a rerun converges.
async fn a_lost_connection_rolls_back_everything(backend: Backend) {
    let db = fresh(backend);
    let acme = tenant("acme");
    let changes = Arc::new(large_change_set());
    let run = db.begin(&acme, 1).await;
    let before = everything(&db).await;
    let (applying, session, mut admin) = writing(&db, &acme, run, &changes).await;
    admin.execute(&match backend {
        Backend::Postgres => format!("SELECT pg_terminate_backend({session})"),
        _ => format!("KILL {session}"),
    });
    let err = applying
        .await
        .expect("task")
        .expect_err("the connection died");
    assert!(matches!(err, StoreError::Failed(_)), "{err:?}");
    assert_eq!(everything(&db).await, before);

    // The next run converges.
    sync(&db, &acme, &changes, 2).await;
    let state = db.store.load_state(&acme).await.expect("state");
    assert_eq!(state.users.len(), 50_000);
    assert_eq!(state.memberships.len(), 200_000);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_postgres_connection_lost_mid_apply_rolls_back_everything() {
    a_lost_connection_rolls_back_everything(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_mysql_connection_lost_mid_apply_rolls_back_everything() {
    a_lost_connection_rolls_back_everything(Backend::Mysql).await;
}

#[test]
fn the_server_version_names_the_product() {
    for backend in crate::support::backends() {
        let database = TestDatabase::create(backend);
        let store = DieselStore::connect(&crate::support::url(&database)).expect("connect");
        let version = store.server_version().expect("version");
        let product = match backend {
            Backend::Sqlite => "SQLite 3.",
            Backend::Postgres => "PostgreSQL ",
            Backend::Mysql => "MariaDB ",
        };
        assert!(version.starts_with(product), "{backend:?}: {version}");
    }
}
