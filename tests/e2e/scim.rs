//! `idmsync serve` with `[source] type = "scim"`: an identity provider's requests over HTTP,
//! and what they leave where operators look (`users list`, `groups list`, the run log).

use std::process::Command;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::serve::Server;
use crate::support::Sandbox;
use idmsync_test_db::Backend;

pub(crate) const TOKEN: &str = "e2e-provisioning-token-0123456789";

fn sandbox(extra: &str) -> Sandbox {
    sandbox_with("max_deactivations = 5", extra)
}

/// A sandbox with `sync` (a line of `[sync]`) and `extra` (lines of `[source.scim]`).
fn sandbox_with(sync: &str, extra: &str) -> Sandbox {
    sandbox_on(Backend::Sqlite, sync, extra)
}

/// The same on `backend`.
fn sandbox_on(backend: Backend, sync: &str, extra: &str) -> Sandbox {
    let s = Sandbox::with_config_on(backend, &format!(
        "[database]\nurl = \"{{database}}\"\n\n[sync]\nadmins = [\"admin\"]\n{sync}\n\n\
         [source]\ntype = \"scim\"\n\n[source.scim]\ntoken_file = \"{{dir}}/scim-tokens\"\n{extra}\n\n\
         [auth]\npassword_key_file = \"{{dir}}/data/password.key\"\n\n\
         [http]\nlisten = \"127.0.0.1:0\"\nshutdown_grace_secs = 1\n"
    ));
    s.write("scim-tokens", &format!("# the provider's token\n{TOKEN}\n"));
    s
}

/// One SCIM request with the provider's token; the status and the JSON answer (`Null` when
/// empty).
pub(crate) fn scim(
    server: &Server,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = server
        .request(method, &format!("/scim/v2{path}"))
        .bearer_auth(TOKEN);
    if let Some(body) = body {
        request = request
            .header("Content-Type", "application/scim+json")
            .body(body.to_string());
    }
    let response = request.send().expect("SCIM request");
    let status = response.status();
    let text = response.text().expect("body");
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
    };
    (status, body)
}

#[test]
fn a_provider_pushes_users_and_groups_and_operators_see_them() {
    for backend in [Backend::Sqlite, Backend::Postgres, Backend::Mysql] {
        provider_session(backend);
    }
}

/// A short session of both providers' shapes on `backend`, checked where operators look.
fn provider_session(backend: Backend) {
    let s = sandbox_on(backend, "max_deactivations = 5", "");
    let server = Server::start(&s);
    server.wait_ready();

    let (status, body) = scim(&server, Method::GET, "/Users", None);
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["totalResults"], 0);
    let refused = server
        .request(Method::GET, "/scim/v2/Users")
        .bearer_auth("wrong")
        .send()
        .expect("request");
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);

    let mut ids = Vec::new();
    for (login, given) in [("admin", "Ada"), ("bjensen", "Barbara"), ("jsmith", "John")] {
        let (status, user) = scim(
            &server,
            Method::POST,
            "/Users",
            Some(json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": login, "name": {"givenName": given, "familyName": "Doe"},
                "emails": [{"value": format!("{login}@example.com"), "type": "work", "primary": true}],
                "password": "pushed-secret", "active": true, "externalId": format!("ext-{login}")
            })),
        );
        assert_eq!(status, StatusCode::CREATED, "{user}");
        assert!(user.get("password").is_none(), "{user}");
        ids.push(user["id"].as_str().expect("id").to_string());
    }
    let (status, taken) = scim(
        &server,
        Method::POST,
        "/Users",
        Some(json!({"userName": "BJENSEN"})),
    );
    assert_eq!(status, StatusCode::CONFLICT, "{taken}");
    assert_eq!(taken["scimType"], "uniqueness");

    let (status, group) = scim(
        &server,
        Method::POST,
        "/Groups",
        Some(
            json!({"displayName": "Engineering", "externalId": "entra-eng", "members": [{"value": ids[1]}]}),
        ),
    );
    assert_eq!(status, StatusCode::CREATED, "{group}");
    let gid = group["id"].as_str().expect("id").to_string();
    let (status, patched) = scim(
        &server,
        Method::PATCH,
        &format!("/Groups/{gid}"),
        Some(
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "Add", "path": "members", "value": [{"value": ids[2]}]}]}),
        ),
    );
    assert_eq!(status, StatusCode::OK, "{patched}");
    let (status, found) = scim(
        &server,
        Method::GET,
        "/Users?filter=userName%20eq%20%22BJensen%22",
        None,
    );
    assert_eq!(status, StatusCode::OK);
    assert_eq!(found["totalResults"], 1, "{found}");

    // Entra ID deactivates with a string; Okta deletes.
    let (status, _) = scim(
        &server,
        Method::PATCH,
        &format!("/Users/{}", ids[2]),
        Some(
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "Replace", "path": "active", "value": "False"}]}),
        ),
    );
    assert_eq!(status, StatusCode::OK);
    let (status, _) = scim(&server, Method::DELETE, &format!("/Users/{}", ids[1]), None);
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = scim(&server, Method::GET, &format!("/Users/{}", ids[1]), None);
    assert_eq!(status, StatusCode::NOT_FOUND);
    server.stop();

    let users = s.users();
    let status_of = |login: &str| {
        users
            .as_array()
            .expect("users")
            .iter()
            .find(|u| u["external_id"] == login)
            .map(|u| u["status"].clone())
            .unwrap_or_else(|| panic!("{login} in {users}"))
    };
    assert_eq!(status_of("admin"), "active");
    assert_eq!(status_of("bjensen"), "inactive");
    assert_eq!(status_of("jsmith"), "inactive");
    let groups = s.groups();
    assert!(groups.to_string().contains("Engineering"), "{groups}");
    let runs = s.runs();
    let runs = runs.as_array().expect("runs");
    assert!(!runs.is_empty());
    assert!(
        runs.iter()
            .all(|r| r["type"] == "scim" && r["outcome"] == "succeeded"),
        "{runs:?}"
    );
    // Pushed users log in with their pushed password (auth.ldap is off without a directory).
    let login = s.idmsync_with_input(&["auth", "check", "admin"], "pushed-secret\n");
    assert_eq!(login.code, 0, "{}", login.stderr);

    // What the tables have no column for was stored with the rows: a restart keeps it.
    let server = Server::start(&s);
    server.wait_ready();
    let (status, again) = scim(&server, Method::GET, &format!("/Groups/{gid}"), None);
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["externalId"], "entra-eng", "{again}");
    assert_eq!(
        again["meta"]["created"], group["meta"]["created"],
        "{again}"
    );
    let (status, admin) = scim(&server, Method::GET, &format!("/Users/{}", ids[0]), None);
    assert_eq!(status, StatusCode::OK, "{admin}");
    assert_eq!(admin["externalId"], "ext-admin", "{admin}");
    server.stop();
}

