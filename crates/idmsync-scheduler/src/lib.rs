//! The runs of an `idmsync serve` process: cron schedules, the boot sync, readiness and metrics.
//!
//! The original (Alfresco Process Services' IDM sync) runs a full sync on boot when none has
//! happened yet, then full and differential syncs on cron schedules. [`Scheduler`] does the same
//! over [`idmsync_sync::SyncService`], and is what the REST API talks to through the ports'
//! [`RunTrigger`](idmsync_ports::RunTrigger), [`Readiness`](idmsync_ports::Readiness) and
//! [`MetricsExporter`](idmsync_ports::MetricsExporter).
//!
//! Invariants:
//! - At most one run at a time in a process: a run requested while one is in progress is refused
//!   (API) or skipped with a log line (schedule). Across processes the store's run lock makes the
//!   loser's run `skipped-locked`.
//! - The service is ready once a full run has succeeded; a boot sync that did not succeed
//!   (skipped for the lock, failed) is retried with backoff until one does ([`Backoff`]).
//! - Time comes from the [`Clock`](idmsync_ports::Clock) port and sleeping from tokio, so tests
//!   drive schedules with paused tokio time instead of waiting.
//! - Nothing here knows an adapter: the binary wires the store and the source.
#![deny(missing_docs)]

mod live;
mod metrics;
mod progress;
mod schedule;
mod scheduler;

pub use live::LiveSettings;
pub use schedule::{
    ScheduleError, ScheduleSettings, Schedules, DEFAULT_DIFFERENTIAL_CRON, DEFAULT_FULL_CRON,
};
pub use scheduler::{Backoff, Scheduler, SchedulerPorts};
