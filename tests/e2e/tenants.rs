//! Several tenants in one configuration and one database: each chosen with `--tenant`, each
//! with its own source, sync settings, runs, guard and rows (issue 20); and one `serve` for
//! them all.

use idmsync_test_db::Backend;
use idmsync_test_ldap::{fixtures, Slapd};
use serde_json::Value;

use crate::ldap::ldap_table;
use crate::scim::{scim, TOKEN};
use crate::serve::{Server, NO_SCHEDULES};
use crate::support::Sandbox;
use reqwest::{Method, StatusCode};
use serde_json::json;

const CONTRACTORS: &str = "\
jdoe;Jane;Doe;jane@contractors.example;;10/10/2015
rroe;Richard;Roe;richard@contractors.example;;10/10/2015
";

/// A tenant `directory` on the test slapd and a tenant `contractors` on a file, in one
/// database on `backend`; `sync` is added to both tenants' `[sync]`, `more` at the end.
fn sandbox(backend: Backend, slapd: &Slapd, sync: &str, more: &str) -> Sandbox {
    let s = Sandbox::with_config_on(
        backend,
        &format!(
            "[database]\nurl = \"{{database}}\"\n\n\
             [tenants.directory.sync]\nadmins = [\"jlennon\"]\n{sync}\n\
             [tenants.directory.source]\ntype = \"ldap\"\n{ldap}\n\
             [tenants.contractors.sync]\nadmins = [\"jdoe\"]\nmax_deactivations = 1\n{sync}\n\
             [tenants.contractors.source]\ntype = \"file\"\n\
             [tenants.contractors.source.file]\nusers = \"{{dir}}/contractors.txt\"\n\
             groups = \"{{dir}}/contractor-groups.txt\"\n\n{more}",
            ldap = ldap_table(slapd, "tenants.directory.source.ldap"),
        ),
    );
    s.write("contractors.txt", CONTRACTORS);
    s.write("contractor-groups.txt", "crew:jdoe;rroe:10/10/2015\n");
    s
}

