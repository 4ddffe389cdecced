//! The operator's console over HTTP (the browser tests in `tests/e2e/console.rs` drive it in a
//! real Chromium): sign-in and its refusals, the session cookie, CSRF, and what the pages show.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::header::{CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use axum::http::{Method, Request, StatusCode};
use axum::Router;
use idmsync_domain::{Counts, EventKey, LogLine, Outcome, SyncMode, Trigger};
use idmsync_http::ConsoleState;
use idmsync_ports::DryRunReport;

use crate::{exchange, logged, run, state, Call, Fake, Reply, ADMIN, CANARY, USER, USER_PASSWORD};

fn console(fake: Fake) -> (Router, Arc<Fake>) {
    let fake = Arc::new(fake);
    let pages = ConsoleState::new(vec![state(&fake)], false, Duration::from_secs(600));
    (idmsync_http::console_router(pages), fake)
}

async fn call(
    router: &Router,
    method: Method,
    uri: &str,
    cookie: &str,
    form: Option<String>,
) -> Reply {
    let mut request = Request::builder().method(method).uri(uri);
    if !cookie.is_empty() {
        request = request.header(COOKIE, cookie);
    }
    let body = match form {
        Some(form) => {
            request = request.header(CONTENT_TYPE, "application/x-www-form-urlencoded");
            Body::from(form)
        }
        None => Body::empty(),
    };
    exchange(router, request.body(body).expect("request"), &[CANARY]).await
}

/// The `name=value` of the answer's cookie `name`.
fn cookie_of(reply: &Reply, name: &str) -> Option<String> {
    reply
        .headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| v.split(';').next().unwrap_or_default().to_string())
}

