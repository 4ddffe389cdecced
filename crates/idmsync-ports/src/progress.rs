//! Progress of long work (reading a large directory, applying a large change set), so that the
//! binary can draw a progress bar without the engine or the adapters knowing about terminals.

/// Receives progress reports. Implementations must be cheap: adapters call `advance` per entry.
#[cfg_attr(feature = "mock", mockall::automock)]
pub trait Progress: Send + Sync {
    /// A new stage begins (`reading users`, `applying`), with its size when known.
    fn stage(&self, name: &str, total: Option<u64>);
    /// `n` more items of the current stage are done.
    fn advance(&self, n: u64);
    /// The run was recorded under `run`, in `mode` (the engine picks it when the request left
    /// it open); lets a caller that started it in the background hand the id to whoever asked
    /// for the run, and show which run is in progress before it ends.
    fn started(&self, _run: idmsync_domain::RunId, _mode: idmsync_domain::SyncMode) {}
}

/// Reports nothing; for tests, the service and non-terminal output.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn stage(&self, _name: &str, _total: Option<u64>) {}
    fn advance(&self, _n: u64) {}
}

/// The progress reporter as ports take it: a `'static` trait object behind a short borrow,
/// which is what mockall can mock.
pub type DynProgress = dyn Progress + 'static;
