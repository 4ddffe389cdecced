//! Runs of the real engine over two in-memory sources merged, and an in-memory store: what the
//! merged tenant's rows and run log become as people come and go in each source.

use std::sync::Arc;

use idmsync_domain::{
    EventKey, MaxDeactivations, OnConflict, OnUnreadable, Reactivate, RunId, SyncMode, Tenant,
    Trigger,
};
use idmsync_ports::{IdentitySource, NoProgress, RunLogReader, SourceError};
use idmsync_source_merge::{MergeOptions, MergedSource};
use idmsync_sync::{RunReport, RunRequest, SyncError, SyncPorts, SyncService, SyncSettings};
use idmsync_test_doubles::{group, user, FakeSource, FixedClock, MemoryStore, PlainHasher};

fn tenant() -> Tenant {
    Tenant::new("acme").expect("tenant")
}

/// Employees over contractors, merged by e-mail, into one store.
struct World {
    employees: Arc<FakeSource>,
    contractors: Arc<FakeSource>,
    store: Arc<MemoryStore>,
    service: SyncService,
}

impl World {
    fn new() -> Self {
        let employees = Arc::new(FakeSource::new());
        let store = Arc::new(MemoryStore::new());
        Self::merging(employees, store)
    }

    /// `employees`, as the first source, over new contractors, into `store`.
    fn merging(employees: Arc<FakeSource>, store: Arc<MemoryStore>) -> Self {
        let contractors = Arc::new(FakeSource::new());
        let sources: Vec<(String, Arc<dyn IdentitySource>)> = vec![
            ("employees".into(), employees.clone()),
            ("contractors".into(), contractors.clone()),
        ];
        let merged =
            MergedSource::new(sources, MergeOptions::default()).with_links(store.clone(), tenant());
        Self::over(Arc::new(merged), employees, contractors, store)
    }

    /// The engine reading `source` into `store`.
    fn over(
        source: Arc<dyn IdentitySource>,
        employees: Arc<FakeSource>,
        contractors: Arc<FakeSource>,
        store: Arc<MemoryStore>,
    ) -> Self {
        let service = SyncService::new(
            SyncPorts {
                source,
                store: store.clone(),
                lock: store.clone(),
                hasher: Arc::new(PlainHasher),
                clock: Arc::new(FixedClock::default()),
            },
            SyncSettings {
                tenant: tenant(),
                admins: vec![],
                max_deactivations: MaxDeactivations::Count(100),
                reactivate: Reactivate::Sync,
                ignore_case: false,
                on_conflict: OnConflict::Fail,
                on_unreadable: OnUnreadable::Fail,
            },
        );
        Self {
            employees,
            contractors,
            store,
            service,
        }
    }

    async fn run(&self, mode: SyncMode) -> Result<RunReport, SyncError> {
        let request = RunRequest {
            mode: Some(mode),
            user: None,
            trigger: Trigger::Manual,
            dry_run: false,
            force: false,
        };
        self.service.run(request, &NoProgress).await
    }

    async fn applied(&self, mode: SyncMode) -> RunId {
        match self.run(mode).await.expect("the run") {
            RunReport::Applied { run, .. } => run,
            other => panic!("not applied: {other:?}"),
        }
    }

    /// The stored users as `id login status`.
    fn users(&self) -> Vec<String> {
        let mut rows: Vec<String> = self
            .store
            .user_rows(&tenant())
            .iter()
            .map(|u| format!("{} {} {}", u.source_id, u.external_id, u.status.as_str()))
            .collect();
        rows.sort();
        rows
    }
}

fn person(sid: &str, login: &str, email: &str) -> idmsync_domain::SourceUser {
    let mut u = user(login);
    u.source_id = idmsync_domain::SourceId::new(sid).expect("id");
    u.email = Some(email.into());
    u
}

