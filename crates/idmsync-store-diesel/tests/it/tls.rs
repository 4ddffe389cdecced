//! TLS to the database servers: what each `sslmode` / `ssl_mode` does against the local
//! PostgreSQL (which serves TLS with Debian's self-signed "snakeoil" certificate) and the local
//! MariaDB (which serves none), seen from the server's side.

use idmsync_ports::StoreError;
use idmsync_store_diesel::{DatabaseUrl, DieselStore};

use crate::support::{Backend, TestDatabase};

/// Opens a store on `db` with `params` added to its URL, and has it run one query.
fn store_with(db: &TestDatabase, params: &str) -> Result<DieselStore, StoreError> {
    let url: DatabaseUrl = format!("{}?{params}", db.url).parse().expect("url");
    let store = DieselStore::connect(&url)?;
    store.pending_migrations()?;
    Ok(store)
}

/// How many of the sessions on `db` (other than the asking one) use TLS, and how many not.
fn sessions_by_tls(db: &TestDatabase) -> (i64, i64) {
    let mut admin = db.admin();
    let count = |ssl: bool| {
        format!(
            "SELECT COUNT(*) FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) \
             WHERE datname = '{}' AND ssl = {ssl}",
            db.name
        )
    };
    (admin.count(&count(true)), admin.count(&count(false)))
}

fn assert_server_serves_tls(db: &TestDatabase) {
    assert_eq!(
        db.admin()
            .first_id("SELECT (current_setting('ssl') = 'on')::int::int8 AS id"),
        Some(1),
        "the local PostgreSQL must serve TLS (ssl = on, Debian's default) for these tests"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_require_encrypts_without_verifying() {
    let db = TestDatabase::create(Backend::Postgres);
    assert_server_serves_tls(&db);
    let _store = store_with(&db, "sslmode=require").expect("connects");
    let (tls, clear) = sessions_by_tls(&db);
    assert!(tls >= 1, "the store's session uses TLS");
    assert_eq!(clear, 0, "no session in clear");
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_disable_stays_in_clear() {
    let db = TestDatabase::create(Backend::Postgres);
    assert_server_serves_tls(&db);
    let _store = store_with(&db, "sslmode=disable").expect("connects");
    let (tls, clear) = sessions_by_tls(&db);
    assert_eq!(tls, 0);
    assert!(clear >= 1);
}

/// The certificate the local PostgreSQL serves (Debian's default), issued to the machine's
/// host name, not to the 127.0.0.1 the tests connect to.
const SNAKEOIL: &str = "/etc/ssl/certs/ssl-cert-snakeoil.pem";

#[tokio::test(flavor = "multi_thread")]
async fn postgres_verify_modes_check_the_chain_and_the_name() {
    let db = TestDatabase::create(Backend::Postgres);
    assert_server_serves_tls(&db);
    let refused = |params: &str| {
        let err = store_with(&db, params).expect_err(params);
        assert!(
            matches!(err, StoreError::Unavailable(_)),
            "{params}: {err:?}"
        );
        err.to_string()
    };
    // A CA file that did not issue the server's certificate.
    let other = tempfile::tempdir().expect("temp dir");
    let other_ca = other.path().join("other-ca.pem");
    let ca = rcgen::generate_simple_self_signed(vec!["other-ca".to_string()]).expect("ca");
    std::fs::write(&other_ca, ca.cert.pem()).expect("write ca");
    for mode in ["verify-ca", "verify-full", "require"] {
        let message = refused(&format!(
            "sslmode={mode}&sslrootcert={}",
            other_ca.display()
        ));
        assert!(message.contains("UnknownIssuer"), "{mode}: {message}");
    }
    // The certificate's own file as the root: the chain holds, the name does not.
    store_with(&db, &format!("sslmode=verify-ca&sslrootcert={SNAKEOIL}"))
        .expect("verify-ca ignores the host name");
    let message = refused(&format!("sslmode=verify-full&sslrootcert={SNAKEOIL}"));
    assert!(message.contains("not valid for name"), "{message}");
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_names_a_bad_sslmode_or_ca_file() {
    let db = TestDatabase::create(Backend::Postgres);
    let err = store_with(&db, "sslmode=verify-everything").expect_err("refused");
    assert!(
        err.to_string().contains("sslmode `verify-everything`"),
        "{err}"
    );
    let err = store_with(&db, "sslmode=verify-full&sslrootcert=/nonexistent/ca.pem")
        .expect_err("refused");
    assert!(err.to_string().contains("/nonexistent/ca.pem"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn mysql_required_never_falls_back_to_clear_text() {
    let db = TestDatabase::create(Backend::Mysql);
    assert_eq!(
        db.admin()
            .first_id("SELECT CAST(@@have_ssl = 'YES' AS SIGNED) AS id"),
        Some(0),
        "these tests expect the local MariaDB without TLS"
    );
    for mode in ["required", "verify_ca", "verify_identity"] {
        let err = store_with(&db, &format!("ssl_mode={mode}"))
            .err()
            .unwrap_or_else(|| panic!("{mode} connected in clear text"));
        assert!(matches!(err, StoreError::Unavailable(_)), "{mode}: {err:?}");
    }
    store_with(&db, "ssl_mode=preferred").expect("preferred falls back to clear text");
    let err = store_with(&db, "ssl_mode=sometimes").expect_err("refused");
    assert!(err.to_string().contains("ssl_mode `sometimes`"), "{err}");
}
