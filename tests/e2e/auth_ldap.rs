//! `idmsync auth check` against a real slapd: the LDAP example setup (LDAP source, bind against
//! the directory), the local database as gatekeeper, hostile logins, blank passwords, the
//! database fallback with the directory up and down, StartTLS, secrets in logs, and `[auth]`
//! configuration errors.

use std::time::{Duration, Instant};

use idmsync_test_ldap::{fixtures, Slapd, TestDirectory};

use crate::support::{Run, Sandbox};

const CANARY: &str = "Canary-Pa55word";
const FAILED: &str = "authentication failed\n";

/// The `[source.ldap]` section for a directory (the sync account, the fixture's search bases).
fn source_ldap(slapd: &dyn TestDirectory) -> String {
    format!(
        "url = \"{url}\"\nbind_dn = \"{dn}\"\nbind_password = \"{pw}\"\n\
         user_search_base = \"ou=people,{suffix}\"\ngroup_search_base = \"ou=groups,{suffix}\"\n",
        url = slapd.url(),
        dn = slapd.sync_dn(),
        pw = slapd.sync_password(),
        suffix = slapd.suffix(),
    )
}

/// An LDAP source on a directory, with `auth` as the `[auth]` section.
pub(crate) fn ldap_config(slapd: &dyn TestDirectory, auth: &str) -> String {
    format!(
        "[database]\nurl = \"sqlite://{{dir}}/idmsync.db\"\n\n\
         [sync]\nadmins = [\"uid=jlennon,ou=liverpool,ou=people,dc=example,dc=com\"]\n\n\
         [source]\ntype = \"ldap\"\n\n[source.ldap]\n{}\n[auth]\n{auth}\n",
        source_ldap(slapd)
    )
}

fn fixture() -> Slapd {
    Slapd::builder().ldif(fixtures::DIRECTORY).start()
}

/// A sandbox synchronised from a directory, logging in with `auth`.
pub(crate) fn synced(slapd: &dyn TestDirectory, auth: &str) -> Sandbox {
    let s = Sandbox::with_config(&ldap_config(slapd, auth));
    s.idmsync(&["sync"]).ok();
    s
}

pub(crate) fn check(s: &Sandbox, user: &str, password: &str) -> Run {
    s.idmsync_with_input(&["auth", "check", user], password)
}

#[track_caller]
pub(crate) fn refused(run: &Run, what: &str) {
    assert_eq!(run.code, 1, "{what}: {}", run.stdout);
    assert_eq!(run.stdout, "", "{what}");
    assert!(run.stderr.ends_with(FAILED), "{what}: {}", run.stderr);
}

#[test]
fn the_ldap_example_setup_checks_passwords_by_binding_for_synced_users_only() {
    let slapd = fixture();
    let s = synced(&slapd, "");
    let ok = check(&s, "jlennon", "jlennon-secret");
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    assert_eq!(ok.stdout, "ok: jlennon (tenant admin)\n");
    assert_eq!(check(&s, "rstarr", "rstarr-secret").stdout, "ok: rstarr\n");

    for (user, password, what) in [
        ("jlennon", "wrong", "wrong password"),
        ("jlennon", "pmccartney-secret", "another user's password"),
        (
            "outsider",
            "outsider-secret",
            "in the directory, never synced",
        ),
        ("nobody", "nobody-secret", "unknown"),
        ("JLennon", "jlennon-secret", "case_sensitive = true"),
    ] {
        let run = check(&s, user, password);
        refused(&run, what);
        assert_eq!(run.stderr, FAILED, "{what}: no other output");
    }

    // Added to the directory after the sync: unknown locally until the next sync.
    slapd.add(
        "dn: uid=newbie,ou=people,dc=example,dc=com\nobjectClass: inetOrgPerson\nuid: newbie\n\
         cn: New Bie\nsn: Bie\nuserPassword: newbie-secret\n",
    );
    refused(&check(&s, "newbie", "newbie-secret"), "not synced yet");
    s.idmsync(&["sync"]).ok();
    assert_eq!(check(&s, "newbie", "newbie-secret").code, 0);
}

