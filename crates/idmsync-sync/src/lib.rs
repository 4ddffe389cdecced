//! The sync application service: one run, from reading the source to recording the outcome.
//!
//! A run is: decide the mode, record the run as started, read the source, load the store state,
//! plan (pure, in `idmsync-domain`), guard, then apply the change set and end the run in one
//! store transaction. A failure anywhere before the apply changes nothing but the run log; a
//! failure inside the apply rolls back. This crate knows only ports, never an adapter.
#![deny(missing_docs)]

mod service;

pub use service::{
    LiveReport, Push, RunReport, RunRequest, SyncError, SyncPorts, SyncService, SyncSettings,
};
