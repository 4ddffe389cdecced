//! The binary against a real OpenLDAP slapd (started per test from the fixture directory).

use idmsync_test_ldap::{fixtures, SessionLog, Slapd, TestDirectory};
use serde_json::Value;

use crate::support::Sandbox;

const PEOPLE: &str = "ou=people,dc=example,dc=com";

pub(crate) fn config(slapd: &Slapd, sync_extra: &str, ldap_extra: &str) -> String {
    format!(
        "[database]\nurl = \"sqlite://{{dir}}/idmsync.db\"\n\n\
         [sync]\nadmins = [\"UID=jlennon, OU=Liverpool,ou=People,DC=example,DC=com\"]\n{sync_extra}\n\n\
         [source]\ntype = \"ldap\"\n\n\
         [source.ldap]\nurl = \"{url}\"\nbind_dn = \"{dn}\"\nbind_password = \"{pw}\"\n\
         user_search_base = \"{PEOPLE}\"\ngroup_search_base = \"ou=groups,dc=example,dc=com\"\n\
         page_size = 3\ndifferential_overlap_secs = 0\n{ldap_extra}\n",
        url = slapd.url(),
        dn = slapd.sync_dn(),
        pw = slapd.sync_password(),
    )
}

/// A `[table]` of LDAP connection settings for `slapd`'s test directory (the sync account, the
/// people and groups bases), for configurations that name the table themselves
/// (`tenants.x.source.ldap`, `sources.ldap`).
pub(crate) fn ldap_table(slapd: &Slapd, table: &str) -> String {
    format!(
        "[{table}]\nurl = \"{url}\"\nbind_dn = \"{dn}\"\nbind_password = \"{pw}\"\n\
         user_search_base = \"{PEOPLE}\"\ngroup_search_base = \"ou=groups,dc=example,dc=com\"\n",
        url = slapd.url(),
        dn = slapd.sync_dn(),
        pw = slapd.sync_password(),
    )
}

fn directory() -> Slapd {
    Slapd::builder()
        .ldif(fixtures::DIRECTORY)
        .sync_size_limit(5)
        .start()
}

fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .expect("array")
        .iter()
        .map(|v| v["external_id"].as_str().expect("id").to_string())
        .collect()
}

fn group<'a>(groups: &'a Value, id: &str) -> &'a Value {
    groups
        .as_array()
        .and_then(|g| g.iter().find(|g| g["external_id"] == id))
        .unwrap_or_else(|| panic!("group {id} missing from {groups:#}"))
}

#[test]
fn a_full_sync_brings_users_groups_and_nesting_from_slapd() {
    let slapd = directory();
    let s = Sandbox::with_config(&config(&slapd, "", ""));
    let out = s.idmsync(&["sync"]).ok();
    assert!(out.starts_with("full sync succeeded"), "{out}");

    let users = s.users();
    assert_eq!(ids(&users), fixtures::PEOPLE);
    let jlennon = &users[5];
    assert_eq!(
        jlennon["admin"], true,
        "admin by a DN written in another case"
    );
    assert_eq!(users[0]["first_name"], "Björk");
    assert_eq!(users[4]["email"], Value::Null);
    assert_eq!(
        users[9]["email"], "paul.mccartney@example.com",
        "first value wins"
    );

    let groups = s.groups();
    assert_eq!(
        ids(&groups),
        [
            "beatles",
            "cycle-a",
            "cycle-b",
            "dangling",
            "mixed-case",
            "musicians",
            "stones"
        ]
    );
    assert_eq!(
        group(&groups, "musicians")["child_groups"],
        serde_json::json!(["beatles", "stones"])
    );
    assert_eq!(
        group(&groups, "musicians")["members"],
        serde_json::json!(["bjork", "dbowie"])
    );
    assert_eq!(
        group(&groups, "cycle-a")["child_groups"],
        serde_json::json!(["cycle-b"])
    );
    assert_eq!(
        group(&groups, "cycle-b")["child_groups"],
        serde_json::json!(["cycle-a"])
    );
    assert_eq!(
        group(&groups, "mixed-case")["members"],
        serde_json::json!(["jlennon", "krichards", "rstarr"])
    );
    assert_eq!(
        group(&groups, "dangling")["members"],
        serde_json::json!(["jsmith"])
    );

    let log = s.log(1);
    let skipped: Vec<&String> = log
        .iter()
        .filter(|l| l.starts_with("skipped-member: dangling"))
        .collect();
    assert_eq!(skipped.len(), 3, "{log:#?}");
}

