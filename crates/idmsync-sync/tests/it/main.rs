//! Engine tests: the orchestration of a run against mocked ports. The planner's rules are tested
//! in `idmsync-domain`; here we check which port is called, when, and with what.

use std::sync::Arc;

use idmsync_domain::plan::{SourceData, Unreadable};
use idmsync_domain::{
    Counts, EventKey, ExternalId, MaxDeactivations, OnConflict, OnUnreadable, Outcome, Reactivate,
    RunId, RunRecord, SourceId, SourcePassword, SourceUser, StoreState, StoredUser, SyncMode,
    Tenant, Trigger, UserStatus, Watermark,
};
use idmsync_ports::lock::MockRunLock;
use idmsync_ports::source::MockIdentitySource;
use idmsync_ports::store::MockSyncStore;
use idmsync_ports::{HeldLock, NoProgress, SourceError, StoreError};
use idmsync_sync::{RunReport, RunRequest, SyncError, SyncPorts, SyncService, SyncSettings};
use idmsync_test_doubles::{reference_time, FixedClock, PlainHasher};
use mockall::predicate::eq;

fn tenant() -> Tenant {
    Tenant::new("default").expect("tenant")
}

fn source_user(id: &str) -> SourceUser {
    SourceUser {
        source_id: SourceId::new(id).expect("id"),
        external_id: ExternalId::new(id).expect("id"),
        locator: None,
        first_name: "First".into(),
        last_name: id.into(),
        email: None,
        password: SourcePassword::Unmanaged,
        enabled: true,
    }
}

fn stored_user(id: &str) -> StoredUser {
    StoredUser {
        source_id: SourceId::new(id).expect("id"),
        external_id: ExternalId::new(id).expect("id"),
        locator: None,
        first_name: "First".into(),
        last_name: id.into(),
        email: None,
        status: UserStatus::Active,
        deactivated_by: None,
        admin: false,
        password_hash: None,
    }
}

fn state(users: &[&str]) -> StoreState {
    StoreState {
        users: users.iter().map(|u| stored_user(u)).collect(),
        ..StoreState::default()
    }
}

fn service(source: MockIdentitySource, store: MockSyncStore) -> SyncService {
    service_with_limit(source, store, MaxDeactivations::Percent(10.0))
}

fn service_with_limit(
    source: MockIdentitySource,
    store: MockSyncStore,
    max_deactivations: MaxDeactivations,
) -> SyncService {
    service_with_lock(source, store, free_lock(), max_deactivations)
}

struct Held;
impl HeldLock for Held {}

fn free_lock() -> MockRunLock {
    let mut lock = MockRunLock::new();
    lock.expect_try_lock()
        .returning(|_| Ok(Some(Box::new(Held) as Box<dyn HeldLock>)));
    lock
}

