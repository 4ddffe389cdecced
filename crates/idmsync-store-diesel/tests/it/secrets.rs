//! Secrets: a password that holds every character ending a part of a URL, written unencoded
//! (`p#?/@%:w`), logs in, and never appears in an error, a printed URL or a log line at any
//! level (the drivers' and the pool's logs included), while the masked URL still names the user
//! and the host; a burst of failed connections is logged once.

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use idmsync_ports::{RunLock, StoreError, SyncStore};
use idmsync_store_diesel::{DatabaseUrl, DieselStore, StoreOptions};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

use crate::support::{
    directory, new_run, succeed, tenant, unique, Backend, TestDatabase, MYSQL, POSTGRES,
};

/// The password.
const CANARY: &str = "p#?/@%:w";

/// Pieces of it that a URL parser splitting at the wrong place would leave in a message.
const PIECES: [&str; 3] = [CANARY, "p#?/", "%:w"];

fn assert_clean(text: &str) {
    let leaks: Vec<&str> = text
        .lines()
        .filter(|line| PIECES.iter().any(|piece| line.contains(piece)))
        .collect();
    assert!(leaks.is_empty(), "the password leaked: {leaks:#?}");
}

/// Held by each test here: one creates users with the canary (and the drivers log that
/// statement) while another captures.
static ALONE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// How many tests are capturing log output now; nothing is formatted while none is.
static CAPTURING: AtomicUsize = AtomicUsize::new(0);
static CAPTURED: Mutex<Vec<u8>> = Mutex::new(Vec::new());

struct Captured;

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        CAPTURED.lock().expect("log").extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Log output at every level, of every thread (the drivers' runtime, the pool's threads) and of
/// the `log` crate (r2d2, tokio-postgres), as the binary's subscriber sees it, while it lives.
struct Capture;

impl Capture {
    fn start() -> Self {
        static INSTALLED: OnceLock<()> = OnceLock::new();
        INSTALLED.get_or_init(|| {
            let layer = tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_writer(|| Captured)
                .with_filter(tracing_subscriber::filter::filter_fn(|_| {
                    CAPTURING.load(Ordering::SeqCst) > 0
                }))
                .with_filter(tracing_subscriber::filter::LevelFilter::TRACE);
            tracing_subscriber::registry()
                .with(layer)
                .try_init()
                .expect("the only subscriber of this test binary");
        });
        CAPTURING.fetch_add(1, Ordering::SeqCst);
        Capture
    }

