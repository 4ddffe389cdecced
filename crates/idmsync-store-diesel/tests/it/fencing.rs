//! Fencing: a run that lost its lock cannot commit, whether its PostgreSQL session was
//! terminated, its MariaDB connection killed (before or during its apply), or its SQLite process
//! paused past its lease while another runner took over; and a SQLite lease left behind by a
//! process that no longer runs is taken over at once. The SQLite cases run a real second
//! process: this test binary again, as [`child_process`].

use std::io::{BufRead, BufReader, Lines, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::{Connection, SqliteConnection};
use idmsync_domain::{ChangeSet, Outcome};
use idmsync_ports::{RunLock, RunLogReader, StoreError, SyncStore};
use idmsync_store_diesel::{DieselStore, StoreOptions};

use crate::connection::{large_change_set, writing};
use crate::lock::{eventually_locked, kill_holder};
use crate::support::{
    created_user, directory, ended, everything, fresh, key, new_run, succeed, succeeded, tenant,
    user, Backend, Db,
};

/// What an apply that lost its lock fails with.
const LOST: &str = "no longer holds the run lock";

fn lost(err: &StoreError) -> bool {
    matches!(err, StoreError::Failed(m) if m.contains(LOST))
}

/// A runner begins a run, its lock's session is terminated, another runner takes the lock and
/// begins: the first runner's apply fails and writes nothing, and its end is recorded with the
/// reason; the second runner commits.
async fn a_run_whose_lock_session_ended_cannot_commit(backend: Backend) {
    let db = fresh(backend);
    let acme = tenant("acme");
    let first = db.another_store(StoreOptions::default());
    let first_lock = first.try_lock(&acme).await.expect("try").expect("free");
    let stale = first.begin_run(&new_run(&acme, 1)).await.expect("begin");
    kill_holder(&db);
    let second_lock = eventually_locked(&db.store).await;
    let live = db.store.begin_run(&new_run(&acme, 2)).await.expect("begin");
    let before = everything(&db).await;

    let changes = directory();
    let err = first
        .apply(
            stale,
            &acme,
            &changes,
            &succeeded(&changes, 1),
            &idmsync_ports::NoProgress,
        )
        .await
        .expect_err("its lock is gone");
    assert!(lost(&err), "{err:?}");
    assert_eq!(
        everything(&db).await,
        before,
        "nothing of the stale run landed"
    );
    first
        .finish_run(stale, &ended(Outcome::Failed, &err.to_string(), 1), &[])
        .await
        .expect("its end is recorded");
    let record = db.store.run(stale).await.expect("run").expect("recorded");
    assert_eq!(record.outcome, Outcome::Failed);
    assert!(record.reason.is_some_and(|r| r.contains(LOST)));

    let mine = ChangeSet {
        users: vec![created_user(user(&key("s-live", "live")))],
        ..ChangeSet::default()
    };
    succeed(&db.store, live, &acme, &mine, 2)
        .await
        .expect("the holder commits");
    let state = db.store.load_state(&acme).await.expect("state");
    assert_eq!(state.users.len(), 1);
    drop((first_lock, second_lock));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_postgres_run_whose_lock_session_was_terminated_cannot_commit() {
    a_run_whose_lock_session_ended_cannot_commit(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_mysql_run_whose_lock_connection_was_killed_cannot_commit() {
    a_run_whose_lock_session_ended_cannot_commit(Backend::Mysql).await;
}

/// The lock's session is terminated while the run's (other) connection is in the middle of a
/// large apply: the apply's commit fails and nothing of it lands.
async fn a_lock_lost_during_the_apply_fails_its_commit(backend: Backend) {
    let db = fresh(backend);
    let acme = tenant("acme");
    let held = db.store.try_lock(&acme).await.expect("try").expect("free");
    let run = db.store.begin_run(&new_run(&acme, 1)).await.expect("begin");
    let before = everything(&db).await;
    let changes = Arc::new(large_change_set());
    let (applying, _, _) = writing(&db, &acme, run, &changes).await;
    kill_holder(&db);
    let err = applying
        .await
        .expect("task")
        .expect_err("the lock was lost");
    assert!(lost(&err), "{err:?}");
    assert_eq!(everything(&db).await, before);
    drop(held);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_postgres_lock_terminated_during_the_apply_fails_its_commit() {
    a_lock_lost_during_the_apply_fails_its_commit(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_mysql_lock_killed_during_the_apply_fails_its_commit() {
    a_lock_lost_during_the_apply_fails_its_commit(Backend::Mysql).await;
}

/// A run can only begin under a lock that the store handed out.
#[tokio::test(flavor = "multi_thread")]
async fn a_run_begins_only_under_the_stores_lock() {
    for backend in crate::support::backends() {
        let db = fresh(backend);
        let acme = tenant("acme");
        let err = db
            .store
            .begin_run(&new_run(&acme, 1))
            .await
            .expect_err("no lock");
        assert!(
            matches!(&err, StoreError::Failed(m) if m.contains("does not hold it")),
            "{err:?}"
        );
        // Another store's lock does not count.
        let other = db.another_store(StoreOptions::default());
        let held = other.try_lock(&acme).await.expect("try").expect("free");
        assert!(db.store.begin_run(&new_run(&acme, 1)).await.is_err());
        drop(held);
        assert!(db.store.runs(&acme, None).await.expect("runs").is_empty());
    }
}

/// The variable that makes this test binary the second process of the SQLite tests.
const CHILD: &str = "IDMSYNC_TEST_CHILD";

/// The second process of the SQLite tests, when the test binary runs with `IDMSYNC_TEST_CHILD`
/// set (and `IDMSYNC_TEST_URL`, `IDMSYNC_TEST_LEASE_MS`); otherwise it does nothing. It takes
/// `acme`'s lock and begins a run, says `CHILD READY`, then either waits to be killed (`hold`)
/// or, told `go` on its standard input, applies a change set of its own and says how that went,
/// recording a failure as the engine does (`apply`).
#[test]
fn child_process() {
    let Ok(mode) = std::env::var(CHILD) else {
        return;
    };
    let var = |name: &str| std::env::var(name).unwrap_or_else(|_| panic!("{name}"));
    let lease = Duration::from_millis(var("IDMSYNC_TEST_LEASE_MS").parse().expect("ms"));
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let url = var("IDMSYNC_TEST_URL").parse().expect("url");
        let options = StoreOptions {
            lock_lease: lease,
            ..StoreOptions::default()
        };
        let store = DieselStore::connect_with(&url, options).expect("connect");
        // As the binary does on every start; the parent has migrated already.
        assert_eq!(store.migrate().expect("migrate"), Vec::<String>::new());
        let acme = tenant("acme");
        let _held = store.try_lock(&acme).await.expect("try").expect("free");
        let run = store.begin_run(&new_run(&acme, 1)).await.expect("begin");
        println!("CHILD READY {run}");
        if mode == "hold" {
            loop {
                std::thread::sleep(Duration::from_secs(60));
            }
        }
        let mut go = String::new();
        std::io::stdin().read_line(&mut go).expect("go");
        let changes = child_changes();
        match succeed(&store, run, &acme, &changes, 1).await {
            Ok(()) => println!("CHILD APPLIED ok"),
            Err(e) => {
                println!("CHILD APPLIED error {e}");
                let failed = ended(Outcome::Failed, &e.to_string(), 1);
                store.finish_run(run, &failed, &[]).await.expect("finish");
            }
        }
    });
}

fn child_changes() -> ChangeSet {
    ChangeSet {
        users: vec![created_user(user(&key("s-child", "child")))],
        ..ChangeSet::default()
    }
}

/// The test binary running as [`child_process`].
struct ChildRunner {
    child: Child,
    stdin: ChildStdin,
    lines: Lines<BufReader<ChildStdout>>,
}

impl ChildRunner {
    fn spawn(db: &Db, mode: &str, lease: Duration) -> Self {
        let exe = std::env::current_exe().expect("this test binary");
        let mut child = Command::new(exe)
            .args(["fencing::child_process", "--exact", "--nocapture"])
            .args(["--test-threads", "1"])
            .env(CHILD, mode)
            .env("IDMSYNC_TEST_URL", &db.database.url)
            .env("IDMSYNC_TEST_LEASE_MS", lease.as_millis().to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn the child");
        let stdin = child.stdin.take().expect("stdin");
        let lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        Self {
            child,
            stdin,
            lines,
        }
    }

    /// What follows `prefix` in the child's next line that has it (the test harness may have
    /// started the line with the test's name).
    fn expect(&mut self, prefix: &str) -> String {
        for line in self.lines.by_ref() {
            let line = line.expect("the child's output");
            if let Some((_, rest)) = line.split_once(prefix) {
                return rest.trim().to_string();
            }
        }
        panic!("the child ended without saying {prefix:?}");
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success(), "kill -{signal}");
    }

    /// Stops the child (SIGSTOP), outside any write transaction of its own: stopped inside its
    /// heartbeat's write it would hold SQLite's write lock, which no runner could then take.
    fn pause(&self, db: &Db) {
        let path = db.database.sqlite_path().expect("SQLite");
        let mut raw = SqliteConnection::establish(&path.to_string_lossy()).expect("raw");
        loop {
            self.signal("STOP");
            if raw
                .batch_execute("PRAGMA busy_timeout = 200; BEGIN IMMEDIATE; ROLLBACK")
                .is_ok()
            {
                return;
            }
            self.signal("CONT");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for ChildRunner {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// SQLite: a runner in another process begins a run and is paused (SIGSTOP) past its lease;
/// this process takes the lease over and commits a run; the paused runner, resumed, cannot
/// commit, and records why.
#[tokio::test(flavor = "multi_thread")]
async fn a_sqlite_runner_paused_past_its_lease_cannot_commit_after_a_takeover() {
    let db = fresh(Backend::Sqlite);
    let acme = tenant("acme");
    let lease = Duration::from_millis(600);
    let mut child = ChildRunner::spawn(&db, "apply", lease);
    let stale: i64 = child.expect("CHILD READY").parse().expect("run id");
    assert!(
        db.store.try_lock(&acme).await.expect("try").is_none(),
        "the live child holds the lease"
    );

    child.pause(&db);
    let held = eventually_locked(&db.store).await;
    let live = db.store.begin_run(&new_run(&acme, 2)).await.expect("begin");
    let changes = directory();
    succeed(&db.store, live, &acme, &changes, 2)
        .await
        .expect("the runner that took over commits");

    child.signal("CONT");
    writeln!(child.stdin, "go").expect("go");
    let applied = child.expect("CHILD APPLIED");
    assert!(
        applied.starts_with("error") && applied.contains(LOST),
        "{applied}"
    );
    assert!(child.child.wait().expect("wait").success());
    drop(held);

    let stale = db
        .store
        .run(idmsync_domain::RunId(stale))
        .await
        .expect("run")
        .expect("recorded");
    assert_eq!(stale.outcome, Outcome::Failed);
    assert!(stale.reason.is_some_and(|r| r.contains(LOST)));
    let state = db.store.load_state(&acme).await.expect("state");
    assert!(state
        .users
        .iter()
        .all(|u| u.source_id.as_str() != "s-child"));
    assert_eq!(state.users.len(), changes.users.len());
    let live = db.store.run(live).await.expect("run").expect("recorded");
    assert_eq!(live.outcome, Outcome::Succeeded);
}

/// SQLite: the lease of a runner killed with SIGKILL is taken over at once, long before it
/// would expire, and its run is marked interrupted.
#[tokio::test(flavor = "multi_thread")]
async fn a_sqlite_lease_of_a_killed_process_is_taken_over_at_once() {
    let db = fresh(Backend::Sqlite);
    let acme = tenant("acme");
    let mut child = ChildRunner::spawn(&db, "hold", Duration::from_secs(600));
    let dead: i64 = child.expect("CHILD READY").parse().expect("run id");
    assert!(
        db.store.try_lock(&acme).await.expect("try").is_none(),
        "a live holder keeps its lease"
    );
    child.child.kill().expect("SIGKILL");
    child.child.wait().expect("reaped");

    let started = Instant::now();
    let held = db.store.try_lock(&acme).await.expect("try");
    assert!(held.is_some(), "the dead process's lease is taken at once");
    assert!(started.elapsed() < Duration::from_secs(5));
    db.store.begin_run(&new_run(&acme, 2)).await.expect("begin");
    let dead = db
        .store
        .run(idmsync_domain::RunId(dead))
        .await
        .expect("run")
        .expect("recorded");
    assert_eq!(dead.outcome, Outcome::Interrupted);
}

/// SQLite: a lease whose holder cannot be proven dead (another machine's, an older version's
/// without a process) is waited for until it expires; one of a pid that is free on this boot is
/// taken at once.
#[tokio::test(flavor = "multi_thread")]
async fn a_sqlite_lease_is_taken_early_only_from_a_provably_dead_process() {
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").expect("Linux");
    let namespace = std::fs::read_link("/proc/self/ns/pid").expect("Linux");
    let mut exited = Command::new("true").spawn().expect("spawn");
    let pid = exited.id();
    exited.wait().expect("wait");
    let lease = |boot: &str, holder: &str| {
        format!(
            "INSERT INTO idm_run_locks (tenant, holder, expires_at, pid, boot_id, pid_namespace, \
             process_start) VALUES ('acme', '{holder}', datetime('now', '+1 hour'), {pid}, \
             '{}', '{}', 1)",
            boot.trim(),
            namespace.display()
        )
    };
    let db = fresh(Backend::Sqlite);
    let acme = tenant("acme");
    db.execute(&lease("another-boot", "elsewhere"));
    db.execute(
        "INSERT INTO idm_run_locks (tenant, holder, expires_at) \
         VALUES ('beta', 'old', datetime('now', '+1 hour'))",
    );
    assert!(db.store.try_lock(&acme).await.expect("try").is_none());
    assert!(db
        .store
        .try_lock(&tenant("beta"))
        .await
        .expect("try")
        .is_none());
    db.execute("DELETE FROM idm_run_locks WHERE tenant = 'acme'");
    db.execute(&lease(&boot, "dead"));
    assert!(db.store.try_lock(&acme).await.expect("try").is_some());
}
