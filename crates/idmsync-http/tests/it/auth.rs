//! Basic authentication of the API: who gets in, and what everyone else gets.

use axum::http::{HeaderValue, Method, StatusCode};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use crate::*;

const URI: &str = "/api/enterprise/users";
const CHALLENGE: &str = r#"Basic realm="idmsync""#;

fn assert_challenged(reply: &Reply) {
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.body);
    assert_eq!(reply.header("www-authenticate"), Some(CHALLENGE));
    assert_eq!(reply.header("content-type"), Some("application/json"));
}

#[tokio::test]
async fn an_admin_gets_in_and_the_authenticator_sees_the_tenant_and_login() {
    let (app, fake) = api(Fake::default());
    let reply = get_as_admin(&app, URI).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        fake.auth_calls(),
        [Call::Auth {
            tenant: TENANT.into(),
            login: ADMIN.into()
        }]
    );
}

#[tokio::test]
async fn missing_credentials_are_challenged_without_asking_the_authenticator() {
    let (app, fake) = api(Fake::default());
    let reply = send(&app, Method::GET, URI, None).await;
    assert_challenged(&reply);
    assert!(fake.auth_calls().is_empty());
}

#[tokio::test]
async fn malformed_credentials_are_challenged() {
    let colonless = format!("Basic {}", STANDARD.encode("admin"));
    let not_utf8 = format!("Basic {}", STANDARD.encode(b"admin:\xff\xfe"));
    let cases: Vec<(&str, HeaderValue)> = vec![
        ("other scheme", HeaderValue::from_static("Bearer abc.def")),
        ("scheme only", HeaderValue::from_static("Basic")),
        (
            "bad base64",
            HeaderValue::from_static("Basic !!!not-base64!!!"),
        ),
        (
            "no colon",
            HeaderValue::from_str(&colonless).expect("header"),
        ),
        (
            "not UTF-8",
            HeaderValue::from_str(&not_utf8).expect("header"),
        ),
        (
            "non-ASCII header",
            HeaderValue::from_bytes(b"Basic \xe9t\xe9").expect("header"),
        ),
    ];
    for (case, value) in cases {
        let (app, fake) = api(Fake::default());
        let reply = send(&app, Method::GET, URI, Some(value)).await;
        assert_challenged(&reply);
        assert!(fake.auth_calls().is_empty(), "{case}: authenticator asked");
    }
}

#[tokio::test]
async fn the_scheme_is_case_insensitive_and_passwords_may_contain_colons() {
    let (app, _) = api(Fake::default());
    let value = format!("basic {}", STANDARD.encode(format!("{ADMIN}:{CANARY}")));
    let reply = send(
        &app,
        Method::GET,
        URI,
        Some(HeaderValue::from_str(&value).expect("h")),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);

    // Only the first colon separates: "a:b:c" is login "a", password "b:c" (rejected here).
    let (app, fake) = api(Fake::default());
    let reply = send(&app, Method::GET, URI, Some(hv(&basic("x", "b:c")))).await;
    assert_challenged(&reply);
    assert_eq!(
        fake.auth_calls(),
        [Call::Auth {
            tenant: TENANT.into(),
            login: "x".into()
        }]
    );
}

fn hv(value: &str) -> HeaderValue {
    HeaderValue::from_str(value).expect("header")
}

#[tokio::test]
async fn every_rejection_gets_the_same_answer() {
    let (app, _) = api(Fake::default());
    let wrong_password = send(&app, Method::GET, URI, Some(hv(&basic(ADMIN, "nope")))).await;
    let unknown_user = send(&app, Method::GET, URI, Some(hv(&basic("ghost", CANARY)))).await;
    let malformed = send(&app, Method::GET, URI, Some(hv("Basic %%%"))).await;
    let missing = send(&app, Method::GET, URI, None).await;
    for reply in [&wrong_password, &unknown_user, &malformed, &missing] {
        assert_challenged(reply);
        assert_eq!(reply.body, wrong_password.body);
    }
}

#[tokio::test]
async fn a_user_who_is_not_an_admin_is_forbidden() {
    let (app, _) = api(Fake::default());
    let reply = send(
        &app,
        Method::GET,
        URI,
        Some(hv(&basic(USER, USER_PASSWORD))),
    )
    .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(reply.header("www-authenticate"), None);
    assert!(reply.message().contains("administrators"));
}

#[tokio::test]
async fn an_unavailable_authenticator_is_503_without_its_reason() {
    let (app, _) = api(Fake::default());
    let reply = send(&app, Method::GET, URI, Some(hv(&basic(UNAVAILABLE, "x")))).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(!reply.body.contains("dc1"), "{}", reply.body);
}

#[tokio::test]
async fn every_api_endpoint_requires_credentials() {
    let (app, fake) = api(Fake::default());
    for (method, uri) in [
        (Method::GET, "/api/enterprise/idm-sync-log-entries"),
        (Method::GET, "/api/enterprise/idm-sync-log-entries/1"),
        (
            Method::GET,
            "/api/enterprise/idm-sync-log-entries/1/logfile",
        ),
        (Method::POST, "/api/enterprise/idm-sync"),
        (Method::GET, "/api/enterprise/users"),
        (Method::GET, "/api/enterprise/groups"),
        (Method::GET, "/api/enterprise/no-such-thing"),
        (Method::DELETE, "/api/enterprise/users"),
    ] {
        let reply = send(&app, method.clone(), uri, None).await;
        assert_challenged(&reply);
    }
    assert!(fake.calls().is_empty());
}
