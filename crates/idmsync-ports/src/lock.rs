//! One runner at a time per tenant, across every node that shares the database.

use async_trait::async_trait;
use idmsync_domain::Tenant;

use crate::store::StoreError;

/// A held run lock. Dropping it releases the lock; a process that dies releases it too
/// (session-scoped database locks end with the connection, leases expire).
pub trait HeldLock: Send + Sync {}

/// Takes the tenant's run lock.
///
/// # Contract
/// - At most one holder per tenant at any time, across processes and nodes sharing the database.
/// - A lock whose holder died MUST become available again without manual action.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait RunLock: Send + Sync {
    /// The lock if it is free, `None` if another runner holds it. Never waits for it.
    ///
    /// # Errors
    /// `Unavailable` or `Failed` when the database cannot answer.
    async fn try_lock(&self, tenant: &Tenant) -> Result<Option<Box<dyn HeldLock>>, StoreError>;
}
