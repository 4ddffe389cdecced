//! The live stream of `serve` (`sync.live`): follows the source's [`ChangeFeed`] from the last
//! stored position and applies what it sends in batches, at most one per
//! [`LiveSettings::batch`], each through [`SyncService::live`] (the tenant's lock, the guard,
//! one transaction; recorded only when it changes something). A batch waits while a run of this
//! process is in progress, or another process holds the lock, and goes with the next try: no
//! change is dropped. A stream that breaks off is applied as far as it came and followed again
//! from the stored position, after a pause that doubles up to [`LiveSettings::reconnect`]'s
//! maximum.

use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::Duration;

use idmsync_domain::plan::{Departed, Departures, SourceData};
use idmsync_domain::{SourceGroup, SourceId, SyncMode, Trigger, Watermark};
use idmsync_ports::{ChangeFeed, FeedEvent, LiveState, LiveStatus, SourceError};
use idmsync_sync::{LiveReport, SyncError, SyncService};
use tokio::time::{Instant, MissedTickBehavior};
use tracing::{debug, info, warn};

use crate::scheduler::{lock, Activity, Boot, Ended, Scheduler};

/// How the live stream batches and reconnects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiveSettings {
    /// At most one batch is applied per this long (`sync.live_batch_ms`).
    pub batch: Duration,
    /// The pauses before reconnecting.
    pub reconnect: crate::Backoff,
}

impl Default for LiveSettings {
    /// Half a second; reconnecting after one second, doubling up to thirty.
    fn default() -> Self {
        Self {
            batch: Duration::from_millis(500),
            reconnect: crate::Backoff {
                first: Duration::from_secs(1),
                max: Duration::from_secs(30),
            },
        }
    }
}

/// What the scheduler knows of its live stream, for readiness and the metrics.
#[derive(Debug, Default)]
pub(crate) struct LiveTrack {
    state: LiveState,
    /// When the oldest change not yet applied arrived.
    oldest: Option<Instant>,
    /// When the stream last sent anything.
    last_message: Option<Instant>,
}

/// Changes received and not yet applied.
#[derive(Default)]
struct Pending {
    batch: Option<(SourceData, Watermark)>,
    /// Groups of the last batch with a member unknown then, planned again once with the next
    /// batch (the stream may send a member just after its group, even on the other search).
    again: Vec<SourceGroup>,
}

impl Pending {
    /// Adds `later` (with the position after it) to what is pending.
    fn add(&mut self, later: SourceData, position: Watermark) {
        self.batch = Some(match self.batch.take() {
            None => (later, position),
            Some((mut data, _)) => {
                data.absorb(later);
                (data, position)
            }
        });
    }

    /// Puts back a batch that could not be applied, before whatever arrived meanwhile.
    fn put_back(&mut self, mut data: SourceData, position: Watermark) {
        self.batch = Some(match self.batch.take() {
            None => (data, position),
            Some((later, newer)) => {
                data.absorb(later);
                (data, newer)
            }
        });
    }
}

/// The run slot while a live batch is applied: freed when dropped, also if the batch panics.
struct LiveSlot<'a>(&'a Scheduler);

impl Drop for LiveSlot<'_> {
    fn drop(&mut self) {
        self.0
            .inner
            .state
            .send_modify(|s| s.activity = Activity::Idle);
    }
}

/// How one connection of the stream ended.
enum Followed {
    /// Shutting down.
    Stopped,
    /// The stream broke off (or could not start); whether it had been following.
    Ended(Result<(), String>, bool),
}

impl Scheduler {
    /// Follows `feed` until `shutdown` resolves, once the boot sync is done (the stream
    /// continues from a run's position). Changes received before the shutdown are applied
    /// first.
    pub async fn run_live(
        &self,
        feed: &dyn ChangeFeed,
        settings: LiveSettings,
        shutdown: impl Future<Output = ()>,
    ) {
        tokio::pin!(shutdown);
        let mut failures = 0;
        loop {
            self.set_live(LiveState::Reconnecting);
            let mut state = self.inner.state.subscribe();
            tokio::select! {
                () = &mut shutdown => break,
                done = state.wait_for(|s| s.boot == Boot::Done) => if done.is_err() { break },
            }
            let Followed::Ended(end, following) =
                self.follow(feed, settings, shutdown.as_mut()).await
            else {
                break;
            };
            if following {
                failures = 0;
            }
            let reason = end.err().unwrap_or_else(|| "the source ended it".into());
            let wait = settings.reconnect.delay(failures);
            failures = failures.saturating_add(1);
            warn!(%reason, ?wait, "the live stream broke off; reconnecting after a pause");
            self.set_live(LiveState::Reconnecting);
            tokio::select! {
                () = &mut shutdown => break,
                () = tokio::time::sleep(wait) => {}
            }
        }
        self.set_live(LiveState::Off);
    }

