//! The live stream: batches of the feed's changes become live runs (only when they change
//! something), wait for the lock, are guarded, and a cut stream reconnects from the stored
//! position. Paused tokio time drives the batches and the pauses.

use std::sync::Arc;
use std::time::Duration;

use idmsync_domain::plan::{Departed, Departures, SourceData};
use idmsync_domain::{Outcome, RunRecord, SourceId, SyncMode, Watermark};
use idmsync_ports::{FeedEvent, LiveState, MetricsExporter, Readiness};
use idmsync_scheduler::LiveSettings;
use idmsync_test_doubles::{group, user, FakeFeed, FakeSource};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::{tenant, Harness};

/// A booted scheduler following a fake feed.
struct Live {
    h: Harness,
    feed: Arc<FakeFeed>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Live {
    async fn start() -> Self {
        let h = Harness::unscheduled(FakeSource::new());
        h.scheduler.boot().await.expect("boot");
        assert!(h.scheduler.drain(Duration::from_secs(30)).await);
        let feed = Arc::new(FakeFeed::new());
        let (stop, stopped) = oneshot::channel::<()>();
        let scheduler = h.scheduler.clone();
        let following = Arc::clone(&feed);
        let task = tokio::spawn(async move {
            let shutdown = async move {
                let _ = stopped.await;
            };
            scheduler
                .run_live(following.as_ref(), LiveSettings::default(), shutdown)
                .await;
        });
        Self {
            h,
            feed,
            stop: Some(stop),
            task,
        }
    }

    fn changes(&self, data: SourceData, position: &str) {
        self.feed.send(FeedEvent::Changes {
            data,
            position: Watermark(position.into()),
        });
    }

    fn live_runs(&self) -> Vec<RunRecord> {
        live_runs(&self.h.store.runs())
    }

    async fn wait_for_live_runs(&self, n: usize) -> Vec<RunRecord> {
        self.h
            .store
            .wait_for(|runs| {
                let live = live_runs(runs);
                live.len() >= n && live.iter().all(|r| r.outcome != Outcome::Running)
            })
            .await;
        self.live_runs()
    }

    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task.await.expect("the live task");
        assert_eq!(self.h.scheduler.live().state, LiveState::Off);
    }
}

fn live_runs(runs: &[RunRecord]) -> Vec<RunRecord> {
    runs.iter()
        .filter(|r| r.mode == SyncMode::Live)
        .cloned()
        .collect()
}

fn nobody_left() -> Departed {
    Departed {
        users: Departures::Listed(vec![]),
        groups: Departures::Listed(vec![]),
    }
}

fn staff(members: &[&str]) -> SourceData {
    SourceData {
        groups: vec![group("staff", members)],
        departed: nobody_left(),
        ..SourceData::default()
    }
}

fn left(login: &str) -> SourceData {
    SourceData {
        departed: Departed {
            users: Departures::Listed(vec![SourceId::new(login).expect("id")]),
            ..nobody_left()
        },
        ..SourceData::default()
    }
}

/// Longer than a batch, so that what was sent before is applied.
async fn a_few_batches() {
    tokio::time::sleep(LiveSettings::default().batch * 4).await;
}

