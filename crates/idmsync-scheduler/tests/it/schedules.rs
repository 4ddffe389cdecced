//! The schedule loop, driven by paused tokio time: ticks start runs, never two at once.

use std::time::Duration;

use idmsync_domain::{Outcome, SyncMode, Trigger};
use idmsync_ports::RunTrigger;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::{schedules, Harness};
use idmsync_test_doubles::FakeSource;

const EVERY_SECOND: &str = "* * * * * *";

/// Runs the harness's schedules in the background until the returned sender fires.
pub(crate) fn spawn_schedules(h: &Harness) -> (oneshot::Sender<()>, JoinHandle<()>) {
    let (stop, stopped) = oneshot::channel::<()>();
    let scheduler = h.scheduler.clone();
    let task = tokio::spawn(async move {
        scheduler
            .run_schedules(async {
                let _ = stopped.await;
            })
            .await;
    });
    (stop, task)
}

pub(crate) async fn shut_down(stop: oneshot::Sender<()>, task: JoinHandle<()>) {
    stop.send(()).expect("the loop is running");
    task.await.expect("the loop ends on shutdown");
}

#[tokio::test(start_paused = true)]
async fn a_per_second_schedule_fires_every_second() {
    let h = Harness::new(FakeSource::new(), schedules(None, Some(EVERY_SECOND)));
    let (stop, task) = spawn_schedules(&h);
    h.store.wait_for_ended(3).await;
    shut_down(stop, task).await;

    let runs = h.store.runs();
    assert!(runs.iter().all(|r| r.trigger == Trigger::Schedule));
    assert!(runs.iter().all(|r| r.outcome == Outcome::Succeeded));
    // The first run is full because nothing has succeeded yet; the engine decides that.
    let modes: Vec<SyncMode> = runs.iter().take(3).map(|r| r.mode).collect();
    assert_eq!(
        modes,
        [
            SyncMode::Full,
            SyncMode::Differential,
            SyncMode::Differential
        ]
    );
    let starts: Vec<i64> = runs
        .iter()
        .take(3)
        .map(|r| r.started_at.timestamp())
        .collect();
    let first = crate::base_time().timestamp();
    assert_eq!(starts, [first + 1, first + 2, first + 3]);
}

#[tokio::test(start_paused = true)]
async fn a_full_run_covers_a_differential_run_due_at_the_same_time() {
    let h = Harness::new(
        FakeSource::new(),
        schedules(Some(EVERY_SECOND), Some(EVERY_SECOND)),
    );
    let (stop, task) = spawn_schedules(&h);
    h.store.wait_for_ended(2).await;
    shut_down(stop, task).await;
    assert!(h.store.runs().iter().all(|r| r.mode == SyncMode::Full));
}

#[tokio::test(start_paused = true)]
async fn a_tick_while_a_run_is_in_progress_is_skipped() {
    let h = Harness::new(FakeSource::gated(), schedules(None, Some(EVERY_SECOND)));
    h.scheduler.start(None, Trigger::Api).await.expect("start");
    let (stop, task) = spawn_schedules(&h);
    // Five ticks pass (in paused time) while the API's run is held at the source.
    tokio::time::sleep(Duration::from_millis(5_500)).await;
    assert_eq!(h.store.runs().len(), 1, "every tick was skipped");

    h.source.release();
    h.store.wait_for(|runs| runs.len() == 2).await;
    let runs = h.store.runs();
    assert_eq!(
        (runs[0].trigger, runs[0].outcome),
        (Trigger::Api, Outcome::Succeeded)
    );
    assert_eq!(runs[1].trigger, Trigger::Schedule);
    shut_down(stop, task).await;
    h.source.release();
    assert!(h.scheduler.drain(Duration::from_secs(1)).await);
}

#[tokio::test(start_paused = true)]
async fn without_schedules_the_loop_only_waits_for_shutdown() {
    let h = Harness::unscheduled(FakeSource::new());
    let (stop, task) = spawn_schedules(&h);
    tokio::time::sleep(Duration::from_secs(3600)).await;
    shut_down(stop, task).await;
    assert!(h.store.runs().is_empty());
}
