//! Engine tests: runs of a real `SyncService` over an in-memory directory and store, asserting
//! on what each run left in the store (rows, edges, the run record and its log lines) and on
//! what it read. The planner's rules are tested in `idmsync-domain`; here, the orchestration.

use std::sync::Arc;

use idmsync_domain::plan::Unreadable;
use idmsync_domain::{
    EventKey, ExternalId, MaxDeactivations, OnConflict, OnUnreadable, Outcome, Reactivate, RunId,
    RunRecord, SyncMode, Tenant, Trigger, Watermark,
};
use idmsync_ports::{NoProgress, RunLogReader, SourceError, StoreError};
use idmsync_sync::{RunReport, RunRequest, SyncError, SyncPorts, SyncService, SyncSettings};
use idmsync_test_doubles::{
    group, user, FakeSource, FixedClock, MemoryStore, PlainHasher, StoreOp,
};

fn tenant() -> Tenant {
    Tenant::new("default").expect("tenant")
}

fn settings(max_deactivations: MaxDeactivations) -> SyncSettings {
    SyncSettings {
        tenant: tenant(),
        admins: vec![],
        max_deactivations,
        reactivate: Reactivate::Sync,
        ignore_case: false,
        on_conflict: OnConflict::Fail,
        on_unreadable: OnUnreadable::Fail,
    }
}

fn request(mode: Option<SyncMode>) -> RunRequest {
    RunRequest {
        mode,
        user: None,
        trigger: Trigger::Manual,
        dry_run: false,
        force: false,
    }
}

fn full() -> RunRequest {
    request(Some(SyncMode::Full))
}

fn assert_applied_differential(report: &RunReport) {
    assert!(
        matches!(
            report,
            RunReport::Applied {
                mode: SyncMode::Differential,
                ..
            }
        ),
        "{report:?}"
    );
}

/// A directory, a database and the service between them.
struct World {
    source: Arc<FakeSource>,
    store: Arc<MemoryStore>,
    service: SyncService,
}

impl World {
    fn new(settings: SyncSettings) -> Self {
        Self::reading(FakeSource::new(), settings)
    }

    fn reading(source: FakeSource, settings: SyncSettings) -> Self {
        let source = Arc::new(source);
        let store = Arc::new(MemoryStore::new());
        let service = SyncService::new(
            SyncPorts {
                source: source.clone(),
                store: store.clone(),
                lock: store.clone(),
                hasher: Arc::new(PlainHasher),
                clock: Arc::new(FixedClock::default()),
            },
            settings,
        );
        Self {
            source,
            store,
            service,
        }
    }

    /// A world whose directory holds `users` and whose store a first full run filled from it.
    async fn synced(users: &[&str], settings: SyncSettings) -> Self {
        Self::synced_from(FakeSource::new(), users, settings).await
    }

    /// As [`World::synced`], with `source` as the directory.
    async fn synced_from(source: FakeSource, users: &[&str], settings: SyncSettings) -> Self {
        let world = Self::reading(source, settings);
        for u in users {
            world.source.put_user(user(u));
        }
        let report = world.run(full()).await.expect("the first run");
        assert!(matches!(report, RunReport::Applied { .. }), "{report:?}");
        world
    }

    async fn run(&self, request: RunRequest) -> Result<RunReport, SyncError> {
        self.service.run(request, &NoProgress).await
    }

    /// The stored users as `login: status[/deactivated by]`, in the order first written.
    fn users(&self) -> Vec<String> {
        self.store
            .user_rows(&tenant())
            .iter()
            .map(|u| {
                let by = u.deactivated_by.map(|b| format!("/{}", b.as_str()));
                format!(
                    "{}: {}{}",
                    u.external_id,
                    u.status.as_str(),
                    by.unwrap_or_default()
                )
            })
            .collect()
    }

    fn edges(&self) -> Vec<String> {
        self.store.edges(&tenant())
    }

    fn runs(&self) -> Vec<RunRecord> {
        self.store.runs()
    }

    fn last_run(&self) -> RunRecord {
        self.runs().pop().expect("a recorded run")
    }

    /// The log lines of `run` as `event-key: message`.
    async fn lines(&self, run: RunId) -> Vec<String> {
        self.store
            .lines(run)
            .await
            .expect("the run log")
            .iter()
            .map(ToString::to_string)
            .collect()
    }
}

