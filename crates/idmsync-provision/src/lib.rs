//! The SCIM provisioning service: what `idmsync serve` does with the users and groups an
//! identity provider (Okta, Microsoft Entra ID) pushes to `/scim/v2` for a tenant whose
//! `[source] type = "scim"`.
//!
//! It implements the [`idmsync_ports::Provisioning`] port the HTTP adapter calls. Writes are
//! queued and applied one after the other to a draft of the tenant (so that concurrent PATCHes
//! of one group both count), then committed a batch at a time as one run of mode `scim` through
//! [`idmsync_sync::SyncService::push`]: the same planner, guard, store transaction and run log
//! as every pulled source. A write is answered once its batch is committed; one refused write
//! (an unknown id, a taken `userName`) is answered at once and never fails the others.
//!
//! A resource's `id` is the entry's source id: random, case-sensitive, never reused. A deleted
//! resource is deactivated (its row stays, other tables point at it) and SCIM no longer finds it.
#![deny(missing_docs)]

mod guard;
mod resource;
mod service;
mod source;
mod view;
mod writes;

pub use service::{release_message, released_until, ProvisioningService, ProvisioningSettings};
pub use source::{PushedSource, SCIM_SOURCE_NAME};