    /// Everything logged so far (also other tests' lines, which hold no canary either).
    fn text(&self) -> String {
        String::from_utf8_lossy(&CAPTURED.lock().expect("log")).into_owned()
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        CAPTURING.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A user of the server of `database` whose password is the canary, allowed everything on it.
fn create_user(database: &TestDatabase, user: &str) {
    let mut admin = database.admin();
    let name = &database.name;
    match database.backend {
        Backend::Postgres => {
            admin.execute(&format!("CREATE ROLE {user} LOGIN PASSWORD '{CANARY}'"));
            admin.execute(&format!("ALTER DATABASE {name} OWNER TO {user}"));
            database
                .raw()
                .execute(&format!("ALTER SCHEMA public OWNER TO {user}"));
        }
        _ => {
            for host in ["%", "localhost"] {
                admin.execute(&format!(
                    "CREATE USER '{user}'@'{host}' IDENTIFIED BY '{CANARY}'"
                ));
                admin.execute(&format!("GRANT ALL ON {name}.* TO '{user}'@'{host}'"));
            }
        }
    }
}

/// Makes every new connection of `user` fail and ends its sessions, so that the pool has to
/// reconnect and cannot.
fn lock_out(database: &TestDatabase, user: &str) {
    let mut admin = database.admin();
    match database.backend {
        Backend::Postgres => {
            admin.execute(&format!("ALTER ROLE {user} NOLOGIN"));
            admin.execute(&format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{user}'"
            ));
        }
        _ => {
            for host in ["%", "localhost"] {
                admin.execute(&format!("ALTER USER '{user}'@'{host}' ACCOUNT LOCK"));
            }
            while let Some(id) = admin.first_id(&format!(
                "SELECT CAST(ID AS SIGNED) AS id FROM information_schema.PROCESSLIST \
                 WHERE USER = '{user}' LIMIT 1"
            )) {
                let _ = admin.try_execute(&format!("KILL {id}"));
            }
        }
    }
}

/// Drops the test database, then its user (a PostgreSQL role cannot be dropped while it owns
/// the database and its tables).
fn drop_user(database: TestDatabase, user: &str) {
    let mut admin = database.admin();
    let backend = database.backend;
    drop(database);
    match backend {
        Backend::Postgres => admin.execute(&format!("DROP ROLE {user}")),
        _ => {
            for host in ["%", "localhost"] {
                admin.execute(&format!("DROP USER '{user}'@'{host}'"));
            }
        }
    }
}

/// `scheme://user:CANARY@127.0.0.1:port` of `backend`'s test server.
fn server_with_canary(backend: Backend, user: &str) -> String {
    let server = match backend {
        Backend::Postgres => POSTGRES,
        _ => MYSQL,
    };
    let (scheme, host) = server.split_once("://").expect("a URL");
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    format!("{scheme}://{user}:{CANARY}@{host}")
}

fn error_text(err: &StoreError) -> String {
    format!("{err} {err:?}")
}

/// Logs in with the canary, syncs, loses the database and fails to reconnect: no error and no
/// log line holds the password, and the failed reconnections are logged once.
async fn the_canary_never_leaks(backend: Backend) {
    let _alone = ALONE.lock().await;
    let database = TestDatabase::create(backend);
    let user = unique("idm_canary");
    create_user(&database, &user);
    // After the test's own `CREATE USER … 'p#?/@%:w'`, which the driver logs.
    let capture = Capture::start();
    let server = server_with_canary(backend, &user);
    let text = format!("{server}/{}", database.name);
    let url: DatabaseUrl = text.parse().expect("url");
    let masked = format!(
        "{}://{user}:***@127.0.0.1:{}/{}",
        server.split_once("://").expect("scheme").0,
        server.rsplit_once(':').expect("port").1,
        database.name
    );
    assert_eq!(url.to_string(), masked);
    assert_eq!(format!("{url:?}"), format!("DatabaseUrl({masked:?})"));

    // A wrong database and an unreachable port are named without the password.
    let missing: DatabaseUrl = format!("{server}/{}", unique("idmsync_missing"))
        .parse()
        .expect("url");
    let err = DieselStore::connect(&missing).expect_err("no such database");
    assert_clean(&error_text(&err));
    assert!(
        error_text(&err).contains(&format!("{user}:***@127.0.0.1")),
        "{err}"
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let closed: DatabaseUrl = format!(
        "{}://{user}:{CANARY}@127.0.0.1:{port}/idm",
        url_scheme(backend)
    )
    .parse()
    .expect("url");
    let err = DieselStore::connect(&closed).expect_err("nothing listens");
    assert_clean(&error_text(&err));
    assert!(
        error_text(&err).contains(&format!("127.0.0.1:{port}")),
        "{err}"
    );

    // The canary logs in (on MariaDB it is checked; PostgreSQL's test server trusts).
    let options = StoreOptions {
        connect_timeout: Duration::from_secs(1),
        ..StoreOptions::default()
    };
    let store = DieselStore::connect_with(&url, options).expect("the canary logs in");
    store.migrate().expect("migrate");
    let acme = tenant("acme");
    let held = store.try_lock(&acme).await.expect("try").expect("free");
    let run = store.begin_run(&new_run(&acme, 1)).await.expect("begin");
    let changes = directory();
    succeed(&store, run, &acme, &changes, 1)
        .await
        .expect("apply");
    drop(held);

    lock_out(&database, &user);
    let err = store.load_state(&acme).await.expect_err("cannot reconnect");
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    assert_clean(&error_text(&err));
    // r2d2 goes on retrying in the background; give it a few more attempts.
    tokio::time::sleep(Duration::from_secs(2)).await;
    drop(store);

    let log = capture.text();
    assert_clean(&log);
    let failures: Vec<&str> = log
        .lines()
        .filter(|line| line.contains(&masked) && line.contains("cannot connect"))
        .collect();
    assert_eq!(failures.len(), 1, "one line per burst: {failures:#?}");
    drop_user(database, &user);
}

fn url_scheme(backend: Backend) -> &'static str {
    match backend {
        Backend::Postgres => "postgres",
        _ => "mysql",
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_postgres_password_never_leaks() {
    the_canary_never_leaks(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_mysql_password_never_leaks() {
    the_canary_never_leaks(Backend::Mysql).await;
}

/// The password as a query parameter, percent-encoded as a parameter must be, logs in too and
/// is masked.
#[tokio::test(flavor = "multi_thread")]
async fn a_password_parameter_logs_in_and_is_masked() {
    let _alone = ALONE.lock().await;
    let database = TestDatabase::create(Backend::Mysql);
    let user = unique("idm_param");
    create_user(&database, &user);
    let text = format!(
        "mysql://{user}@127.0.0.1:3306/{}?password=p%23%3F%2F%40%25%3Aw",
        database.name
    );
    let url: DatabaseUrl = text.parse().expect("url");
    assert_eq!(
        url.to_string(),
        format!(
            "mysql://{user}@127.0.0.1:3306/{}?password=***",
            database.name
        )
    );
    DieselStore::connect(&url).expect("logs in");
    drop_user(database, &user);
}
