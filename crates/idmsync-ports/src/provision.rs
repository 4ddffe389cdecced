//! The provisioning port: what the SCIM endpoints (`/scim/v2`) ask of the service that keeps
//! a pushed tenant's users and groups.
//!
//! A push source turns the engine around: instead of the engine reading a source, an identity
//! provider (Okta, Microsoft Entra ID) sends one resource at a time. The HTTP adapter speaks
//! SCIM's wire format and nothing else; everything with a consequence (ids, uniqueness, the
//! order of concurrent writes, the planner, the guard, the run log, the transaction) sits behind
//! this trait, so the adapter's tests can use a fake and the service's tests need no HTTP.
//!
//! Resources travel as the JSON of RFC 7643 (`serde_json::Value`), since that is both what the
//! adapter receives and what the protocol crate (`idmsync-scim`) reasons about; errors are
//! [`ScimError`]s, which carry their HTTP status and `scimType`.

use async_trait::async_trait;
use idmsync_scim::{ResourceType, ScimError};
use serde_json::Value;

/// A write, as the HTTP adapter received it. Bodies are unchecked: the service validates them
/// against the resource it applies them to, in the order the writes reach it.
#[derive(Debug, Clone, PartialEq)]
pub enum ScimWrite {
    /// `POST /Users`, `POST /Groups`: a new resource.
    Create {
        /// Users or groups.
        kind: ResourceType,
        /// The resource as sent.
        body: Value,
    },
    /// `PUT /Users/{id}`: the whole resource replaced.
    Replace {
        /// Users or groups.
        kind: ResourceType,
        /// The resource's id.
        id: String,
        /// The resource as sent.
        body: Value,
    },
    /// `PATCH /Users/{id}`: a PatchOp body.
    Patch {
        /// Users or groups.
        kind: ResourceType,
        /// The resource's id.
        id: String,
        /// The PatchOp request as sent.
        body: Value,
    },
    /// `DELETE /Users/{id}`: the resource leaves the tenant (deactivated, never deleted).
    Delete {
        /// Users or groups.
        kind: ResourceType,
        /// The resource's id.
        id: String,
    },
}

/// The query parameters of a list (`GET /Users?filter=…`), unparsed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScimQuery {
    /// `filter`.
    pub filter: Option<String>,
    /// `startIndex` (1-based).
    pub start_index: Option<String>,
    /// `count`.
    pub count: Option<String>,
}

/// The service behind `/scim/v2`.
///
/// # Contract
/// - A write is answered only once it is committed (or refused): the returned resource is the
///   stored one, with its `meta`.
/// - Writes are applied in the order they reach the service; one refused write never fails
///   another.
/// - A deleted resource is not found afterwards (404), although its row stays, inactive.
#[async_trait]
pub trait Provisioning: Send + Sync {
    /// Applies `write`; returns the resource as stored (`None` for a delete).
    ///
    /// # Errors
    /// A [`ScimError`] with the status to answer: 400 with a `scimType` for a bad body, 404 for
    /// an unknown id, 409 `uniqueness`, 503 when the guard or the store refuses.
    async fn write(&self, write: ScimWrite) -> Result<Option<Value>, ScimError>;

    /// The resource `id` of `kind`, in full (the adapter projects `attributes`).
    ///
    /// # Errors
    /// 404 for an unknown or deleted id; 503 when the store cannot be read.
    async fn get(&self, kind: ResourceType, id: &str) -> Result<Value, ScimError>;

    /// The resources of `kind` that match the query's filter, in a stable order, and their
    /// total: `(page, totalResults, startIndex)`.
    ///
    /// # Errors
    /// 400 `invalidFilter` for a filter that does not parse; 503 when the store cannot be read.
    async fn list(
        &self,
        kind: ResourceType,
        query: &ScimQuery,
    ) -> Result<(Vec<Value>, usize, usize), ScimError>;
}

/// The administrator's override of the SCIM guard (`POST /api/enterprise/scim/guard/release`):
/// a provisioning job that really does deactivate many users is let through for one window.
#[async_trait]
pub trait GuardRelease: Send + Sync {
    /// Lets SCIM deactivations through until the returned time (one guard window from now),
    /// recorded in the run log.
    ///
    /// # Errors
    /// Why the release could not be recorded, in words.
    async fn release(&self) -> Result<chrono::DateTime<chrono::Utc>, String>;
}
