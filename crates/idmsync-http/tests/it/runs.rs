//! `idm-sync-log-entries` and each run's log file.

use axum::http::StatusCode;
use idmsync_domain::{EventKey, RunResult};
use idmsync_ports::SyncStore;
use serde_json::json;

use crate::*;

const LIST: &str = "/api/enterprise/idm-sync-log-entries";

/// Every count at zero but `created` users and `warnings`, under camelCase keys.
fn counts(created: u64, warnings: u64) -> serde_json::Value {
    json!({
        "usersCreated": created, "usersUpdated": 0, "usersDeactivated": 0,
        "usersReactivated": 0, "groupsCreated": 0, "groupsUpdated": 0,
        "groupsDeactivated": 0, "groupsReactivated": 0, "membershipsAdded": 0,
        "membershipsRemoved": 0, "nestingAdded": 0, "nestingRemoved": 0,
        "adminsGranted": 0, "adminsRevoked": 0, "warnings": warnings
    })
}

#[tokio::test]
async fn a_run_shows_every_field_under_the_original_names() {
    let mut failed = run(SyncMode::Differential, Outcome::Failed);
    failed.trigger = Trigger::Api;
    failed.source = "ldaps://dc1.example.com".into();
    failed.reason = Some("source unavailable: ldap://dc1".into());
    failed.counts = Counts {
        users_created: 2,
        warnings: 1,
        ..Counts::default()
    };
    let mut running = run(SyncMode::Full, Outcome::Running);
    running.finished_at = None;
    let (app, _) = api(logged([failed, running]));
    let reply = get_as_admin(&app, LIST).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert_eq!(
        reply.json(),
        json!({
            "size": 2, "total": 2, "start": 0,
            "data": [
                {
                    "id": 2, "type": "initial-file-sync", "mode": "full",
                    "timeStamp": "2024-05-01T10:00:00.000+0000",
                    "outcome": "running", "trigger": "schedule", "finished": null,
                    "counts": counts(0, 0), "reason": null
                },
                {
                    "id": 1, "type": "differential-ldap-sync", "mode": "differential",
                    "timeStamp": "2024-05-01T10:00:00.000+0000",
                    "outcome": "failed", "trigger": "api",
                    "finished": "2024-05-01T11:00:00.000+0000",
                    "counts": counts(2, 1), "reason": "source unavailable: ldap://dc1"
                }
            ]
        })
    );
}

#[tokio::test]
async fn full_runs_up_to_the_first_success_are_initial_and_later_ones_full() {
    let ldap = |mode, outcome| RunRecord {
        source: "ldap://dc1".into(),
        ..run(mode, outcome)
    };
    let (app, _) = api(logged([
        ldap(SyncMode::Full, Outcome::Failed),
        ldap(SyncMode::Full, Outcome::Aborted),
        ldap(SyncMode::Full, Outcome::Succeeded),
        ldap(SyncMode::Full, Outcome::Succeeded),
        ldap(SyncMode::Differential, Outcome::Succeeded),
        ldap(SyncMode::Full, Outcome::Failed),
    ]));
    let reply = get_as_admin(&app, LIST).await;
    let types: Vec<_> = reply.json()["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|entry| (entry["id"].as_i64().expect("id"), entry["type"].clone()))
        .collect();
    assert_eq!(
        types,
        [
            (6, json!("full-ldap-sync")),
            (5, json!("differential-ldap-sync")),
            (4, json!("full-ldap-sync")),
            (3, json!("initial-ldap-sync")),
            (2, json!("initial-ldap-sync")),
            (1, json!("initial-ldap-sync")),
        ]
    );
}

#[tokio::test]
async fn the_list_is_paged_25_by_default_with_the_total() {
    let (app, _) = api(logged(
        (1..=30).map(|_| run(SyncMode::Full, Outcome::Succeeded)),
    ));
    let page = |reply: &Reply| -> (Vec<i64>, serde_json::Value) {
        let mut body = reply.json();
        let ids = body["data"]
            .as_array()
            .expect("data")
            .iter()
            .map(|r| r["id"].as_i64().expect("id"))
            .collect();
        body.as_object_mut().expect("object").remove("data");
        (ids, body)
    };

    let (ids, rest) = page(&get_as_admin(&app, LIST).await);
    assert_eq!(ids, (6..=30).rev().collect::<Vec<_>>());
    assert_eq!(rest, json!({"size": 25, "total": 30, "start": 0}));
    let (ids, rest) = page(&get_as_admin(&app, &format!("{LIST}?start=25&size=10")).await);
    assert_eq!(ids, [5, 4, 3, 2, 1]);
    assert_eq!(rest, json!({"size": 5, "total": 30, "start": 25}));
    let (ids, rest) = page(&get_as_admin(&app, &format!("{LIST}?start=40")).await);
    assert!(ids.is_empty());
    assert_eq!(rest, json!({"size": 0, "total": 30, "start": 40}));
    let (ids, _) = page(&get_as_admin(&app, &format!("{LIST}?start=&size=&tenantId=")).await);
    assert_eq!(ids.len(), 25);
    let largest = get_as_admin(&app, &format!("{LIST}?size=1000")).await;
    assert_eq!(largest.status, StatusCode::OK);
}

#[tokio::test]
async fn one_entry_is_shown_as_in_the_list() {
    let (app, _) = api(with_log().await);
    let list = get_as_admin(&app, LIST).await.json();
    let reply = get_as_admin(&app, &format!("{LIST}/1")).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json(), list["data"][0]);
    assert_eq!(reply.json()["type"], "initial-file-sync");
}

