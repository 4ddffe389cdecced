//! [`Scheduler`]: owns the runs of a `serve` process. Starts them on boot, on schedule and on
//! request, one at a time, retries a boot sync that did not succeed, and reports readiness and
//! metrics from what it saw and the run log.

use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use idmsync_domain::{Counts, Outcome, RunId, RunRecord, SyncMode, Tenant, Trigger};
use idmsync_ports::{
    Clock, DirectoryReader, DryRunReport, LiveStatus, MetricsExporter, NoProgress, Page, Progress,
    Readiness, RunLogReader, RunProgress, RunTrigger, StoreError, TriggerError,
};
use idmsync_sync::{RunReport, RunRequest, SyncError, SyncService};
use tokio::sync::{oneshot, watch};
use tracing::{info, info_span, warn, Instrument, Span};

use crate::live::LiveTrack;
use crate::metrics::{Exposition, FinishedRun, RunMetrics};
use crate::progress::Tracker;
use crate::schedule::Schedules;

/// The longest the schedule loop sleeps before looking at the clock again, so that a wall
/// clock that jumps (NTP, a suspended VM) delays a scheduled run by at most this much.
const MAX_NAP: Duration = Duration::from_secs(60);

/// Runs read per query when looking for the newest successful runs in the run log.
const RUN_LOG_PAGE: u64 = 100;

/// Scheduled modes in order of precedence: when both are due at once, the full run covers the
/// differential one.
const MODES: [SyncMode; 2] = [SyncMode::Full, SyncMode::Differential];

/// How a boot sync that did not succeed (another runner held the lock, or it failed) is retried,
/// and how a live stream that broke off reconnects: after `first`, then after twice the previous
/// wait each time, up to `max`, until a full run succeeds (here or on another node), or the
/// stream follows again.
///
/// Without boot retries a service whose boot sync was skipped would stay unready until the next
/// scheduled full run, or for ever without one: on a fresh database there is not even an
/// administrator yet who could start a run through the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The wait before the first retry.
    pub first: Duration,
    /// The longest wait between two retries.
    pub max: Duration,
}

impl Default for Backoff {
    /// One second, doubling up to five minutes.
    fn default() -> Self {
        Self {
            first: Duration::from_secs(1),
            max: Duration::from_secs(300),
        }
    }
}

impl Backoff {
    /// The wait before retry number `attempt` (0 for the first).
    pub(crate) fn delay(&self, attempt: u32) -> Duration {
        let factor = 2u32.checked_pow(attempt).unwrap_or(u32::MAX);
        self.first
            .checked_mul(factor)
            .unwrap_or(self.max)
            .min(self.max)
    }
}

/// What a [`Scheduler`] drives; the binary fills it from its adapters, like
/// [`idmsync_sync::SyncPorts`].
pub struct SchedulerPorts {
    /// Performs the runs.
    pub service: Arc<SyncService>,
    /// Tells whether a full run has ever succeeded, and when runs last succeeded.
    pub runs: Arc<dyn RunLogReader>,
    /// Counts users and groups for the metrics.
    pub directory: Arc<dyn DirectoryReader>,
    /// Whether the database is reachable and its schema current; half of readiness.
    pub store_ping: Arc<dyn Readiness>,
    /// When schedules are due. Production passes [`idmsync_ports::SystemClock`].
    pub clock: Arc<dyn Clock>,
}

/// Owns the runs of a `serve` process. Cheap to clone: the API, the schedule loop and the boot
/// sync share one, so they share the rule that runs never overlap in a process.
#[derive(Clone)]
pub struct Scheduler {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) ports: SchedulerPorts,
    tenant: Tenant,
    schedules: Schedules,
    boot_retry: Backoff,
    /// Run slot and boot status; a watch channel so `drain` and a waiting `start` can await a
    /// change instead of polling.
    pub(crate) state: watch::Sender<State>,
    pub(crate) metrics: Mutex<RunMetrics>,
    /// The run in progress and how far it has come, for [`RunTrigger::progress`].
    progress: Tracker,
    /// The live stream's state, when `sync.live` is on.
    pub(crate) live: Mutex<LiveTrack>,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct State {
    pub(crate) activity: Activity,
    pub(crate) boot: Boot,
    retry: Retry,
}

