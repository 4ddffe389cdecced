//! [`Verifier`]: argon2 verifications off the async runtime, at most one per core at a time.
//!
//! A verification costs tens of milliseconds of CPU and 19 MiB of memory. Run on the async
//! runtime's workers, a flood of logins would stall every other request (health checks
//! included) behind them; run on tokio's blocking pool without a bound, it would start hundreds
//! of threads and gigabytes of argon2 memory. So each verification runs on the blocking pool
//! after taking one of as many permits as the machine has cores; further logins wait their turn
//! (in arrival order) without holding a thread.

use std::sync::Arc;

use idmsync_domain::{Password, PasswordHash, PasswordHasher};
use tokio::sync::Semaphore;

/// Verifies passwords with a [`PasswordHasher`] on tokio's blocking pool, a bounded number at a
/// time. Needs a tokio runtime (any flavour) when [`verify`](Self::verify) is awaited.
pub(crate) struct Verifier {
    hasher: Arc<dyn PasswordHasher>,
    permits: Arc<Semaphore>,
}

impl Verifier {
    /// A verifier running at most as many verifications at once as there are cores.
    pub fn new(hasher: Arc<dyn PasswordHasher>) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Self {
            hasher,
            permits: Arc::new(Semaphore::new(cores)),
        }
    }

    /// Whether `password` matches `hash`. The permit travels with the blocking task, so a
    /// caller that gives up (a client that disconnects) does not free a place on the pool
    /// before the work is really done.
    pub async fn verify(&self, password: &Password, hash: &PasswordHash) -> bool {
        let Ok(permit) = self.permits.clone().acquire_owned().await else {
            // The semaphore is never closed.
            return false;
        };
        let hasher = self.hasher.clone();
        let password = password.clone();
        let hash = hash.clone();
        let verified = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            hasher.verify(&password, &hash)
        })
        .await;
        verified.unwrap_or_else(|error| {
            tracing::error!(%error, "a password verification failed to run; refusing the login");
            false
        })
    }
}