#[test]
fn a_deactivated_user_cannot_log_in_even_when_the_directory_accepts_the_password() {
    let slapd = fixture();
    let s = synced(&slapd, "");
    let entry = "dn: uid=eclapton,ou=london,ou=people,dc=example,dc=com\n\
                 objectClass: inetOrgPerson\nuid: eclapton\ncn: Eric Clapton\nsn: Clapton\n\
                 userPassword: eclapton-secret\n";
    slapd.modify("dn: uid=eclapton,ou=london,ou=people,dc=example,dc=com\nchangetype: delete\n");
    s.idmsync(&["sync", "--full"]).ok();
    // Back in the directory (a new entry with the same uid), not yet synced: the directory
    // would accept the bind, but the local user is inactive.
    slapd.add(entry);
    refused(&check(&s, "eclapton", "eclapton-secret"), "inactive");
}

#[test]
fn hostile_logins_are_refused() {
    let slapd = fixture();
    for auth in ["", "dn_pattern = \"uid={0},ou=people,dc=example,dc=com\""] {
        let s = synced(&slapd, auth);
        for login in [
            "*",
            "*)(uid=*",
            "admin)(|(uid=*",
            "jlenn*",
            "*)(uid=jlennon",
            "jlennon,ou=liverpool",
            "jlennon,ou=x",
            "a+cn=b",
        ] {
            for password in ["jlennon-secret", "dbowie-secret"] {
                refused(&check(&s, login, password), login);
            }
        }
        assert_eq!(check(&s, "dbowie", "dbowie-secret").code, 0, "{auth}");
    }
}

#[test]
fn a_blank_password_fails_without_contacting_the_directory() {
    let mut slapd = fixture();
    let s = synced(&slapd, "");
    slapd.stop();
    for blank in ["", " ", "\t"] {
        let start = Instant::now();
        let run = check(&s, "jlennon", blank);
        refused(&run, "blank");
        assert_eq!(run.stderr, FAILED, "no 'directory unavailable' warning");
        assert!(start.elapsed() < Duration::from_secs(5));
    }
    // The same with a password: the directory is tried, and its outage is logged.
    let run = check(&s, "jlennon", "jlennon-secret");
    refused(&run, "directory down");
    assert!(
        run.stderr.contains("could not check a password"),
        "{}",
        run.stderr
    );
}

/// A file source with local passwords, logins bound against slapd through an `[auth.ldap]`
/// table (which turns `auth.ldap` on):
/// jlennon has a local password (johnpassword) and a directory one (jlennon-secret), gharrison
/// only the directory one.
fn file_source_binding_to(slapd: &Slapd, auth: &str) -> Sandbox {
    let s = Sandbox::new(
        "jlennon;John;Lennon;john@beatles.com;johnpassword;10/10/2015\n\
         gharrison;George;Harrison;;;10/10/2015\n",
        "beatles:jlennon;gharrison:13/10/2015\n",
        "",
    );
    let config = std::fs::read_to_string(s.path("idmsync.toml")).expect("config");
    s.write(
        "idmsync.toml",
        &format!(
            "{config}\n[auth]\n{auth}\n\n[auth.ldap]\n{}",
            source_ldap(slapd)
        ),
    );
    s.idmsync(&["sync"]).ok();
    s
}

#[test]
fn the_database_fallback_applies_when_the_directory_refuses_and_when_it_is_down() {
    let mut slapd = fixture();
    let on = file_source_binding_to(&slapd, "database_fallback = true");
    let off = file_source_binding_to(&slapd, "");
    let accepted = |s: &Sandbox, user: &str, password: &str| check(s, user, password).code == 0;

    // Directory up.
    assert!(accepted(&on, "jlennon", "jlennon-secret"));
    assert!(
        accepted(&on, "jlennon", "johnpassword"),
        "directory refuses, local hash accepts"
    );
    assert!(!accepted(&on, "jlennon", "wrong"));
    assert!(accepted(&on, "gharrison", "gharrison-secret"));
    assert!(!accepted(&off, "jlennon", "johnpassword"), "no fallback");
    assert!(accepted(&off, "jlennon", "jlennon-secret"));

    // Directory down.
    slapd.stop();
    assert!(accepted(&on, "jlennon", "johnpassword"));
    assert!(!accepted(&on, "jlennon", "jlennon-secret"));
    assert!(
        !accepted(&on, "gharrison", "gharrison-secret"),
        "no local hash, no fallback"
    );
    refused(&check(&off, "jlennon", "johnpassword"), "no fallback");
    refused(&check(&off, "jlennon", "jlennon-secret"), "directory down");
}

