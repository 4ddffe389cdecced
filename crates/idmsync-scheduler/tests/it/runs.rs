//! Runs on boot and on request: ids, refusals, dry runs, draining and readiness.

use std::time::Duration;

use idmsync_domain::{Outcome, RunId, SyncMode, Trigger};
use idmsync_ports::{Readiness, RunTrigger, TriggerError};

use crate::{directory_down, succeeded_full_run, tenant, Harness};
use idmsync_test_doubles::{FakeSource, MemoryStore};

const GRACE: Duration = Duration::from_secs(30);

fn outcomes(store: &MemoryStore) -> Vec<(SyncMode, Trigger, Outcome)> {
    store
        .runs()
        .iter()
        .map(|r| (r.mode, r.trigger, r.outcome))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn boot_starts_a_full_boot_run_when_none_has_succeeded() {
    let h = Harness::unscheduled(FakeSource::gated());
    h.scheduler.boot().await.expect("boot");
    assert_eq!(
        outcomes(&h.store),
        [(SyncMode::Full, Trigger::Boot, Outcome::Running)]
    );
    let not_ready = h.scheduler.ready().await.expect_err("boot run in progress");
    assert_eq!(
        not_ready,
        "the boot sync (the first full run) is in progress"
    );

    h.source.release();
    assert!(h.scheduler.drain(GRACE).await);
    assert_eq!(
        outcomes(&h.store),
        [(SyncMode::Full, Trigger::Boot, Outcome::Succeeded)]
    );
    assert_eq!(h.scheduler.ready().await, Ok(()));
}

#[tokio::test(start_paused = true)]
async fn boot_only_marks_ready_when_a_full_run_has_succeeded() {
    let h = Harness::unscheduled(FakeSource::gated());
    assert_eq!(
        h.scheduler.ready().await,
        Err("the boot sync has not started".into())
    );
    h.store.seed_run(succeeded_full_run(Trigger::Manual));
    h.scheduler.boot().await.expect("boot");
    assert_eq!(h.store.runs().len(), 1, "no run started");
    assert_eq!(h.scheduler.ready().await, Ok(()));
}

#[tokio::test(start_paused = true)]
async fn start_returns_the_recorded_id_and_refuses_a_second_run() {
    let h = Harness::unscheduled(FakeSource::gated());
    let first = h.scheduler.start(None, Trigger::Api).await.expect("start");
    assert_eq!(first, RunId(1));
    assert_eq!(h.store.runs()[0].outcome, Outcome::Running);

    let second = h.scheduler.start(Some(SyncMode::Full), Trigger::Api).await;
    assert_eq!(second, Err(TriggerError::AlreadyRunning(RunId(1))));
    assert_eq!(h.store.runs().len(), 1, "the refused run was not recorded");

    h.source.release();
    assert!(h.scheduler.drain(GRACE).await);
    h.source.release();
    let third = h.scheduler.start(None, Trigger::Api).await.expect("start");
    assert_eq!(third, RunId(2));
    assert!(h.scheduler.drain(GRACE).await);
    assert_eq!(
        outcomes(&h.store),
        [
            (SyncMode::Full, Trigger::Api, Outcome::Succeeded),
            (SyncMode::Differential, Trigger::Api, Outcome::Succeeded),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_run_skipped_for_the_lock_returns_its_id() {
    let h = Harness::unscheduled(FakeSource::new());
    h.store.lock_elsewhere();
    let run = h.scheduler.start(None, Trigger::Api).await.expect("start");
    assert_eq!(run, RunId(1));
    assert_eq!(
        outcomes(&h.store),
        [(SyncMode::Full, Trigger::Api, Outcome::SkippedLocked)]
    );
}

#[tokio::test(start_paused = true)]
async fn a_failure_before_the_run_is_recorded_fails_the_start() {
    let h = Harness::unscheduled(FakeSource::new());
    h.store.set_down(true);
    let error = h.scheduler.start(None, Trigger::Api).await;
    assert_eq!(
        error,
        Err(TriggerError::Failed(
            "database unavailable: test database is down".into()
        ))
    );
    assert!(h.scheduler.drain(GRACE).await, "the slot is free again");
}

#[tokio::test(start_paused = true)]
async fn dry_run_reports_the_plan_and_writes_nothing() {
    let h = Harness::unscheduled(FakeSource::new());
    let report = h.scheduler.dry_run(None).await.expect("dry run");
    assert_eq!(report.mode, SyncMode::Full);
    assert_eq!(report.counts.users_created, 2);
    assert_eq!(report.counts.memberships_added, 2);
    assert_eq!(report.guard, None);
    let lines: Vec<String> = report.lines.iter().map(ToString::to_string).collect();
    assert!(
        lines.contains(&"created-user: alice (First alice)".to_string()),
        "{lines:?}"
    );
    assert!(h.store.runs().is_empty());
    let totals = idmsync_ports::DirectoryReader::totals(&*h.store, &tenant())
        .await
        .expect("totals");
    assert_eq!(totals, idmsync_ports::Totals::default());
}

#[tokio::test(start_paused = true)]
async fn drain_waits_for_the_running_run_up_to_the_grace_period() {
    let h = Harness::unscheduled(FakeSource::gated());
    assert!(h.scheduler.drain(GRACE).await, "nothing to wait for");
    h.scheduler.start(None, Trigger::Api).await.expect("start");
    assert!(
        !h.scheduler.drain(GRACE).await,
        "the run is held at the gate"
    );

    h.source.release();
    assert!(h.scheduler.drain(GRACE).await);
    assert_eq!(h.store.runs()[0].outcome, Outcome::Succeeded);
}

#[tokio::test(start_paused = true)]
async fn readiness_names_the_database_and_the_boot_sync() {
    let h = Harness::unscheduled(FakeSource::new());
    h.store.set_down(true);
    assert_eq!(
        h.scheduler.ready().await,
        Err("database unavailable: test database is down; the boot sync has not started".into())
    );
    let boot = h.scheduler.boot().await;
    assert!(
        matches!(&boot, Err(TriggerError::Failed(m)) if m.contains("could not read the run log")),
        "{boot:?}"
    );
    h.store.set_down(false);
    let not_ready = h.scheduler.ready().await.expect_err("boot failed");
    assert!(
        not_ready.starts_with("the boot sync failed: could not read the run log"),
        "{not_ready}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_failed_boot_run_keeps_the_service_unready_until_a_full_run_succeeds() {
    let h = Harness::unscheduled(FakeSource::new());
    h.source.set_error(Some(directory_down()));
    h.scheduler.boot().await.expect("the boot run was recorded");
    assert!(h.scheduler.drain(GRACE).await);
    assert_eq!(
        outcomes(&h.store),
        [(SyncMode::Full, Trigger::Boot, Outcome::Failed)]
    );
    assert_eq!(
        h.scheduler.ready().await,
        Err(
            "the boot sync failed: run 1: source unavailable: the test directory is down; \
             the next successful full run makes the service ready"
                .into()
        )
    );

    h.source.set_error(None);
    h.scheduler
        .start(Some(SyncMode::Full), Trigger::Schedule)
        .await
        .expect("start");
    assert!(h.scheduler.drain(GRACE).await);
    assert_eq!(h.scheduler.ready().await, Ok(()));
}

#[tokio::test(start_paused = true)]
async fn readiness_sees_a_full_run_that_another_node_finished() {
    let h = Harness::unscheduled(FakeSource::new());
    h.store.lock_elsewhere();
    h.scheduler.boot().await.expect("boot");
    assert!(h.scheduler.drain(GRACE).await);
    let not_ready = h.scheduler.ready().await.expect_err("skipped");
    assert!(not_ready.contains("another runner holds"), "{not_ready}");

    h.store.seed_run(succeeded_full_run(Trigger::Manual));
    assert_eq!(h.scheduler.ready().await, Ok(()));
}