#[test]
fn mapping_expressions_compute_logins_e_mails_and_group_names_from_slapd() {
    let slapd = directory();
    let mapping = "\n[source.ldap.mapping]\nlogin = \"upper(uid)\"\n\
                   email = 'default(mail, \"nobody@example.com\")'\n\
                   group_name = 'regex_replace(cn, \"^(.)\", \"Group $1\")'\n";
    let s = Sandbox::with_config(&config(&slapd, "", mapping));
    let out = s.idmsync(&["sync"]).ok();
    assert!(out.starts_with("full sync succeeded"), "{out}");
    let users = s.users();
    let expected: Vec<String> = fixtures::PEOPLE.iter().map(|p| p.to_uppercase()).collect();
    assert_eq!(ids(&users), expected);
    assert_eq!(
        users[4]["email"], "nobody@example.com",
        "no mail: the default"
    );
    assert_eq!(users[9]["email"], "paul.mccartney@example.com");
    let groups = s.groups();
    assert_eq!(group(&groups, "beatles")["name"], "Group beatles");
    assert_eq!(
        group(&groups, "mixed-case")["members"],
        serde_json::json!(["JLENNON", "KRICHARDS", "RSTARR"]),
        "members still resolve by DN"
    );

    let broken = config(
        &slapd,
        "",
        "\n[source.ldap.mapping]\nlogin = \"lower(uid\"\n",
    );
    let s = Sandbox::with_config(&broken);
    let refused = s.idmsync(&["sync"]);
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(
        refused
            .stderr
            .contains("source.ldap.mapping.login: at character 10: expected `)`"),
        "{}",
        refused.stderr
    );
}

#[test]
fn differential_and_full_runs_follow_the_directory() {
    let slapd = directory();
    let s = Sandbox::with_config(&config(&slapd, "max_deactivations = 1", ""));
    s.idmsync(&["sync"]).ok();

    slapd.add(&format!(
        "dn: uid=bmay,ou=london,{PEOPLE}\nobjectClass: inetOrgPerson\nuid: bmay\ncn: Brian May\n\
         givenName: Brian\nsn: May\nmail: brian.may@example.com\n"
    ));
    slapd.modify(&format!(
        "dn: uid=rwood,ou=london,{PEOPLE}\nchangetype: modify\nreplace: sn\nsn: Wood-Stone\n\n\
         dn: uid=eclapton,ou=london,{PEOPLE}\nchangetype: modrdn\nnewrdn: uid=eclapton\n\
         deleteoldrdn: 1\nnewsuperior: ou=liverpool,{PEOPLE}\n\n\
         dn: cn=stones,ou=groups,dc=example,dc=com\nchangetype: modify\ndelete: member\n\
         member: uid=cwatts,ou=london,{PEOPLE}\n-\nadd: member\nmember: uid=bmay,ou=london,{PEOPLE}\n"
    ));
    let out = s.idmsync(&["sync"]).ok();
    assert!(out.starts_with("differential sync succeeded"), "{out}");
    let log = s.log(2);
    for line in [
        "created-user: bmay (Brian May, brian.may@example.com)",
        "updated-user: rwood (last_name \"Wood\" → \"Wood-Stone\")",
        "updated-user: eclapton (locator \"uid=eclapton,ou=london,ou=people,dc=example,dc=com\" → \"uid=eclapton,ou=liverpool,ou=people,dc=example,dc=com\")",
        "added-user-to-group: bmay to stones",
        "removed-user-from-group: cwatts from stones",
    ] {
        assert!(
            log.contains(&line.to_string()),
            "{line} missing from {log:#?}"
        );
    }
    assert!(
        !log.iter().any(|l| l.starts_with("deactivated-")),
        "{log:#?}"
    );

    slapd.modify(&format!("dn: uid=dbowie,{PEOPLE}\nchangetype: delete\n"));
    s.idmsync(&["sync"]).ok();
    let users = s.users();
    let dbowie = users
        .as_array()
        .and_then(|u| u.iter().find(|u| u["external_id"] == "dbowie"));
    assert_eq!(
        dbowie.map(|u| u["status"].clone()),
        Some("active".into()),
        "differential never deactivates"
    );

    s.idmsync(&["sync", "--full"]).ok();
    let log = s.log(4);
    assert!(
        log.contains(&"deactivated-user: dbowie (missing from the source)".to_string()),
        "{log:#?}"
    );
    assert!(
        log.contains(&"removed-user-from-group: dbowie from musicians".to_string()),
        "{log:#?}"
    );
    assert_eq!(
        log.iter()
            .filter(|l| l.starts_with("deactivated-user"))
            .count(),
        1
    );
}

