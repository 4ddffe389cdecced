//! The boot sync's retries: a boot sync skipped because another runner held the lock, or one
//! that failed, is retried with backoff until a full run succeeds, and readiness turns ready
//! when one does. Paused tokio time drives the waits.

use std::time::Duration;

use idmsync_domain::{Outcome, Trigger};
use idmsync_ports::Readiness;
use idmsync_scheduler::{Backoff, Schedules};

use crate::schedules::{shut_down, spawn_schedules};
use crate::{base_time, directory_down, succeeded_full_run, Harness};
use idmsync_test_doubles::{FakeSource, MemoryStore};

/// One second, doubling up to four.
const RETRY: Backoff = Backoff {
    first: Duration::from_secs(1),
    max: Duration::from_secs(4),
};

fn harness(source: FakeSource) -> Harness {
    Harness::with_boot_retry(source, Schedules::none(), RETRY)
}

/// Seconds after the test's start at which each boot run started, and how it ended.
fn boot_runs(store: &MemoryStore) -> Vec<(i64, Outcome)> {
    store
        .runs()
        .iter()
        .filter(|r| r.trigger == Trigger::Boot)
        .map(|r| {
            (
                r.started_at.timestamp() - base_time().timestamp(),
                r.outcome,
            )
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_boot_sync_skipped_for_the_lock_is_retried_until_it_succeeds() {
    let h = harness(FakeSource::new());
    h.store.lock_elsewhere();
    let (stop, task) = spawn_schedules(&h);
    h.scheduler.boot().await.expect("boot");
    h.store.wait_for_ended(3).await;
    let not_ready = h.scheduler.ready().await.expect_err("still skipped");
    assert!(not_ready.contains("another runner holds"), "{not_ready}");

    h.store.release_elsewhere();
    h.store
        .wait_for(|runs| runs.iter().any(|r| r.outcome == Outcome::Succeeded))
        .await;
    assert_eq!(h.scheduler.ready().await, Ok(()));
    assert_eq!(
        boot_runs(&h.store),
        [
            (0, Outcome::SkippedLocked),
            (1, Outcome::SkippedLocked),
            (3, Outcome::SkippedLocked),
            (7, Outcome::Succeeded),
        ]
    );
    // Done: no more retries.
    tokio::time::sleep(Duration::from_secs(600)).await;
    assert_eq!(h.store.runs().len(), 4);
    shut_down(stop, task).await;
}

#[tokio::test(start_paused = true)]
async fn a_failed_boot_sync_is_retried_with_backoff_up_to_the_cap() {
    let h = harness(FakeSource::new());
    h.source.set_error(Some(directory_down()));
    let (stop, task) = spawn_schedules(&h);
    h.scheduler.boot().await.expect("the boot run was recorded");
    h.store.wait_for_ended(6).await;
    h.source.set_error(None);
    h.store
        .wait_for(|runs| runs.iter().any(|r| r.outcome == Outcome::Succeeded))
        .await;
    assert_eq!(h.scheduler.ready().await, Ok(()));
    let runs = boot_runs(&h.store);
    let starts: Vec<i64> = runs.iter().map(|(at, _)| *at).collect();
    // Waits of 1, 2, 4, then the cap of 4 seconds.
    assert_eq!(starts[..7], [0, 1, 3, 7, 11, 15, 19]);
    assert!(
        runs[..6].iter().all(|(_, o)| *o == Outcome::Failed),
        "{runs:?}"
    );
    assert_eq!(runs.last().map(|(_, o)| *o), Some(Outcome::Succeeded));
    shut_down(stop, task).await;
}

#[tokio::test(start_paused = true)]
async fn a_full_run_that_succeeded_elsewhere_ends_the_retries() {
    let h = harness(FakeSource::new());
    h.store.lock_elsewhere();
    let (stop, task) = spawn_schedules(&h);
    h.scheduler.boot().await.expect("boot");
    h.store.wait_for_ended(1).await;
    // The node that held the lock finishes its full run.
    h.store.seed_run(succeeded_full_run(Trigger::Boot));
    tokio::time::sleep(Duration::from_secs(600)).await;
    assert_eq!(
        h.store.runs().len(),
        2,
        "the retry found the success and stopped"
    );
    assert_eq!(h.scheduler.ready().await, Ok(()));
    shut_down(stop, task).await;
}

#[tokio::test(start_paused = true)]
async fn no_boot_retry_starts_after_shutdown() {
    let h = harness(FakeSource::new());
    h.store.lock_elsewhere();
    let (stop, task) = spawn_schedules(&h);
    h.scheduler.boot().await.expect("boot");
    h.store.wait_for_ended(1).await;
    shut_down(stop, task).await;
    h.store.release_elsewhere();
    tokio::time::sleep(Duration::from_secs(600)).await;
    assert_eq!(
        boot_runs(&h.store),
        [(0, Outcome::SkippedLocked)],
        "no retry without the loop"
    );
}
