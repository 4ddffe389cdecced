//! The provisioning service over the real engine and the in-memory store: what SCIM writes
//! leave in the store (rows, edges, runs of mode `scim`), what SCIM reads answer, and how
//! writes of one batch stay independent of each other.

use std::sync::Arc;
use std::time::Duration;

use idmsync_domain::{
    DeactivatedBy, EventKey, MaxDeactivations, OnConflict, OnUnreadable, Outcome, Reactivate,
    SyncMode, Tenant, Trigger, UserStatus,
};
use idmsync_ports::{GuardRelease, Provisioning, RunLogReader, ScimQuery, ScimWrite};
use idmsync_provision::{ProvisioningService, ProvisioningSettings};
use idmsync_scim::{ResourceType, ScimError};
use idmsync_sync::{SyncPorts, SyncService, SyncSettings};
use idmsync_test_doubles::{reference_time, FakeSource, FixedClock, MemoryStore, PlainHasher};
use serde_json::{json, Value};

const USER: ResourceType = ResourceType::User;
const GROUP: ResourceType = ResourceType::Group;

fn tenant() -> Tenant {
    Tenant::new("default").expect("tenant")
}

/// A pushed tenant: the store, and the service in front of it.
struct Tenancy {
    store: Arc<MemoryStore>,
    scim: ProvisioningService,
    sync: Arc<SyncService>,
}

impl Tenancy {
    async fn new(max_deactivations: MaxDeactivations, reactivate: Reactivate) -> Self {
        Self::over(Arc::new(MemoryStore::new()), max_deactivations, reactivate).await
    }

    async fn over(
        store: Arc<MemoryStore>,
        max_deactivations: MaxDeactivations,
        reactivate: Reactivate,
    ) -> Self {
        let sync = SyncService::new(
            SyncPorts {
                source: Arc::new(FakeSource::new()),
                store: store.clone(),
                lock: store.clone(),
                hasher: Arc::new(PlainHasher),
                clock: Arc::new(FixedClock::default()),
            },
            SyncSettings {
                tenant: tenant(),
                admins: vec![],
                max_deactivations,
                reactivate,
                ignore_case: false,
                on_conflict: OnConflict::Fail,
                on_unreadable: OnUnreadable::Fail,
            },
        );
        let sync = Arc::new(sync);
        let scim = ProvisioningService::start(
            Arc::clone(&sync),
            store.clone(),
            store.clone(),
            Arc::new(FixedClock::default()),
            ProvisioningSettings {
                tenant: tenant(),
                base_url: "http://idm.test/scim/v2".into(),
                // Long enough that writes sent together share a batch, whatever the machine.
                batch: Duration::from_millis(200),
                reactivate,
                max_results: 100,
                max_deactivations,
                guard_window: Duration::from_secs(3600),
            },
        )
        .await
        .expect("start");
        Self { store, scim, sync }
    }

    async fn default() -> Self {
        Self::new(MaxDeactivations::Percent(100.0), Reactivate::Sync).await
    }

    async fn create(&self, kind: ResourceType, body: Value) -> Result<Value, ScimError> {
        let written = self.scim.write(ScimWrite::Create { kind, body }).await?;
        Ok(written.expect("a created resource"))
    }

    async fn user(&self, name: &str) -> Value {
        self.create(
            USER,
            json!({"userName": name, "name": {"givenName": "G", "familyName": name}}),
        )
        .await
        .expect("created")
    }

    async fn patch(&self, kind: ResourceType, id: &str, ops: Value) -> Result<Value, ScimError> {
        let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops});
        let written = self
            .scim
            .write(ScimWrite::Patch {
                kind,
                id: id.into(),
                body,
            })
            .await?;
        Ok(written.expect("a patched resource"))
    }

    async fn delete(&self, kind: ResourceType, id: &str) -> Result<(), ScimError> {
        let gone = self
            .scim
            .write(ScimWrite::Delete {
                kind,
                id: id.into(),
            })
            .await?;
        assert_eq!(gone, None);
        Ok(())
    }

    fn row(&self, login: &str) -> idmsync_domain::StoredUser {
        self.store
            .user_rows(&tenant())
            .into_iter()
            .find(|u| u.external_id.as_str() == login)
            .expect("a row")
    }

    /// The runs, as `(mode, outcome)`.
    fn runs(&self) -> Vec<(SyncMode, Outcome)> {
        self.store
            .runs()
            .iter()
            .map(|r| (r.mode, r.outcome))
            .collect()
    }
}