#[tokio::test]
async fn a_user_is_inactive_only_when_no_source_provides_them() {
    let world = World::new();
    world
        .employees
        .put_user(person("g1", "carol", "carol@example.com"));
    world
        .contractors
        .put_user(person("c1", "c.carol", "carol@example.com"));
    world
        .contractors
        .put_user(person("c2", "dave", "dave@example.com"));
    world
        .contractors
        .put_group(group("staff", &["c.carol", "dave"]));
    world.applied(SyncMode::Full).await;
    assert_eq!(world.users(), ["c2 dave active", "g1 carol active"]);
    assert_eq!(
        world.store.edges(&tenant()),
        ["staff > carol", "staff > dave"].map(String::from),
        "the contractors' group names the merged user"
    );

    world.employees.remove_user("carol");
    world.applied(SyncMode::Differential).await;
    assert_eq!(
        world.users(),
        ["c2 dave active", "g1 c.carol active"],
        "still a contractor: same row, the contractor's login"
    );

    world.contractors.remove_user("c.carol");
    world.contractors.remove_user("dave");
    world.applied(SyncMode::Differential).await;
    assert_eq!(world.users(), ["c2 dave inactive", "g1 c.carol inactive"]);
}

#[tokio::test]
async fn a_login_claimed_by_two_people_is_logged_and_neither_changes() {
    let world = World::new();
    world
        .employees
        .put_user(person("g1", "jsmith", "john@example.com"));
    world.applied(SyncMode::Full).await;
    let mut renamed = person("g1", "jsmith", "john@example.com");
    renamed.first_name = "Johnny".into();
    world.employees.put_user(renamed);
    world
        .contractors
        .put_user(person("c9", "jsmith", "jane@example.com"));

    let run = world.applied(SyncMode::Full).await;

    assert_eq!(
        world.users(),
        ["g1 jsmith active"],
        "neither written nor deactivated"
    );
    let stored = world.store.user_rows(&tenant());
    assert_eq!(
        stored[0].first_name, "First",
        "the held user is not updated"
    );
    let lines = world.store.lines(run).await.expect("lines");
    let conflicts: Vec<_> = lines
        .iter()
        .filter(|l| l.event == EventKey::SourceConflict)
        .collect();
    assert_eq!(conflicts.len(), 2, "{lines:?}");
    assert!(
        conflicts[0]
            .message
            .contains("\"jsmith\" is claimed by 2 different people"),
        "{}",
        conflicts[0].message
    );
}

#[tokio::test]
async fn one_source_failing_changes_nothing() {
    let world = World::new();
    world
        .employees
        .put_user(person("g1", "carol", "carol@example.com"));
    world
        .contractors
        .put_user(person("c2", "dave", "dave@example.com"));
    world.applied(SyncMode::Full).await;
    world.contractors.remove_user("dave");
    world
        .contractors
        .set_error(Some(SourceError::Unavailable("file gone".into())));

    let error = world.run(SyncMode::Full).await.expect_err("the run fails");

    assert!(
        error.to_string().contains("source contractors: file gone"),
        "{error}"
    );
    assert_eq!(world.users(), ["c2 dave active", "g1 carol active"]);
}

#[tokio::test]
async fn a_tenant_of_one_source_that_gets_a_second_below_it_keeps_its_rows() {
    let employees = Arc::new(FakeSource::new());
    let store = Arc::new(MemoryStore::new());
    let alone = World::over(
        employees.clone(),
        employees.clone(),
        Arc::new(FakeSource::new()),
        store.clone(),
    );
    employees.put_user(person("g1", "carol", "carol@example.com"));
    employees.put_user(person("g2", "dave", "dave@example.com"));
    alone.applied(SyncMode::Full).await;

    let merged = World::merging(employees, store);
    merged
        .contractors
        .put_user(person("c1", "carol-c", "CAROL@example.com"));
    merged
        .contractors
        .put_user(person("c2", "erin", "erin@example.com"));
    let run = merged.applied(SyncMode::Full).await;

    assert_eq!(
        merged.users(),
        ["c2 erin active", "g1 carol active", "g2 dave active"],
        "carol keeps her row; only erin is new"
    );
    let lines = merged.store.lines(run).await.expect("lines");
    assert!(
        lines.iter().all(|l| l.event != EventKey::DeactivatedUser),
        "{lines:?}"
    );
}