/// The boot sync's retries: how many failed in a row, and when the next one is due.
#[derive(Debug, Clone, Copy, Default)]
struct Retry {
    failures: u32,
    due: Option<tokio::time::Instant>,
}

/// The process's single run slot.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum Activity {
    #[default]
    Idle,
    /// Claimed; the run is not recorded yet (a store round trip).
    Starting,
    /// Recorded under this id and in progress.
    Running(RunId),
    /// A live batch is being applied (short: a run waits for it rather than being refused).
    Live,
}

/// Whether the service has had its first full sync.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) enum Boot {
    /// `boot` has not been called yet.
    #[default]
    Unchecked,
    /// The boot run is in progress.
    Pending,
    /// A full run has succeeded, here or before.
    Done,
    /// The boot run failed, for this reason.
    Failed(String),
}

/// How a run ended, gathered from the engine's report or error.
pub(crate) struct Ended {
    pub(crate) run: Option<RunId>,
    pub(crate) mode: Option<SyncMode>,
    pub(crate) outcome: Outcome,
    pub(crate) reason: Option<String>,
    applied: Option<Counts>,
}

impl Ended {
    pub(crate) fn from_result(
        result: Result<RunReport, SyncError>,
        recorded: Option<RunId>,
    ) -> Self {
        let ended = |run, outcome, reason: String| Self {
            run,
            mode: None,
            outcome,
            reason: Some(reason),
            applied: None,
        };
        match result {
            Ok(RunReport::Applied {
                run, mode, counts, ..
            }) => Self {
                run: Some(run),
                mode: Some(mode),
                outcome: Outcome::Succeeded,
                reason: None,
                applied: Some(counts),
            },
            Ok(RunReport::Aborted { run, reason, .. }) => {
                ended(Some(run), Outcome::Aborted, reason)
            }
            Ok(RunReport::Skipped { run }) => ended(
                Some(run),
                Outcome::SkippedLocked,
                "another runner holds this tenant's lock".into(),
            ),
            Ok(RunReport::DryRun { .. }) => ended(
                recorded,
                Outcome::Failed,
                "the engine answered a run with a dry run".into(),
            ),
            Err(e) => ended(recorded, Outcome::Failed, e.to_string()),
        }
    }
}

/// A claimed run slot, handed to the engine as its progress reporter: it learns the run's id
/// when the engine records the run, tells the waiting `start` call, keeps what
/// [`RunTrigger::progress`] shows, and frees the slot when dropped (also if the run's task
/// panics).
struct ActiveRun {
    inner: Arc<Inner>,
    trigger: Trigger,
    span: Span,
    reply: Mutex<Option<oneshot::Sender<Result<RunId, TriggerError>>>>,
}

impl ActiveRun {
    /// Answers the `start` call, once; later answers are dropped.
    fn reply(&self, answer: Result<RunId, TriggerError>) {
        if let Some(tx) = lock(&self.reply).take() {
            // The caller may have gone away (a dropped HTTP request); the run goes on.
            let _ = tx.send(answer);
        }
    }

    /// The id the engine recorded the run under, if it got that far.
    fn recorded(&self) -> Option<RunId> {
        match self.inner.state.borrow().activity {
            Activity::Running(run) => Some(run),
            Activity::Idle | Activity::Starting | Activity::Live => None,
        }
    }
}

impl Progress for ActiveRun {
    fn stage(&self, name: &str, total: Option<u64>) {
        self.inner.progress.stage(name, total);
    }

    fn advance(&self, n: u64) {
        self.inner.progress.advance(n);
    }

