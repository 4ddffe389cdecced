//! The ports of idmsync: narrow traits that the sync engine calls and adapters implement.
//!
//! Ports speak domain types only; each adapter maps its library's errors into the typed errors
//! here, so neither diesel nor ldap3 ever crosses a crate boundary. With the `mock` feature every
//! port but `ChangeFeed` has a mockall `Mock*` twin for the engine's interaction tests.
#![deny(missing_docs)]

pub mod auth;
pub mod clock;
pub mod feed;
pub mod lock;
pub mod progress;
pub mod provision;
pub mod queries;
pub mod service;
pub mod source;
pub mod store;

pub use auth::{
    AuthError, Authenticator, DirectoryBind, LoginField, LoginReader, LoginRecord, Principal,
};
pub use clock::{Clock, SystemClock};
pub use feed::{ChangeFeed, FeedEvent};
pub use lock::{HeldLock, RunLock};
pub use progress::{DynProgress, NoProgress, Progress};
pub use provision::{GuardRelease, Provisioning, ScimQuery, ScimWrite};
pub use queries::{
    DirectoryReader, GroupDetail, GroupView, HistoryLine, Page, RunLogReader, Totals, UserDetail,
    UserFilter, UserView,
};
pub use service::{
    DryRunReport, LiveState, LiveStatus, MetricsExporter, Readiness, RunProgress, RunTrigger,
    TriggerError,
};
pub use source::{IdentitySource, SourceCheck, SourceError};
pub use store::{NewRun, StoreError, SyncStore};
