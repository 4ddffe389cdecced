//! Several sources in one tenant (issue 20): employees from the test OpenLDAP over contractors
//! from a file, merged by e-mail, on the three backends.

use idmsync_test_db::Backend;
use idmsync_test_ldap::{fixtures, Slapd};
use serde_json::{json, Value};

use crate::ldap::ldap_table;
use crate::support::Sandbox;

/// Mick Jagger is also a contractor (another login, his e-mail in capitals); Jane Doe is only
/// one; a contractor `jsmith` is not the directory's John Smith (another e-mail).
const CONTRACTORS: &str = "\
mick-c;Michael;J.;MICK.JAGGER@example.com;mick-pw;10/10/2015
jdoe;Jane;Doe;jane@contractors.example;jane-pw;10/10/2015
jsmith;Jane;Smith;jane.smith@contractors.example;smith-pw;10/10/2015
";

/// Tenant `acme`: `[[tenants.acme.sources]]` employees (the slapd) then contractors.
fn sandbox(backend: Backend, slapd: &Slapd) -> Sandbox {
    let s = Sandbox::with_config_on(
        backend,
        &format!(
            "[database]\nurl = \"{{database}}\"\n\n\
             [tenants.acme.sync]\nadmins = [\"jlennon\"]\nmatch_by = \"email\"\n\n\
             [[tenants.acme.sources]]\nname = \"employees\"\ntype = \"ldap\"\n{ldap}\n\
             [[tenants.acme.sources]]\nname = \"contractors\"\ntype = \"file\"\n\
             [tenants.acme.sources.file]\nusers = \"{{dir}}/contractors.txt\"\n\
             groups = \"{{dir}}/contractor-groups.txt\"\n",
            ldap = ldap_table(slapd, "tenants.acme.sources.ldap"),
        ),
    );
    s.write("contractors.txt", CONTRACTORS);
    s.write("contractor-groups.txt", "crew:jdoe;mick-c:10/10/2015\n");
    s
}

fn user<'a>(users: &'a Value, login: &str) -> Option<&'a Value> {
    users
        .as_array()
        .expect("users")
        .iter()
        .find(|u| u["external_id"] == login)
}

