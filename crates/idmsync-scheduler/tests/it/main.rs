//! Scheduler tests: a real `SyncService` over in-memory fakes of the ports, with paused tokio
//! time driving the schedules. The end-to-end tests over SQLite run the binary instead.

mod boot;
mod clock;
mod live;
mod metrics;
mod progress;
mod runs;
mod schedules;

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use idmsync_domain::{
    Counts, MaxDeactivations, OnConflict, OnUnreadable, Outcome, Reactivate, RunId, RunRecord,
    SyncMode, Tenant, Trigger, Watermark,
};
use idmsync_ports::SourceError;
use idmsync_scheduler::{Backoff, ScheduleSettings, Scheduler, SchedulerPorts, Schedules};
use idmsync_sync::{SyncPorts, SyncService, SyncSettings};

use crate::clock::TokioClock;
use idmsync_test_doubles::{group, user, FakeSource, MemoryStore, PlainHasher};

/// When every test starts, as the clocks see it.
fn base_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 10, 12, 0, 0)
        .single()
        .expect("valid time")
}

/// A successful full run of another node, ended at [`base_time`], as the store would have it.
fn succeeded_full_run(trigger: Trigger) -> RunRecord {
    RunRecord {
        id: RunId(0),
        tenant: tenant(),
        mode: SyncMode::Full,
        trigger,
        source: "fake".into(),
        started_at: base_time(),
        finished_at: Some(base_time()),
        outcome: Outcome::Succeeded,
        reason: None,
        counts: Counts::default(),
        watermark: Some(Watermark("0".into())),
    }
}

fn tenant() -> Tenant {
    Tenant::new("default").expect("tenant")
}

/// What the source says while the tests make it fail.
fn directory_down() -> SourceError {
    SourceError::Unavailable("the test directory is down".into())
}

/// A scheduler and the fakes behind it.
struct Harness {
    scheduler: Scheduler,
    store: Arc<MemoryStore>,
    source: Arc<FakeSource>,
}

impl Harness {
    fn new(source: FakeSource, schedules: Schedules) -> Self {
        Self::with_boot_retry(source, schedules, Backoff::default())
    }

    /// The harness's directory is `source` holding users alice and bob, both members of group
    /// staff.
    fn with_boot_retry(source: FakeSource, schedules: Schedules, retry: Backoff) -> Self {
        source.put_user(user("alice"));
        source.put_user(user("bob"));
        source.put_group(group("staff", &["alice", "bob"]));
        let store = Arc::new(MemoryStore::new());
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