/// The `value` of the page's hidden field `name`.
fn field(body: &str, name: &str) -> String {
    let marker = format!(r#"name="{name}" value=""#);
    let start = body
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {body}"))
        + marker.len();
    body[start..]
        .split('"')
        .next()
        .unwrap_or_default()
        .to_string()
}

/// Posts `fields` to `path` with the CSRF token of the session's sync page, as its forms do.
async fn post_form(router: &Router, session: &str, path: &str, fields: &str) -> Reply {
    let page = call(router, Method::GET, "/sync", session, None).await;
    let csrf = field(&page.body, "csrf");
    let form = format!("csrf={csrf}&{fields}");
    call(router, Method::POST, path, session, Some(form)).await
}

/// Signs in as `login` and returns the answer and the cookies to send next.
async fn sign_in(router: &Router, login: &str, password: &str) -> (Reply, String) {
    sign_in_to(router, "", login, password).await
}

/// As [`sign_in`], choosing `tenant` in the form.
async fn sign_in_to(router: &Router, tenant: &str, login: &str, password: &str) -> (Reply, String) {
    let form = call(router, Method::GET, "/sign-in", "", None).await;
    assert_eq!(form.status, StatusCode::OK);
    let token_cookie = cookie_of(&form, "idmsync_sign_in").expect("the form's cookie");
    let token = field(&form.body, "token");
    let body = format!(
        "tenant={tenant}&login={login}&password={}&token={token}",
        urlencode(password)
    );
    let reply = call(router, Method::POST, "/sign-in", &token_cookie, Some(body)).await;
    let session = cookie_of(&reply, "idmsync_session").unwrap_or_default();
    (reply, session)
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn pages_send_a_visitor_without_a_session_to_the_sign_in_form() {
    let (router, _) = console(Fake::default());
    for path in ["/", "/runs", "/users", "/groups/x", "/sync"] {
        let reply = call(&router, Method::GET, path, "", None).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "{path}");
        assert_eq!(reply.header(LOCATION.as_str()), Some("/sign-in"), "{path}");
    }
    let css = call(&router, Method::GET, "/assets/console.css", "", None).await;
    assert_eq!(css.status, StatusCode::OK);
}

#[tokio::test]
async fn an_administrator_signs_in_with_a_strict_http_only_cookie_and_sees_the_runs() {
    let (router, _) = console(logged([run(SyncMode::Full, Outcome::Succeeded)]));
    let (reply, session) = sign_in(&router, ADMIN, CANARY).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
    assert_eq!(reply.header(LOCATION.as_str()), Some("/runs"));
    let set = reply
        .headers
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().expect("ASCII").to_string())
        .find(|v| v.starts_with("idmsync_session="))
        .expect("a session cookie");
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
    let runs = call(&router, Method::GET, "/runs", &session, None).await;
    assert_eq!(runs.status, StatusCode::OK);
    assert!(runs.body.contains(r#"href="/runs/1""#), "{}", runs.body);
    assert!(runs.body.contains("succeeded"));
    assert!(runs.body.contains("<svg"), "the chart");
}

#[tokio::test]
async fn every_refusal_reads_the_same() {
    let (router, _) = console(Fake::default());
    let mut messages = Vec::new();
    for (login, password) in [(ADMIN, "wrong"), (USER, USER_PASSWORD), ("nobody", "x")] {
        let (reply, session) = sign_in(&router, login, password).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{login}");
        assert!(session.is_empty(), "no session for {login}");
        let start = reply.body.find("sign-in-error").expect("the message");
        messages.push(
            reply.body[start..]
                .split('<')
                .next()
                .unwrap_or_default()
                .to_string(),
        );
    }
    assert!(messages.windows(2).all(|w| w[0] == w[1]), "{messages:?}");
}

#[tokio::test]
async fn a_sign_in_without_the_forms_token_is_refused_before_the_password_is_checked() {
    let (router, fake) = console(Fake::default());
    let body = format!("login={ADMIN}&password={}&token=forged", urlencode(CANARY));
    let reply = call(
        &router,
        Method::POST,
        "/sign-in",
        "idmsync_sign_in=other",
        Some(body),
    )
    .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert!(fake.auth_calls().is_empty());
}

#[tokio::test]
async fn a_post_without_the_sessions_csrf_token_does_nothing() {
    let (router, fake) = console(Fake::default());
    let (_, session) = sign_in(&router, ADMIN, CANARY).await;
    for form in [
        "mode=full&action=start",
        "csrf=forged&mode=full&action=start",
    ] {
        let reply = call(&router, Method::POST, "/sync", &session, Some(form.into())).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{form}");
    }
    assert!(fake.calls().is_empty(), "{:?}", fake.calls());
    let reply = post_form(&router, &session, "/sync", "mode=differential&action=start").await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
    assert_eq!(
        fake.calls(),
        [Call::Start(Some(SyncMode::Differential), Trigger::Console)]
    );
}

#[tokio::test]
async fn a_dry_run_shows_the_plan_and_the_guards_verdict_with_a_button_to_apply_it() {
    let report = DryRunReport {
        mode: SyncMode::Full,
        counts: Counts {
            users_deactivated: 3,
            ..Counts::default()
        },
        lines: vec![LogLine::new(
            EventKey::DeactivatedUser,
            "jdoe (missing from the source)",
        )],
        guard: Some("the run would deactivate 3 of 4 active users".into()),
    };
    let (router, fake) = console(Fake {
        dry_run: Some(report),
        ..Fake::default()
    });
    let (_, session) = sign_in(&router, ADMIN, CANARY).await;
    let reply = post_form(&router, &session, "/sync", "mode=full&action=dry-run").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert!(reply.body.contains("3 users deactivated"), "{}", reply.body);
    assert!(reply.body.contains("would stop this run"), "{}", reply.body);
    assert!(reply.body.contains("jdoe (missing from the source)"));
    assert!(reply.body.contains(r#"id="apply""#));
    assert_eq!(fake.calls(), [Call::DryRun(Some(SyncMode::Full))]);
}

#[tokio::test]
async fn a_runs_page_filters_its_lines_and_offers_its_log_file() {
    let fake = logged([run(SyncMode::Full, Outcome::Succeeded)]);
    let (router, _) = console(fake);
    let (_, session) = sign_in(&router, ADMIN, CANARY).await;
    let missing = call(&router, Method::GET, "/runs/7", &session, None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let page = call(
        &router,
        Method::GET,
        "/runs/1?event=created-user&q=x",
        &session,
        None,
    )
    .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains(r#"href="/runs/1/log""#));
    let log = call(&router, Method::GET, "/runs/1/log", &session, None).await;
    assert_eq!(log.status, StatusCode::OK);
    assert!(log
        .header("content-disposition")
        .is_some_and(|d| d.contains("attachment")));
}

#[tokio::test]
async fn signing_out_ends_the_session() {
    let (router, _) = console(Fake::default());
    let (_, session) = sign_in(&router, ADMIN, CANARY).await;
    let out = post_form(&router, &session, "/sign-out", "").await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    let after = call(&router, Method::GET, "/runs", &session, None).await;
    assert_eq!(after.header(LOCATION.as_str()), Some("/sign-in"));
}

#[tokio::test]
async fn beside_other_tenants_the_form_asks_which_and_the_session_shows_that_one() {
    let router = idmsync_http::console_router(ConsoleState::new(
        crate::tenants::two_states(true),
        false,
        Duration::from_secs(600),
    ));
    let form = call(&router, Method::GET, "/sign-in", "", None).await;
    assert!(
        form.body
            .contains(r#"<option value="a">a</option><option value="b">b</option>"#),
        "{}",
        form.body
    );
    for (tenant, login) in [("b", "admin-a"), ("", "admin-b"), ("c", "admin-b")] {
        let (refused, session) = sign_in_to(&router, tenant, login, CANARY).await;
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{tenant} {login}");
        assert!(refused.body.contains("Sign-in refused"), "{}", refused.body);
        assert!(session.is_empty());
    }
    let (reply, session) = sign_in_to(&router, "b", "admin-b", CANARY).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
    let runs = call(&router, Method::GET, "/runs", &session, None).await;
    assert_eq!(runs.status, StatusCode::OK);
    assert!(
        runs.body.contains("tenant <strong>b</strong>"),
        "{}",
        runs.body
    );
    assert_eq!(
        runs.body.matches(r#"href="/runs/"#).count(),
        2,
        "b's two runs: {}",
        runs.body
    );
}

#[tokio::test]
async fn a_users_page_lists_the_sources_that_make_the_user() {
    let fake = Arc::new(Fake::default());
    let carol = crate::directory::user("carol", false);
    fake.store.seed_document(
        &crate::tenant(),
        idmsync_domain::Document {
            group: false,
            source_id: carol.source_id.clone(),
            body: "employees=g1;contractors=c1".into(),
        },
    );
    fake.store.seed_user(&crate::tenant(), carol);
    let read: idmsync_http::Provenance = |body| {
        Some(
            body.split(';')
                .filter_map(|p| p.split_once('='))
                .map(|(s, id)| (s.to_string(), id.to_string()))
                .collect(),
        )
    };
    let pages = ConsoleState::new(vec![state(&fake)], false, Duration::from_secs(600))
        .with_provenance(read);
    let router = idmsync_http::console_router(pages);
    let (_, session) = sign_in(&router, ADMIN, CANARY).await;
    let page = call(&router, Method::GET, "/users/carol", &session, None).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(
        page.body
            .contains("<li>employees: <code>g1</code></li><li>contractors: <code>c1</code></li>"),
        "{}",
        page.body
    );
}