#[tokio::test]
async fn an_unknown_or_foreign_entry_is_404_and_a_bad_id_400() {
    let (app, _) = api(with_log().await);
    for id in ["3", "2", "-1"] {
        let reply = get_as_admin(&app, &format!("{LIST}/{id}")).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{id}");
        assert_eq!(reply.message(), format!("no sync log entry {id}"));
    }
    for id in ["abc", "1.0", "99999999999999999999"] {
        let reply = get_as_admin(&app, &format!("{LIST}/{id}")).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{id}");
        assert!(reply.message().contains("`id`"));
    }
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
        // Refused before the run log is read: a store that is down changes nothing.
        fake.store.set_down(true);
        let reply = get_as_admin(&app, &format!("{LIST}?{query}")).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{query}");
        assert!(
            reply.message().contains(&format!("`{parameter}`")),
            "{query}: {}",
            reply.message()
        );
    }
}

#[tokio::test]
async fn only_the_configured_tenant_is_known() {
    let (app, fake) = api(Fake::default());
    let own = get_as_admin(&app, &format!("{LIST}?tenantId={TENANT}")).await;
    assert_eq!(own.status, StatusCode::OK);
    // Refused before the run log is read: a store that is down changes nothing.
    fake.store.set_down(true);
    let other = get_as_admin(&app, &format!("{LIST}?tenantId=globex")).await;
    assert_eq!(other.status, StatusCode::NOT_FOUND);
    assert_eq!(other.message(), "no tenant globex");
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
        let (app, fake) = api(Fake::default());
        fake.store.fail(StoreOp::Read, error.clone());
        let reply = get_as_admin(&app, LIST).await;
        assert_eq!(reply.status, status);
        assert_eq!(reply.message(), error.to_string());
    }
}

/// Run 1, of the test tenant, which ended with two lines; run 2, of another tenant.
async fn with_log() -> Fake {
    let mut other_tenant = run(SyncMode::Full, Outcome::Succeeded);
    other_tenant.tenant = Tenant::new("globex").expect("tenant");
    let mut ours = run(SyncMode::Full, Outcome::Running);
    ours.finished_at = None;
    let fake = logged([ours, other_tenant]);
    let ended = RunResult {
        outcome: Outcome::Succeeded,
        reason: None,
        counts: Counts::default(),
        watermark: None,
        finished_at: at(11),
    };
    let lines = [
        LogLine::new(EventKey::CreatedUser, "jlennon (John Lennon)"),
        LogLine::new(EventKey::AddedUserToGroup, "jlennon to beatles"),
    ];
    fake.store
        .finish_run(RunId(1), &ended, &lines)
        .await
        .expect("run 1 ends");
    fake
}

#[tokio::test]
async fn the_logfile_is_a_text_download_of_the_lines() {
    let (app, _) = api(with_log().await);
    let reply = get_as_admin(&app, &format!("{LIST}/1/logfile")).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(
        reply.header("content-disposition"),
        Some(r#"attachment; filename="idm-sync-log-1.log""#)
    );
    assert_eq!(
        reply.body,
        "created-user: jlennon (John Lennon)\nadded-user-to-group: jlennon to beatles\n"
    );
}

#[tokio::test]
async fn the_logfile_of_an_unknown_or_foreign_run_is_404_and_a_bad_id_400() {
    let (app, _) = api(with_log().await);
    for id in ["3", "2", "-1"] {
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
