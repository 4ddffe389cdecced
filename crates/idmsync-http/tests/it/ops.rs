//! The open operations endpoints: `/health/live`, `/health/ready`, `/metrics`.

use std::time::Duration;

use axum::http::{Method, StatusCode};
use idmsync_ports::{LiveState, LiveStatus};
use serde_json::json;

use crate::*;

fn ops(fake: Fake) -> Router {
    idmsync_http::ops_router(state(&Arc::new(fake)))
}

async fn get_open(app: &Router, uri: &str) -> Reply {
    send(app, Method::GET, uri, None).await
}

#[tokio::test]
async fn live_is_always_up() {
    let app = ops(Fake {
        not_ready: Some("database unreachable".into()),
        metrics_error: Some("x".into()),
        ..Fake::default()
    });
    let reply = get_open(&app, "/health/live").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json(), json!({"status": "up"}));
}

#[tokio::test]
async fn ready_reports_the_readiness_port() {
    let reply = get_open(&ops(Fake::default()), "/health/ready").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.json(),
        json!({"status": "ready", "live": {"state": "off", "lagSeconds": 0.0}})
    );

    let app = ops(Fake {
        not_ready: Some("boot sync not done".into()),
        live: LiveStatus {
            state: LiveState::Reconnecting,
            lag: Duration::from_millis(1500),
            since_message: None,
        },
        ..Fake::default()
    });
    let reply = get_open(&app, "/health/ready").await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        reply.json(),
        json!({
            "status": "not-ready",
            "message": "not ready; the reason is in the service log",
            "live": {"state": "reconnecting", "lagSeconds": 1.5}
        })
    );
}

#[tokio::test]
async fn metrics_are_prometheus_text_or_503() {
    let reply = get_open(&ops(Fake::default()), "/metrics").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply
        .header("content-type")
        .is_some_and(|t| t.starts_with("text/plain; version=0.0.4")));
    assert_eq!(reply.body, "idmsync_up 1\n");

    let app = ops(Fake {
        metrics_error: Some("store unavailable".into()),
        ..Fake::default()
    });
    let reply = get_open(&app, "/metrics").await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        reply.message(),
        "metrics unavailable; the reason is in the service log"
    );
}

/// The finding: with the database down, `/health/ready` and `/metrics` answered anyone with
/// the store's error, database URL and password included. The reasons below are what the
/// store and the scheduler say then, unmasked and masked; no part of the URL may come out.
#[tokio::test]
async fn failures_of_open_endpoints_name_nothing_of_the_database() {
    let url = "postgres://idm_user:Db-Pa55w0rd@db.internal.example:6543/idm_prod";
    let masked = "postgres://idm_user:***@db.internal.example:6543/idm_prod";
    for shown in [url, masked] {
        let app = ops(Fake {
            not_ready: Some(format!(
                "database unavailable: {shown}: connection refused; boot sync not done"
            )),
            metrics_error: Some(format!(
                "could not read the run log: database unavailable: {shown}: timed out"
            )),
            ..Fake::default()
        });
        for uri in ["/health/ready", "/metrics"] {
            let reply = get_open(&app, uri).await;
            assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE, "{uri}");
            for part in [
                "postgres",
                "idm_user",
                "Db-Pa55w0rd",
                "***",
                "db.internal.example",
                "6543",
                "idm_prod",
                "refused",
                "timed out",
            ] {
                assert!(
                    !reply.body.contains(part),
                    "{uri}: {part} in {}",
                    reply.body
                );
            }
            let headers = format!("{:?}", reply.headers);
            assert!(!headers.contains("db.internal.example"), "{uri}: {headers}");
        }
    }
}

#[tokio::test]
async fn ops_endpoints_ignore_credentials_even_bad_ones() {
    let fake = Arc::new(Fake::default());
    let app = idmsync_http::app_router(state(&fake));
    let bad = HeaderValue::from_static("Basic !!!");
    for uri in ["/health/live", "/health/ready", "/metrics"] {
        let reply = send(&app, Method::GET, uri, Some(bad.clone())).await;
        assert_eq!(reply.status, StatusCode::OK, "{uri}");
    }
    assert!(fake.auth_calls().is_empty());
}
