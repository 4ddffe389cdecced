//! The run in progress as `RunTrigger::progress` shows it: from the moment a run is recorded
//! until it ends, held mid-read by the fake source's gate.

use std::time::Duration;

use idmsync_domain::{Outcome, RunId, SyncMode, Trigger};
use idmsync_ports::{RunProgress, RunTrigger};

use crate::{directory_down, Harness};
use idmsync_test_doubles::FakeSource;

const GRACE: Duration = Duration::from_secs(30);

/// What `progress()` shows of `run` in `mode` at `stage`, before the stage has counted anything.
fn at(run: RunId, mode: SyncMode, stage: &str) -> Option<RunProgress> {
    Some(RunProgress {
        run,
        mode,
        stage: stage.to_owned(),
        done: 0,
        total: None,
    })
}

#[tokio::test(start_paused = true)]
async fn a_run_is_shown_from_its_recording_to_its_end() {
    let h = Harness::unscheduled(FakeSource::gated());
    assert_eq!(h.scheduler.progress(), None, "nothing has started");
    let run = h.scheduler.start(None, Trigger::Api).await.expect("start");
    assert_eq!(
        h.scheduler.progress(),
        at(run, SyncMode::Full, "starting"),
        "held at the source's gate before any stage is named"
    );

    h.source.release();
    assert!(h.scheduler.drain(GRACE).await);
    assert_eq!(h.store.runs()[0].outcome, Outcome::Succeeded);
    assert_eq!(h.scheduler.progress(), None);
}

#[tokio::test(start_paused = true)]
async fn the_mode_shown_is_the_one_the_engine_picked() {
    let h = Harness::unscheduled(FakeSource::gated());
    h.source.release();
    h.scheduler.start(None, Trigger::Api).await.expect("start");
    assert!(h.scheduler.drain(GRACE).await);

    let run = h
        .scheduler
        .start(None, Trigger::Manual)
        .await
        .expect("start");
    assert_eq!(
        h.scheduler.progress(),
        at(run, SyncMode::Differential, "starting")
    );
    h.source.release();
    assert!(h.scheduler.drain(GRACE).await);
    assert_eq!(h.scheduler.progress(), None);
}

#[tokio::test(start_paused = true)]
async fn a_user_run_shows_the_stage_the_engine_named() {
    let h = Harness::unscheduled(FakeSource::gated());
    let run = h
        .scheduler
        .start_user("alice", Trigger::Api)
        .await
        .expect("start");
    assert_eq!(
        h.scheduler.progress(),
        at(run, SyncMode::User, "reading the user")
    );

    h.source.release();
    assert!(h.scheduler.drain(GRACE).await);
    assert_eq!(h.scheduler.progress(), None);
}

#[tokio::test(start_paused = true)]
async fn a_failed_boot_run_is_shown_until_it_fails() {
    let h = Harness::unscheduled(FakeSource::gated());
    h.source.set_error(Some(directory_down()));
    h.scheduler.boot().await.expect("the boot run was recorded");
    let run = h.store.runs()[0].id;
    assert_eq!(h.scheduler.progress(), at(run, SyncMode::Full, "starting"));

    h.source.release();
    assert!(h.scheduler.drain(GRACE).await);
    assert_eq!(h.store.runs()[0].outcome, Outcome::Failed);
    assert_eq!(h.scheduler.progress(), None);
}