    /// Shows the run before answering `start`, so that whoever gets the id finds it in
    /// progress.
    fn started(&self, run: RunId, mode: SyncMode) {
        self.inner.progress.started(run, mode);
        self.span.record("run", run.0);
        self.inner
            .state
            .send_modify(|s| s.activity = Activity::Running(run));
        info!(%run, trigger = self.trigger.as_str(), "run started");
        self.reply(Ok(run));
    }
}

impl Drop for ActiveRun {
    /// Clears the run's progress before freeing the slot, so that whoever sees the slot idle
    /// sees no run in progress.
    fn drop(&mut self) {
        self.inner.progress.ended();
        self.inner
            .state
            .send_modify(|s| s.activity = Activity::Idle);
    }
}

/// Locks a mutex, ignoring poisoning: the data behind it (counters, a reply channel) stays
/// consistent even if a holder panicked.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Scheduler {
    /// A scheduler for `tenant`'s runs, retrying the boot sync as [`Backoff::default`] says.
    /// Validate the schedules first with [`crate::ScheduleSettings::validate`].
    pub fn new(ports: SchedulerPorts, tenant: Tenant, schedules: Schedules) -> Self {
        Self::with_boot_retry(ports, tenant, schedules, Backoff::default())
    }

    /// A scheduler whose boot sync is retried as `boot_retry` says.
    pub fn with_boot_retry(
        ports: SchedulerPorts,
        tenant: Tenant,
        schedules: Schedules,
        boot_retry: Backoff,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                ports,
                tenant,
                schedules,
                boot_retry,
                state: watch::Sender::new(State::default()),
                metrics: Mutex::new(RunMetrics::default()),
                progress: Tracker::default(),
                live: Mutex::new(LiveTrack::default()),
            }),
        }
    }

    /// The sync on boot: if this tenant has never had a successful full run, starts one
    /// (trigger `boot`) in the background; otherwise marks the boot sync done. Returns once the
    /// run is recorded, not when it ends; readiness reports how it ended.
    ///
    /// A boot sync that does not succeed (skipped because another runner holds the lock,
    /// failed, or not started) is retried with backoff ([`Backoff`]) by
    /// [`Scheduler::run_schedules`], until a full run succeeds here or elsewhere.
    ///
    /// # Errors
    /// `Failed` when the run log cannot be read or the run cannot be started. Readiness then
    /// says why; the caller should log it and keep serving: the boot sync is retried.
    pub async fn boot(&self) -> Result<(), TriggerError> {
        let last_full = match self.newest_successes(&[SyncMode::Full]).await {
            Ok(found) => found.into_iter().flatten().next(),
            Err(e) => {
                let reason = format!("could not read the run log: {e}");
                self.boot_failed(|_| true, reason.clone());
                return Err(TriggerError::Failed(reason));
            }
        };
        if let Some(run) = last_full {
            info!(run = %run.id, "a full run has succeeded before; no boot sync needed");
            self.set_boot(|_| true, Boot::Done);
            return Ok(());
        }
        info!("no full run has succeeded yet: starting the boot sync");
        self.set_boot(|b| *b != Boot::Done, Boot::Pending);
        self.start(Some(SyncMode::Full), Trigger::Boot)
            .await
            .map(drop)
            .inspect_err(|e| self.boot_failed(|b| *b == Boot::Pending, e.to_string()))
    }

    /// For a tenant that identity providers push to (SCIM), which has nothing to read at boot:
    /// the boot sync is done by definition, and readiness depends on the database alone.
    pub fn without_boot_sync(&self) {
        info!("the source is pushed to: no boot sync");
        self.set_boot(|_| true, Boot::Done);
    }

    /// Runs the cron schedules until `shutdown` resolves, and retries a boot sync that did not
    /// succeed ([`Backoff`]). A run due while another is in progress is skipped with a log
    /// line: runs never overlap in this process, and across processes the store's lock makes
    /// the later run `skipped-locked` (a boot retry due then waits for the run to end instead).
    /// A run due during a long pause (a suspended machine) starts once, when the pause ends.
    pub async fn run_schedules(&self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        let schedules = &self.inner.schedules;
        info!(%schedules, "running the sync schedules");
        let start = self.now();
        let mut next: Vec<(SyncMode, DateTime<Utc>)> = MODES
            .into_iter()
            .filter_map(|m| schedules.next_fire(m, start).map(|t| (m, t)))
            .collect();
        if next.is_empty() {
            info!("no schedule is enabled: runs start only on boot and on request");
        }
        loop {
            // Subscribed before the state is read, so that no change in between is missed.
            let mut changes = self.inner.state.subscribe();
            let scheduled = next.iter().map(|(_, t)| *t).min().map(|earliest| {
                (earliest - self.now())
                    .to_std()
                    .unwrap_or_default()
                    .min(MAX_NAP)
            });
            let retry = self
                .boot_retry_due()
                .map(|due| due.saturating_duration_since(tokio::time::Instant::now()));
            let wait = scheduled.into_iter().chain(retry).min();
            let nap = async {
                match wait {
                    Some(wait) => tokio::time::sleep(wait).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = &mut shutdown => return,
                () = nap => {}
                // A run ended, a boot retry was scheduled: look again.
                _ = changes.changed() => {}
            }
            if self
                .boot_retry_due()
                .is_some_and(|due| due <= tokio::time::Instant::now())
            {
                self.retry_boot().await;
            }
            let now = self.now();
            let mut due = Vec::new();
            next = next
                .into_iter()
                .filter_map(|(mode, at)| {
                    if at > now {
                        return Some((mode, at));
                    }
                    due.push(mode);
                    schedules.next_fire(mode, now).map(|t| (mode, t))
                })
                .collect();
            if due.len() > 1 {
                info!("a full and a differential run are due together; the full run covers both");
            }
            if let Some(mode) = MODES.into_iter().find(|m| due.contains(m)) {
                self.fire(mode).await;
            }
        }
    }

    /// When the next boot retry is due, if one is and no run is in progress (a run in progress
    /// may be the full run that makes it unnecessary; its end is waited for instead).
    fn boot_retry_due(&self) -> Option<tokio::time::Instant> {
        let state = self.inner.state.borrow();
        match (&state.boot, state.activity) {
            (Boot::Failed(_), Activity::Idle) => state.retry.due,
            _ => None,
        }
    }

    /// Starts the boot sync again (it first looks at the run log: a full run may have succeeded
    /// on another node meanwhile).
    async fn retry_boot(&self) {
        let failures = self.inner.state.borrow().retry.failures;
        self.inner.state.send_modify(|s| s.retry.due = None);
        info!(retry = failures, "retrying the boot sync");
        if let Err(e) = self.boot().await {
            warn!(error = %e, "the boot sync could not start; it is retried later");
        }
    }

    /// Waits up to `grace` for the run in progress to end; returns whether it did (or none was
    /// running). A run cut off by process exit changes nothing: the store applies a run in one
    /// transaction, and the next run marks it `interrupted`.
    pub async fn drain(&self, grace: Duration) -> bool {
        let mut state = self.inner.state.subscribe();
        let idle = state.wait_for(|s| s.activity == Activity::Idle);
        let drained = matches!(tokio::time::timeout(grace, idle).await, Ok(Ok(_)));
        drained
    }

    /// Starts a scheduled run, or logs why not.
    async fn fire(&self, mode: SyncMode) {
        match self.start(Some(mode), Trigger::Schedule).await {
            Ok(_) => {}
            Err(TriggerError::AlreadyRunning(run)) => info!(
                %run,
                mode = mode.as_str(),
                "a scheduled run is due while run {run} is in progress; skipped"
            ),
            Err(TriggerError::Failed(reason)) => {
                warn!(mode = mode.as_str(), %reason, "the scheduled run could not start");
            }
        }
    }

    fn now(&self) -> DateTime<Utc> {
        self.inner.ports.clock.now()
    }

    /// Sets the boot status to `to` if `when` holds for the current one. Done ends the boot
    /// retries.
    fn set_boot(&self, when: impl FnOnce(&Boot) -> bool, to: Boot) {
        self.inner.state.send_if_modified(|s| {
            let change = when(&s.boot);
            if change {
                if to == Boot::Done {
                    s.retry = Retry::default();
                }
                s.boot = to;
            }
            change
        });
    }

    /// Records that the boot sync did not succeed (if `when` holds for the boot status) and
    /// schedules its next retry.
    fn boot_failed(&self, when: impl FnOnce(&Boot) -> bool, reason: String) {
        let policy = self.inner.boot_retry;
        self.inner.state.send_if_modified(|s| {
            let change = when(&s.boot);
            if change {
                let wait = policy.delay(s.retry.failures);
                info!(
                    ?wait,
                    "the boot sync did not succeed; retrying it after a pause"
                );
                s.boot = Boot::Failed(reason);
                s.retry = Retry {
                    failures: s.retry.failures.saturating_add(1),
                    due: Some(tokio::time::Instant::now() + wait),
                };
            }
            change
        });
    }

    /// Takes the run slot. A run being recorded right now is waited for (a store round trip),
    /// so that a refusal can name the run in progress.
    async fn claim(
        &self,
        trigger: Trigger,
        reply: oneshot::Sender<Result<RunId, TriggerError>>,
    ) -> Result<ActiveRun, TriggerError> {
        let mut changes = self.inner.state.subscribe();
        loop {
            let mut busy = None;
            let claimed = self.inner.state.send_if_modified(|s| match s.activity {
                Activity::Idle => {
                    s.activity = Activity::Starting;
                    true
                }
                Activity::Running(run) => {
                    busy = Some(run);
                    false
                }
                Activity::Starting | Activity::Live => false,
            });
            if claimed {
                return Ok(ActiveRun {
                    inner: Arc::clone(&self.inner),
                    trigger,
                    span: info_span!(
                        "run",
                        trigger = trigger.as_str(),
                        run = tracing::field::Empty
                    ),
                    reply: Mutex::new(Some(reply)),
                });
            }
            if let Some(run) = busy {
                return Err(TriggerError::AlreadyRunning(run));
            }
            changes
                .wait_for(|s| !matches!(s.activity, Activity::Starting | Activity::Live))
                .await
                .map_err(|_| TriggerError::Failed("the scheduler is shutting down".into()))?;
        }
    }

    /// Claims the run slot, spawns the run and returns its id as soon as the engine records it.
    /// A run that ends before being recorded returns the id it ended under (a `skipped-locked`
    /// run), or `Failed` when it has none.
    async fn spawn_run(
        &self,
        mode: Option<SyncMode>,
        user: Option<String>,
        trigger: Trigger,
    ) -> Result<RunId, TriggerError> {
        let (reply, recorded) = oneshot::channel();
        let active = self.claim(trigger, reply).await?;
        let span = active.span.clone();
        tokio::spawn(self.clone().execute(mode, user, active).instrument(span));
        recorded.await.unwrap_or_else(|_| {
            Err(TriggerError::Failed(
                "the run stopped before it was recorded".into(),
            ))
        })
    }

    /// Performs a claimed run to its end: metrics, boot status and the end log line are updated
    /// before the slot is freed, so whoever sees the slot idle sees the run's effects.
    async fn execute(self, mode: Option<SyncMode>, user: Option<String>, active: ActiveRun) {
        let begun = tokio::time::Instant::now();
        let mode = if user.is_some() {
            Some(SyncMode::User)
        } else {
            mode
        };
        let request = RunRequest {
            mode,
            user,
            trigger: active.trigger,
            dry_run: false,
            force: false,
        };
        let result = self.inner.ports.service.run(request, &active).await;
        let elapsed = begun.elapsed();
        let mut ended = Ended::from_result(result, active.recorded());
        if ended.mode.is_none() {
            ended.mode = self.recorded_mode(ended.run).await.or(mode);
        }
        active.reply(
            ended
                .run
                .ok_or_else(|| TriggerError::Failed(ended.reason.clone().unwrap_or_default())),
        );
        let trigger = active.trigger;
        self.finished(&ended, trigger, elapsed);
        if ended.outcome == Outcome::Succeeded && ended.mode == Some(SyncMode::Full) {
            self.set_boot(|_| true, Boot::Done);
        } else if trigger == Trigger::Boot {
            // Unless `boot` has already counted this failure (a run that failed before it was
            // recorded), or a full run elsewhere made the boot sync unnecessary meanwhile.
            let reason = ended.reason.clone().unwrap_or_default();
            self.boot_failed(|b| *b == Boot::Pending, reason);
        }
    }

    /// Counts a run that ended in the metrics and says so in the log.
    pub(crate) fn finished(&self, ended: &Ended, trigger: Trigger, elapsed: Duration) {
        lock(&self.inner.metrics).record(&FinishedRun {
            mode: ended.mode,
            outcome: ended.outcome,
            trigger,
            elapsed,
            applied: ended.applied,
        });
        info!(
            run = ended.run.map(|r| r.0),
            mode = ended.mode.map(SyncMode::as_str),
            trigger = trigger.as_str(),
            outcome = ended.outcome.as_str(),
            reason = ended.reason.as_deref(),
            elapsed_secs = elapsed.as_secs_f64(),
            "run finished"
        );
    }

    /// The mode the run log has for `run`: the engine's report names it only for applied runs.
    async fn recorded_mode(&self, run: Option<RunId>) -> Option<SyncMode> {
        match self.inner.ports.runs.run(run?).await {
            Ok(record) => record.map(|r| r.mode),
            Err(e) => {
                warn!(error = %e, "could not read the run's mode back from the run log");
                None
            }
        }
    }

    /// The newest successful run of each of `modes` (in that order), paging through the run
    /// log only as far as needed.
    async fn newest_successes(
        &self,
        modes: &[SyncMode],
    ) -> Result<Vec<Option<RunRecord>>, StoreError> {
        let mut found: Vec<Option<RunRecord>> = vec![None; modes.len()];
        let mut start = 0;
        loop {
            let page = Page {
                start,
                size: RUN_LOG_PAGE,
            };
            let runs = self
                .inner
                .ports
                .runs
                .runs(&self.inner.tenant, Some(page))
                .await?;
            for run in runs.iter().filter(|r| r.outcome == Outcome::Succeeded) {
                if let Some(slot) = modes.iter().position(|m| *m == run.mode) {
                    found[slot].get_or_insert_with(|| run.clone());
                }
            }
            if found.iter().all(Option::is_some) || (runs.len() as u64) < RUN_LOG_PAGE {
                return Ok(found);
            }
            start += RUN_LOG_PAGE;
        }
    }

    /// Why the boot sync is not done, if it is not. Unless the boot run is in progress, the
    /// run log is asked again: a full run may have succeeded since, on another node or before
    /// `boot` was called.
    async fn boot_readiness(&self) -> Result<(), String> {
        let boot = self.inner.state.borrow().boot.clone();
        let missing = match boot {
            Boot::Done => return Ok(()),
            Boot::Pending => {
                return Err("the boot sync (the first full run) is in progress".into());
            }
            Boot::Unchecked => "the boot sync has not started".to_string(),
            Boot::Failed(reason) => format!(
                "the boot sync failed: {reason}; the next successful full run makes the service \
                 ready"
            ),
        };
        if let Ok(found) = self.newest_successes(&[SyncMode::Full]).await {
            if found.iter().any(Option::is_some) {
                self.set_boot(|_| true, Boot::Done);
                return Ok(());
            }
        }
        Err(missing)
    }
}