#[test]
fn no_password_or_bind_credential_is_logged_even_at_trace_level() {
    let mut slapd = fixture();
    let ldap = synced(&slapd, "");
    let fallback = file_source_binding_to(&slapd, "database_fallback = true");
    let sync_password = slapd.sync_password().to_owned();
    let secrets = [CANARY, sync_password.as_str(), "johnpassword"];
    let mut runs = Vec::new();
    for s in [&ldap, &fallback] {
        for user in ["jlennon", "nobody", "*)(uid=*"] {
            runs.push(s.idmsync_with_input(&["-vvv", "auth", "check", user], CANARY));
        }
        runs.push(s.idmsync_with_input(&["-vvv", "auth", "check", "jlennon"], "jlennon-secret"));
    }
    slapd.stop();
    for s in [&ldap, &fallback] {
        runs.push(s.idmsync_with_input(&["-vvv", "auth", "check", "jlennon"], CANARY));
    }
    runs.push(fallback.idmsync_with_input(&["-vvv", "auth", "check", "jlennon"], "johnpassword"));
    assert!(
        runs.iter().any(|r| r.stderr.contains("could not check")),
        "the outage is logged"
    );
    for run in &runs {
        for secret in secrets {
            assert!(!run.stderr.contains(secret), "{secret} in:\n{}", run.stderr);
            assert!(!run.stdout.contains(secret), "{secret} in:\n{}", run.stdout);
        }
        assert!(!run.stderr.contains("jlennon-secret"), "{}", run.stderr);
    }
}

#[test]
fn a_failed_starttls_refuses_the_login_instead_of_binding_in_clear_text() {
    let slapd = fixture();
    let s = synced(
        &slapd,
        "dn_pattern = \"uid={0},ou=liverpool,ou=people,dc=example,dc=com\"\n\
         [auth.ldap]\nstarttls = true\ninsecure_skip_verify = true",
    );
    let run = check(&s, "jlennon", "jlennon-secret");
    refused(&run, "StartTLS refused by the server");
    assert!(run.stderr.contains("StartTLS"), "{}", run.stderr);
}

#[test]
fn auth_configuration_errors_name_the_key() {
    let slapd = fixture();
    for (auth, key) in [
        (
            "dn_pattern = \"uid=x,dc=example,dc=com\"",
            "auth.dn_pattern",
        ),
        (
            "dn_pattern = \"uid={0},dc=x\"\nactive_directory_domain = \"corp.example.com\"",
            "auth.active_directory_domain",
        ),
        ("max_failures = 3\nlockout_secs = 0", "auth.lockout_secs"),
        ("[auth.ldap]\nurl = \"http://dir\"", "url"),
        ("ldap = \"sometimes\"", "auth.ldap"),
    ] {
        let s = Sandbox::with_config(&ldap_config(&slapd, auth));
        let run = check(&s, "jlennon", "jlennon-secret");
        assert_eq!(run.code, 2, "{auth}: {}", run.stderr);
        assert!(run.stderr.contains(key), "{auth}: {}", run.stderr);
    }
    let file = Sandbox::new("", "", "");
    let config = std::fs::read_to_string(file.path("idmsync.toml")).expect("config");
    file.write(
        "idmsync.toml",
        &format!("{config}\n[auth]\ndatabase_fallback = true\n"),
    );
    let run = check(&file, "jlennon", "x");
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("auth.database_fallback"),
        "{}",
        run.stderr
    );
}
