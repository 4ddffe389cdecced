//! The idmsync domain: users, groups, memberships, change sets and the pure planner.
//!
//! This crate performs no I/O (the planner may spread its work over threads, which changes
//! nothing in the result). Everything that talks to a directory, a database, a clock or a
//! terminal lives behind the traits of `idmsync-ports` and is implemented by adapter crates. The
//! heart of the product is [`plan::plan`]: a total function from (source snapshot, store state,
//! options) to a [`change::ChangeSet`], which the guard ([`guard::check`]) inspects before the
//! store applies it in one transaction.
#![deny(missing_docs)]

pub mod change;
mod fxhash;
pub mod guard;
pub mod ids;
pub mod model;
pub mod options;
mod parallel;
pub mod password;
pub mod plan;
pub mod run;
pub mod validate;

pub use arcstr::ArcStr;
pub use change::{ChangeSet, Counts, EventKey, FieldChange, LogLine};
pub use ids::{ExternalId, Fold, IdError, SourceId, Tenant, Watermark};
pub use model::{
    DeactivatedBy, Document, MemberNames, MemberRef, SourceGroup, SourcePassword, SourceUser,
    StoreState, StoredGroup, StoredUser, UserStatus,
};
pub use options::{MaxDeactivations, OnConflict, OnUnreadable, PlanOptions, Reactivate, SyncMode};
pub use password::{Password, PasswordHash, PasswordHasher};
pub use plan::{Departed, Departures, SourceData, Unreadable};
pub use run::{Outcome, RunId, RunRecord, RunResult, Trigger};
