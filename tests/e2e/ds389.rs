//! The binary against a real 389 Directory Server (`idmsync-test-389ds`), set up as
//! docs/configuration.md tells operators: a sync, logins by search-then-bind and by DN
//! pattern, a locked account, and a leaver seen by a user run as on OpenLDAP and AD. One
//! instance for the whole story: creating one takes about ten seconds.

use idmsync_test_389ds::Ds389;
use idmsync_test_ldap::{fixtures, TestDirectory};

use crate::auth_ldap::{check, refused, synced};

#[test]
fn a_389_directory_syncs_logs_in_locks_and_loses_a_leaver() {
    let ds = Ds389::start();
    ds.add(fixtures::DIRECTORY);
    let s = synced(&ds, "");
    let users = s.users();
    let active = users
        .as_array()
        .expect("users")
        .iter()
        .filter(|u| u["status"] == "active")
        .count();
    assert_eq!(active, fixtures::PEOPLE.len(), "{users:#}");

    // Search-then-bind (the default) with 389-ds's stored hashes, pre-hashed or not.
    let ok = check(&s, "jlennon", "jlennon-secret");
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    assert_eq!(check(&s, "pmccartney", "pmccartney-secret").code, 0);
    refused(&check(&s, "jlennon", "wrong"), "wrong password");
    // By DN pattern, on a sandbox of its own over the same directory.
    let by_pattern = synced(
        &ds,
        "dn_pattern = \"uid={0},ou=liverpool,ou=people,dc=example,dc=com\"",
    );
    assert_eq!(check(&by_pattern, "gharrison", "gharrison-secret").code, 0);
    refused(
        &check(&by_pattern, "mjagger", "mjagger-secret"),
        "outside the pattern's OU",
    );

    // nsAccountLock: inactive at the next full run, and no login.
    let people = format!("ou=people,{}", ds.suffix());
    ds.modify(&format!(
        "dn: uid=pmccartney,ou=liverpool,{people}\nchangetype: modify\nadd: nsAccountLock\n\
         nsAccountLock: true\n"
    ));
    s.idmsync(&["sync", "--full"]).ok();
    let run = s.runs()[0]["id"].as_i64().expect("run");
    assert!(
        s.log(run)
            .contains(&"deactivated-user: pmccartney (disabled in the source)".to_string()),
        "{:#?}",
        s.log(run)
    );
    refused(&check(&s, "pmccartney", "pmccartney-secret"), "locked");

    crate::directories::a_user_run_deactivates_a_deleted_user(
        &ds,
        &s,
        &format!("uid=rwood,ou=london,{people}"),
        "rwood",
    );
}