/// A user as a group's member, as SCIM shows it.
fn member(user: &Value) -> Value {
    let id = id(user);
    json!({"value": id, "type": "User", "$ref": format!("http://idm.test/scim/v2/Users/{id}")})
}

fn id(resource: &Value) -> String {
    resource["id"].as_str().expect("an id").to_string()
}

#[tokio::test]
async fn a_created_user_is_stored_by_a_scim_run_and_answered_with_its_meta() {
    let t = Tenancy::default().await;
    let created = t
        .create(
            USER,
            json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": "bjensen", "externalId": "okta-1",
                "name": {"givenName": "Barbara", "familyName": "Jensen"},
                "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true}],
                "password": "s3cret", "title": "ignored"
            }),
        )
        .await
        .expect("created");
    let id = id(&created);
    assert_eq!(created["userName"], "bjensen");
    assert_eq!(created["externalId"], "okta-1");
    assert!(created.get("password").is_none(), "{created}");
    assert!(created.get("title").is_none(), "{created}");
    assert_eq!(created["meta"]["resourceType"], "User");
    assert_eq!(
        created["meta"]["location"],
        format!("http://idm.test/scim/v2/Users/{id}")
    );
    assert!(created["meta"]["created"].is_string(), "{created}");
    assert!(created["meta"]["version"].is_string(), "{created}");

    let row = t.row("bjensen");
    assert_eq!(row.source_id.as_str(), id);
    assert_eq!(
        (row.first_name.as_str(), row.last_name.as_str()),
        ("Barbara", "Jensen")
    );
    assert_eq!(row.email.as_deref(), Some("bjensen@example.com"));
    assert_eq!(row.status, UserStatus::Active);
    assert_eq!(
        row.password_hash.as_ref().map(|h| h.as_str()),
        Some("plain:s3cret")
    );
    assert_eq!(t.runs(), vec![(SyncMode::Scim, Outcome::Succeeded)]);
    let lines = t.store.lines(t.store.runs()[0].id).await.expect("lines");
    assert!(
        lines.iter().any(|l| l.message.contains("bjensen")),
        "{lines:?}"
    );
    assert_eq!(t.scim.get(USER, &id).await.expect("found"), created);
}

#[tokio::test]
async fn a_taken_user_name_fails_its_write_alone_and_the_batch_commits_the_rest() {
    let t = Tenancy::default().await;
    t.user("bjensen").await;
    let (taken, other) = tokio::join!(
        t.create(USER, json!({"userName": "BJensen"})),
        t.create(USER, json!({"userName": "jsmith"})),
    );
    let taken = taken.expect_err("taken");
    assert_eq!(
        (taken.status, taken.scim_type.map(|s| s.as_str())),
        (409, Some("uniqueness"))
    );
    assert_eq!(other.expect("created")["userName"], "jsmith");
    assert_eq!(
        t.runs(),
        vec![
            (SyncMode::Scim, Outcome::Succeeded),
            (SyncMode::Scim, Outcome::Succeeded)
        ]
    );
}

#[tokio::test]
async fn writes_sent_together_share_one_run() {
    let t = Tenancy::default().await;
    let (a, b, c) = tokio::join!(t.user("a"), t.user("b"), t.user("c"));
    assert_ne!(id(&a), id(&b));
    assert_ne!(id(&b), id(&c));
    assert_eq!(t.runs(), vec![(SyncMode::Scim, Outcome::Succeeded)]);
    assert_eq!(t.store.user_rows(&tenant()).len(), 3);
}

#[tokio::test]
async fn entra_deactivates_with_a_string_and_the_user_stays_visible_inactive() {
    let t = Tenancy::default().await;
    let id = id(&t.user("bjensen").await);
    let patched = t
        .patch(
            USER,
            &id,
            json!([{"op": "Replace", "path": "active", "value": "False"}]),
        )
        .await
        .expect("patched");
    assert_eq!(patched["active"], false);
    let row = t.row("bjensen");
    assert_eq!(row.status, UserStatus::Inactive);
    assert_eq!(row.deactivated_by, Some(DeactivatedBy::Source));
    assert_eq!(
        t.scim.get(USER, &id).await.expect("visible")["active"],
        false
    );
    // Okta's shape brings it back: a path-less replace.
    t.patch(
        USER,
        &id,
        json!([{"op": "replace", "value": {"active": true}}]),
    )
    .await
    .expect("patched");
    assert_eq!(t.row("bjensen").status, UserStatus::Active);
}