#[test]
fn sync_on_a_scim_tenant_says_it_is_pushed_to() {
    let s = sandbox("");
    let run = s.idmsync(&["sync"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("/scim/v2"), "{}", run.stderr);
}

#[test]
fn a_scim_source_without_a_token_is_a_configuration_error() {
    let s = sandbox("");
    s.write("scim-tokens", "# none yet\n");
    let run = s.idmsync(&["serve"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("source.scim"), "{}", run.stderr);
}

/// The public conformance suite, `scim2-tester` through `scim2 test` (PyPI's `scim2-cli`,
/// installed by `cargo xtask ci`), against the real service: every check passes, status codes
/// and content types included.
#[test]
fn the_scim2_tester_conformance_suite_passes() {
    // The suite deletes and deactivates many of the few users it makes: the guard would stop it.
    let s = sandbox_with("max_deactivations = \"100%\"", "");
    let server = Server::start(&s);
    server.wait_ready();
    let output = Command::new("scim2")
        .args(["--url", &format!("{}/scim/v2", server.base())])
        .args(["test", "--check-status-code", "--check-content-type"])
        // The token in the environment, not on a command line other users can read.
        .env("SCIM_CLI_HEADERS", format!("Authorization: Bearer {TOKEN}"))
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run `scim2` ({e}): install the suite with `cargo xtask ci` or \
                 `python3 -m pip install scim2-cli==0.6.0 scim2-tester==0.5.2`"
            )
        });
    let report = String::from_utf8_lossy(&output.stdout).to_string()
        + &String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{report}");
    let count = |level: &str| report.lines().filter(|l| l.starts_with(level)).count();
    assert_eq!((count("ERROR"), count("CRITICAL")), (0, 0), "{report}");
    assert!(count("SUCCESS") >= 70, "{report}");
    server.stop();
}

/// POSTs a user, returning its id.
fn push_user(server: &Server, login: &str) -> String {
    let (status, user) = scim(
        server,
        Method::POST,
        "/Users",
        Some(json!({"userName": login, "password": "pushed-secret"})),
    );
    assert_eq!(status, StatusCode::CREATED, "{user}");
    user["id"].as_str().expect("id").to_string()
}

#[test]
fn the_guard_counts_deletions_over_its_window_until_an_administrator_releases_it() {
    let s = sandbox_with("max_deactivations = 1", "guard_window_secs = 3600");
    let server = Server::start(&s);
    server.wait_ready();
    push_user(&server, "admin");
    let ids: Vec<String> = ["a", "b", "c"]
        .iter()
        .map(|l| push_user(&server, l))
        .collect();
    let delete = |id: &str| scim(&server, Method::DELETE, &format!("/Users/{id}"), None);
    assert_eq!(delete(&ids[0]).0, StatusCode::NO_CONTENT);
    let (status, refused) = delete(&ids[1]);
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{refused}");
    assert!(
        refused["detail"]
            .as_str()
            .expect("detail")
            .contains("release-guard"),
        "{refused}"
    );

    // The CLI, beside the running service: recorded in the run log, found at the next batch.
    let released = s.idmsync(&["scim", "release-guard"]);
    assert_eq!(released.code, 0, "{}", released.stderr);
    assert!(
        released.stdout.contains("let through until"),
        "{}",
        released.stdout
    );
    assert_eq!(delete(&ids[1]).0, StatusCode::NO_CONTENT);

    // The REST API, as a tenant administrator.
    let response = server
        .request(Method::POST, "/api/enterprise/scim/guard/release")
        .basic_auth("admin", Some("pushed-secret"))
        .send()
        .expect("release");
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = serde_json::from_str(&response.text().expect("body")).expect("json");
    assert!(body["releasedUntil"].is_string(), "{body}");
    assert_eq!(delete(&ids[2]).0, StatusCode::NO_CONTENT);
    server.stop();

    let runs = s.runs();
    let releases: Vec<&Value> = runs
        .as_array()
        .expect("runs")
        .iter()
        .filter(|r| r["type"] == "scim" && r["trigger"] != "scim")
        .collect();
    assert_eq!(releases.len(), 2, "{runs}");
    let id = releases[0]["id"].as_i64().expect("id");
    assert!(
        s.log(id)[0].starts_with("guard-released:"),
        "{:?}",
        s.log(id)
    );
}

#[test]
fn config_check_says_the_source_is_pushed_to() {
    let s = sandbox("");
    let run = s.idmsync(&["config", "check"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("identity providers push"),
        "{}",
        run.stdout
    );
}
