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