#[tokio::test]
async fn first_run_is_full_and_applies_with_the_new_watermark() {
    let world = World::new(settings(MaxDeactivations::Percent(10.0)));
    world.source.put_user(user("a"));
    world.source.put_user(user("b"));
    world.source.put_group(group("staff", &["a", "b"]));
    world.source.put_group(group("all", &["staff"]));
    let report = world.run(request(None)).await.expect("run");
    match report {
        RunReport::Applied {
            run, mode, counts, ..
        } => {
            assert_eq!(run, RunId(1));
            assert_eq!(mode, SyncMode::Full);
            assert_eq!(counts.users_created, 2);
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(world.source.reads(), ["watermark", "snapshot"]);
    assert_eq!(world.users(), ["a: active", "b: active"]);
    assert_eq!(world.edges(), ["staff > a", "staff > b", "all >> staff"]);
    let run = world.last_run();
    assert_eq!(
        (run.mode, run.trigger, run.outcome),
        (SyncMode::Full, Trigger::Manual, Outcome::Succeeded)
    );
    assert_eq!(run.watermark, Some(Watermark("4".into())));
    assert_eq!(
        (run.counts.groups_created, run.counts.memberships_added),
        (2, 2)
    );
    assert_eq!(run.counts.nesting_added, 1);
    assert_eq!(
        world.lines(run.id).await,
        [
            "created-user: a (First a)",
            "created-user: b (First b)",
            "created-group: all",
            "created-group: staff",
            "added-user-to-group: a to staff",
            "added-user-to-group: b to staff",
            "added-group-to-group: staff to all",
        ]
    );
}

#[tokio::test]
async fn later_runs_are_differential_from_the_last_watermark() {
    let world = World::synced(&["a", "b"], settings(MaxDeactivations::Percent(10.0))).await;
    assert_eq!(world.last_run().watermark, Some(Watermark("2".into())));
    world.source.put_user(user("c"));
    // A differential read does not see who left: b stays active.
    world.source.remove_user("b");
    let report = world.run(request(None)).await.expect("run");
    assert_applied_differential(&report);
    assert_eq!(
        world.source.reads(),
        ["watermark", "snapshot", "watermark", "changed since 2"]
    );
    assert_eq!(world.users(), ["a: active", "b: active", "c: active"]);
    let run = world.last_run();
    assert_eq!(
        (run.mode, run.outcome),
        (SyncMode::Differential, Outcome::Succeeded)
    );
    assert_eq!(
        (run.counts.users_created, run.counts.users_deactivated),
        (1, 0)
    );
    assert_eq!(run.watermark, Some(Watermark("4".into())));
    assert_eq!(world.lines(run.id).await, ["created-user: c (First c)"]);
}

#[tokio::test]
async fn a_source_error_records_a_failed_run_and_applies_nothing() {
    let world = World::synced(&["a"], settings(MaxDeactivations::Percent(10.0))).await;
    world.source.put_user(user("b"));
    world.source.set_error(Some(SourceError::Invalid {
        location: "users.txt:3".into(),
        message: "field 'email': invalid".into(),
    }));
    let err = world.run(full()).await.expect_err("must fail");
    assert!(
        matches!(
            err,
            SyncError::Source {
                run: Some(RunId(2)),
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(world.users(), ["a: active"]);
    let run = world.last_run();
    assert_eq!((run.id, run.outcome), (RunId(2), Outcome::Failed));
    assert_eq!(run.watermark, None);
    let lines = world.store.lines(run.id).await.expect("lines");
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0].event, EventKey::Failed);
    assert!(lines[0].message.contains("users.txt:3"), "{lines:?}");
}

#[tokio::test]
async fn a_full_run_whose_state_read_fails_applies_nothing() {
    // The state is read beside the source; its failure must still stop the run.
    let world = World::new(settings(MaxDeactivations::Percent(10.0)));
    world.source.put_user(user("a"));
    world.store.fail(
        StoreOp::LoadState,
        StoreError::Unavailable("db down".into()),
    );
    let err = world.run(full()).await.expect_err("must fail");
    assert!(
        matches!(&err, SyncError::Store(StoreError::Unavailable(m)) if m == "db down"),
        "{err:?}"
    );
    assert!(world.users().is_empty());
    assert_ne!(world.last_run().outcome, Outcome::Succeeded);
}

/// A store synced with users a to e whose directory then lost all but a.
async fn four_gone(max_deactivations: MaxDeactivations) -> World {
    let world = World::synced(&["a", "b", "c", "d", "e"], settings(max_deactivations)).await;
    for u in ["b", "c", "d", "e"] {
        world.source.remove_user(u);
    }
    world
}

#[tokio::test]
async fn the_guard_aborts_before_writing() {
    let world = four_gone(MaxDeactivations::Percent(10.0)).await;
    let report = world.run(full()).await.expect("run");
    assert!(
        matches!(report, RunReport::Aborted { run: RunId(2), .. }),
        "{report:?}"
    );
    assert_eq!(
        world.users(),
        [
            "a: active",
            "b: active",
            "c: active",
            "d: active",
            "e: active"
        ]
    );
    let run = world.last_run();
    assert_eq!((run.outcome, run.watermark), (Outcome::Aborted, None));
    assert_eq!(run.counts.users_deactivated, 4);
    let lines = world.store.lines(run.id).await.expect("lines");
    assert_eq!(lines[0].event, EventKey::Aborted);
}

#[tokio::test]
async fn an_empty_source_trips_the_guard_even_with_a_generous_limit() {
    let world = World::synced(&["a"], settings(MaxDeactivations::Count(1000))).await;
    world.source.remove_user("a");
    let report = world.run(full()).await.expect("run");
    match report {
        RunReport::Aborted { reason, .. } => assert!(reason.contains("no users"), "{reason}"),
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(world.users(), ["a: active"]);
    assert_eq!(world.last_run().outcome, Outcome::Aborted);
}

#[tokio::test]
async fn force_applies_what_the_guard_would_stop() {
    let world = four_gone(MaxDeactivations::Percent(10.0)).await;
    let report = world
        .run(RunRequest {
            force: true,
            ..full()
        })
        .await
        .expect("run");
    assert!(matches!(report, RunReport::Applied { .. }), "{report:?}");
    assert_eq!(
        world.users(),
        [
            "a: active",
            "b: inactive/sync",
            "c: inactive/sync",
            "d: inactive/sync",
            "e: inactive/sync"
        ]
    );
    let run = world.last_run();
    assert_eq!(
        (run.outcome, run.counts.users_deactivated),
        (Outcome::Succeeded, 4)
    );
}

#[tokio::test]
async fn a_differential_run_deactivates_the_users_the_source_reports_gone() {
    let world = World::reading(
        FakeSource::with_tombstones(),
        settings(MaxDeactivations::Count(1)),
    );
    for u in ["a", "b", "c"] {
        world.source.put_user(user(u));
    }
    world.source.put_group(group("staff", &["a", "b"]));
    world.run(full()).await.expect("the first run");
    world.source.remove_user("b");
    let report = world.run(request(None)).await.expect("run");
    assert_applied_differential(&report);
    assert_eq!(
        world.users(),
        ["a: active", "b: inactive/sync", "c: active"]
    );
    // The group did not change, yet the leaver's membership goes with it.
    assert_eq!(world.edges(), ["staff > a"]);
    let run = world.last_run();
    assert_eq!(run.counts.users_deactivated, 1);
    assert_eq!(
        world.lines(run.id).await,
        [
            "deactivated-user: b (missing from the source)",
            "removed-user-from-group: b from staff"
        ]
    );
}

#[tokio::test]
async fn the_guard_stops_a_differential_run_that_deactivates_too_many_unless_forced() {
    let world = World::synced_from(
        FakeSource::with_tombstones(),
        &["a", "b", "c", "d"],
        settings(MaxDeactivations::Count(1)),
    )
    .await;
    world.source.remove_user("b");
    world.source.remove_user("c");
    let report = world.run(request(None)).await.expect("run");
    assert!(matches!(report, RunReport::Aborted { .. }), "{report:?}");
    assert_eq!(
        world.users(),
        ["a: active", "b: active", "c: active", "d: active"]
    );
    assert_eq!(world.last_run().outcome, Outcome::Aborted);
    let forced = RunRequest {
        force: true,
        ..request(None)
    };
    let report = world.run(forced).await.expect("run");
    assert_applied_differential(&report);
    assert_eq!(
        world.users(),
        [
            "a: active",
            "b: inactive/sync",
            "c: inactive/sync",
            "d: active"
        ]
    );
}

#[tokio::test]
async fn a_dry_run_writes_nothing_at_all() {
    let world = World::synced(&["a"], settings(MaxDeactivations::Percent(10.0))).await;
    world.source.put_user(user("b"));
    let report = world
        .run(RunRequest {
            dry_run: true,
            ..full()
        })
        .await
        .expect("run");
    match report {
        RunReport::DryRun { changes, guard, .. } => {
            assert_eq!(changes.counts().users_created, 1);
            assert_eq!(guard, None);
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(world.users(), ["a: active"]);
    assert_eq!(world.runs().len(), 1, "no run recorded");
}

#[tokio::test]
async fn a_failed_apply_is_recorded_and_reported() {
    let world = World::new(settings(MaxDeactivations::Percent(10.0)));
    world.source.put_user(user("a"));
    world
        .store
        .fail(StoreOp::Apply, StoreError::Failed("disk full".into()));
    let err = world.run(request(None)).await.expect_err("must fail");
    assert!(
        matches!(&err, SyncError::Store(StoreError::Failed(m)) if m == "disk full"),
        "{err:?}"
    );
    assert!(world.users().is_empty());
    let run = world.last_run();
    assert_eq!((run.outcome, run.watermark), (Outcome::Failed, None));
    assert_eq!(
        world.lines(run.id).await,
        ["failed: database error: disk full"]
    );
}

#[tokio::test]
async fn a_taken_lock_records_a_skipped_run_and_touches_nothing() {
    let world = World::new(settings(MaxDeactivations::Count(0)));
    world.source.put_user(user("a"));
    world.store.lock_elsewhere();
    let report = world.run(request(None)).await.expect("run");
    assert_eq!(report, RunReport::Skipped { run: RunId(1) });
    assert!(
        world.source.reads().is_empty(),
        "{:?}",
        world.source.reads()
    );
    assert!(world.users().is_empty());
    let runs = world.runs();
    assert_eq!(runs.len(), 1);
    assert_eq!(
        (runs[0].trigger, runs[0].outcome),
        (Trigger::Manual, Outcome::SkippedLocked)
    );
}

#[tokio::test]
async fn a_dry_run_takes_no_lock() {
    let world = World::new(settings(MaxDeactivations::Count(0)));
    world.source.put_user(user("a"));
    world.store.lock_elsewhere();
    let report = world
        .run(RunRequest {
            dry_run: true,
            ..request(None)
        })
        .await
        .expect("run");
    assert!(matches!(report, RunReport::DryRun { .. }), "{report:?}");
    assert!(world.runs().is_empty());
}

#[tokio::test]
async fn a_user_run_deactivates_a_user_the_source_no_longer_has_and_removes_their_edges() {
    let world = World::new(settings(MaxDeactivations::Percent(10.0)));
    world.source.put_user(user("a"));
    world.source.put_user(user("b"));
    world.source.put_group(group("staff", &["a", "b"]));
    world.run(full()).await.expect("the first run");
    world.source.remove_user("a");
    world.source.put_group(group("staff", &["b"]));
    let report = world
        .run(RunRequest {
            user: Some("a".into()),
            ..request(None)
        })
        .await
        .expect("run");
    assert!(
        matches!(
            report,
            RunReport::Applied {
                mode: SyncMode::User,
                ..
            }
        ),
        "{report:?}"
    );
    assert_eq!(world.users(), ["a: inactive/sync", "b: active"]);
    assert_eq!(world.edges(), ["staff > b"]);
    let run = world.last_run();
    assert_eq!(
        (run.mode, run.outcome, run.watermark.clone()),
        (SyncMode::User, Outcome::Succeeded, None)
    );
    assert_eq!(
        world.lines(run.id).await,
        [
            "deactivated-user: a (missing from the source)",
            "removed-user-from-group: a from staff",
        ]
    );
    // A user run is no position in the source: the next run goes on from the full run's.
    world.run(request(None)).await.expect("the next run");
    assert_eq!(
        world.source.reads().last().map(String::as_str),
        Some("changed since 3")
    );
}

/// Runs a full sync of what the directory now holds into a store synced with users a and b,
/// expecting it to be refused before anything is written; returns the error and the run-log
/// lines recorded.
async fn refused(world: &World) -> (SyncError, Vec<String>) {
    let before = world.users();
    let err = world.run(full()).await.expect_err("refused");
    assert_eq!(world.users(), before, "nothing written");
    let run = world.last_run();
    assert_eq!((run.id, run.outcome), (RunId(2), Outcome::Failed));
    let lines = world.lines(run.id).await;
    (err, lines)
}

fn unreadable(dn: &str) -> Unreadable {
    Unreadable {
        group: false,
        locator: dn.into(),
        source_id: None,
        reason: "no value for 'entryUUID'".into(),
        conflict: false,
    }
}

#[tokio::test]
async fn entries_the_source_could_not_read_stop_a_full_run_and_are_each_logged() {
    let world = World::synced(&["a", "b"], settings(MaxDeactivations::Count(5))).await;
    world.source.remove_user("b");
    world.source.put_unreadable(unreadable("uid=b,dc=x"));
    world.source.put_unreadable(unreadable("uid=c,dc=x"));
    let (err, lines) = refused(&world).await;
    let message = err.to_string();
    assert!(
        message.contains(
            "uid=b,dc=x: could not be read (no value for 'entryUUID'), nor 1 other entry"
        ) && message.contains("sync.on_unreadable"),
        "{message}"
    );
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert_eq!(
        lines[1],
        "skipped-user: uid=b,dc=x: could not be read (no value for 'entryUUID')"
    );
    assert_eq!(
        lines[2],
        "skipped-user: uid=c,dc=x: could not be read (no value for 'entryUUID')"
    );
}

#[tokio::test]
async fn with_on_unreadable_keep_the_run_applies_without_deactivating_them() {
    let mut keep = settings(MaxDeactivations::Count(5));
    keep.on_unreadable = OnUnreadable::Keep;
    let world = World::new(keep);
    world.source.put_user(user("a"));
    let mut b = user("b");
    b.locator = Some("uid=b,dc=x".into());
    world.source.put_user(b);
    world.run(full()).await.expect("the first run");
    world.source.remove_user("b");
    world.source.put_unreadable(unreadable("uid=b,dc=x"));
    let report = world.run(full()).await.expect("applied");
    assert!(matches!(report, RunReport::Applied { .. }), "{report:?}");
    assert_eq!(world.users(), ["a: active", "b: active"]);
    let run = world.last_run();
    assert_eq!(
        (run.outcome, run.counts.users_deactivated),
        (Outcome::Succeeded, 0)
    );
}

#[tokio::test]
async fn two_entries_claiming_one_identity_stop_the_run_naming_both() {
    let world = World::synced(&["a", "b"], settings(MaxDeactivations::Count(5))).await;
    let mut john = user("a");
    john.external_id = ExternalId::new("john").expect("id");
    world.source.put_user(john);
    let (err, lines) = refused(&world).await;
    let message = err.to_string();
    assert!(
        message.contains(
            "1 conflict(s), the first: user source id a is claimed by a and by john (source id a)"
        ),
        "{message}"
    );
    assert!(
        lines[1].starts_with("conflict: user source id a"),
        "{lines:?}"
    );
}

#[tokio::test]
async fn a_value_no_database_can_store_stops_the_run_naming_the_entry() {
    // A custom source that does not check its values: the engine does.
    let world = World::synced(&["a", "b"], settings(MaxDeactivations::Count(5))).await;
    let mut b = user("b");
    b.last_name = "Mc\0Cartney".into();
    b.locator = Some("uid=b,dc=x".into());
    world.source.put_user(b);
    let (err, _) = refused(&world).await;
    assert!(
        err.to_string()
            .ends_with("uid=b,dc=x: last name: the control character U+0000 at character 3"),
        "{err}"
    );
}

mod live {
    //! Live batches: planned like differential runs, recorded only when they change something.

    use idmsync_domain::plan::{Departed, Departures, SourceData};
    use idmsync_sync::LiveReport;

    use super::*;

    fn position(n: u32) -> Watermark {
        Watermark(format!("cookie-{n}"))
    }

    fn left(logins: &[&str]) -> SourceData {
        let ids = logins
            .iter()
            .map(|l| idmsync_domain::SourceId::new(l).expect("id"))
            .collect();
        SourceData {
            departed: Departed {
                users: Departures::Listed(ids),
                groups: Departures::Listed(vec![]),
            },
            ..SourceData::default()
        }
    }

    #[tokio::test]
    async fn a_batch_that_changes_nothing_records_nothing() {
        let world = World::synced(&["a", "b"], settings(MaxDeactivations::Count(1))).await;
        let unchanged = SourceData {
            users: vec![user("a")],
            ..left(&[])
        };
        let report = world.service.live(unchanged, position(1)).await;
        assert_eq!(report.expect("live"), (LiveReport::Unchanged, vec![]));
        assert_eq!(world.runs().len(), 1);
        assert_ne!(
            world.service.position().await.expect("position"),
            Some(position(1))
        );
    }

    #[tokio::test]
    async fn a_batch_is_a_live_run_whose_position_is_where_the_next_run_starts() {
        let world = World::synced(&["a", "b"], settings(MaxDeactivations::Count(1))).await;
        let report = world.service.live(left(&["b"]), position(7)).await;
        let Ok((LiveReport::Run(report), _)) = report else {
            panic!("{report:?}");
        };
        let RunReport::Applied { run, mode, .. } = *report else {
            panic!("{report:?}");
        };
        assert_eq!(mode, SyncMode::Live);
        assert_eq!(world.users(), ["a: active", "b: inactive/sync"]);
        let record = world.last_run();
        assert_eq!(
            (record.id, record.mode, record.trigger, record.outcome),
            (run, SyncMode::Live, Trigger::Live, Outcome::Succeeded)
        );
        assert_eq!(record.watermark, Some(position(7)));
        assert_eq!(
            world.lines(run).await,
            ["deactivated-user: b (missing from the source)"]
        );
        assert_eq!(
            world.service.position().await.expect("position"),
            Some(position(7))
        );
    }

    #[tokio::test]
    async fn a_group_whose_member_is_not_known_yet_is_handed_back_to_plan_again() {
        let world = World::synced(&["a"], settings(MaxDeactivations::Count(1))).await;
        let early = SourceData {
            groups: vec![group("g", &["a", "b"])],
            ..left(&[])
        };
        let (report, again) = world.service.live(early, position(1)).await.expect("live");
        assert!(matches!(report, LiveReport::Run(_)), "{report:?}");
        assert_eq!(again, vec![group("g", &["a", "b"])]);
        assert_eq!(world.edges(), ["g > a"]);
        let mut late = SourceData {
            users: vec![user("b")],
            ..left(&[])
        };
        late.absorb(SourceData {
            groups: again,
            ..left(&[])
        });
        let (_, again) = world.service.live(late, position(2)).await.expect("live");
        assert!(again.is_empty());
        assert_eq!(world.edges(), ["g > a", "g > b"]);
    }

    #[tokio::test]
    async fn the_guard_stops_an_oversized_batch_and_records_it_aborted() {
        let world = World::synced(&["a", "b", "c"], settings(MaxDeactivations::Count(1))).await;
        let report = world.service.live(left(&["b", "c"]), position(2)).await;
        let Ok((LiveReport::Run(report), _)) = report else {
            panic!("{report:?}");
        };
        let RunReport::Aborted { reason, .. } = *report else {
            panic!("{report:?}");
        };
        assert!(reason.contains("would deactivate 2"), "{reason}");
        assert_eq!(world.users(), ["a: active", "b: active", "c: active"]);
        let record = world.last_run();
        assert_eq!(
            (record.mode, record.outcome, record.watermark),
            (SyncMode::Live, Outcome::Aborted, None)
        );
    }

    #[tokio::test]
    async fn a_batch_that_changes_only_a_document_is_a_run_that_stores_it() {
        use idmsync_domain::{Document, SourceId};
        use idmsync_ports::SyncStore;

        let world = World::synced(&["a"], settings(MaxDeactivations::Count(1))).await;
        let document = |body: &str| Document {
            group: false,
            source_id: SourceId::new("a").expect("id"),
            body: body.into(),
        };
        for (n, body) in [(1, r#"{"displayName":"A"}"#), (2, r#"{"displayName":"B"}"#)] {
            let batch = SourceData {
                users: vec![user("a")],
                documents: vec![document(body)],
                ..left(&[])
            };
            let report = world.service.live(batch, position(n)).await;
            assert!(
                matches!(&report, Ok((LiveReport::Run(r), _)) if matches!(**r, RunReport::Applied { .. })),
                "{report:?}"
            );
            let stored = world.store.documents(&tenant()).await.expect("documents");
            assert_eq!(stored, [document(body)]);
        }
        assert_eq!(world.runs().len(), 3);
        assert!(world.lines(world.last_run().id).await.is_empty());
        // A failed apply keeps none of its documents.
        world
            .store
            .fail(StoreOp::Apply, StoreError::Failed("disk full".into()));
        let batch = SourceData {
            documents: vec![document("lost")],
            ..left(&[])
        };
        let report = world.service.live(batch, position(3)).await;
        assert!(report.is_err(), "{report:?}");
        let stored = world.store.documents(&tenant()).await.expect("documents");
        assert_eq!(stored, [document(r#"{"displayName":"B"}"#)]);
    }

    #[tokio::test]
    async fn a_taken_lock_leaves_the_batch_to_the_caller_and_records_nothing() {
        let world = World::synced(&["a", "b"], settings(MaxDeactivations::Count(1))).await;
        world.store.lock_elsewhere();
        let report = world.service.live(left(&["b"]), position(3)).await;
        assert_eq!(report.expect("live"), (LiveReport::Locked, vec![]));
        assert_eq!(world.runs().len(), 1);
        assert_eq!(world.users(), ["a: active", "b: active"]);
        world.store.release_elsewhere();
        let report = world.service.live(left(&["b"]), position(3)).await;
        assert!(
            matches!(&report, Ok((LiveReport::Run(r), _)) if matches!(**r, RunReport::Applied { .. })),
            "{report:?}"
        );
    }
}

mod scim {
    //! SCIM batches plan against the state the previous batch left, as long as no other run
    //! was recorded since: a run of another process makes the next batch load the store again.

    use idmsync_domain::plan::SourceData;
    use idmsync_domain::SourceUser;
    use idmsync_sync::{LiveReport, Push};

    use super::*;

    fn scim() -> Push {
        Push {
            mode: SyncMode::Scim,
            trigger: Trigger::Scim,
            position: None,
        }
    }

    fn users(users: Vec<SourceUser>) -> SourceData {
        SourceData {
            users,
            ..SourceData::default()
        }
    }

    fn renamed(login: &str, first_name: &str) -> SourceUser {
        SourceUser {
            first_name: first_name.into(),
            ..user(login)
        }
    }

    /// Another service on the same store: another process of the same deployment.
    fn twin(world: &World) -> SyncService {
        SyncService::new(
            SyncPorts {
                source: world.source.clone(),
                store: world.store.clone(),
                lock: world.store.clone(),
                hasher: Arc::new(PlainHasher),
                clock: Arc::new(FixedClock::default()),
            },
            settings(MaxDeactivations::Count(1)),
        )
    }

    async fn push(service: &SyncService, data: SourceData) -> LiveReport {
        service.push(data, scim()).await.expect("a pushed batch").0
    }

    fn applied(report: &LiveReport) -> bool {
        matches!(report, LiveReport::Run(r) if matches!(**r, RunReport::Applied { .. }))
    }

    #[tokio::test]
    async fn later_batches_plan_against_the_state_the_previous_one_left() {
        let world = World::new(settings(MaxDeactivations::Count(1)));
        assert!(applied(&push(&world.service, users(vec![user("a")])).await));
        world.store.fail(
            StoreOp::LoadState,
            StoreError::Failed("no load after the first batch".into()),
        );
        let second = push(&world.service, users(vec![renamed("a", "Ann"), user("b")])).await;
        assert!(applied(&second), "{second:?}");
        let again = push(&world.service, users(vec![renamed("a", "Ann")])).await;
        assert_eq!(again, LiveReport::Unchanged);
        let names: Vec<String> = world
            .store
            .user_rows(&tenant())
            .iter()
            .map(|u| format!("{} {}", u.first_name, u.external_id))
            .collect();
        assert_eq!(names, ["Ann a", "First b"]);
    }

    #[tokio::test]
    async fn a_run_recorded_by_another_process_makes_the_next_batch_load_again() {
        let world = World::new(settings(MaxDeactivations::Count(1)));
        assert!(applied(&push(&world.service, users(vec![user("a")])).await));
        let other = twin(&world);
        assert!(applied(
            &push(&other, users(vec![renamed("a", "Ann")])).await
        ));
        world.store.fail(
            StoreOp::LoadState,
            StoreError::Failed("the state is loaded again".into()),
        );
        let refused = world.service.push(users(vec![user("b")]), scim()).await;
        assert!(
            matches!(refused, Err(SyncError::Store(StoreError::Failed(ref m))) if m.contains("loaded again")),
            "{refused:?}"
        );
        world.store.stop_failing(StoreOp::LoadState);
        // The other process's change is seen: the same name again changes nothing.
        let same = push(&world.service, users(vec![renamed("a", "Ann")])).await;
        assert_eq!(same, LiveReport::Unchanged);
    }
}
