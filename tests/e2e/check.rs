//! `idmsync config check`: every finding on one line, exit 0 when all pass and 2 when anything
//! is wrong, against the shipped configuration, a real slapd with a wrong password or a base
//! that does not exist, an unreachable database and keys that do not parse.

use idmsync_test_ldap::{fixtures, Slapd};
use serde_json::Value;

use crate::support::{Run, Sandbox};

const PEOPLE: &str = "ou=people,dc=example,dc=com";

/// The finding of `part` in a text report.
#[track_caller]
fn finding<'a>(run: &'a Run, part: &str) -> &'a str {
    run.stdout
        .lines()
        .find(|line| line.split_whitespace().nth(1) == Some(part))
        .unwrap_or_else(|| panic!("no {part} finding in:\n{}{}", run.stdout, run.stderr))
}

fn ldap_config(slapd: &Slapd, password: &str, user_base: &str) -> String {
    format!(
        "[database]\nurl = \"sqlite://{{dir}}/idmsync.db\"\n\n\
         [source]\ntype = \"ldap\"\n\n\
         [source.ldap]\nurl = \"{url}\"\nbind_dn = \"{dn}\"\nbind_password = \"{password}\"\n\
         user_search_base = \"{user_base}\"\ngroup_search_base = \"ou=groups,dc=example,dc=com\"\n\
         connect_timeout_secs = 2\ntimeout_secs = 5\n",
        url = slapd.url(),
        dn = slapd.sync_dn(),
    )
}

#[test]
fn the_shipped_configuration_checks_out_and_says_what_it_found() {
    let s = Sandbox::with_shipped_config();
    let before = s.run_in_dir(&["config", "check"]);
    assert_eq!(before.code, 0, "{}{}", before.stdout, before.stderr);
    assert!(finding(&before, "configuration").starts_with("ok "));
    let source = finding(&before, "source");
    assert!(source.contains("15 users and 8 groups"), "{source}");
    let database = finding(&before, "database");
    assert!(database.contains("does not exist yet"), "{database}");
    assert!(
        !s.path("data/idmsync.db").exists(),
        "config check must not create the database"
    );

    s.run_in_dir(&["sync"]).ok();
    let after = s.run_in_dir(&["config", "check", "--format", "json"]).ok();
    let report: Value = serde_json::from_str(&after).expect("one JSON object");
    assert_eq!(report["ok"], true, "{report:#}");
    let database = report["checks"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["part"] == "database"))
        .expect("database finding");
    let message = database["message"].as_str().expect("message");
    assert!(message.contains("SQLite 3."), "{message}");
    assert!(message.contains("schema current"), "{message}");
    assert!(message.contains("15 users"), "{message}");
}

#[test]
fn a_directory_that_refuses_the_password_or_lacks_the_base_fails_the_check() {
    let slapd = Slapd::builder().ldif(fixtures::DIRECTORY).start();
    let s = Sandbox::with_config(&ldap_config(&slapd, slapd.sync_password(), PEOPLE));
    let good = s.idmsync(&["config", "check"]);
    assert_eq!(good.code, 0, "{}{}", good.stdout, good.stderr);
    let source = finding(&good, "source");
    assert!(source.contains("OpenLDAP"), "{source}");
    assert!(source.contains("paged results"), "{source}");

    s.write_config(&ldap_config(&slapd, "Wr0ng-Passw0rd", PEOPLE));
    let wrong = s.idmsync(&["config", "check"]);
    assert_eq!(wrong.code, 2, "{}{}", wrong.stdout, wrong.stderr);
    let source = finding(&wrong, "source");
    assert!(source.starts_with("FAILED"), "{source}");
    assert!(
        source.contains(&format!(
            "bind as {} failed: invalid credentials (49)",
            slapd.sync_dn()
        )),
        "{source}"
    );
    assert!(!wrong.stdout.contains("Wr0ng-Passw0rd") && !wrong.stderr.contains("Wr0ng-Passw0rd"));
    assert!(finding(&wrong, "database").starts_with("ok "));

    let missing = "ou=nobody,dc=example,dc=com";
    s.write_config(&ldap_config(&slapd, slapd.sync_password(), missing));
    let base = s.idmsync(&["config", "check"]);
    assert_eq!(base.code, 2, "{}{}", base.stdout, base.stderr);
    let source = finding(&base, "source");
    assert!(
        source.contains(&format!("source.ldap.user_search_base '{missing}'")),
        "{source}"
    );
    assert!(source.contains("no such object (32)"), "{source}");
}

