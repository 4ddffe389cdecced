//! Several tenants in one configuration and one database: each chosen with `--tenant`, each
//! with its own source, sync settings, runs, guard and rows (issue 20).

use idmsync_test_db::Backend;
use idmsync_test_ldap::{fixtures, Slapd};
use serde_json::Value;

use crate::support::Sandbox;

const CONTRACTORS: &str = "\
jdoe;Jane;Doe;jane@contractors.example;;10/10/2015
rroe;Richard;Roe;richard@contractors.example;;10/10/2015
";

/// A tenant `directory` on the test slapd and a tenant `contractors` on a file, in one
/// database on `backend`.
fn sandbox(backend: Backend, slapd: &Slapd) -> Sandbox {
    let s = Sandbox::with_config_on(
        backend,
        &format!(
            "[database]\nurl = \"{{database}}\"\n\n\
             [tenants.directory.sync]\nadmins = [\"jlennon\"]\n\
             [tenants.directory.source]\ntype = \"ldap\"\n\
             [tenants.directory.source.ldap]\nurl = \"{url}\"\nbind_dn = \"{dn}\"\n\
             bind_password = \"{pw}\"\nuser_search_base = \"ou=people,dc=example,dc=com\"\n\
             group_search_base = \"ou=groups,dc=example,dc=com\"\n\n\
             [tenants.contractors.sync]\nadmins = [\"jdoe\"]\nmax_deactivations = 1\n\
             [tenants.contractors.source]\ntype = \"file\"\n\
             [tenants.contractors.source.file]\nusers = \"{{dir}}/contractors.txt\"\n\
             groups = \"{{dir}}/contractor-groups.txt\"\n",
            url = slapd.url(),
            dn = slapd.sync_dn(),
            pw = slapd.sync_password(),
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
        let s = sandbox(backend, &slapd);

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
        assert!(
            contractors
                .as_array()
                .expect("users")
                .iter()
                .all(|u| u["status"] == "active"),
            "{contractors}"
        );
        assert_eq!(list(&s, "directory", "users"), directory);
        assert_eq!(list(&s, "directory", "log"), directory_runs);
    }
}