#[tokio::test]
async fn a_deleted_user_is_deactivated_and_no_longer_found() {
    let t = Tenancy::default().await;
    let id = id(&t.user("bjensen").await);
    t.user("other").await;
    t.delete(USER, &id).await.expect("deleted");
    let row = t.row("bjensen");
    assert_eq!(row.status, UserStatus::Inactive);
    assert_eq!(row.deactivated_by, Some(DeactivatedBy::Sync));
    assert_eq!(t.scim.get(USER, &id).await.expect_err("gone").status, 404);
    let (page, total, _) = t
        .scim
        .list(USER, &ScimQuery::default())
        .await
        .expect("list");
    assert_eq!((page.len(), total), (1, 1));
    assert_eq!(t.delete(USER, &id).await.expect_err("again").status, 404);
}

#[tokio::test]
async fn creating_a_deleted_user_name_again_follows_sync_reactivate() {
    let t = Tenancy::default().await;
    let first = id(&t.user("bjensen").await);
    t.user("other").await;
    t.delete(USER, &first).await.expect("deleted");
    let again = t.user("bjensen").await;
    assert_eq!(id(&again), first, "the same user comes back");
    assert_eq!(t.row("bjensen").status, UserStatus::Active);

    let never = Tenancy::new(MaxDeactivations::Percent(100.0), Reactivate::None).await;
    let first = id(&never.user("bjensen").await);
    never.user("other").await;
    never.delete(USER, &first).await.expect("deleted");
    let refused = never
        .create(USER, json!({"userName": "bjensen"}))
        .await
        .expect_err("kept deleted");
    assert_eq!(refused.status, 409);
}

#[tokio::test]
async fn concurrent_member_patches_of_one_group_both_count() {
    let t = Tenancy::default().await;
    let (a, b) = tokio::join!(t.user("a"), t.user("b"));
    let group = t
        .create(GROUP, json!({"displayName": "Staff", "members": []}))
        .await
        .expect("group");
    let gid = id(&group);
    let add =
        |user: &Value| json!([{"op": "Add", "path": "members", "value": [{"value": id(user)}]}]);
    let (one, two) = tokio::join!(t.patch(GROUP, &gid, add(&a)), t.patch(GROUP, &gid, add(&b)));
    one.expect("first");
    two.expect("second");
    assert_eq!(t.store.edges(&tenant()), vec!["Staff > a", "Staff > b"]);
    // Entra removes with a value list.
    t.patch(
        GROUP,
        &gid,
        json!([{"op": "Remove", "path": "members", "value": [{"value": id(&a)}]}]),
    )
    .await
    .expect("removed");
    assert_eq!(t.store.edges(&tenant()), vec!["Staff > b"]);
    let shown = t.scim.get(GROUP, &gid).await.expect("group");
    assert_eq!(shown["members"], json!([member(&b)]));
}

#[tokio::test]
async fn a_member_that_does_not_exist_is_an_invalid_value_and_nothing_is_written() {
    let t = Tenancy::default().await;
    let refused = t
        .create(
            GROUP,
            json!({"displayName": "Staff", "members": [{"value": "nobody"}]}),
        )
        .await
        .expect_err("unknown member");
    assert_eq!(refused.status, 400);
    assert!(refused.detail.contains("nobody"), "{}", refused.detail);
    assert!(t.store.group_rows(&tenant()).is_empty());
    assert!(t.runs().is_empty());
}

#[tokio::test]
async fn a_deleted_user_leaves_its_groups() {
    let t = Tenancy::default().await;
    let (a, b) = tokio::join!(t.user("a"), t.user("b"));
    let gid = id(&t
        .create(
            GROUP,
            json!({"displayName": "Staff", "members": [{"value": id(&a)}, {"value": id(&b)}]}),
        )
        .await
        .expect("group"));
    t.delete(USER, &id(&a)).await.expect("deleted");
    assert_eq!(t.store.edges(&tenant()), vec!["Staff > b"]);
    let shown = t.scim.get(GROUP, &gid).await.expect("group");
    assert_eq!(shown["members"], json!([member(&b)]));
}

