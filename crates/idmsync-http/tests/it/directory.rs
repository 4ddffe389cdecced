//! `users` and `groups`.

use axum::http::StatusCode;
use idmsync_domain::UserStatus;
use serde_json::json;

use crate::*;

fn user(id: &str, admin: bool) -> UserView {
    UserView {
        tenant: TENANT.into(),
        source_id: format!("uuid-{id}"),
        external_id: id.into(),
        locator: None,
        first_name: "John".into(),
        last_name: "Lennon".into(),
        email: Some(format!("{id}@example.com")),
        status: UserStatus::Active,
        deactivated_by: None,
        admin,
        last_sync_at: Some(at(9)),
    }
}

fn group(id: &str) -> GroupView {
    GroupView {
        tenant: TENANT.into(),
        external_id: id.into(),
        name: "The Beatles".into(),
        status: UserStatus::Inactive,
        members: vec!["jlennon".into(), "pmccartney".into()],
        child_groups: vec!["drummers".into()],
    }
}

#[tokio::test]
async fn users_show_every_field_under_the_original_names() {
    let mut inactive = user("pbest", false);
    inactive.status = UserStatus::Inactive;
    inactive.deactivated_by = Some("sync".into());
    inactive.email = None;
    inactive.last_sync_at = None;
    let (app, _) = api(Fake {
        users: vec![user("jlennon", true), inactive],
        ..Fake::default()
    });
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
    let (app, _) = api(Fake {
        groups: vec![group("beatles")],
        ..Fake::default()
    });
    let reply = get_as_admin(&app, "/api/enterprise/groups").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.json(),
        json!({"size": 1, "total": 1, "start": 0, "data": [{
            "id": "beatles", "externalId": "beatles", "name": "The Beatles",
            "status": "inactive", "tenantId": TENANT,
            "members": ["jlennon", "pmccartney"], "childGroups": ["drummers"]
        }]})
    );
}

#[tokio::test]
async fn filters_and_pages_reach_the_reader() {
    let (app, fake) = api(Fake {
        users: vec![user("a", false), user("b", false), user("c", false)],
        ..Fake::default()
    });
    let reply = get_as_admin(
        &app,
        "/api/enterprise/users?filter=Len%20non&externalId=jlennon&status=active&start=1&size=1",
    )
    .await;
    assert_eq!(reply.json()["data"][0]["id"], "b");
    get_as_admin(&app, "/api/enterprise/groups?status=inactive&filter=").await;
    get_as_admin(&app, "/api/enterprise/groups").await;
    assert_eq!(
        fake.calls(),
        [
            Call::Users(
                UserFilter {
                    status: Some(UserStatus::Active),
                    external_id: Some("jlennon".into()),
                    text: Some("Len non".into()),
                },
                Page { start: 1, size: 1 }
            ),
            Call::Groups(
                UserFilter {
                    status: Some(UserStatus::Inactive),
                    ..UserFilter::default()
                },
                Page { start: 0, size: 25 }
            ),
            Call::Totals,
            Call::Groups(UserFilter::default(), Page { start: 0, size: 25 }),
            Call::Totals,
        ]
    );
}

/// The total of each list: from the counts by status when only `status` filters, from the
/// page itself when a text filter's page reaches the end, unknown (`null`) otherwise.
#[tokio::test]
async fn lists_carry_a_total_when_it_can_be_known() {
    let mut users: Vec<_> = ["a", "b", "c", "d"]
        .into_iter()
        .map(|id| user(id, false))
        .collect();
    users[3].status = UserStatus::Inactive;
    let (app, _) = api(Fake {
        users,
        groups: vec![group("g1"), group("g2")],
        ..Fake::default()
    });
    for (query, size, total, start) in [
        ("users?size=2", 2, json!(4), 0),
        ("users?status=active&size=1&start=1", 1, json!(3), 1),
        ("users?status=inactive", 4, json!(1), 0),
        ("groups?start=1", 1, json!(2), 1),
        ("users?filter=x", 4, json!(4), 0),
        ("users?filter=x&start=3&size=2", 1, json!(4), 3),
        ("users?filter=x&size=2", 2, json!(null), 0),
        ("users?filter=x&start=9", 0, json!(null), 9),
        ("groups?externalId=g1&size=1", 1, json!(null), 0),
    ] {
        let mut body = get_as_admin(&app, &format!("/api/enterprise/{query}"))
            .await
            .json();
        let data = body.as_object_mut().expect("object").remove("data");
        assert_eq!(
            data.and_then(|d| d.as_array().map(Vec::len)),
            Some(size),
            "{query}"
        );
        assert_eq!(
            body,
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
            let reply = get_as_admin(&app, &format!("/api/enterprise/{list}?{query}")).await;
            assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{list}?{query}");
            assert!(reply.message().contains(&format!("`{parameter}`")));
            assert!(fake.calls().is_empty());
        }
        let (app, _) = api(Fake::default());
        let reply = get_as_admin(&app, &format!("/api/enterprise/{list}?tenantId=globex")).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn store_failures_reach_the_caller_as_json() {
    for list in ["users", "groups"] {
        let (app, _) = api(Fake {
            store_error: Some(StoreError::Unavailable("db1:5432".into())),
            ..Fake::default()
        });
        let reply = get_as_admin(&app, &format!("/api/enterprise/{list}")).await;
        assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(reply.message(), "database unavailable: db1:5432");
    }
}