/// `idmsync --tenant TENANT WHAT list --format json` (`users`, `log`), parsed.
fn list(s: &Sandbox, tenant: &str, what: &str) -> Value {
    let out = s
        .idmsync(&["--tenant", tenant, what, "list", "--format", "json"])
        .ok();
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

fn all_active(users: &Value) -> bool {
    users
        .as_array()
        .expect("users")
        .iter()
        .all(|u| u["status"] == "active")
}

fn logins(list: &Value) -> Vec<String> {
    list.as_array()
        .expect("array")
        .iter()
        .map(|u| u["external_id"].as_str().expect("id").to_string())
        .collect()
}

#[test]
fn two_tenants_sync_side_by_side_and_one_tenants_guard_leaves_the_other_alone() {
    let slapd = Slapd::builder().ldif(fixtures::DIRECTORY).start();
    for backend in [Backend::Sqlite, Backend::Postgres, Backend::Mysql] {
        let s = sandbox(backend, &slapd, "", "");

        let several = s.idmsync(&["sync"]);
        assert_eq!(several.code, 2, "{}", several.stderr);
        assert!(
            several.stderr.contains(
                "several tenants (contractors, directory): choose one with --tenant NAME"
            ),
            "{}",
            several.stderr
        );
        let checked = s.idmsync(&["config", "check"]).ok();
        for tenant in ["contractors", "directory"] {
            assert!(
                checked.contains(&format!("ok      source         tenant {tenant}: ")),
                "{checked}"
            );
        }
        let out = s.idmsync(&["--tenant", "directory", "sync"]).ok();
        assert!(out.starts_with("full sync succeeded"), "{out}");
        let out = s.idmsync(&["--tenant", "contractors", "sync"]).ok();
        assert!(out.starts_with("full sync succeeded"), "{out}");

        let directory = list(&s, "directory", "users");
        assert_eq!(logins(&directory), fixtures::PEOPLE, "{backend:?}");
        let contractors = list(&s, "contractors", "users");
        assert_eq!(logins(&contractors), ["jdoe", "rroe"], "{backend:?}");
        let directory_runs = list(&s, "directory", "log");
        assert_eq!(directory_runs.as_array().map(Vec::len), Some(1));

        // The contractors' file empties: their guard stops the run; the directory's rows and
        // runs are as they were.
        s.write("contractors.txt", "");
        let tripped = s.idmsync(&["--tenant", "contractors", "sync", "--full"]);
        assert_eq!(tripped.code, 3, "{}", tripped.stderr);
        let contractors = list(&s, "contractors", "users");
        assert!(all_active(&contractors), "{contractors}");
        assert_eq!(list(&s, "directory", "users"), directory);
        assert_eq!(list(&s, "directory", "log"), directory_runs);
    }
}

/// The outcomes of `tenant`'s runs with `trigger`, newest first.
fn outcomes(s: &Sandbox, tenant: &str, trigger: &str) -> Vec<String> {
    list(s, tenant, "log")
        .as_array()
        .expect("runs")
        .iter()
        .filter(|r| r["trigger"] == trigger)
        .map(|r| r["outcome"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn two_tenants_scheduled_side_by_side_in_one_serve_and_one_failing_leaves_the_other_alone() {
    let slapd = Slapd::builder().ldif(fixtures::DIRECTORY).start();
    for backend in [Backend::Sqlite, Backend::Postgres, Backend::Mysql] {
        let s = sandbox(
            backend,
            &slapd,
            "full_cron = \"\"\ndifferential_cron = \"* * * * * *\"",
            "[http]\nlisten = \"127.0.0.1:0\"\nshutdown_grace_secs = 1\n",
        );
        let server = Server::start(&s);
        server.wait_ready();
        assert_eq!(logins(&list(&s, "directory", "users")), fixtures::PEOPLE);
        assert_eq!(logins(&list(&s, "contractors", "users")), ["jdoe", "rroe"]);

        // The contractors' file goes: their scheduled runs fail, the directory's go on.
        std::fs::remove_file(s.path("contractors.txt")).expect("remove");
        crate::live::until(
            &server,
            "a failed contractors' run and two directory runs",
            || {
                outcomes(&s, "contractors", "schedule").contains(&"failed".to_string())
                    && outcomes(&s, "directory", "schedule")
                        .iter()
                        .filter(|o| *o == "succeeded")
                        .count()
                        >= 2
            },
        );
        server.stop();
        assert!(
            !outcomes(&s, "directory", "schedule").contains(&"failed".to_string()),
            "{backend:?}"
        );
        let directory = list(&s, "directory", "users");
        assert_eq!(logins(&directory), fixtures::PEOPLE, "{backend:?}");
        let contractors = list(&s, "contractors", "users");
        assert!(
            all_active(&contractors),
            "a failed run changes nothing: {contractors}"
        );
    }
}

/// Tenants `a` and `b` on files, in one SQLite database, served on a free port.
fn two_file_tenants() -> Sandbox {
    let mut config = String::from("[database]\nurl = \"{database}\"\n\n");
    // b names an ordinary user of its own a tenant manager.
    for (tenant, admin, managers) in [("a", "jdoe", ""), ("b", "rroe", "\"mmoe\"")] {
        config.push_str(&format!(
            "[tenants.{tenant}.sync]\nadmins = [\"{admin}\"]\nmanagers = [{managers}]\n\
             {NO_SCHEDULES}\n\
             [tenants.{tenant}.source]\ntype = \"file\"\n\
             [tenants.{tenant}.source.file]\nusers = \"{{dir}}/{tenant}.txt\"\n\
             groups = \"{{dir}}/{tenant}-groups.txt\"\n\n"
        ));
    }
    config.push_str("[http]\nlisten = \"127.0.0.1:0\"\nshutdown_grace_secs = 1\n");
    let s = Sandbox::with_config_on(Backend::Sqlite, &config);
    s.write("a.txt", "jdoe;Jane;Doe;jane@a.example;jane-pw;10/10/2015\n");
    s.write("a-groups.txt", "crew:jdoe:10/10/2015\n");
    s.write(
        "b.txt",
        "rroe;Richard;Roe;richard@b.example;richard-pw;10/10/2015\n\
         mmoe;Mary;Moe;mary@b.example;mary-pw;10/10/2015\n",
    );
    s.write("b-groups.txt", "crew:rroe;mmoe:10/10/2015\n");
    s
}

#[test]
fn one_serve_serves_every_tenant_each_behind_its_own_admins() {
    let s = two_file_tenants();
    let server = Server::start(&s);
    server.wait_ready();
    let runs = |tenant: &str, admin: (&str, &str)| {
        let (status, body) = server.get(
            &format!("/api/enterprise/idm-sync-log-entries?tenantId={tenant}"),
            Some(admin),
        );
        (status, body)
    };
    for (tenant, admin, users) in [
        ("a", ("jdoe", "jane-pw"), 1),
        ("b", ("rroe", "richard-pw"), 2),
    ] {
        let (status, body) = runs(tenant, admin);
        assert_eq!(status, reqwest::StatusCode::OK, "{tenant}: {body}");
        let page: Value = serde_json::from_str(&body).expect("json");
        assert_eq!(page["total"], 1, "{tenant}: {body}");
        assert_eq!(page["data"][0]["trigger"], "boot", "{body}");
        assert_eq!(page["data"][0]["counts"]["usersCreated"], users, "{body}");
    }
    // a's administrator is nobody in b; b's manager may read both.
    let (status, _) = runs("b", ("jdoe", "jane-pw"));
    assert_eq!(status, reqwest::StatusCode::UNAUTHORIZED);
    for tenant in ["a", "b"] {
        let (status, body) = runs(tenant, ("mmoe", "mary-pw"));
        assert_eq!(
            status,
            reqwest::StatusCode::OK,
            "manager on {tenant}: {body}"
        );
    }
    let (status, _) = runs("a", ("mmoe", "wrong"));
    assert_eq!(status, reqwest::StatusCode::UNAUTHORIZED);
    let (status, body) = server.get(
        "/api/enterprise/idm-sync-log-entries",
        Some(("jdoe", "jane-pw")),
    );
    assert_eq!(status, reqwest::StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("add tenantId=NAME"), "{body}");
    let (status, body) = server.get("/health/ready", None);
    assert_eq!(status, reqwest::StatusCode::OK, "{body}");
    // One console for both: its sign-in asks which tenant.
    let (status, form) = server.get("/sign-in", None);
    assert_eq!(status, reqwest::StatusCode::OK, "{form}");
    assert!(
        form.contains(r#"<option value="a">a</option><option value="b">b</option>"#),
        "{form}"
    );

    let run = server.stop();
    assert!(
        run.stdout
            .starts_with("idmsync serving tenants a, b on http://"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("idmsync stopped"), "{}", run.stdout);
    assert!(
        run.stdout.contains("operator's console on http://"),
        "{}",
        run.stdout
    );
}

#[test]
fn one_serve_of_several_tenants_serves_a_pushed_tenant_under_its_name() {
    let s = two_file_tenants();
    let config = std::fs::read_to_string(s.path("idmsync.toml")).expect("config");
    let (kept, rest) = config.split_once("[tenants.b.sync]").expect("tenant b");
    let (_, http) = rest.split_once("[http]").expect("http");
    s.write(
        "idmsync.toml",
        &format!(
            "{kept}[tenants.b.sync]\nadmins = [\"rroe\"]\n\
             [tenants.b.source]\ntype = \"scim\"\n\
             [tenants.b.source.scim]\ntokens = [\"{TOKEN}\"]\n\n[http]{http}"
        ),
    );
    let server = Server::start(&s);
    server.wait_ready();

    let (status, body) = scim(
        &server,
        Method::POST,
        "/b/Users",
        Some(json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "rroe",
            "name": {"givenName": "Richard", "familyName": "Roe"},
        })),
    );
    assert_eq!(status, StatusCode::CREATED, "{body}");
    for elsewhere in ["/Users", "/a/Users"] {
        let (status, body) = scim(&server, Method::GET, elsewhere, None);
        assert_eq!(status, StatusCode::NOT_FOUND, "{elsewhere}: {body}");
    }
    let (status, found) = scim(&server, Method::GET, "/b/Users", None);
    assert_eq!(status, StatusCode::OK, "{found}");
    let location = found["Resources"][0]["meta"]["location"]
        .as_str()
        .unwrap_or_default();
    assert!(location.contains("/scim/v2/b/Users/"), "{found}");
    server.stop();
    assert_eq!(logins(&list(&s, "b", "users")), ["rroe"]);
    assert_eq!(logins(&list(&s, "a", "users")), ["jdoe"], "a is untouched");
}
