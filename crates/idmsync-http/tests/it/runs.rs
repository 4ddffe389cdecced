//! `idm-sync-log-entries` and each run's log file.

use axum::http::StatusCode;
use idmsync_domain::EventKey;
use serde_json::json;

use crate::*;

const LIST: &str = "/api/enterprise/idm-sync-log-entries";

#[tokio::test]
async fn a_run_shows_every_field_under_the_original_names() {
    let mut failed = run(7, SyncMode::Differential, Outcome::Failed);
    failed.trigger = Trigger::Api;
    failed.reason = Some("source unavailable: ldap://dc1".into());
    failed.counts = Counts {
        users_created: 2,
        warnings: 1,
        ..Counts::default()
    };
    let mut running = run(8, SyncMode::Full, Outcome::Running);
    running.finished_at = None;
    let (app, _) = api(Fake {
        runs: vec![running, failed],
        ..Fake::default()
    });
    let reply = get_as_admin(&app, LIST).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let counts = |created, warnings| {
        json!({
            "users_created": created, "users_updated": 0, "users_deactivated": 0,
            "users_reactivated": 0, "groups_created": 0, "groups_updated": 0,
            "groups_deactivated": 0, "groups_reactivated": 0, "memberships_added": 0,
            "memberships_removed": 0, "nesting_added": 0, "nesting_removed": 0,
            "admins_granted": 0, "admins_revoked": 0, "warnings": warnings
        })
    };
    assert_eq!(
        reply.json(),
        json!([
            {
                "id": 8, "type": "full", "timeStamp": "2024-05-01T10:00:00.000Z",
                "outcome": "running", "trigger": "schedule", "finished": null,
                "counts": counts(0, 0), "reason": null
            },
            {
                "id": 7, "type": "differential", "timeStamp": "2024-05-01T10:00:00.000Z",
                "outcome": "failed", "trigger": "api", "finished": "2024-05-01T11:00:00.000Z",
                "counts": counts(2, 1), "reason": "source unavailable: ldap://dc1"
            }
        ])
    );
}

#[tokio::test]
async fn the_list_is_paged_25_by_default() {
    let runs = (1..=30)
        .rev()
        .map(|id| run(id, SyncMode::Full, Outcome::Succeeded))
        .collect();
    let (app, fake) = api(Fake {
        runs,
        ..Fake::default()
    });
    let ids = |reply: &Reply| -> Vec<i64> {
        reply
            .json()
            .as_array()
            .expect("array")
            .iter()
            .map(|r| r["id"].as_i64().expect("id"))
            .collect()
    };

    let first = get_as_admin(&app, LIST).await;
    assert_eq!(ids(&first), (6..=30).rev().collect::<Vec<_>>());
    let second = get_as_admin(&app, &format!("{LIST}?start=25&size=10")).await;
    assert_eq!(ids(&second), [5, 4, 3, 2, 1]);
    let empty_values = get_as_admin(&app, &format!("{LIST}?start=&size=&tenantId=")).await;
    assert_eq!(ids(&empty_values).len(), 25);
    let largest = get_as_admin(&app, &format!("{LIST}?size=1000")).await;
    assert_eq!(largest.status, StatusCode::OK);

    assert_eq!(
        fake.calls(),
        [
            Call::Runs(Page { start: 0, size: 25 }),
            Call::Runs(Page {
                start: 25,
                size: 10
            }),
            Call::Runs(Page { start: 0, size: 25 }),
            Call::Runs(Page {
                start: 0,
                size: 1000
            }),
        ]
    );
}

#[tokio::test]
async fn bad_paging_values_are_400_naming_the_parameter() {
    for (query, parameter) in [
        ("start=abc", "start"),
        ("start=-1", "start"),
        ("start=1.5", "start"),
        ("size=x", "size"),
        ("size=-5", "size"),
        ("size=0", "size"),
        ("size=1001", "size"),
        ("size=1&size=2", "size"),
    ] {
        let (app, fake) = api(Fake::default());
        let reply = get_as_admin(&app, &format!("{LIST}?{query}")).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{query}");
        assert!(
            reply.message().contains(&format!("`{parameter}`")),
            "{query}: {}",
            reply.message()
        );
        assert!(fake.calls().is_empty());
    }
}

#[tokio::test]
async fn only_the_configured_tenant_is_known() {
    let (app, fake) = api(Fake::default());
    let own = get_as_admin(&app, &format!("{LIST}?tenantId={TENANT}")).await;
    assert_eq!(own.status, StatusCode::OK);
    let other = get_as_admin(&app, &format!("{LIST}?tenantId=globex")).await;
    assert_eq!(other.status, StatusCode::NOT_FOUND);
    assert_eq!(other.message(), "no tenant globex");
    assert_eq!(fake.calls().len(), 1);
}

#[tokio::test]
async fn store_failures_are_503_when_down_and_500_otherwise() {
    for (error, status) in [
        (
            StoreError::Unavailable("db1:5432".into()),
            StatusCode::SERVICE_UNAVAILABLE,
        ),
        (
            StoreError::Failed("deadlock".into()),
            StatusCode::INTERNAL_SERVER_ERROR,
        ),
        (
            StoreError::Corrupt("status 'x'".into()),
            StatusCode::INTERNAL_SERVER_ERROR,
        ),
    ] {
        let (app, _) = api(Fake {
            store_error: Some(error.clone()),
            ..Fake::default()
        });
        let reply = get_as_admin(&app, LIST).await;
        assert_eq!(reply.status, status);
        assert_eq!(reply.message(), error.to_string());
    }
}

fn with_log() -> Fake {
    let mut other_tenant = run(9, SyncMode::Full, Outcome::Succeeded);
    other_tenant.tenant = Tenant::new("globex").expect("tenant");
    Fake {
        runs: vec![run(3, SyncMode::Full, Outcome::Succeeded), other_tenant],
        lines: vec![(
            RunId(3),
            vec![
                LogLine::new(EventKey::CreatedUser, "jlennon (John Lennon)"),
                LogLine::new(EventKey::AddedUserToGroup, "jlennon to beatles"),
            ],
        )],
        ..Fake::default()
    }
}

#[tokio::test]
async fn the_logfile_is_a_text_download_of_the_lines() {
    let (app, _) = api(with_log());
    let reply = get_as_admin(&app, &format!("{LIST}/3/logfile")).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(
        reply.header("content-disposition"),
        Some(r#"attachment; filename="idm-sync-log-3.log""#)
    );
    assert_eq!(
        reply.body,
        "created-user: jlennon (John Lennon)\nadded-user-to-group: jlennon to beatles\n"
    );
}

#[tokio::test]
async fn the_logfile_of_an_unknown_or_foreign_run_is_404_and_a_bad_id_400() {
    let (app, _) = api(with_log());
    for id in ["4", "9", "-1"] {
        let reply = get_as_admin(&app, &format!("{LIST}/{id}/logfile")).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{id}");
        assert_eq!(reply.message(), format!("no sync log entry {id}"));
    }
    for id in ["abc", "1.0", "99999999999999999999", "%FF"] {
        let reply = get_as_admin(&app, &format!("{LIST}/{id}/logfile")).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{id}");
        assert!(reply.message().contains("`id`"));
    }
}