#[test]
fn a_wrong_bind_password_fails_cleanly_and_never_prints_it() {
    let slapd = directory();
    let good = config(&slapd, "", "");
    let s = Sandbox::with_config(&good);
    s.idmsync(&["sync"]).ok();
    let before = (s.users(), s.groups());
    s.write_config(&good.replace(slapd.sync_password(), "Canary-Pa55word"));
    let run = s.idmsync(&["-vvv", "sync", "--full"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("49") || run.stderr.contains("nvalidCredentials"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("Canary-Pa55word"));
    assert!(!run.stdout.contains("Canary-Pa55word"));
    assert_eq!((s.users(), s.groups()), before);
}

#[test]
fn a_stopped_server_fails_the_run_and_changes_nothing() {
    let mut slapd = directory();
    let s = Sandbox::with_config(&config(&slapd, "", ""));
    s.idmsync(&["sync"]).ok();
    let before = (s.users(), s.groups());
    slapd.stop();
    let run = s.idmsync(&["sync", "--full"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!((s.users(), s.groups()), before);
    assert_eq!(s.runs()[0]["outcome"], "failed");
}

#[test]
fn a_filter_that_suddenly_matches_nothing_trips_the_guard() {
    let slapd = directory();
    let s = Sandbox::with_config(&config(&slapd, "max_deactivations = 1000", ""));
    s.idmsync(&["sync"]).ok();
    let before = s.users();
    s.write_config(&config(
        &slapd,
        "max_deactivations = 1000",
        "user_filter = \"(uid=nobody-at-all)\"",
    ));
    let run = s.idmsync(&["sync", "--full"]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert_eq!(s.users(), before);
}

#[test]
fn a_missing_bind_dn_is_a_configuration_error_naming_the_key() {
    let slapd = directory();
    let s = Sandbox::with_config(&config(&slapd, "", "").replace(&slapd.sync_dn(), ""));
    let run = s.idmsync(&["sync"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("source.ldap.bind_dn"), "{}", run.stderr);
}

#[test]
fn a_user_run_sees_a_leaver_and_a_mover_at_once_and_leaves_the_differential_position() {
    let slapd = directory();
    let s = Sandbox::with_config(&config(&slapd, "", ""));
    s.idmsync(&["sync"]).ok();

    slapd.modify(&format!(
        "dn: uid=dbowie,{PEOPLE}\nchangetype: delete\n\n\
         dn: uid=cwatts,ou=london,{PEOPLE}\nchangetype: modify\nreplace: sn\nsn: Watts-Jr\n\n\
         dn: cn=stones,ou=groups,dc=example,dc=com\nchangetype: modify\ndelete: member\n\
         member: uid=cwatts,ou=london,{PEOPLE}\n"
    ));
    let out = s.idmsync(&["sync", "--user", "dbowie"]).ok();
    assert!(out.starts_with("user sync succeeded (run 2"), "{out}");
    let log = s.log(2);
    for line in [
        "deactivated-user: dbowie (missing from the source)",
        "removed-user-from-group: dbowie from musicians",
    ] {
        assert!(
            log.contains(&line.to_string()),
            "{line} missing from {log:#?}"
        );
    }
    // slapd has no referential integrity here: the group still names the deleted entry.
    assert!(
        log.iter().all(|l| l.starts_with("deactivated-user: dbowie")
            || l.starts_with("removed-user-from-group: dbowie")
            || l.starts_with("skipped-member: musicians")),
        "{log:#?}"
    );
    s.idmsync(&["sync", "--user", "cwatts"]).ok();
    let log = s.log(3);
    assert!(
        log.contains(&"updated-user: cwatts (last_name \"Watts\" → \"Watts-Jr\")".to_string()),
        "{log:#?}"
    );
    assert!(
        log.contains(&"removed-user-from-group: cwatts from stones".to_string()),
        "{log:#?}"
    );
    assert_eq!(log.len(), 2, "nobody else is touched: {log:#?}");

    let runs = s.runs();
    assert_eq!(runs[0]["type"], "user", "{runs:#}");
    // The next run is differential, from the full run's position.
    let out = s.idmsync(&["sync"]).ok();
    assert!(out.starts_with("differential sync succeeded"), "{out}");
    let conflicting = s.idmsync(&["sync", "--user", "cwatts", "--full"]);
    assert_eq!(conflicting.code, 2, "{}", conflicting.stderr);

    // The same on Active Directory: directories.rs, called from ad.rs.
    crate::directories::a_user_run_deactivates_a_deleted_user(
        &slapd,
        &s,
        &format!("uid=rwood,ou=london,{PEOPLE}"),
        "rwood",
    );
}

#[test]
fn an_account_locked_by_the_password_policy_is_inactive_until_unlocked() {
    let slapd = directory();
    let s = Sandbox::with_config(&config(&slapd, "", ""));
    s.idmsync(&["sync"]).ok();
    let dn = format!("uid=cwatts,ou=london,{PEOPLE}");
    slapd.modify(&format!(
        "dn: {dn}\nchangetype: modify\nadd: pwdAccountLockedTime\npwdAccountLockedTime: 000001010000Z\n"
    ));
    s.idmsync(&["sync", "--full"]).ok();
    let log = s.log(2);
    assert!(
        log.contains(&"deactivated-user: cwatts (disabled in the source)".to_string()),
        "{log:#?}"
    );
    let users = s.users();
    let cwatts = users
        .as_array()
        .and_then(|u| u.iter().find(|u| u["external_id"] == "cwatts"))
        .expect("cwatts");
    assert_eq!(cwatts["status"], "inactive");

    slapd.modify(&format!(
        "dn: {dn}\nchangetype: modify\ndelete: pwdAccountLockedTime\n"
    ));
    s.idmsync(&["sync", "--full"]).ok();
    assert!(
        s.log(3)
            .iter()
            .any(|l| l.starts_with("reactivated-user: cwatts")),
        "{:#?}",
        s.log(3)
    );
}

#[test]
fn a_differential_run_that_would_deactivate_too_many_stops_like_a_full_one() {
    let slapd = directory();
    let s = Sandbox::with_config(&config(&slapd, "max_deactivations = 1", ""));
    s.idmsync(&["sync"]).ok();
    let before = s.users();
    for uid in ["uid=cwatts,ou=london", "uid=rwood,ou=london"] {
        slapd.modify(&format!(
            "dn: {uid},{PEOPLE}\nchangetype: modify\nadd: pwdAccountLockedTime\n\
             pwdAccountLockedTime: 000001010000Z\n"
        ));
    }
    let stopped = s.idmsync(&["sync"]);
    assert_eq!(stopped.code, 3, "{}{}", stopped.stdout, stopped.stderr);
    assert!(
        stopped
            .stderr
            .contains("would deactivate 2 of 12 active users"),
        "{}",
        stopped.stderr
    );
    assert_eq!(s.users(), before, "nothing written");
    let out = s.idmsync(&["sync", "--force"]).ok();
    assert!(out.starts_with("differential sync succeeded"), "{out}");
    assert!(out.contains("2 users deactivated"), "{out}");
}

#[test]
fn with_content_synchronisation_a_differential_run_sees_leavers_under_the_guard() {
    // RFC 4533 refreshes are not paged: the sync account has no size limit here, as the
    // documentation asks.
    let slapd = Slapd::builder()
        .ldif(fixtures::DIRECTORY)
        .syncprov(SessionLog::Operations(1000))
        .start();
    let s = Sandbox::with_config(&config(&slapd, "max_deactivations = 2", ""));
    s.idmsync(&["sync"]).ok();
    slapd.delete(&format!("uid=dbowie,{PEOPLE}"));
    slapd.delete(&format!("uid=krichards,ou=london,{PEOPLE}"));
    slapd.rename(
        &format!("uid=eclapton,ou=london,{PEOPLE}"),
        "uid=eclapton",
        Some("ou=elsewhere,dc=example,dc=com"),
    );
    slapd.delete("cn=dangling,ou=groups,dc=example,dc=com");
    slapd.modify(&format!(
        "dn: cn=stones,ou=groups,dc=example,dc=com\nchangetype: modify\ndelete: member\n\
         member: uid=cwatts,ou=london,{PEOPLE}\n"
    ));
    let before = s.users();
    let stopped = s.idmsync(&["sync"]);
    assert_eq!(stopped.code, 3, "{}{}", stopped.stdout, stopped.stderr);
    assert!(
        stopped
            .stderr
            .contains("would deactivate 3 of 12 active users"),
        "{}",
        stopped.stderr
    );
    assert_eq!(s.users(), before, "nothing written");

    let out = s.idmsync(&["sync", "--force"]).ok();
    assert!(out.starts_with("differential sync succeeded"), "{out}");
    let log = s.log(3);
    for line in [
        "deactivated-user: dbowie (missing from the source)",
        "deactivated-user: eclapton (missing from the source)",
        "deactivated-user: krichards (missing from the source)",
        "deactivated-group: dangling (missing from the source)",
        "removed-user-from-group: cwatts from stones",
        "removed-user-from-group: dbowie from musicians",
    ] {
        assert!(
            log.contains(&line.to_string()),
            "{line} missing from {log:#?}"
        );
    }
    // The next differential run starts from the new position: nothing left, nothing changed.
    let quiet = s.idmsync(&["sync"]).ok();
    assert!(quiet.starts_with("differential sync succeeded"), "{quiet}");
    assert!(s.log(4).is_empty(), "{:#?}", s.log(4));
}
