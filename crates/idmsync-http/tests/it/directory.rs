//! `users` and `groups`.

use axum::http::StatusCode;
use idmsync_domain::change::{Edge, Event, GroupWrite, Key, KeyIds, UserWrite};
use idmsync_domain::{
    ChangeSet, DeactivatedBy, ExternalId, RunResult, SourceId, StoredGroup, StoredUser, UserStatus,
};
use idmsync_ports::{NewRun, NoProgress, SyncStore};
use serde_json::json;

use crate::*;

/// The key of the user or group `id`, whose source id is `uuid-` and the id.
fn key(id: &str) -> Key {
    Key::new(
        SourceId::new(format!("uuid-{id}")).expect("source id"),
        ExternalId::new(id).expect("external id"),
    )
}

/// John Lennon's row under `id`, active, with an e-mail address.
pub(crate) fn user(id: &str, admin: bool) -> StoredUser {
    let KeyIds {
        source_id,
        external_id,
    } = KeyIds::clone(&key(id));
    StoredUser {
        source_id,
        external_id,
        locator: None,
        first_name: "John".into(),
        last_name: "Lennon".into(),
        email: Some(format!("{id}@example.com")),
        status: UserStatus::Active,
        deactivated_by: None,
        admin,
        password_hash: None,
    }
}

/// The active group `id` named `name`.
fn group(id: &str, name: &str) -> StoredGroup {
    let KeyIds {
        source_id,
        external_id,
    } = KeyIds::clone(&key(id));
    StoredGroup {
        source_id,
        external_id,
        locator: None,
        name: name.into(),
        status: UserStatus::Active,
    }
}

/// `member` directly in `group`.
fn edge(group: &str, member: &str) -> Edge {
    Edge {
        group: key(group),
        member: key(member),
    }
}

/// A change set that creates `users` and `groups`.
fn creating(users: Vec<StoredUser>, groups: Vec<StoredGroup>) -> ChangeSet {
    ChangeSet {
        users: users
            .into_iter()
            .map(|row| UserWrite {
                event: Event::Created,
                row,
            })
            .collect(),
        groups: groups
            .into_iter()
            .map(|row| GroupWrite {
                event: Event::Created,
                row,
            })
            .collect(),
        ..ChangeSet::default()
    }
}

/// Applies `changes` to `fake`'s store as a run of the test tenant that ended at 09:00.
async fn synced(fake: &Fake, changes: ChangeSet) {
    let run = NewRun {
        tenant: tenant(),
        mode: SyncMode::Full,
        trigger: Trigger::Schedule,
        source: "file".into(),
        started_at: at(8),
    };
    let ended = RunResult {
        outcome: Outcome::Succeeded,
        reason: None,
        counts: changes.counts(),
        watermark: None,
        finished_at: at(9),
    };
    let id = fake.store.begin_run(&run).await.expect("a run begins");
    fake.store
        .apply(id, &tenant(), &changes, &ended, &NoProgress)
        .await
        .expect("the changes apply");
}

/// The ids in a list's `data`, and the rest of the list.
fn ids_and_rest(reply: &Reply) -> (Vec<String>, serde_json::Value) {
    let mut body = reply.json();
    let data = body
        .as_object_mut()
        .expect("object")
        .remove("data")
        .unwrap_or_else(|| panic!("no data in {}", reply.body));
    let ids = data
        .as_array()
        .expect("data")
        .iter()
        .map(|row| row["id"].as_str().expect("id").to_owned())
        .collect();
    (ids, body)
}

#[tokio::test]
async fn users_show_every_field_under_the_original_names() {
    let (app, fake) = api(Fake::default());
    synced(&fake, creating(vec![user("jlennon", true)], vec![])).await;
    fake.store.seed_user(
        &tenant(),
        StoredUser {
            status: UserStatus::Inactive,
            deactivated_by: Some(DeactivatedBy::Sync),
            email: None,
            ..user("pbest", false)
        },
    );
    let reply = get_as_admin(&app, "/api/enterprise/users").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.json(),
        json!({"size": 2, "total": 2, "start": 0, "data": [
            {
                "id": "jlennon", "externalId": "jlennon", "firstName": "John",
                "lastName": "Lennon", "email": "jlennon@example.com", "status": "active",
                "tenantId": TENANT, "admin": true,
                "lastSyncTime": "2024-05-01T09:00:00.000+0000"
            },
            {
                "id": "pbest", "externalId": "pbest", "firstName": "John",
                "lastName": "Lennon", "email": null, "status": "inactive",
                "tenantId": TENANT, "admin": false, "lastSyncTime": null
            }
        ]})
    );
}

#[tokio::test]
async fn groups_show_every_field_under_the_original_names() {
    let (app, fake) = api(Fake::default());
    let beatles = StoredGroup {
        status: UserStatus::Inactive,
        ..group("beatles", "The Beatles")
    };
    let mut changes = creating(
        vec![user("jlennon", false), user("pmccartney", false)],
        vec![beatles, group("drummers", "Drummers")],
    );
    changes.memberships_added = vec![edge("beatles", "jlennon"), edge("beatles", "pmccartney")];
    changes.nesting_added = vec![edge("beatles", "drummers")];
    synced(&fake, changes).await;
    let reply = get_as_admin(&app, "/api/enterprise/groups").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.json(),
        json!({"size": 2, "total": 2, "start": 0, "data": [
            {
                "id": "beatles", "externalId": "beatles", "name": "The Beatles",
                "status": "inactive", "tenantId": TENANT,
                "members": ["jlennon", "pmccartney"], "childGroups": ["drummers"]
            },
            {
                "id": "drummers", "externalId": "drummers", "name": "Drummers",
                "status": "active", "tenantId": TENANT, "members": [], "childGroups": []
            }
        ]})
    );
}

