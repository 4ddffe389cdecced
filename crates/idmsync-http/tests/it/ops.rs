//! The open operations endpoints: `/health/live`, `/health/ready`, `/metrics`.

use axum::http::{Method, StatusCode};
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
    assert_eq!(reply.json(), json!({"status": "ready"}));

    let app = ops(Fake {
        not_ready: Some("boot sync not done".into()),
        ..Fake::default()
    });
    let reply = get_open(&app, "/health/ready").await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        reply.json(),
        json!({"status": "not-ready", "message": "boot sync not done"})
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
    assert_eq!(reply.message(), "store unavailable");
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
