//! The binary against a real Samba AD domain controller (`idmsync-test-ad`), configured like
//! `config/ad-example.toml`: full and differential runs after disabling, renaming, moving and
//! re-enabling users, a userPrincipalName bind, and the guard; then live sync by DirSync polls
//! under `serve`. One domain controller per story, because provisioning takes seconds and only
//! one can run at a time.

use idmsync_test_ad::{fixtures, SambaDc};
use serde_json::Value;

use crate::live::{live_runs, members, status, until, wait_live};
use crate::serve::{Server, NO_SCHEDULES};
use crate::support::Sandbox;

/// The sandbox configuration: `config/ad-example.toml` with the sandbox's database, the
/// domain controller's URL and account, a small range size and `extra` in `[source.ldap]`.
fn config(dc: &SambaDc, extra: &str) -> String {
    let example = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/ad-example.toml"),
    )
    .expect("reading config/ad-example.toml");
    let example = example
        .replace("sqlite://data/idmsync-ad.db", "sqlite://{dir}/idmsync.db")
        .replace("max_deactivations = \"10%\"", "max_deactivations = 10")
        .replace("range_size = 100", "range_size = 64");
    assert!(example.contains(&format!("url = \"{}\"", dc.url())));
    assert!(example.contains(&dc.sync_dn()) && example.contains(dc.sync_password()));
    format!("{example}{extra}\n\n[auth]\nactive_directory_domain = \"example.test\"\n")
}

fn by_id<'a>(list: &'a Value, id: &str) -> &'a Value {
    list.as_array()
        .and_then(|l| l.iter().find(|v| v["external_id"] == id))
        .unwrap_or_else(|| panic!("{id} missing from {list:#}"))
}

fn count(list: &Value, status: &str) -> usize {
    list.as_array()
        .expect("array")
        .iter()
        .filter(|v| v["status"] == status)
        .count()
}