#[async_trait]
impl RunTrigger for Scheduler {
    /// See [`Scheduler::spawn_run`].
    async fn start(&self, mode: Option<SyncMode>, trigger: Trigger) -> Result<RunId, TriggerError> {
        self.spawn_run(mode, None, trigger).await
    }

    /// As [`RunTrigger::start`], for a user run.
    async fn start_user(&self, login: &str, trigger: Trigger) -> Result<RunId, TriggerError> {
        self.spawn_run(None, Some(login.to_owned()), trigger).await
    }

    /// Plans a run with the engine's dry-run mode: no lock, no run record, no write.
    async fn dry_run(&self, mode: Option<SyncMode>) -> Result<DryRunReport, TriggerError> {
        let request = RunRequest {
            mode,
            user: None,
            trigger: Trigger::Api,
            dry_run: true,
            force: false,
        };
        match self.inner.ports.service.run(request, &NoProgress).await {
            Ok(RunReport::DryRun {
                mode,
                changes,
                guard,
            }) => Ok(DryRunReport {
                mode,
                counts: changes.counts(),
                lines: changes.log_lines().collect(),
                guard,
            }),
            Ok(other) => Err(TriggerError::Failed(format!(
                "the engine answered a dry run with {other:?}"
            ))),
            Err(e) => Err(TriggerError::Failed(e.to_string())),
        }
    }

