//! `POST idm-sync`: starting runs and dry runs.

use axum::http::{Method, StatusCode};
use idmsync_domain::EventKey;
use serde_json::json;

use crate::*;

const SYNC: &str = "/api/enterprise/idm-sync";

async fn post(app: &Router, uri: &str) -> Reply {
    send(app, Method::POST, uri, Some(admin())).await
}

#[tokio::test]
async fn a_started_run_is_202_with_its_entry_and_its_location() {
    let mut started = run(SyncMode::Differential, Outcome::Running);
    started.source = "ldap://dc1".into();
    started.trigger = Trigger::Api;
    started.finished_at = None;
    let (app, fake) = api(Fake {
        started: Some(RunId(1)),
        ..logged([started])
    });
    let reply = post(&app, &format!("{SYNC}?type=differential&dryRun=false")).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED);
    let location = reply.header("location").expect("location");
    assert_eq!(location, "/api/enterprise/idm-sync-log-entries/1");
    let body = reply.json();
    assert_eq!(body["id"], 1);
    assert_eq!(body["type"], "differential-ldap-sync");
    assert_eq!(body["outcome"], "running");
    assert_eq!(
        fake.calls(),
        [Call::Start(Some(SyncMode::Differential), Trigger::Api)]
    );

    let polled = get_as_admin(&app, location).await;
    assert_eq!(polled.status, StatusCode::OK);
    assert_eq!(polled.json(), body, "the Location serves the entry");
}

#[tokio::test]
async fn a_user_run_is_started_for_the_login_in_the_path() {
    let mut started = run(SyncMode::User, Outcome::Running);
    started.trigger = Trigger::Api;
    started.finished_at = None;
    let (app, fake) = api(Fake {
        started: Some(RunId(1)),
        ..logged([started])
    });
    let reply = post(&app, &format!("{SYNC}/users/j%20lennon")).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED);
    assert_eq!(
        reply.header("location"),
        Some("/api/enterprise/idm-sync-log-entries/1")
    );
    assert_eq!(reply.json()["type"], "user-file-sync");
    assert_eq!(
        fake.calls(),
        [Call::StartUser("j lennon".into(), Trigger::Api)]
    );
    // `type=user` names no run of the whole source; `live` runs come from the stream only.
    for kind in ["user", "live"] {
        let reply = post(&app, &format!("{SYNC}?type={kind}")).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{kind}");
    }
}

#[tokio::test]
async fn without_a_type_the_service_decides_and_the_run_log_tells() {
    let (app, fake) = api(Fake {
        started: Some(RunId(1)),
        ..logged([run(SyncMode::Full, Outcome::Running)])
    });
    let reply = post(&app, SYNC).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED);
    assert_eq!(reply.json()["type"], "initial-file-sync");
    assert_eq!(reply.json()["mode"], "full");
    assert_eq!(fake.calls(), [Call::Start(None, Trigger::Api)]);

    // The run has started either way; a run log that cannot tell leaves only the id.
    let (app, _) = api(Fake {
        started: Some(RunId(6)),
        ..Fake::default()
    });
    let reply = post(&app, SYNC).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED);
    assert_eq!(reply.json(), json!({"id": 6}));
    assert_eq!(
        reply.header("location"),
        Some("/api/enterprise/idm-sync-log-entries/6")
    );
}

#[tokio::test]
async fn trigger_errors_are_409_when_running_and_503_otherwise() {
    for (error, status) in [
        (TriggerError::AlreadyRunning(RunId(3)), StatusCode::CONFLICT),
        (
            TriggerError::Failed("database down".into()),
            StatusCode::SERVICE_UNAVAILABLE,
        ),
    ] {
        let (app, _) = api(Fake {
            trigger_error: Some(error.clone()),
            ..Fake::default()
        });
        let reply = post(&app, &format!("{SYNC}?type=full")).await;
        assert_eq!(reply.status, status);
        assert_eq!(reply.message(), error.to_string());
    }
}

#[tokio::test]
async fn a_dry_run_shows_the_plan_and_starts_nothing() {
    let report = DryRunReport {
        mode: SyncMode::Full,
        counts: Counts {
            users_deactivated: 1,
            ..Counts::default()
        },
        lines: vec![LogLine::new(
            EventKey::DeactivatedUser,
            "pbest (missing from the source)",
        )],
        guard: Some("1 deactivation exceeds the limit of 0".into()),
    };
    let (app, fake) = api(Fake {
        dry_run: Some(report),
        ..Fake::default()
    });
    let reply = post(&app, &format!("{SYNC}?dryRun=TRUE&type=full")).await;
    assert_eq!(reply.status, StatusCode::OK);
    let body = reply.json();
    assert_eq!(body["type"], "full");
    assert_eq!(body["counts"]["usersDeactivated"], 1);
    assert_eq!(
        body["lines"],
        json!(["deactivated-user: pbest (missing from the source)"])
    );
    assert_eq!(body["guard"], "1 deactivation exceeds the limit of 0");
    let mut keys: Vec<_> = body.as_object().expect("object").keys().collect();
    keys.sort();
    assert_eq!(keys, ["counts", "guard", "lines", "type"]);
    assert_eq!(fake.calls(), [Call::DryRun(Some(SyncMode::Full))]);
}

#[tokio::test]
async fn a_dry_run_without_a_guard_shows_null_and_its_errors_map_like_runs() {
    let report = DryRunReport {
        mode: SyncMode::Differential,
        counts: Counts::default(),
        lines: vec![],
        guard: None,
    };
    let (app, _) = api(Fake {
        dry_run: Some(report),
        ..Fake::default()
    });
    let reply = post(&app, &format!("{SYNC}?dryRun=true")).await;
    assert_eq!(reply.json()["guard"], serde_json::Value::Null);
    assert_eq!(reply.json()["lines"], json!([]));

    let (app, _) = api(Fake {
        trigger_error: Some(TriggerError::Failed("source down".into())),
        ..Fake::default()
    });
    let reply = post(&app, &format!("{SYNC}?dryRun=true")).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn bad_type_or_dry_run_is_400_naming_it() {
    for (query, parameter) in [
        ("type=incremental", "type"),
        ("type=FULL", "type"),
        ("dryRun=yes", "dryRun"),
        ("dryRun=1", "dryRun"),
    ] {
        let (app, fake) = api(Fake::default());
        let reply = post(&app, &format!("{SYNC}?{query}")).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{query}");
        assert!(reply.message().contains(&format!("`{parameter}`")));
        assert!(fake.calls().is_empty());
    }
}