    /// One connection of the stream: from the stored position until it ends.
    async fn follow(
        &self,
        feed: &dyn ChangeFeed,
        settings: LiveSettings,
        mut shutdown: Pin<&mut impl Future<Output = ()>>,
    ) -> Followed {
        let service = &self.inner.ports.service;
        let since = match service.position().await {
            Ok(since) => since,
            Err(e) => return Followed::Ended(Err(format!("reading the position: {e}")), false),
        };
        let pending = Mutex::new(Pending::default());
        let following = Mutex::new(false);
        let sink = |event| {
            let now = Instant::now();
            let mut track = lock(&self.inner.live);
            track.last_message = Some(now);
            match event {
                FeedEvent::Following => {
                    info!("the live stream follows the source");
                    *lock(&following) = true;
                    track.state = LiveState::Connected;
                }
                FeedEvent::Changes { data, position } => {
                    track.oldest.get_or_insert(now);
                    lock(&pending).add(data, position);
                }
            }
        };
        let stream = feed.follow(since, &sink);
        tokio::pin!(stream);
        let mut tick = tokio::time::interval(settings.batch);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let end = loop {
            tokio::select! {
                biased;
                () = shutdown.as_mut() => {
                    self.apply(service, &pending).await;
                    return Followed::Stopped;
                }
                end = &mut stream => break end,
                _ = tick.tick() => self.apply(service, &pending).await,
            }
        };
        // What arrived before the break is valid: apply it (or leave it to be sent again from
        // the stored position).
        self.apply(service, &pending).await;
        lock(&self.inner.live).oldest = None;
        let following = *lock(&following);
        Followed::Ended(end.map_err(|e: SourceError| e.to_string()), following)
    }

    /// Applies what is pending, unless a run of this process or another holds the tenant:
    /// then it stays pending for the next tick.
    async fn apply(&self, service: &SyncService, pending: &Mutex<Pending>) {
        let (data, position, sent) = {
            let mut pending = lock(pending);
            let Some((later, position)) = pending.batch.take() else {
                return;
            };
            let sent: Vec<SourceId> = later.groups.iter().map(|g| g.source_id.clone()).collect();
            let mut data = SourceData {
                groups: std::mem::take(&mut pending.again),
                departed: Departed {
                    users: Departures::Listed(Vec::new()),
                    groups: Departures::Listed(Vec::new()),
                },
                ..SourceData::default()
            };
            data.absorb(later);
            (data, position, sent)
        };
        // A group planned again is not carried a second time: its member may never come.
        let again = |mut groups: Vec<SourceGroup>| {
            groups.retain(|g| sent.contains(&g.source_id));
            lock(pending).again = groups;
        };
        let claimed = self.inner.state.send_if_modified(|s| {
            let idle = s.activity == Activity::Idle;
            if idle {
                s.activity = Activity::Live;
            }
            idle
        });
        if !claimed {
            debug!("a run is in progress: the live batch waits");
            lock(pending).put_back(data, position);
            return;
        }
        let slot = LiveSlot(self);
        let begun = Instant::now();
        let result = service.live(data.clone(), position.clone()).await;
        drop(slot);
        let report = match result {
            Ok((LiveReport::Unchanged, groups)) => {
                again(groups);
                None
            }
            Ok((LiveReport::Locked, _)) => {
                debug!("another runner holds the tenant's lock: the live batch waits");
                lock(pending).put_back(data, position);
                return;
            }
            Err(SyncError::Store(e)) => {
                warn!(error = %e, "the live batch could not be applied; it is tried again");
                lock(pending).put_back(data, position);
                return;
            }
            Ok((LiveReport::Run(report), groups)) => {
                again(groups);
                Some(Ok(*report))
            }
            Err(e) => Some(Err(e)),
        };
        let mut track = lock(&self.inner.live);
        track.oldest = lock(pending).batch.as_ref().map(|_| Instant::now());
        drop(track);
        if let Some(result) = report {
            let recorded = match &result {
                Err(SyncError::Source { run, .. }) => *run,
                _ => None,
            };
            let mut ended = Ended::from_result(result, recorded);
            ended.mode = Some(SyncMode::Live);
            self.finished(&ended, Trigger::Live, begun.elapsed());
        }
    }

    fn set_live(&self, state: LiveState) {
        lock(&self.inner.live).state = state;
    }

    /// The live stream's state, lag and silence.
    pub(crate) fn live_status(&self) -> LiveStatus {
        let track = lock(&self.inner.live);
        let now = Instant::now();
        LiveStatus {
            state: track.state,
            lag: track.oldest.map_or(Duration::ZERO, |t| now - t),
            since_message: track.last_message.map(|t| now - t),
        }
    }
}
