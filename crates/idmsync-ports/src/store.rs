//! The store port as the sync engine needs it: load the state, record runs, apply a change set
//! atomically.

use async_trait::async_trait;

use crate::progress::DynProgress;
use chrono::{DateTime, Utc};
use idmsync_domain::{
    ChangeSet, Document, LogLine, RunId, RunRecord, RunResult, SourceId, StoreState, SyncMode,
    Tenant, Trigger,
};

/// Why the store failed. Messages name the database host or file, never a password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached, or refused the connection.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The schema is missing or newer than this binary.
    #[error("database schema: {0}")]
    Schema(String),
    /// A row is not what the schema promises (an unknown status, say).
    #[error("corrupt data in the database: {0}")]
    Corrupt(String),
    /// A query or the transaction failed; nothing of it was committed.
    #[error("database error: {0}")]
    Failed(String),
}

/// A run about to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRun {
    /// The tenant it synchronises (created on first use).
    pub tenant: Tenant,
    /// Full or differential.
    pub mode: SyncMode,
    /// What started it.
    pub trigger: Trigger,
    /// The source's name.
    pub source: String,
    /// When it started.
    pub started_at: DateTime<Utc>,
}

/// The store as the engine uses it.
///
/// # Contract
/// - `apply` is all or nothing: the change set, the run's log lines and the run's end
///   (outcome, counts, watermark) are committed in one transaction, or none of it is.
/// - Rows are matched by `(tenant, source id)`; rows are never deleted.
/// - `apply` writes `changes.documents` in that same transaction, each upserted by `(tenant,
///   group, source id)`: a newer body replaces the older, and of two documents with one key in
///   a change set the later wins. Documents are never deleted either.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait SyncStore: Send + Sync {
    /// Every user, group and edge of the tenant, for the planner; empty for a new tenant.
    ///
    /// # Errors
    /// `Unavailable` or `Failed`; `Corrupt` if a row cannot be read as the domain type.
    async fn load_state(&self, tenant: &Tenant) -> Result<StoreState, StoreError>;

    /// The state a differential run plans against: every user and group of the tenant (member
    /// references resolve against them and external ids must not clash), but the edges only of
    /// `groups`, the groups the run returned, whose edges the planner replaces, and every edge
    /// of `left`, the users and groups the source reports gone, whose edges the planner removes.
    /// A large tenant's memberships are most of its state, so this reads a fraction of what
    /// [`SyncStore::load_state`] reads. Returning more edges is allowed: the default returns
    /// the whole state.
    ///
    /// # Errors
    /// As [`SyncStore::load_state`].
    async fn load_state_for(
        &self,
        tenant: &Tenant,
        groups: &[SourceId],
        left: &[SourceId],
    ) -> Result<StoreState, StoreError> {
        let _ = (groups, left);
        self.load_state(tenant).await
    }

    /// The id of the tenant's newest run of any kind and outcome, `None` before the first.
    /// Rows change only in a run's `apply`, so while this stays the run that last applied, a
    /// copy of the state taken then is still what the store holds: how the engine knows its
    /// copy of a pushed tenant's state may be used instead of a fresh load.
    ///
    /// # Errors
    /// `Unavailable` or `Failed`.
    async fn newest_run(&self, tenant: &Tenant) -> Result<Option<RunId>, StoreError>;

    /// Every document of the tenant (see [`ChangeSet::documents`]), in no particular order;
    /// empty for a new tenant. A pushed source reads them once when it starts, to get back what
    /// its entries' rows have no column for.
    ///
    /// # Errors
    /// `Unavailable` or `Failed`; `Corrupt` if a stored key is not a valid source id.
    async fn documents(&self, tenant: &Tenant) -> Result<Vec<Document>, StoreError>;

    /// The newest successful run of the whole source (full or differential, not a user run) of
    /// the tenant, whose watermark a differential run starts from.
    ///
    /// # Errors
    /// `Unavailable` or `Failed`.
    async fn last_success(&self, tenant: &Tenant) -> Result<Option<RunRecord>, StoreError>;

    /// Records a run as `running` and returns its id. Runs of the tenant still marked
    /// `running` were cut off by a dead process and become `interrupted`: callers hold the
    /// tenant's [`crate::RunLock`], so no other run can be live.
    ///
    /// # Errors
    /// `Unavailable` or `Failed`.
    async fn begin_run(&self, run: &NewRun) -> Result<RunId, StoreError>;

    /// Records a run that did nothing because another runner held the tenant's lock. Unlike
    /// `begin_run`, it leaves the tenant's other runs alone (one of them is running).
    ///
    /// # Errors
    /// `Unavailable` or `Failed`.
    async fn record_skipped(&self, run: &NewRun, result: &RunResult) -> Result<RunId, StoreError>;

    /// Applies `changes`, writes the run's log lines and ends the run with `result`, in one
    /// transaction, advancing `progress` by one for each row and log line written (the caller
    /// begins the stage with [`ChangeSet::writes`] as its total).
    ///
    /// # Errors
    /// `Failed` when the transaction was rolled back; the store is then exactly as before.
    async fn apply(
        &self,
        run: RunId,
        tenant: &Tenant,
        changes: &ChangeSet,
        result: &RunResult,
        progress: &DynProgress,
    ) -> Result<(), StoreError>;

    /// Ends a run that applied nothing (failed, aborted) with its log lines.
    ///
    /// # Errors
    /// `Unavailable` or `Failed`.
    async fn finish_run(
        &self,
        run: RunId,
        result: &RunResult,
        lines: &[LogLine],
    ) -> Result<(), StoreError>;
}