/// The text (decoded, a space in it), external id and status filters and the page each narrow
/// the answer; an empty text filter is none, so the total comes from the counts; without a
/// page, 25 rows.
#[tokio::test]
async fn filters_and_pages_reach_the_reader() {
    let (app, fake) = api(Fake::default());
    let van_dyke = |id: &str, status| StoredUser {
        last_name: "Van Dyke".into(),
        status,
        ..user(id, false)
    };
    let groups = (1..=30)
        .map(|n| StoredGroup {
            status: if n > 27 {
                UserStatus::Inactive
            } else {
                UserStatus::Active
            },
            ..group(&format!("g{n:02}"), "Group")
        })
        .collect();
    let users = vec![
        van_dyke("dvandyke", UserStatus::Active),
        van_dyke("bvandyke", UserStatus::Inactive),
        van_dyke("jvandyke", UserStatus::Active),
        user("jlennon", false),
    ];
    synced(&fake, creating(users, groups)).await;

    let reply = get_as_admin(
        &app,
        "/api/enterprise/users?filter=van%20DYKE&status=active&start=1&size=1",
    )
    .await;
    let (ids, rest) = ids_and_rest(&reply);
    assert_eq!(ids, ["jvandyke"]);
    assert_eq!(rest, json!({"size": 1, "total": null, "start": 1}));
    let reply = get_as_admin(
        &app,
        "/api/enterprise/users?externalId=jlennon&status=active",
    )
    .await;
    let (ids, rest) = ids_and_rest(&reply);
    assert_eq!(ids, ["jlennon"]);
    assert_eq!(rest, json!({"size": 1, "total": 1, "start": 0}));

    let reply = get_as_admin(
        &app,
        "/api/enterprise/groups?status=inactive&filter=&size=1",
    )
    .await;
    let (ids, rest) = ids_and_rest(&reply);
    assert_eq!(ids, ["g28"]);
    assert_eq!(rest, json!({"size": 1, "total": 3, "start": 0}));
    let reply = get_as_admin(&app, "/api/enterprise/groups").await;
    let (ids, rest) = ids_and_rest(&reply);
    let first_25: Vec<_> = (1..=25).map(|n| format!("g{n:02}")).collect();
    assert_eq!(ids, first_25);
    assert_eq!(rest, json!({"size": 25, "total": 30, "start": 0}));
}

/// The total of each list: from the counts by status when only `status` filters, from the
/// page itself when a text filter's page reaches the end, unknown (`null`) otherwise.
#[tokio::test]
async fn lists_carry_a_total_when_it_can_be_known() {
    let (app, fake) = api(Fake::default());
    let mut users: Vec<_> = ["a", "b", "c", "d"]
        .into_iter()
        .map(|id| user(id, false))
        .collect();
    users[3].status = UserStatus::Inactive;
    let groups = vec![group("g1", "Group 1"), group("g2", "Group 2")];
    synced(&fake, creating(users, groups)).await;
    for (query, size, total, start) in [
        ("users?size=2", 2, json!(4), 0),
        ("users?status=active&size=1&start=1", 1, json!(3), 1),
        ("users?status=inactive", 1, json!(1), 0),
        ("groups?start=1", 1, json!(2), 1),
        ("users?filter=lennon", 4, json!(4), 0),
        ("users?filter=lennon&start=3&size=2", 1, json!(4), 3),
        ("users?filter=lennon&size=2", 2, json!(null), 0),
        ("users?filter=lennon&start=9", 0, json!(null), 9),
        ("groups?externalId=g1&size=1", 1, json!(null), 0),
    ] {
        let (ids, rest) =
            ids_and_rest(&get_as_admin(&app, &format!("/api/enterprise/{query}")).await);
        assert_eq!(ids.len(), size, "{query}");
        assert_eq!(
            rest,
            json!({"size": size, "total": total, "start": start}),
            "{query}"
        );
    }
}

#[tokio::test]
async fn bad_values_are_400_and_a_foreign_tenant_404() {
    for list in ["users", "groups"] {
        for (query, parameter) in [
            ("status=disabled", "status"),
            ("status=ACTIVE", "status"),
            ("size=many", "size"),
            ("start=-3", "start"),
        ] {
            let (app, fake) = api(Fake::default());
            // Refused before the directory is read: a store that is down changes nothing.
            fake.store.set_down(true);
            let reply = get_as_admin(&app, &format!("/api/enterprise/{list}?{query}")).await;
            assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{list}?{query}");
            assert!(reply.message().contains(&format!("`{parameter}`")));
        }
        let (app, _) = api(Fake::default());
        let reply = get_as_admin(&app, &format!("/api/enterprise/{list}?tenantId=globex")).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn store_failures_reach_the_caller_as_json() {
    for list in ["users", "groups"] {
        let (app, fake) = api(Fake::default());
        fake.store
            .fail(StoreOp::Read, StoreError::Unavailable("db1:5432".into()));
        let reply = get_as_admin(&app, &format!("/api/enterprise/{list}")).await;
        assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(reply.message(), "database unavailable: db1:5432");
    }
}