#[tokio::test(start_paused = true)]
async fn changes_become_one_live_run_per_batch_and_no_change_records_nothing() {
    let live = Live::start().await;
    let starts = live.feed.wait_for_connections(1).await;
    let boot = live.h.store.runs()[0].watermark.clone();
    assert_eq!(
        starts,
        [boot],
        "the stream starts where the boot sync ended"
    );
    assert_eq!(live.h.scheduler.live().state, LiveState::Reconnecting);
    live.feed.send(FeedEvent::Following);
    live.changes(staff(&["alice"]), "p1");
    live.changes(staff(&["alice", "bob"]), "p2");
    live.changes(staff(&["bob"]), "p3");
    let runs = live.wait_for_live_runs(1).await;
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(
        (runs[0].outcome, runs[0].watermark.clone()),
        (Outcome::Succeeded, Some(Watermark("p3".into())))
    );
    assert_eq!(live.h.store.edges(&tenant()), ["staff > bob"]);
    let status = live.h.scheduler.live();
    assert_eq!(
        (status.state, status.lag),
        (LiveState::Connected, Duration::ZERO)
    );
    let metrics = live.h.scheduler.render().await.expect("metrics");
    assert!(
        metrics
            .lines()
            .any(|l| l == r#"idmsync_live_state{tenant="default",state="connected"} 1"#),
        "{metrics}"
    );

    live.changes(staff(&["bob"]), "p4");
    a_few_batches().await;
    assert_eq!(
        live.live_runs().len(),
        1,
        "nothing changed, nothing recorded"
    );
    live.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_cut_stream_reconnects_from_the_stored_position() {
    let live = Live::start().await;
    live.feed.wait_for_connections(1).await;
    live.feed.send(FeedEvent::Following);
    live.changes(staff(&["alice"]), "p1");
    live.wait_for_live_runs(1).await;
    live.feed.cut();
    let starts = live.feed.wait_for_connections(2).await;
    assert_eq!(starts[1], Some(Watermark("p1".into())));
    live.feed.send(FeedEvent::Following);
    live.changes(staff(&[]), "p2");
    live.wait_for_live_runs(2).await;
    assert!(live.h.store.edges(&tenant()).is_empty());
    live.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_batch_waits_while_another_runner_holds_the_lock_and_loses_nothing() {
    let live = Live::start().await;
    live.feed.wait_for_connections(1).await;
    live.feed.send(FeedEvent::Following);
    live.h.store.lock_elsewhere();
    live.changes(staff(&["alice"]), "p1");
    a_few_batches().await;
    assert!(live.live_runs().is_empty());
    assert!(live.h.scheduler.live().lag > Duration::ZERO);
    let band = SourceData {
        groups: vec![group("band", &["bob"])],
        ..staff(&["alice"])
    };
    live.changes(band, "p2");
    live.h.store.release_elsewhere();
    let runs = live.wait_for_live_runs(1).await;
    assert_eq!(runs[0].watermark, Some(Watermark("p2".into())));
    assert_eq!(
        live.h.store.edges(&tenant()),
        ["band > bob", "staff > alice"]
    );
    live.stop().await;
}

#[tokio::test(start_paused = true)]
async fn the_guard_stops_an_oversized_batch() {
    let live = Live::start().await;
    live.feed.wait_for_connections(1).await;
    live.feed.send(FeedEvent::Following);
    live.changes(left("bob"), "p1");
    let runs = live.wait_for_live_runs(1).await;
    assert_eq!(
        (runs[0].outcome, runs[0].watermark.clone()),
        (Outcome::Aborted, None)
    );
    assert_eq!(
        live.h.store.edges(&tenant()),
        ["staff > alice", "staff > bob"]
    );
    live.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_member_sent_just_after_its_group_joins_it() {
    let live = Live::start().await;
    live.feed.wait_for_connections(1).await;
    live.feed.send(FeedEvent::Following);
    let band = SourceData {
        groups: vec![group("band", &["alice", "carol"])],
        departed: nobody_left(),
        ..SourceData::default()
    };
    live.changes(band, "p1");
    live.wait_for_live_runs(1).await;
    assert_eq!(
        live.h.store.edges(&tenant()),
        ["band > alice", "staff > alice", "staff > bob"]
    );
    let carol = SourceData {
        users: vec![user("carol")],
        departed: nobody_left(),
        ..SourceData::default()
    };
    live.changes(carol, "p2");
    live.wait_for_live_runs(2).await;
    assert_eq!(
        live.h.store.edges(&tenant()),
        [
            "band > alice",
            "band > carol",
            "staff > alice",
            "staff > bob"
        ]
    );
    live.stop().await;
}