#[tokio::test]
async fn filters_and_pages_answer_from_the_tenant() {
    let t = Tenancy::default().await;
    for name in ["alice", "bob", "carol", "dave"] {
        t.user(name).await;
    }
    let query = |filter: &str, start: &str, count: &str| ScimQuery {
        filter: Some(filter.into()),
        start_index: Some(start.into()),
        count: Some(count.into()),
    };
    let (page, total, _) = t
        .scim
        .list(USER, &query(r#"userName eq "BOB""#, "1", "10"))
        .await
        .expect("list");
    assert_eq!((page.len(), total), (1, 1));
    assert_eq!(page[0]["userName"], "bob");
    let (first, total, _) = t
        .scim
        .list(USER, &query("userName pr", "1", "3"))
        .await
        .expect("page");
    let (second, _, start) = t
        .scim
        .list(USER, &query("userName pr", "4", "3"))
        .await
        .expect("page");
    assert_eq!((first.len(), second.len(), total, start), (3, 1, 4, 4));
    let mut names: Vec<&str> = first
        .iter()
        .chain(&second)
        .filter_map(|u| u["userName"].as_str())
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["alice", "bob", "carol", "dave"]);
    let bad = t
        .scim
        .list(USER, &query("userName eq", "1", "1"))
        .await
        .expect_err("bad filter");
    assert_eq!(bad.scim_type.map(|s| s.as_str()), Some("invalidFilter"));
}

#[tokio::test]
async fn within_one_batch_the_deactivation_past_the_limit_alone_is_refused() {
    let t = Tenancy::new(MaxDeactivations::Count(1), Reactivate::Sync).await;
    let users = [t.user("a").await, t.user("b").await, t.user("c").await];
    let (first, second) = (id(&users[0]), id(&users[1]));
    let (one, two) = tokio::join!(t.delete(USER, &first), t.delete(USER, &second));
    let (passed, refused) = match (one, two) {
        (Ok(()), Err(refused)) => ("a", refused),
        (Err(refused), Ok(())) => ("b", refused),
        other => panic!("one of the two passes: {other:?}"),
    };
    assert_eq!(refused.status, 503);
    assert!(refused.detail.contains("guard"), "{}", refused.detail);
    assert_eq!(t.row(passed).status, UserStatus::Inactive);
    let kept = if passed == "a" { "b" } else { "a" };
    assert_eq!(t.row(kept).status, UserStatus::Active);
    assert_eq!(t.runs().last(), Some(&(SyncMode::Scim, Outcome::Succeeded)));
}

#[tokio::test]
async fn what_the_rows_have_no_column_for_survives_a_restart() {
    let t = Tenancy::default().await;
    let user = t
        .create(
            USER,
            json!({"userName": "bjensen", "externalId": "okta-00u1", "displayName": "Babs Jensen",
                "name": {"givenName": "Barbara", "familyName": "Jensen", "formatted": "Ms B. Jensen"},
                "emails": [{"value": "home@x", "type": "home"}, {"value": "b@x", "primary": true}],
                "title": "Tour Guide"}),
        )
        .await
        .expect("user");
    let group = t
        .create(
            GROUP,
            json!({"displayName": "Staff", "externalId": "entra-g1",
                "members": [{"value": id(&user)}]}),
        )
        .await
        .expect("group");
    let user = t
        .patch(
            USER,
            &id(&user),
            json!([{"op": "replace", "path": "displayName", "value": "B. J."}]),
        )
        .await
        .expect("patched");
    let again = Tenancy::over(
        t.store.clone(),
        MaxDeactivations::Percent(100.0),
        Reactivate::Sync,
    )
    .await;
    assert_eq!(again.scim.get(USER, &id(&user)).await.expect("user"), user);
    assert_eq!(
        again.scim.get(GROUP, &id(&group)).await.expect("group"),
        group
    );
}

#[tokio::test]
async fn a_new_service_over_the_same_store_sees_what_was_pushed() {
    let t = Tenancy::default().await;
    let a = t.user("a").await;
    let gone = t.user("gone").await;
    t.user("keep").await;
    t.create(
        GROUP,
        json!({"displayName": "Staff", "members": [{"value": id(&a)}]}),
    )
    .await
    .expect("group");
    t.delete(USER, &id(&gone)).await.expect("deleted");
    let again = Tenancy::over(
        t.store.clone(),
        MaxDeactivations::Percent(100.0),
        Reactivate::Sync,
    )
    .await;
    let found = again.scim.get(USER, &id(&a)).await.expect("found");
    assert_eq!(found["userName"], "a");
    assert_eq!(
        again
            .scim
            .get(USER, &id(&gone))
            .await
            .expect_err("deleted")
            .status,
        404
    );
    let (groups, _, _) = again
        .scim
        .list(GROUP, &ScimQuery::default())
        .await
        .expect("groups");
    assert_eq!(groups[0]["members"], json!([member(&a)]));
}

#[tokio::test]
async fn deactivations_one_batch_at_a_time_are_counted_over_the_window() {
    let t = Tenancy::new(MaxDeactivations::Count(2), Reactivate::Sync).await;
    let mut ids = Vec::new();
    for name in ["a", "b", "c", "d"] {
        ids.push(id(&t.user(name).await));
    }
    t.delete(USER, &ids[0]).await.expect("first");
    t.patch(
        USER,
        &ids[1],
        json!([{"op": "replace", "value": {"active": false}}]),
    )
    .await
    .expect("second");
    // Each alone is one deactivation, far under the engine's per-run guard: the window counts.
    let refused = t.delete(USER, &ids[2]).await.expect_err("third");
    assert_eq!(refused.status, 503);
    assert!(refused.detail.contains("2 user(s)"), "{}", refused.detail);
    assert_eq!(t.row("c").status, UserStatus::Active);
    // Other writes still pass.
    t.user("e").await;

    let until = t.scim.release().await.expect("released");
    assert_eq!(until, reference_time() + chrono::Duration::hours(1));
    t.delete(USER, &ids[2]).await.expect("let through");
    assert_eq!(t.row("c").status, UserStatus::Inactive);
    let release = t
        .store
        .runs()
        .into_iter()
        .find(|r| r.trigger == Trigger::Api)
        .expect("recorded");
    assert_eq!(release.mode, SyncMode::Scim);
    let lines = t.store.lines(release.id).await.expect("lines");
    assert_eq!(lines[0].event, EventKey::GuardReleased);
}

#[tokio::test]
async fn a_release_recorded_by_another_process_is_found_in_the_run_log() {
    let t = Tenancy::new(MaxDeactivations::Count(1), Reactivate::Sync).await;
    let (a, b) = (id(&t.user("a").await), id(&t.user("b").await));
    t.user("c").await;
    t.delete(USER, &a).await.expect("first");
    assert_eq!(t.delete(USER, &b).await.expect_err("guarded").status, 503);
    // What `idmsync scim release-guard` does, through its own engine.
    t.sync
        .release_guard(Trigger::Manual, "released by the CLI".into())
        .await
        .expect("recorded");
    t.delete(USER, &b).await.expect("let through");
    // A service started later reads the window back: the release still holds.
    let again = Tenancy::over(
        t.store.clone(),
        MaxDeactivations::Count(1),
        Reactivate::Sync,
    )
    .await;
    let c = again
        .scim
        .list(
            USER,
            &ScimQuery {
                filter: Some(r#"userName eq "c""#.into()),
                ..ScimQuery::default()
            },
        )
        .await
        .expect("c")
        .0;
    again
        .delete(USER, &id(&c[0]))
        .await
        .expect("released window");
}

#[tokio::test]
async fn a_restarted_service_counts_the_window_from_the_run_log() {
    let t = Tenancy::new(MaxDeactivations::Count(1), Reactivate::Sync).await;
    let a = id(&t.user("a").await);
    let b = id(&t.user("b").await);
    t.user("c").await;
    t.delete(USER, &a).await.expect("first");
    let again = Tenancy::over(
        t.store.clone(),
        MaxDeactivations::Count(1),
        Reactivate::Sync,
    )
    .await;
    assert_eq!(
        again.delete(USER, &b).await.expect_err("counted").status,
        503
    );
}