    /// What the run holding the slot last reported: every run the scheduler starts (on boot,
    /// on schedule, on request), from its recording to its end; dry runs and live batches are
    /// not shown.
    fn progress(&self) -> Option<RunProgress> {
        self.inner.progress.current()
    }
}

#[async_trait]
impl Readiness for Scheduler {
    /// Ready when the database is (reachable, schema current) and the boot sync is done; the
    /// message names whatever is missing.
    async fn ready(&self) -> Result<(), String> {
        let store = self.inner.ports.store_ping.ready().await;
        let boot = self.boot_readiness().await;
        match (store, boot) {
            (Ok(()), Ok(())) => Ok(()),
            (Err(e), Ok(())) | (Ok(()), Err(e)) => Err(e),
            (Err(store), Err(boot)) => Err(format!("{store}; {boot}")),
        }
    }

    fn live(&self) -> LiveStatus {
        self.live_status()
    }
}

#[async_trait]
impl MetricsExporter for Scheduler {
    /// Renders the counters of this process together with what the database says now.
    async fn render(&self) -> Result<String, String> {
        let last = self
            .newest_successes(&MODES)
            .await
            .map_err(|e| format!("could not read the run log: {e}"))?;
        let totals = self
            .inner
            .ports
            .directory
            .totals(&self.inner.tenant)
            .await
            .map_err(|e| format!("could not count users and groups: {e}"))?;
        let last_success = MODES
            .into_iter()
            .zip(last)
            .filter_map(|(mode, run)| run.map(|r| (mode, r.finished_at.unwrap_or(r.started_at))))
            .collect();
        let state = self.inner.state.borrow().clone();
        let live = self.live_status();
        let runs = lock(&self.inner.metrics);
        Ok(Exposition {
            tenant: &self.inner.tenant,
            runs: &runs,
            last_success,
            totals,
            boot_sync_done: state.boot == Boot::Done,
            run_in_progress: state.activity != Activity::Idle,
            live,
        }
        .to_string())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::Backoff;

    #[test]
    fn boot_retries_wait_twice_as_long_each_time_up_to_the_cap() {
        let retry = Backoff::default();
        let waits: Vec<u64> = (0..12).map(|n| retry.delay(n).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300]);
        assert_eq!(retry.delay(u32::MAX), Duration::from_secs(300));
    }
}
