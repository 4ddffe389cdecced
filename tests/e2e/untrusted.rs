//! Source data the engine must not trust, end to end: values no database can store or no person
//! can see, entries the service account cannot read, and two entries claiming one identity.
//! Each stops the run before anything is written, naming the place; none deactivates anybody.

use idmsync_test_ldap::{fixtures, Slapd};

use crate::support::Sandbox;

const USERS: &str = "\
jlennon;John;Lennon;john@beatles.com;johnpassword;10/10/2015
pmccartney;Paul;McCartney;paul@beatles.com;paulpassword;10/10/2015
";
const GROUPS: &str = "beatles:jlennon;pmccartney:13/10/2015\n";

fn synced(sync_extra: &str) -> Sandbox {
    let s = Sandbox::new(USERS, GROUPS, sync_extra);
    s.idmsync(&["sync"]).ok();
    s
}

#[test]
fn a_byte_order_mark_inside_the_file_stops_the_run_and_keeps_the_admin() {
    // Once, this created a user "\u{FEFF}jlennon" and deactivated the real jlennon (the admin).
    let s = synced("");
    let before = (s.users(), s.groups());
    s.write(
        "users.txt",
        "pmccartney;Paul;McCartney;paul@beatles.com;paulpassword;10/10/2015\n\
         \u{FEFF}jlennon;John;Lennon;john@beatles.com;johnpassword;10/10/2015\n",
    );
    let run = s.idmsync(&["sync", "--full"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("users.txt:2: field 'id': the invisible character U+FEFF at character 1"),
        "{}",
        run.stderr
    );
    assert_eq!((s.users(), s.groups()), before);
}

#[test]
fn a_nul_or_a_carriage_return_inside_a_field_stops_the_run() {
    let s = synced("");
    let before = s.users();
    for (line, field) in [
        ("jlennon;Jo\rhn;Lennon;;;10/10/2015\n", "firstName"),
        ("jlennon;John;Len\0non;;;10/10/2015\n", "lastName"),
    ] {
        s.write("users.txt", line);
        let run = s.idmsync(&["sync", "--full"]);
        assert_eq!(run.code, 1, "{}", run.stderr);
        assert!(
            run.stderr.contains(&format!(
                "users.txt:1: field '{field}': the control character"
            )),
            "{}",
            run.stderr
        );
        assert_eq!(s.users(), before);
    }
}

#[test]
fn two_logins_differing_in_case_are_a_conflict_when_case_is_ignored() {
    // With ignore_case, "JLennon" before "jlennon" once overwrote the admin's name, e-mail and
    // password with only a warning.
    let s = synced("ignore_case = true");
    let before = s.users();
    s.write(
        "users.txt",
        &format!("JLennon;Intruder;X;evil@example.com;guessed;11/10/2015\n{USERS}"),
    );
    let run = s.idmsync(&["sync", "--full"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "user source id jlennon is claimed by JLennon (source id jlennon) and by jlennon"
        ) && run.stderr.contains("sync.on_conflict"),
        "{}",
        run.stderr
    );
    assert_eq!(s.users(), before);
    let runs = s.runs();
    assert_eq!(runs[0]["outcome"], "failed");
    let id = runs[0]["id"].as_i64().expect("run id");
    assert!(
        s.log(id)
            .iter()
            .any(|l| l.starts_with("conflict: user source id jlennon")),
        "{:?}",
        s.log(id)
    );
}

fn ldap_config(slapd: &Slapd, sync_extra: &str) -> String {
    format!(
        "[database]\nurl = \"sqlite://{{dir}}/idmsync.db\"\n\n\
         [sync]\nmax_deactivations = 1000\n{sync_extra}\n\n\
         [source]\ntype = \"ldap\"\n\n\
         [source.ldap]\nurl = \"{url}\"\nbind_dn = \"{dn}\"\nbind_password = \"{pw}\"\n\
         user_search_base = \"ou=people,dc=example,dc=com\"\n\
         group_search_base = \"ou=groups,dc=example,dc=com\"\n",
        url = slapd.url(),
        dn = slapd.sync_dn(),
        pw = slapd.sync_password(),
    )
}

#[test]
fn entries_the_account_cannot_read_stop_a_full_run_or_are_kept_as_they_are() {
    // Entries whose entryUUID the service account may not read were once skipped with a line on
    // stderr and then deactivated as "missing from the source", whatever the guard said.
    let slapd = Slapd::builder()
        .ldif(fixtures::DIRECTORY)
        .hide("(description=hidden)", "entryUUID")
        .start();
    let s = Sandbox::with_config(&ldap_config(&slapd, ""));
    s.idmsync(&["sync"]).ok();
    let before = (s.users(), s.groups());
    for uid in ["uid=jlennon,ou=liverpool", "uid=pmccartney,ou=liverpool"] {
        slapd.modify(&format!(
            "dn: {uid},ou=people,dc=example,dc=com\nchangetype: modify\nadd: description\n\
             description: hidden\n"
        ));
    }
    let run = s.idmsync(&["sync", "--full"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "uid=jlennon,ou=liverpool,ou=people,dc=example,dc=com: could not be read \
             (no value for 'entryUUID'), nor 1 other entry"
        ),
        "{}",
        run.stderr
    );
    assert_eq!((s.users(), s.groups()), before);
    let id = s.runs()[0]["id"].as_i64().expect("run id");
    let skipped: Vec<String> = s
        .log(id)
        .into_iter()
        .filter(|l| l.starts_with("skipped-user:"))
        .collect();
    assert_eq!(skipped.len(), 2, "{skipped:?}");

    s.write_config(&ldap_config(&slapd, "on_unreadable = \"keep\""));
    s.idmsync(&["sync", "--full"]).ok();
    assert_eq!((s.users(), s.groups()), before);

    // A differential run that meets one says so in its run log, not only on stderr.
    slapd.modify(
        "dn: uid=jlennon,ou=liverpool,ou=people,dc=example,dc=com\nchangetype: modify\n\
         replace: sn\nsn: Ono-Lennon\n",
    );
    let out = s.idmsync(&["sync"]).ok();
    assert!(out.starts_with("differential sync succeeded"), "{out}");
    let id = s.runs()[0]["id"].as_i64().expect("run id");
    assert!(
        s.log(id).contains(
            &"skipped-user: uid=jlennon,ou=liverpool,ou=people,dc=example,dc=com: could not be \
              read (no value for 'entryUUID'); the stored entry is kept as it is"
                .to_string()
        ),
        "{:#?}",
        s.log(id)
    );
    assert_eq!((s.users(), s.groups()), before);
}

#[test]
fn a_user_named_like_a_group_is_a_conflict_not_a_lost_membership() {
    // Once, a user named like a group took that group out of its parent with only a warning.
    let s = Sandbox::new(USERS, &format!("{GROUPS}music:beatles:13/10/2015\n"), "");
    s.idmsync(&["sync"]).ok();
    let before = s.groups();
    s.write(
        "users.txt",
        &format!("{USERS}beatles;Fake;Band;;;11/10/2015\n"),
    );
    let run = s.idmsync(&["sync", "--full"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("music: member beatles names more than one user or group"),
        "{}",
        run.stderr
    );
    assert_eq!(s.groups(), before);
}
