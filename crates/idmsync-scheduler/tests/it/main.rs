//! Scheduler tests: a real `SyncService` over in-memory fakes of the ports, with paused tokio
//! time driving the schedules. The end-to-end tests over SQLite run the binary instead.

mod boot;
mod fake;
mod metrics;
mod runs;
mod schedules;

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use idmsync_domain::{MaxDeactivations, OnConflict, OnUnreadable, Reactivate, Tenant};
use idmsync_scheduler::{BootRetry, ScheduleSettings, Scheduler, SchedulerPorts, Schedules};
use idmsync_sync::{SyncPorts, SyncService, SyncSettings};

use crate::fake::{FakeSource, FakeStore, TokioClock};
use idmsync_test_doubles::PlainHasher;

/// When every test starts, as the clocks see it.
fn base_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 10, 12, 0, 0)
        .single()
        .expect("valid time")
}

fn tenant() -> Tenant {
    Tenant::new("default").expect("tenant")
}

/// A scheduler and the fakes behind it.
struct Harness {
    scheduler: Scheduler,
    store: Arc<FakeStore>,
    source: Arc<FakeSource>,
}

impl Harness {
    fn new(source: FakeSource, schedules: Schedules) -> Self {
        Self::with_boot_retry(source, schedules, BootRetry::default())
    }

    fn with_boot_retry(source: FakeSource, schedules: Schedules, retry: BootRetry) -> Self {
        let store = Arc::new(FakeStore::new());
        let source = Arc::new(source);
        let clock = Arc::new(TokioClock::starting_at(base_time()));
        let service = SyncService::new(
            SyncPorts {
                source: source.clone(),
                store: store.clone(),
                lock: store.clone(),
                hasher: Arc::new(PlainHasher),
                clock: clock.clone(),
            },
            SyncSettings {
                tenant: tenant(),
                admins: vec![],
                max_deactivations: MaxDeactivations::Percent(10.0),
                reactivate: Reactivate::Sync,
                ignore_case: false,
                on_conflict: OnConflict::Fail,
                on_unreadable: OnUnreadable::Fail,
            },
        );
        let scheduler = Scheduler::with_boot_retry(
            SchedulerPorts {
                service: Arc::new(service),
                runs: store.clone(),
                directory: store.clone(),
                store_ping: store.clone(),
                clock,
            },
            tenant(),
            schedules,
            retry,
        );
        Self {
            scheduler,
            store,
            source,
        }
    }

    /// A scheduler without schedules: runs start only on boot and on request.
    fn unscheduled(source: FakeSource) -> Self {
        Self::new(source, Schedules::none())
    }
}

/// Schedules from two optional expressions, in UTC.
fn schedules(full: Option<&str>, differential: Option<&str>) -> Schedules {
    ScheduleSettings {
        full_cron: full.map(str::to_string),
        differential_cron: differential.map(str::to_string),
        timezone: None,
    }
    .validate()
    .expect("valid schedules")
}
