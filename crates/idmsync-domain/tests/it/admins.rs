//! The tenant admin capability: listed users get it, everyone else loses it.

use idmsync_domain::change::Event;
use idmsync_domain::{DeactivatedBy, StoreState};

use crate::fixture::*;

fn band() -> idmsync_domain::plan::SourceData {
    src(
        vec![
            u("jlennon").dn("uid=jlennon,dc=b"),
            u("pmccartney").dn("uid=pmccartney,dc=b"),
            u("rstarr"),
        ],
        vec![],
    )
}

#[test]
fn listed_users_get_the_capability_and_others_lose_it() {
    let store = synced_with(&band(), &with_admins(full(), &["rstarr"]));
    let cases: [(&[&str], &str); 6] = [
        (&["rstarr"], ""),
        (
            &["jlennon", "rstarr"],
            "added-capability: tenant-admin to jlennon",
        ),
        // By locator.
        (
            &["uid=pmccartney,dc=b", "rstarr"],
            "added-capability: tenant-admin to pmccartney",
        ),
        (&[], "removed-capability: tenant-admin from rstarr"),
        (
            &["jlennon"],
            "
            added-capability: tenant-admin to jlennon
            removed-capability: tenant-admin from rstarr
            ",
        ),
        (
            &["ghost", "rstarr", "ghost"],
            "skipped-capability: tenant-admin ghost matches no user of the source",
        ),
    ];
    for (admins, expected) in cases {
        for mode in [full(), diff()] {
            let options = with_admins(mode, admins);
            let source = if options.mode == idmsync_domain::SyncMode::Full {
                band()
            } else {
                src(vec![], vec![])
            };
            let changes = check(&store, &source, &options, expected);
            // A capability change alone is a row write but not an `updated-user` line.
            assert!(changes
                .users
                .iter()
                .all(|w| matches!(w.event, Event::Capability)));
            assert_idempotent(&apply(&store, &changes), &source, &options);
        }
    }
}

#[test]
fn a_new_admin_is_created_with_the_capability() {
    let mut store = StoreState::default();
    step(
        &mut store,
        &band(),
        &with_admins(full(), &["jlennon"]),
        "
        created-user: jlennon
        created-user: pmccartney
        created-user: rstarr
        added-capability: tenant-admin to jlennon
        ",
    );
    assert_eq!(
        users_of(&store),
        "jlennon: active admin\npmccartney: active\nrstarr: active"
    );
}

#[test]
fn a_capability_change_rides_along_with_an_update() {
    let store = synced(&band());
    let mut source = band();
    source.users[2].email = Some("ringo@beatles.com".into());
    check(
        &store,
        &source,
        &with_admins(full(), &["rstarr"]),
        "
        updated-user: rstarr (email none → \"ringo@beatles.com\")
        added-capability: tenant-admin to rstarr
        ",
    );
}

#[test]
fn admin_names_fold_case_when_asked() {
    let store = synced(&band());
    check(
        &store,
        &band(),
        &ignoring_case(with_admins(full(), &["JLennon", "UID=PMCCARTNEY,DC=B"])),
        "
        added-capability: tenant-admin to jlennon
        added-capability: tenant-admin to pmccartney
        ",
    );
    check(
        &store,
        &band(),
        &with_admins(full(), &["JLennon"]),
        "skipped-capability: tenant-admin JLennon matches no user of the source",
    );
}

#[test]
fn an_inactive_user_keeps_or_loses_the_capability_by_the_list() {
    let admins = with_admins(full(), &["jlennon", "rstarr"]);
    let mut store = synced_with(&band(), &admins);
    deactivate(&mut store, "rstarr", DeactivatedBy::Admin);
    // A user deactivated by an administrator is still in the source: the list still applies.
    check(
        &store,
        &band(),
        &with_admins(full(), &["jlennon"]),
        "removed-capability: tenant-admin from rstarr",
    );
    // A user that leaves the directory and the list loses the capability with its account, so
    // that reactivating it by hand does not bring back an administrator.
    let mut gone = band();
    gone.users.remove(0);
    step(
        &mut store,
        &gone,
        &with_admins(full(), &["rstarr"]),
        "
        deactivated-user: jlennon (missing from the source)
        removed-capability: tenant-admin from jlennon
        ",
    );
    assert_eq!(
        users_of(&store),
        "jlennon: inactive/sync\npmccartney: active\nrstarr: inactive/admin admin"
    );
}

#[test]
fn a_differential_run_grants_to_users_it_did_not_return() {
    let mut store = synced(&band());
    step(
        &mut store,
        &src(vec![u("gharrison")], vec![]),
        &with_admins(diff(), &["jlennon", "gharrison"]),
        "
        created-user: gharrison
        added-capability: tenant-admin to gharrison
        added-capability: tenant-admin to jlennon
        ",
    );
}