#[test]
fn ad_example_setup_follows_a_samba_domain() {
    let dc = SambaDc::start();
    dc.add(&fixtures::directory(dc.base_dn()));
    let base = dc.base_dn().to_owned();
    let s = Sandbox::with_config(&config(&dc, ""));

    // Full sync: the directory exactly.
    let out = s.idmsync(&["sync"]).ok();
    assert!(out.starts_with("full sync succeeded"), "{out}");
    let users = s.users();
    let disabled = (fixtures::USER_COUNT / fixtures::DISABLED_EVERY) as usize;
    assert_eq!(
        users.as_array().map(Vec::len),
        Some(fixtures::USER_COUNT as usize)
    );
    assert_eq!(count(&users, "inactive"), disabled);
    assert_eq!(by_id(&users, "user050")["status"], "inactive");
    assert_eq!(by_id(&users, "user001")["status"], "active");
    assert_eq!(by_id(&users, "user001")["admin"], true);
    let groups = s.groups();
    assert_eq!(
        groups.as_array().map(Vec::len),
        Some(fixtures::GROUPS.len())
    );
    assert_eq!(
        by_id(&groups, "everyone")["child_groups"],
        serde_json::json!(["london", "paris"])
    );
    assert_eq!(
        by_id(&groups, "engineering")["child_groups"],
        serde_json::json!(["platform"])
    );
    assert_eq!(
        by_id(&groups, "platform")["child_groups"],
        serde_json::json!(["sre"])
    );
    assert_eq!(
        by_id(&groups, fixtures::ALL_STAFF)["members"]
            .as_array()
            .map(Vec::len),
        Some(fixtures::USER_COUNT as usize - disabled),
        "every active member, read in ranges of 64"
    );

    // A userPrincipalName bind (user001@example.test) for a synced, enabled user.
    dc.set_password("user001", "User-secret-001");
    let ok = s.idmsync_with_input(&["auth", "check", "user001"], "User-secret-001");
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    let wrong = s.idmsync_with_input(&["auth", "check", "user001"], "Wrong-secret-1");
    assert_eq!(wrong.code, 1);

    // Disable, rename (same GUID) and move; then a differential run.
    let people = format!("OU=Staff,{},{base}", fixtures::CORP);
    dc.modify(&format!(
        "dn: {u1}\nchangetype: modify\nreplace: userAccountControl\nuserAccountControl: {dis}\n\n\
         dn: {u7}\nchangetype: modify\nreplace: sAMAccountName\nsAMAccountName: renamed007\n\n\
         dn: {u9}\nchangetype: modrdn\nnewrdn: CN=User 009\ndeleteoldrdn: 1\n\
         newsuperior: OU=Paris,{people}\n",
        u1 = fixtures::user_dn(&base, 1),
        u7 = fixtures::user_dn(&base, 7),
        u9 = fixtures::user_dn(&base, 9),
        dis = fixtures::DISABLED,
    ));
    // user001, the only administrator, is disabled: the run stops rather than lock everyone
    // out of the API, and `--force` applies it.
    let stopped = s.idmsync(&["sync"]);
    assert_eq!(stopped.code, 3, "{}", stopped.stderr);
    let said = format!("{}{}", stopped.stdout, stopped.stderr);
    assert!(
        said.contains("without an active administrator (now: user001)"),
        "{said}"
    );
    let out = s.idmsync(&["sync", "--force"]).ok();
    assert!(out.starts_with("differential sync succeeded"), "{out}");
    let log = s.log(3);
    for line in [
        "deactivated-user: user001 (disabled in the source)",
        "updated-user: renamed007 (external_id \"user007\" → \"renamed007\")",
        "updated-user: user009 (locator \"cn=user 009,ou=",
    ] {
        assert!(
            log.iter().any(|l| l.starts_with(line)),
            "{line} missing from {log:#?}"
        );
    }
    let users = s.users();
    assert_eq!(by_id(&users, "user001")["status"], "inactive");
    assert!(users
        .as_array()
        .is_some_and(|u| u.iter().all(|u| u["external_id"] != "user007")));
    let refused = s.idmsync_with_input(&["auth", "check", "user001"], "User-secret-001");
    assert_eq!(refused.code, 1, "a disabled account cannot log in");

    // Re-enable: the next differential reactivates; a full run then changes nothing.
    dc.modify(&format!(
        "dn: {}\nchangetype: modify\nreplace: userAccountControl\nuserAccountControl: 512\n",
        fixtures::user_dn(&base, 1)
    ));
    s.idmsync(&["sync"]).ok();
    assert!(
        s.log(4)
            .iter()
            .any(|l| l.starts_with("reactivated-user: user001")),
        "{:#?}",
        s.log(4)
    );
    let out = s.idmsync(&["sync", "--full"]).ok();
    assert!(out.contains("no changes"), "{out}");

    // A leaver, seen at once by a user run, as on OpenLDAP (directories.rs).
    crate::directories::a_user_run_deactivates_a_deleted_user(
        &dc,
        &s,
        &fixtures::user_dn(&base, 3),
        "user003",
    );

    // A user filter that suddenly matches nothing trips the guard and changes nothing.
    let before = s.users();
    s.write_config(&config(
        &dc,
        "user_filter = \"(sAMAccountName=nobody-at-all)\"",
    ));
    let run = s.idmsync(&["sync", "--full"]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert_eq!(s.users(), before);

    employees_in_ad_and_contractors_in_a_file_merge_by_email(&dc);
}

/// The same domain as the employees of a tenant with several sources, over contractors from a
/// file (issue 20): a person in both, matched by e-mail, is one user; one disabled in AD but
/// still a contractor stays active.
fn employees_in_ad_and_contractors_in_a_file_merge_by_email(dc: &SambaDc) {
    let sources = config(dc, "")
        .replace("[source]\n", "[[sources]]\nname = \"employees\"\n")
        .replace("[source.ldap]", "[sources.ldap]")
        .replace("[sync]\n", "[sync]\nmatch_by = \"email\"\n");
    let s = Sandbox::with_config(&format!(
        "{sources}\n[[sources]]\nname = \"contractors\"\ntype = \"file\"\n\
         [sources.file]\nusers = \"{{dir}}/contractors.txt\"\n\
         groups = \"{{dir}}/contractor-groups.txt\"\n"
    ));
    s.write(
        "contractors.txt",
        "c-002;Contract;Two;USER002@example.test;pw;10/10/2015\n\
         c-050;Contract;Fifty;user050@example.test;pw;10/10/2015\n\
         jdoe;Jane;Doe;jane@agency.example;pw;10/10/2015\n",
    );
    s.write("contractor-groups.txt", "crew:c-002;jdoe:10/10/2015\n");
    let out = s.idmsync(&["sync"]).ok();
    assert!(out.starts_with("full sync succeeded"), "{out}");
    let users = s.users();
    assert_eq!(
        users.as_array().map(Vec::len),
        Some(fixtures::USER_COUNT as usize - 1 + 1),
        "every employee (user003 was deleted above), and the one contractor who is not one"
    );
    assert_eq!(by_id(&users, "user002")["first_name"], "Given 002");
    assert_eq!(
        by_id(&users, "user050")["status"],
        "active",
        "disabled in AD, still a contractor"
    );
    assert_eq!(by_id(&users, "jdoe")["status"], "active");
    let crew = s.idmsync(&["groups", "show", "crew"]).ok();
    assert!(crew.contains("user002") && crew.contains("jdoe"), "{crew}");
}

/// `sync.live` on Active Directory: with the domain administrator (who has the "Replicating
/// Directory Changes" right) `serve` polls DirSync every `sync.live_interval_secs` and applies a
/// deleted user and a member taken out of a group as runs of type `live`.
#[test]
fn live_sync_polls_dirsync_on_a_samba_domain() {
    let dc = SambaDc::start();
    dc.add(&fixtures::directory(dc.base_dn()));
    let base = dc.base_dn().to_owned();
    let config = config(&dc, "")
        .replace(
            "bind_dn = \"CN=idmsync,OU=Services,DC=example,DC=test\"",
            &format!("bind_dn = \"{}\"", dc.admin_dn()),
        )
        .replace(
            &format!("bind_password = \"{}\"", dc.sync_password()),
            &format!("bind_password = \"{}\"", dc.admin_password()),
        )
        .replace(
            "[sync]\n",
            &format!("[sync]\nlive = true\nlive_batch_ms = 200\nlive_interval_secs = 1\n{NO_SCHEDULES}\n"),
        );
    assert!(config.contains(&dc.admin_dn()), "{config}");
    let s = Sandbox::with_config(&format!(
        "{config}\n[http]\nlisten = \"127.0.0.1:0\"\nshutdown_grace_secs = 1\n"
    ));
    let server = Server::start(&s);
    server.wait_ready();
    wait_live(&server, "connected");
    dc.modify(&format!(
        "dn: {}\nchangetype: delete\n\n\
         dn: {}\nchangetype: modify\ndelete: member\nmember: {}\n",
        fixtures::user_dn(&base, 36),
        fixtures::group_dn(&base, "platform"),
        fixtures::user_dn(&base, 22),
    ));
    until(&server, "user036 deactivated", || {
        status(&s, "user036").as_deref() == Some("inactive")
    });
    until(&server, "user022 out of platform", || {
        !members(&s, "platform").to_string().contains("user022")
    });
    let runs = live_runs(&s);
    assert!(
        !runs.is_empty() && runs.iter().all(|r| r["outcome"] == "succeeded"),
        "{runs:#?}"
    );
    let stopped = server.stop();
    assert_eq!(stopped.code, 0, "{}", stopped.stderr);
}