fn service_with_lock(
    source: MockIdentitySource,
    store: MockSyncStore,
    lock: MockRunLock,
    max_deactivations: MaxDeactivations,
) -> SyncService {
    build(source, store, lock, settings(max_deactivations))
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

fn build(
    source: MockIdentitySource,
    store: MockSyncStore,
    lock: MockRunLock,
    settings: SyncSettings,
) -> SyncService {
    SyncService::new(
        SyncPorts {
            source: Arc::new(source),
            store: Arc::new(store),
            lock: Arc::new(lock),
            hasher: Arc::new(PlainHasher),
            clock: Arc::new(FixedClock::default()),
        },
        settings,
    )
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

fn source_with(users: &[&str]) -> MockIdentitySource {
    source_returning(SourceData {
        users: users.iter().map(|u| source_user(u)).collect(),
        ..SourceData::default()
    })
}

fn source_returning(data: SourceData) -> MockIdentitySource {
    let mut source = MockIdentitySource::new();
    source.expect_name().return_const("test".to_string());
    source.expect_admins().returning(Vec::new);
    source
        .expect_watermark()
        .returning(|| Ok(Watermark("w2".into())));
    source
        .expect_snapshot()
        .returning(move |_| Ok(data.clone()));
    source
}

fn succeeded(watermark: &str) -> RunRecord {
    RunRecord {
        id: RunId(1),
        tenant: tenant(),
        mode: SyncMode::Full,
        trigger: Trigger::Manual,
        source: "test".into(),
        started_at: reference_time(),
        finished_at: Some(reference_time()),
        outcome: Outcome::Succeeded,
        reason: None,
        counts: Counts::default(),
        watermark: Some(Watermark(watermark.into())),
    }
}

/// A store that has never run, holding `users`, expecting one run to begin.
fn store_with(users: &'static [&'static str], last: Option<RunRecord>) -> MockSyncStore {
    let mut store = MockSyncStore::new();
    store
        .expect_last_success()
        .returning(move |_| Ok(last.clone()));
    store
        .expect_load_state()
        .returning(move |_| Ok(state(users)));
    store
        .expect_load_state_for_groups()
        .returning(move |_, _| Ok(state(users)));
    store
        .expect_begin_run()
        .times(1)
        .returning(|_| Ok(RunId(7)));
    store
}

#[tokio::test]
async fn first_run_is_full_and_applies_with_the_new_watermark() {
    let mut store = store_with(&[], None);
    store
        .expect_apply()
        .withf(|run, _, changes, result, _| {
            *run == RunId(7)
                && changes.users.len() == 2
                && result.outcome == Outcome::Succeeded
                && result.watermark == Some(Watermark("w2".into()))
        })
        .times(1)
        .returning(|_, _, _, _, _| Ok(()));
    let report = service(source_with(&["a", "b"]), store)
        .run(request(None), &NoProgress)
        .await
        .expect("run");
    match report {
        RunReport::Applied { mode, counts, .. } => {
            assert_eq!(mode, SyncMode::Full);
            assert_eq!(counts.users_created, 2);
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn later_runs_are_differential_from_the_last_watermark() {
    let mut source = MockIdentitySource::new();
    source.expect_name().return_const("test".to_string());
    source.expect_admins().returning(Vec::new);
    source
        .expect_watermark()
        .returning(|| Ok(Watermark("w2".into())));
    source.expect_snapshot().never();
    source
        .expect_changed_since()
        .with(eq(Watermark("w1".into())), mockall::predicate::always())
        .times(1)
        .returning(|_, _| {
            Ok(SourceData {
                users: vec![source_user("c")],
                ..SourceData::default()
            })
        });
    let mut store = store_with(&["a", "b"], Some(succeeded("w1")));
    store
        .expect_apply()
        .withf(|_, _, changes, _, _| changes.user_deactivations() == 0 && changes.users.len() == 1)
        .times(1)
        .returning(|_, _, _, _, _| Ok(()));
    let report = service(source, store)
        .run(request(None), &NoProgress)
        .await
        .expect("run");
    assert!(matches!(
        report,
        RunReport::Applied {
            mode: SyncMode::Differential,
            ..
        }
    ));
}

#[tokio::test]
async fn a_source_error_records_a_failed_run_and_applies_nothing() {
    let mut source = MockIdentitySource::new();
    source.expect_name().return_const("test".to_string());
    source
        .expect_watermark()
        .returning(|| Ok(Watermark("w".into())));
    source.expect_snapshot().returning(|_| {
        Err(SourceError::Invalid {
            location: "users.txt:3".into(),
            message: "field 'email': invalid".into(),
        })
    });
    let mut store = store_with(&["a"], None);
    store.expect_apply().never();
    store
        .expect_finish_run()
        .withf(|run, result, lines| {
            *run == RunId(7)
                && result.outcome == Outcome::Failed
                && result.watermark.is_none()
                && lines.len() == 1
                && lines[0].event == EventKey::Failed
                && lines[0].message.contains("users.txt:3")
        })
        .times(1)
        .returning(|_, _, _| Ok(()));
    let err = service(source, store)
        .run(request(Some(SyncMode::Full)), &NoProgress)
        .await
        .expect_err("must fail");
    assert!(matches!(
        err,
        SyncError::Source {
            run: Some(RunId(7)),
            ..
        }
    ));
}

#[tokio::test]
async fn a_full_run_whose_state_read_fails_applies_nothing() {
    // The state is read beside the source; its failure must still stop the run.
    let mut store = MockSyncStore::new();
    store.expect_last_success().returning(|_| Ok(None));
    store.expect_begin_run().returning(|_| Ok(RunId(7)));
    store
        .expect_load_state()
        .times(1)
        .returning(|_| Err(StoreError::Unavailable("db down".into())));
    store.expect_apply().never();
    let err = service(source_with(&["a"]), store)
        .run(request(Some(SyncMode::Full)), &NoProgress)
        .await
        .expect_err("must fail");
    assert!(
        matches!(&err, SyncError::Store(StoreError::Unavailable(m)) if m == "db down"),
        "{err:?}"
    );
}

#[tokio::test]
async fn the_guard_aborts_before_writing() {
    let mut store = store_with(&["a", "b", "c", "d", "e"], None);
    store.expect_apply().never();
    store
        .expect_finish_run()
        .withf(|_, result, lines| {
            result.outcome == Outcome::Aborted
                && result.counts.users_deactivated == 4
                && lines[0].event == EventKey::Aborted
        })
        .times(1)
        .returning(|_, _, _| Ok(()));
    let report = service(source_with(&["a"]), store)
        .run(request(Some(SyncMode::Full)), &NoProgress)
        .await
        .expect("run");
    assert!(matches!(report, RunReport::Aborted { run: RunId(7), .. }));
}

#[tokio::test]
async fn an_empty_source_trips_the_guard_even_with_a_generous_limit() {
    let mut store = store_with(&["a"], None);
    store.expect_apply().never();
    store
        .expect_finish_run()
        .times(1)
        .returning(|_, _, _| Ok(()));
    let report = service_with_limit(source_with(&[]), store, MaxDeactivations::Count(1000))
        .run(request(Some(SyncMode::Full)), &NoProgress)
        .await
        .expect("run");
    match report {
        RunReport::Aborted { reason, .. } => assert!(reason.contains("no users")),
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn force_applies_what_the_guard_would_stop() {
    let mut store = store_with(&["a", "b", "c", "d", "e"], None);
    store
        .expect_apply()
        .times(1)
        .returning(|_, _, _, _, _| Ok(()));
    let report = service(source_with(&["a"]), store)
        .run(
            RunRequest {
                force: true,
                ..request(Some(SyncMode::Full))
            },
            &NoProgress,
        )
        .await
        .expect("run");
    assert!(matches!(report, RunReport::Applied { .. }));
}

#[tokio::test]
async fn a_dry_run_writes_nothing_at_all() {
    let mut store = MockSyncStore::new();
    store.expect_last_success().returning(|_| Ok(None));
    store.expect_load_state().returning(|_| Ok(state(&["a"])));
    store.expect_begin_run().never();
    store.expect_apply().never();
    store.expect_finish_run().never();
    let report = service(source_with(&["a", "b"]), store)
        .run(
            RunRequest {
                dry_run: true,
                ..request(None)
            },
            &NoProgress,
        )
        .await
        .expect("run");
    match report {
        RunReport::DryRun { changes, guard, .. } => {
            assert_eq!(changes.counts().users_created, 1);
            assert_eq!(guard, None);
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn a_failed_apply_is_recorded_and_reported() {
    let mut store = store_with(&[], None);
    store
        .expect_apply()
        .returning(|_, _, _, _, _| Err(StoreError::Failed("disk full".into())));
    store
        .expect_finish_run()
        .withf(|_, result, _| result.outcome == Outcome::Failed)
        .times(1)
        .returning(|_, _, _| Ok(()));
    let err = service(source_with(&["a"]), store)
        .run(request(None), &NoProgress)
        .await
        .expect_err("must fail");
    assert!(matches!(err, SyncError::Store(StoreError::Failed(_))));
}

#[tokio::test]
async fn a_taken_lock_records_a_skipped_run_and_touches_nothing() {
    let mut lock = MockRunLock::new();
    lock.expect_try_lock().times(1).returning(|_| Ok(None));
    let mut store = MockSyncStore::new();
    store.expect_last_success().returning(|_| Ok(None));
    store.expect_begin_run().never();
    store.expect_load_state().never();
    store.expect_apply().never();
    store
        .expect_record_skipped()
        .withf(|run, result| {
            run.trigger == Trigger::Manual && result.outcome == Outcome::SkippedLocked
        })
        .times(1)
        .returning(|_, _| Ok(RunId(9)));
    let mut source = MockIdentitySource::new();
    source.expect_name().return_const("test".to_string());
    source.expect_watermark().never();
    source.expect_snapshot().never();
    let report = service_with_lock(source, store, lock, MaxDeactivations::Count(0))
        .run(request(None), &NoProgress)
        .await
        .expect("run");
    assert_eq!(report, RunReport::Skipped { run: RunId(9) });
}

#[tokio::test]
async fn a_dry_run_takes_no_lock() {
    let mut lock = MockRunLock::new();
    lock.expect_try_lock().never();
    let mut store = MockSyncStore::new();
    store.expect_last_success().returning(|_| Ok(None));
    store.expect_load_state().returning(|_| Ok(state(&[])));
    let report = service_with_lock(source_with(&["a"]), store, lock, MaxDeactivations::Count(0))
        .run(
            RunRequest {
                dry_run: true,
                ..request(None)
            },
            &NoProgress,
        )
        .await
        .expect("run");
    assert!(matches!(report, RunReport::DryRun { .. }));
}

/// Runs `source` into a store holding users `a` and `b`, expecting the run to be refused before
/// anything is written, and returns the error and the run-log lines recorded.
async fn refused(source: MockIdentitySource, settings: SyncSettings) -> (SyncError, Vec<String>) {
    let mut store = store_with(&["a", "b"], None);
    store.expect_apply().never();
    let lines = Arc::new(std::sync::Mutex::new(Vec::new()));
    let recorded = Arc::clone(&lines);
    store
        .expect_finish_run()
        .withf(|run, result, _| *run == RunId(7) && result.outcome == Outcome::Failed)
        .times(1)
        .returning(move |_, _, l| {
            let mut recorded = recorded.lock().expect("lines");
            recorded.extend(
                l.iter()
                    .map(|l| format!("{}: {}", l.event.as_str(), l.message)),
            );
            Ok(())
        });
    let err = build(source, store, free_lock(), settings)
        .run(request(Some(SyncMode::Full)), &NoProgress)
        .await
        .expect_err("refused");
    let lines = lines.lock().expect("lines").clone();
    (err, lines)
}

fn unreadable(dn: &str) -> Unreadable {
    Unreadable {
        group: false,
        locator: dn.into(),
        source_id: None,
        reason: "no value for 'entryUUID'".into(),
    }
}

#[tokio::test]
async fn entries_the_source_could_not_read_stop_a_full_run_and_are_each_logged() {
    let data = SourceData {
        users: vec![source_user("a")],
        unreadable: vec![unreadable("uid=b,dc=x"), unreadable("uid=c,dc=x")],
        ..SourceData::default()
    };
    let (err, lines) = refused(source_returning(data), settings(MaxDeactivations::Count(5))).await;
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
    let mut b = source_user("b");
    b.locator = Some("uid=b,dc=x".into());
    let data = SourceData {
        users: vec![source_user("a")],
        unreadable: vec![unreadable("uid=b,dc=x")],
        ..SourceData::default()
    };
    let mut store = MockSyncStore::new();
    store.expect_last_success().returning(|_| Ok(None));
    let mut stored = state(&["a", "b"]);
    stored.users[1].locator = b.locator.clone();
    store
        .expect_load_state()
        .returning(move |_| Ok(stored.clone()));
    store.expect_begin_run().returning(|_| Ok(RunId(7)));
    store
        .expect_apply()
        .withf(|_, _, changes, _, _| changes.user_deactivations() == 0)
        .times(1)
        .returning(|_, _, _, _, _| Ok(()));
    let mut keep = settings(MaxDeactivations::Count(5));
    keep.on_unreadable = OnUnreadable::Keep;
    let report = build(source_returning(data), store, free_lock(), keep)
        .run(request(Some(SyncMode::Full)), &NoProgress)
        .await
        .expect("applied");
    assert!(matches!(report, RunReport::Applied { .. }), "{report:?}");
}

#[tokio::test]
async fn two_entries_claiming_one_identity_stop_the_run_naming_both() {
    let mut john = source_user("a");
    john.external_id = ExternalId::new("john").expect("id");
    let data = SourceData {
        users: vec![source_user("a"), john, source_user("b")],
        ..SourceData::default()
    };
    let (err, lines) = refused(source_returning(data), settings(MaxDeactivations::Count(5))).await;
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
    let mut b = source_user("b");
    b.last_name = "Mc\0Cartney".into();
    b.locator = Some("uid=b,dc=x".into());
    let data = SourceData {
        users: vec![source_user("a"), b],
        ..SourceData::default()
    };
    let (err, _) = refused(source_returning(data), settings(MaxDeactivations::Count(5))).await;
    assert!(
        err.to_string()
            .ends_with("uid=b,dc=x: last name: the control character U+0000 at character 3"),
        "{err}"
    );
}
