//! What idmsync must do on every kind of directory, written once over `TestDirectory` and run
//! on OpenLDAP (`ldap.rs`), Active Directory (`ad.rs`) and 389 Directory Server (`ds389.rs`).

use idmsync_test_ldap::TestDirectory;

use crate::support::Sandbox;

/// Deletes the user `dn` (login `login`, active and synchronised in `s`) from `directory`; a
/// user run of that login deactivates the user at once, naming why, and touches nobody else.
pub fn a_user_run_deactivates_a_deleted_user(
    directory: &dyn TestDirectory,
    s: &Sandbox,
    dn: &str,
    login: &str,
) {
    let active_before = active(s);
    assert!(
        active_before.iter().any(|id| id == login),
        "{login} is not active"
    );
    directory.delete(dn);
    let out = s.idmsync(&["sync", "--user", login]).ok();
    assert!(out.starts_with("user sync succeeded"), "{out}");
    let run = s.runs()[0]["id"].as_i64().expect("run id");
    let log = s.log(run);
    let deactivated = format!("deactivated-user: {login} (missing from the source)");
    assert!(log.contains(&deactivated), "{log:#?}");
    let mut expected = active_before;
    expected.retain(|id| id != login);
    assert_eq!(active(s), expected, "only {login} changed");
}

/// The logins of the active users, sorted.
fn active(s: &Sandbox) -> Vec<String> {
    let users = s.users();
    let mut ids: Vec<String> = users
        .as_array()
        .expect("users")
        .iter()
        .filter(|u| u["status"] == "active")
        .filter_map(|u| u["external_id"].as_str().map(str::to_owned))
        .collect();
    ids.sort();
    ids
}
