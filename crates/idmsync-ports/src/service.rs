//! What the REST API needs from the long-running service: start runs, report readiness, export
//! metrics. Implemented by the scheduler, which owns the runs of a `serve` process.

use async_trait::async_trait;
use idmsync_domain::{Counts, LogLine, RunId, SyncMode, Trigger};

/// Why a run could not be started.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TriggerError {
    /// A run of this tenant is in progress in this process.
    #[error("a sync run is already in progress (run {0})")]
    AlreadyRunning(RunId),
    /// The run could not be started (database down, bad configuration).
    #[error("{0}")]
    Failed(String),
}

/// The outcome of a dry run: what a run would change now.
#[derive(Debug, Clone, PartialEq)]
pub struct DryRunReport {
    /// The mode used.
    pub mode: SyncMode,
    /// What would change.
    pub counts: Counts,
    /// One line per change.
    pub lines: Vec<LogLine>,
    /// Why the guard would stop the run, if it would.
    pub guard: Option<String>,
}

/// How far the run in progress has come, for a page that follows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunProgress {
    /// The run.
    pub run: RunId,
    /// Its mode.
    pub mode: SyncMode,
    /// The stage it is in (`reading users`, `planning`, `applying`), as the engine names it.
    pub stage: String,
    /// Items of the stage done so far.
    pub done: u64,
    /// Items the stage has, when known.
    pub total: Option<u64>,
}

/// Starts runs on behalf of the API.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait RunTrigger: Send + Sync {
    /// Starts a run in the background and returns its id as soon as it is recorded; its
    /// outcome is read from the run log.
    ///
    /// # Errors
    /// `AlreadyRunning` if a run is in progress; `Failed` if it could not be recorded.
    async fn start(&self, mode: Option<SyncMode>, trigger: Trigger) -> Result<RunId, TriggerError>;

    /// Starts a user run of `login` (its external id) in the background, as
    /// [`RunTrigger::start`] does a run of the whole source.
    ///
    /// # Errors
    /// As [`RunTrigger::start`].
    async fn start_user(&self, login: &str, trigger: Trigger) -> Result<RunId, TriggerError>;

    /// Plans a run and returns the plan; writes nothing.
    ///
    /// # Errors
    /// `Failed` when the source or the store fails.
    async fn dry_run(&self, mode: Option<SyncMode>) -> Result<DryRunReport, TriggerError>;

    /// The run this process has in progress and how far it has come; `None` when none is.
    fn progress(&self) -> Option<RunProgress>;
}

/// Whether the service can do its job: database reachable, schema current, boot sync done.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait Readiness: Send + Sync {
    /// `Ok` when ready, else what is missing.
    ///
    /// # Errors
    /// A sentence saying what is not ready.
    async fn ready(&self) -> Result<(), String>;

    /// The live stream's state (`sync.live`); it does not decide readiness (scheduled runs go
    /// on without it) but is shown beside it. The default: off.
    fn live(&self) -> LiveStatus {
        LiveStatus::default()
    }
}

/// Whether the live stream (`sync.live`) follows the source.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LiveState {
    /// Not configured, or stopped.
    #[default]
    Off,
    /// Following: changes are applied as they arrive.
    Connected,
    /// Connecting, or waiting to reconnect after the stream broke off.
    Reconnecting,
}

impl LiveState {
    /// The form shown by `/health/ready` and the metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            LiveState::Off => "off",
            LiveState::Connected => "connected",
            LiveState::Reconnecting => "reconnecting",
        }
    }
}

/// The live stream's state and how far behind the source it may be.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LiveStatus {
    /// Connected, reconnecting or off.
    pub state: LiveState,
    /// How long the oldest change received and not yet applied has waited; zero when every
    /// change received is applied.
    pub lag: std::time::Duration,
    /// How long ago the stream last sent anything, if it has.
    pub since_message: Option<std::time::Duration>,
}

/// Renders the Prometheus text exposition of the service's metrics.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait MetricsExporter: Send + Sync {
    /// The current metrics, in Prometheus text format.
    ///
    /// # Errors
    /// A sentence saying what could not be read.
    async fn render(&self) -> Result<String, String>;
}