#[test]
fn an_unreachable_database_and_bad_keys_fail_the_check_each_on_its_line() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let s = Sandbox::new(
        "jlennon;John;Lennon;john@beatles.com;pw;10/10/2015\n",
        "",
        "",
    );
    s.write_config(&format!(
        "[database]\nurl = \"postgres://idm:s3cret@127.0.0.1:{port}/idm\"\nconnect_timeout_secs = 2\n\n\
         [sync]\nfull_cron = \"every night\"\n\n\
         [source]\ntype = \"file\"\n\n\
         [source.file]\nusers = \"{{dir}}/users.txt\"\ngroups = \"{{dir}}/groups.txt\"\n\n\
         [http]\ntls_cert = \"{{dir}}/missing.pem\"\ntls_key = \"{{dir}}/missing.key\"\n"
    ));
    let run = s.idmsync(&["config", "check"]);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    let problems: Vec<&str> = run
        .stdout
        .lines()
        .filter(|line| line.starts_with("FAILED  configuration"))
        .collect();
    assert_eq!(problems.len(), 2, "{}", run.stdout);
    assert!(problems[0].contains("sync.full_cron"), "{}", run.stdout);
    assert!(problems[1].contains("missing.pem"), "{}", run.stdout);
    assert!(finding(&run, "source").contains("1 user and 0 groups"));
    let database = finding(&run, "database");
    assert!(database.starts_with("FAILED"), "{database}");
    assert!(
        database.contains(&format!("127.0.0.1:{port}")),
        "{database}"
    );
    assert!(!run.stdout.contains("s3cret"), "{}", run.stdout);

    s.write_config("[sync]\nauth_mode = 1\n");
    let unknown = s.idmsync(&["config", "check", "--format", "json"]);
    assert_eq!(unknown.code, 2);
    let report: Value = serde_json::from_str(&unknown.stdout).expect("one JSON object");
    assert_eq!(report["ok"], false);
    let message = report["checks"][0]["message"].as_str().expect("message");
    assert!(message.contains("sync.auth_mode"), "{message}");
}

#[test]
fn a_directory_whose_users_the_account_cannot_see_fails_the_check_with_the_likely_causes() {
    let slapd = Slapd::builder()
        .ldif(fixtures::DIRECTORY)
        .hide("(objectClass=inetOrgPerson)", "entry")
        .start();
    let s = Sandbox::with_config(&ldap_config(&slapd, slapd.sync_password(), PEOPLE));
    let run = s.idmsync(&["config", "check"]);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    let source = finding(&run, "source");
    assert!(source.starts_with("FAILED"), "{source}");
    assert!(source.contains("0 users and"), "{source}");
    assert!(source.contains("rights to read the entries"), "{source}");
}

#[test]
fn entries_without_their_unique_id_are_counted_with_the_389_fixup_hint() {
    let slapd = Slapd::builder()
        .ldif(fixtures::DIRECTORY)
        .hide("(uid=jlennon)", "entryUUID")
        .start();
    let s = Sandbox::with_config(&ldap_config(&slapd, slapd.sync_password(), PEOPLE));
    let run = s.idmsync(&["config", "check"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let source = finding(&run, "source");
    assert!(source.contains("1 entry cannot be read"), "{source}");
    assert!(source.contains("plugin entryuuid fixup"), "{source}");
}
