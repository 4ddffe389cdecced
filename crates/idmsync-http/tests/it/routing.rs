//! Unknown paths and methods, and the three routers' shares of the paths.

use axum::http::{Method, StatusCode};

use crate::*;

fn assert_json_error(reply: &Reply, status: StatusCode) {
    assert_eq!(reply.status, status, "{}", reply.body);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert!(!reply.message().is_empty());
}

#[tokio::test]
async fn unknown_paths_are_json_404_on_every_router() {
    let fake = Arc::new(Fake::default());
    for router in [
        idmsync_http::api_router(state(&fake)),
        idmsync_http::ops_router(state(&fake)),
        idmsync_http::app_router(state(&fake)),
    ] {
        let reply = send(&router, Method::GET, "/nope", None).await;
        assert_json_error(&reply, StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn unknown_paths_under_the_api_are_404_for_an_admin() {
    let (app, _) = api(Fake::default());
    for uri in [
        "/api/enterprise/nope",
        "/api/enterprise",
        "/api/enterprise/idm-sync-log-entries/1/nope",
    ] {
        assert_json_error(&get_as_admin(&app, uri).await, StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn wrong_methods_are_json_405() {
    let fake = Arc::new(Fake::default());
    let app = idmsync_http::app_router(state(&fake));
    for (method, uri) in [
        (Method::GET, "/api/enterprise/idm-sync"),
        (Method::DELETE, "/api/enterprise/users"),
        (Method::POST, "/api/enterprise/groups"),
        (Method::PUT, "/api/enterprise/idm-sync-log-entries"),
        (
            Method::POST,
            "/api/enterprise/idm-sync-log-entries/1/logfile",
        ),
    ] {
        let reply = send(&app, method, uri, Some(admin())).await;
        assert_json_error(&reply, StatusCode::METHOD_NOT_ALLOWED);
        assert!(reply.header("allow").is_some(), "{uri}: no Allow header");
    }
    for uri in ["/health/live", "/health/ready", "/metrics"] {
        let reply = send(&app, Method::POST, uri, None).await;
        assert_json_error(&reply, StatusCode::METHOD_NOT_ALLOWED);
    }
    assert!(fake.calls().is_empty());
}

#[tokio::test]
async fn each_router_serves_its_own_paths_and_the_app_router_both() {
    let fake = Arc::new(Fake::default());
    let api = idmsync_http::api_router(state(&fake));
    let ops = idmsync_http::ops_router(state(&fake));
    let app = idmsync_http::app_router(state(&fake));
    let users = "/api/enterprise/users";
    let live = "/health/live";
    assert_eq!(get_as_admin(&api, users).await.status, StatusCode::OK);
    assert_eq!(get_as_admin(&api, live).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        get_as_admin(&ops, users).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(get_as_admin(&ops, live).await.status, StatusCode::OK);
    assert_eq!(get_as_admin(&app, users).await.status, StatusCode::OK);
    assert_eq!(get_as_admin(&app, live).await.status, StatusCode::OK);
}