/// `users show LOGIN --format json`, parsed.
fn show(s: &Sandbox, login: &str) -> Value {
    let out = s
        .idmsync(&["users", "show", login, "--format", "json"])
        .ok();
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

fn status(users: &Value, login: &str) -> String {
    user(users, login).map_or_else(|| "absent".into(), |u| u["status"].to_string())
}

#[test]
fn employees_and_contractors_merge_by_email_with_conflicts_held_on_every_backend() {
    let slapd = Slapd::builder().ldif(fixtures::DIRECTORY).start();
    for backend in [Backend::Sqlite, Backend::Postgres, Backend::Mysql] {
        let s = sandbox(backend, &slapd);

        let checked = s.idmsync(&["config", "check"]).ok();
        assert!(checked.contains("employees: OpenLDAP"), "{checked}");
        let out = s.idmsync(&["sync"]).ok();
        assert!(out.starts_with("full sync succeeded"), "{backend:?}: {out}");

        let users = s.users();
        let people = fixtures::PEOPLE.len();
        // Every employee but the held jsmith, and the contractor jdoe; Mick once.
        assert_eq!(users.as_array().map(Vec::len), Some(people), "{users}");
        let mick = user(&users, "mjagger").expect("mjagger");
        assert_eq!(mick["first_name"], "Mick", "the employees' value wins");
        assert_eq!(mick["email"], "mick.jagger@example.com");
        assert_eq!(status(&users, "mick-c"), "absent", "one person, one row");
        assert_eq!(status(&users, "jdoe"), "\"active\"");
        assert_eq!(
            status(&users, "jsmith"),
            "absent",
            "held: neither is written"
        );
        let shown = s.idmsync(&["users", "show", "mjagger"]).ok();
        assert!(shown.contains("contractors: mick-c"), "{shown}");
        let shown = show(&s, "mjagger");
        assert_eq!(shown["sources"]["contractors"], "mick-c", "{shown}");
        assert!(shown["source_id"].is_string(), "{shown}");
        assert_eq!(
            shown["sources"]["employees"], shown["source_id"],
            "the employee's id: {shown}"
        );

        let runs = s.runs();
        let run = runs[0]["id"].as_i64().expect("run id");
        let log = s.log(run);
        let held: Vec<_> = log
            .iter()
            .filter(|l| l.contains("source-conflict"))
            .collect();
        assert_eq!(held.len(), 2, "{log:#?}");
        assert!(
            held[0].contains("the login \"jsmith\" is claimed by 2 different people, in employees and contractors"),
            "{held:?}"
        );
        let crew = s.idmsync(&["groups", "show", "crew"]).ok();
        assert!(crew.contains("mjagger") && crew.contains("jdoe"), "{crew}");
        assert!(!crew.contains("mick-c"), "{crew}");

        // Mick stops contracting: still an employee, still active. Jane Doe leaves: no source
        // provides her, so she is deactivated, by a differential run too.
        s.write(
            "contractors.txt",
            "jsmith;Jane;Smith;jane.smith@contractors.example;smith-pw;10/10/2015\n",
        );
        s.write("contractor-groups.txt", "crew::10/10/2015\n");
        let out = s.idmsync(&["sync", "--differential"]).ok();
        assert!(out.starts_with("differential sync succeeded"), "{out}");
        let users = s.users();
        assert_eq!(status(&users, "mjagger"), "\"active\"", "{users}");
        let now = show(&s, "mjagger");
        assert_eq!(now["source_id"], shown["source_id"], "the same row");
        assert_eq!(
            now["sources"],
            json!({"employees": shown["source_id"]}),
            "an employee only"
        );
        assert_eq!(status(&users, "jdoe"), "\"inactive\"", "{users}");

        // A source that cannot be read fails the run and changes nothing.
        std::fs::remove_file(s.path("contractors.txt")).expect("remove");
        let failed = s.idmsync(&["sync", "--full"]);
        assert_ne!(failed.code, 0);
        assert!(
            failed.stderr.contains("source contractors"),
            "{}",
            failed.stderr
        );
        assert_eq!(s.users(), users, "{backend:?}");
    }
}

#[test]
fn several_sources_are_named_and_checked_when_the_configuration_loads() {
    let s = Sandbox::with_config(
        "[[sources]]\ntype = \"file\"\n[sources.file]\nusers = \"u\"\ngroups = \"g\"\n\
         [[sources]]\nname = \"b\"\ntype = \"file\"\n[sources.file]\nusers = \"u\"\ngroups = \"g\"\n",
    );
    let out = s.idmsync(&["sync"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("sources[0].name: missing"),
        "{}",
        out.stderr
    );
    s.write_config(
        "[[sources]]\nname = \"a\"\ntype = \"scim\"\n\
         [[sources]]\nname = \"b\"\ntype = \"file\"\n[sources.file]\nusers = \"u\"\ngroups = \"g\"\n",
    );
    let out = s.idmsync(&["config", "check"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stdout
            .contains("FAILED  configuration  sources[0].type: a SCIM source is pushed to"),
        "{}",
        out.stdout
    );
}

/// The tenant `merged` of the shipped `config/multi-tenant-example.toml`, syncing the test
/// OpenLDAP and the shipped contractors' files.
#[test]
fn the_shipped_example_merges_the_test_directory_and_the_contractors_file() {
    let slapd = Slapd::builder().ldif(fixtures::DIRECTORY).start();
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let example = std::fs::read_to_string(repo.join("config/multi-tenant-example.toml"))
        .expect("reading config/multi-tenant-example.toml");
    assert!(example.contains(&slapd.sync_dn()) && example.contains(slapd.sync_password()));
    let config = example
        .replace(
            "sqlite://data/idmsync-tenants.db",
            "sqlite://{dir}/idmsync.db",
        )
        .replace("ldap://127.0.0.1:3389", &slapd.url())
        .replace("\"config/", &format!("\"{}/config/", repo.display()));
    let s = Sandbox::with_config(&config);

    let out = s.idmsync(&["--tenant", "merged", "sync"]).ok();
    assert!(out.starts_with("full sync succeeded"), "{out}");
    let users: Value = serde_json::from_str(
        &s.idmsync(&["--tenant", "merged", "users", "list", "--format", "json"])
            .ok(),
    )
    .expect("users");
    // The directory's people, and two contractors; Mick Jagger once.
    assert_eq!(
        users.as_array().map(Vec::len),
        Some(fixtures::PEOPLE.len() + 2),
        "{users}"
    );
    assert_eq!(status(&users, "mick-c"), "absent");
    let mick = user(&users, "mjagger").expect("mjagger");
    assert_eq!(mick["first_name"], "Mick", "{mick}");
    let crew = s
        .idmsync(&["--tenant", "merged", "groups", "show", "crew"])
        .ok();
    assert!(crew.contains("mjagger") && crew.contains("rroe"), "{crew}");
    let login = s.idmsync_with_input(
        &["--tenant", "merged", "auth", "check", "jdoe"],
        "janepassword\n",
    );
    assert_eq!(login.code, 0, "{}{}", login.stdout, login.stderr);
}

/// `sync.match_by = "mapping"`: the directory's `employeeNumber` against the number in a
/// contractor's id (`E1001`), with nothing else in common.
#[test]
fn people_are_matched_by_employee_number_when_each_source_maps_one() {
    let slapd = Slapd::builder().ldif(fixtures::DIRECTORY).start();
    slapd.modify(
        "dn: uid=krichards,ou=london,ou=people,dc=example,dc=com\nchangetype: modify\n\
         add: employeeNumber\nemployeeNumber: 1001\n",
    );
    let s = Sandbox::with_config(&format!(
        "[database]\nurl = \"sqlite://{{dir}}/idmsync.db\"\n\
         [sync]\nadmins = [\"jlennon\"]\nmatch_by = \"mapping\"\n\n\
         [[sources]]\nname = \"employees\"\ntype = \"ldap\"\n{ldap}\
         [sources.ldap.mapping]\nmatch = \"employeeNumber\"\n\n\
         [[sources]]\nname = \"contractors\"\ntype = \"file\"\n\
         [sources.file]\nusers = \"{{dir}}/contractors.txt\"\n\
         groups = \"{{dir}}/contractor-groups.txt\"\n\
         [sources.file.mapping]\nmatch = 'regex_capture(id, \"^E([0-9]+)$\")'\n",
        ldap = ldap_table(&slapd, "sources.ldap"),
    ));
    s.write(
        "contractors.txt",
        "E1001;Keith;R.;keef@agency.example;pw;10/10/2015\n\
         E2002;Jane;Doe;jane@agency.example;pw;10/10/2015\n",
    );
    s.write("contractor-groups.txt", "crew:E1001;E2002:10/10/2015\n");

    let out = s.idmsync(&["sync"]).ok();
    assert!(out.starts_with("full sync succeeded"), "{out}");
    let users = s.users();
    assert_eq!(
        users.as_array().map(Vec::len),
        Some(fixtures::PEOPLE.len() + 1),
        "Keith once, Jane added: {users}"
    );
    assert_eq!(status(&users, "E1001"), "absent");
    assert_eq!(status(&users, "E2002"), "\"active\"");
    let keith = user(&users, "krichards").expect("krichards");
    assert_eq!(keith["email"], "keith.richards@example.com", "{keith}");
    let crew = s.idmsync(&["groups", "show", "crew"]).ok();
    assert!(
        crew.contains("krichards") && crew.contains("E2002"),
        "{crew}"
    );
}
