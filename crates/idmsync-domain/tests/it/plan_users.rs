//! Users: creation, updates, renames, deactivation, reactivation, source-disabled accounts,
//! duplicates and case folding.

use idmsync_domain::{DeactivatedBy, Reactivate, StoreState, Unreadable, UserStatus};

use crate::fixture::*;

#[test]
fn new_users_are_created_with_a_description() {
    let source = src(
        vec![
            u("jlennon")
                .named("John", "Lennon")
                .mail("john@beatles.com"),
            u("pmccartney").named("Paul", "McCartney"),
            u("rstarr").mail("ringo@beatles.com"),
            u("gharrison"),
        ],
        vec![],
    );
    let changes = check(
        &StoreState::default(),
        &source,
        &full(),
        "
        created-user: gharrison
        created-user: jlennon (John Lennon, john@beatles.com)
        created-user: pmccartney (Paul McCartney)
        created-user: rstarr (ringo@beatles.com)
        ",
    );
    assert_eq!(changes.counts().users_created, 4);
    let row = &changes.users[1].row;
    assert_eq!(
        (row.status, row.deactivated_by, row.admin),
        (UserStatus::Active, None, false)
    );
}

#[test]
fn field_changes_are_updates_listing_the_fields() {
    let before = u("jlennon")
        .named("John", "Lennon")
        .mail("john@beatles.com");
    let store = synced(&src(vec![before.clone()], vec![]));
    let cases = [
        (before.clone(), ""),
        (
            before.clone().named("Johnny", "Lennon"),
            "updated-user: jlennon (first_name \"John\" → \"Johnny\")",
        ),
        (
            before.clone().named("John", "Ono"),
            "updated-user: jlennon (last_name \"Lennon\" → \"Ono\")",
        ),
        (
            before.clone().mail("j@l.com"),
            "updated-user: jlennon (email \"john@beatles.com\" → \"j@l.com\")",
        ),
        (
            {
                let mut x = before.clone();
                x.email = None;
                x
            },
            "updated-user: jlennon (email \"john@beatles.com\" → none)",
        ),
        (
            before.clone().dn("uid=jlennon,dc=b"),
            "updated-user: jlennon (locator none → \"uid=jlennon,dc=b\")",
        ),
        (
            before.clone().named("J", "L").mail("x@y"),
            "updated-user: jlennon (first_name \"John\" → \"J\"; last_name \"Lennon\" → \"L\"; \
             email \"john@beatles.com\" → \"x@y\")",
        ),
        (
            before.clone().login("john"),
            "updated-user: john (external_id \"jlennon\" → \"john\")",
        ),
        (
            before.clone().login("JLennon"),
            "updated-user: JLennon (external_id \"jlennon\" → \"JLennon\")",
        ),
    ];
    for (user, expected) in cases {
        let source = src(vec![user], vec![]);
        let changes = check(&store, &source, &full(), expected);
        assert_idempotent(&apply(&store, &changes), &source, &full());
    }
}

#[test]
fn a_renamed_user_keeps_its_row_and_memberships() {
    let mut store = synced(&src(
        vec![u("jlennon").sid("e-1"), u("rstarr").sid("e-2")],
        vec![g("beatles", &["jlennon", "rstarr"])],
    ));
    step(
        &mut store,
        &src(
            vec![u("john").sid("e-1"), u("rstarr").sid("e-2")],
            vec![g("beatles", &["john", "rstarr"])],
        ),
        &full(),
        "updated-user: john (external_id \"jlennon\" → \"john\")",
    );
    assert_eq!(store.users.len(), 2);
    assert_eq!(edges_of(&store), "beatles > john\nbeatles > rstarr");
}

#[test]
fn a_moved_user_keeps_its_memberships_by_locator() {
    let mut store = synced(&src(
        vec![u("jlennon").dn("uid=jlennon,ou=liverpool,dc=b")],
        vec![g("beatles", &["uid=jlennon,ou=liverpool,dc=b"])],
    ));
    step(
        &mut store,
        &src(
            vec![u("jlennon").dn("uid=jlennon,ou=london,dc=b")],
            vec![g("beatles", &["uid=jlennon,ou=london,dc=b"])],
        ),
        &full(),
        "updated-user: jlennon (locator \"uid=jlennon,ou=liverpool,dc=b\" → \"uid=jlennon,ou=london,dc=b\")",
    );
    assert_eq!(edges_of(&store), "beatles > jlennon");
}

#[test]
fn users_missing_from_a_full_run_are_deactivated_and_lose_memberships() {
    let store = synced(&src(
        logins(&["jlennon", "pbest", "rstarr"]),
        vec![
            g("beatles", &["jlennon", "pbest", "rstarr"]),
            g("quarrymen", &["pbest"]),
        ],
    ));
    // The directory dropped pbest; the groups may or may not still list him.
    let gone = src(
        logins(&["jlennon", "rstarr"]),
        vec![
            g("beatles", &["jlennon", "rstarr"]),
            g("quarrymen", &["pbest"]),
        ],
    );
    let changes = check(
        &store,
        &gone,
        &full(),
        "
        deactivated-user: pbest (missing from the source)
        removed-user-from-group: pbest from beatles
        removed-user-from-group: pbest from quarrymen
        skipped-member: quarrymen: member pbest refers to no known user or group
        ",
    );
    let row = &changes.users[0].row;
    assert_eq!(
        (row.status, row.deactivated_by),
        (UserStatus::Inactive, Some(DeactivatedBy::Sync))
    );
    let after = apply(&store, &changes);
    assert_eq!(after.users.len(), 3, "rows are never deleted");
    assert_eq!(edges_of(&after), "beatles > jlennon\nbeatles > rstarr");
    assert_idempotent(&after, &gone, &full());
}

#[test]
fn a_differential_run_never_deactivates() {
    let store = synced(&src(
        logins(&["jlennon", "pbest"]),
        vec![g("beatles", &["jlennon", "pbest"])],
    ));
    check(&store, &src(vec![], vec![]), &diff(), "");
    check(&store, &src(logins(&["jlennon"]), vec![]), &diff(), "");
}

#[test]
fn reactivation_follows_the_option_and_who_deactivated() {
    use DeactivatedBy::{Admin, Source, Sync};
    let source = src(logins(&["jlennon"]), vec![]);
    let cases = [
        (Sync, Reactivate::Sync, "reactivated-user: jlennon"),
        (Source, Reactivate::Sync, "reactivated-user: jlennon"),
        (Admin, Reactivate::Sync, ""),
        (Sync, Reactivate::Any, "reactivated-user: jlennon"),
        (Source, Reactivate::Any, "reactivated-user: jlennon"),
        (Admin, Reactivate::Any, "reactivated-user: jlennon"),
        (Sync, Reactivate::None, ""),
        (Admin, Reactivate::None, ""),
        // `none` leaves every reactivation to administrators, even of a re-enabled account.
        (Source, Reactivate::None, ""),
    ];
    for (by, option, expected) in cases {
        for mode in [full(), diff()] {
            let mut store = synced(&source);
            deactivate(&mut store, "jlennon", by);
            let options = reactivating(mode, option);
            let changes = check(&store, &source, &options, expected);
            let after = apply(&store, &changes);
            assert_idempotent(&after, &source, &options);
            let back = after.users[0].status == UserStatus::Active;
            assert_eq!(back, !expected.is_empty(), "{by:?} {option:?}");
            if back {
                assert_eq!(after.users[0].deactivated_by, None);
            } else {
                assert_eq!(
                    after.users[0].deactivated_by,
                    Some(by),
                    "who stays recorded"
                );
            }
        }
    }
}

#[test]
fn a_reactivated_user_also_gets_its_changes() {
    let mut store = synced(&src(logins(&["jlennon"]), vec![]));
    deactivate(&mut store, "jlennon", DeactivatedBy::Sync);
    step(
        &mut store,
        &src(vec![u("jlennon").named("John", "Lennon")], vec![]),
        &full(),
        "reactivated-user: jlennon (first_name \"\" → \"John\"; last_name \"\" → \"Lennon\")",
    );
}

#[test]
fn an_inactive_user_that_stays_inactive_is_still_updated() {
    let mut store = synced(&src(logins(&["jlennon"]), vec![]));
    deactivate(&mut store, "jlennon", DeactivatedBy::Admin);
    step(
        &mut store,
        &src(vec![u("jlennon").mail("john@beatles.com")], vec![]),
        &full(),
        "updated-user: jlennon (email none → \"john@beatles.com\")",
    );
    assert_eq!(users_of(&store), "jlennon: inactive/admin");
}

#[test]
fn a_user_disabled_in_the_source_is_inactive_until_re_enabled() {
    for mode in [full(), diff()] {
        let mut store = synced(&src(logins(&["jlennon", "rstarr"]), vec![]));
        step(
            &mut store,
            &src(vec![u("jlennon").disabled(), u("rstarr")], vec![]),
            &mode,
            "deactivated-user: jlennon (disabled in the source)",
        );
        assert_eq!(users_of(&store), "jlennon: inactive/source\nrstarr: active");
        step(
            &mut store,
            &src(logins(&["jlennon", "rstarr"]), vec![]),
            &mode,
            "reactivated-user: jlennon",
        );
        assert_eq!(users_of(&store), "jlennon: active\nrstarr: active");
    }
}

#[test]
fn a_new_disabled_user_is_created_inactive() {
    let mut store = StoreState::default();
    step(
        &mut store,
        &src(vec![u("jlennon").disabled()], vec![]),
        &full(),
        "created-user: jlennon",
    );
    assert_eq!(users_of(&store), "jlennon: inactive/source");
}

#[test]
fn a_disabled_user_deactivated_by_an_admin_keeps_that_reason() {
    let mut store = synced(&src(logins(&["jlennon"]), vec![]));
    deactivate(&mut store, "jlennon", DeactivatedBy::Admin);
    step(
        &mut store,
        &src(vec![u("jlennon").disabled()], vec![]),
        &full(),
        "",
    );
    step(&mut store, &src(logins(&["jlennon"]), vec![]), &full(), "");
    assert_eq!(users_of(&store), "jlennon: inactive/admin");
}

#[test]
fn a_duplicate_source_id_keeps_the_first() {
    check(
        &StoreState::default(),
        &src(vec![u("jlennon").sid("e-1"), u("john").sid("e-1")], vec![]),
        &full(),
        "
        created-user: jlennon
        conflict: user source id e-1 is claimed by jlennon (source id e-1) and by john (source id e-1); the second is skipped
        ",
    );
}

#[test]
fn a_duplicate_external_id_keeps_the_known_entry_else_the_first() {
    let known = synced(&src(vec![u("jlennon").sid("e-2")], vec![]));
    let twins = src(
        vec![u("jlennon").sid("e-1"), u("jlennon").sid("e-2")],
        vec![],
    );
    // Nothing known: the first wins.
    check(
        &StoreState::default(),
        &twins,
        &full(),
        "
        created-user: jlennon
        conflict: user id jlennon is claimed by jlennon (source id e-1) and by jlennon (source id e-2); the second is skipped
        ",
    );
    // The store knows the second: it wins, and is neither deactivated nor duplicated.
    let changes = check(
        &known,
        &twins,
        &full(),
        "conflict: user id jlennon is claimed by jlennon (source id e-2) and by jlennon (source id e-1); the second is skipped",
    );
    assert_idempotent(&apply(&known, &changes), &twins, &full());
    // Both known (an earlier run saw them under different ids): the first wins, the second is
    // skipped but not deactivated.
    let both = synced(&src(
        vec![u("jlennon").sid("e-1"), u("john").sid("e-2")],
        vec![],
    ));
    check(
        &both,
        &src(
            vec![u("jlennon").sid("e-1"), u("jlennon").sid("e-2")],
            vec![],
        ),
        &full(),
        "conflict: user id jlennon is claimed by jlennon (source id e-1) and by jlennon (source id e-2); the second is skipped",
    );
}

#[test]
fn a_duplicate_never_deactivates_a_known_user_even_in_a_large_run() {
    let mut users = logins(&["a", "b", "c"]);
    users.push(u("b").sid("intruder"));
    let store = synced(&src(logins(&["a", "b", "c"]), vec![]));
    let changes = check(
        &store,
        &src(users, vec![]),
        &full(),
        "conflict: user id b is claimed by b (source id id:b) and by b (source id intruder); the second is skipped",
    );
    assert_eq!(changes.user_deactivations(), 0);
}

#[test]
fn ignore_case_folds_external_ids_for_duplicates() {
    let twins = src(
        vec![u("jlennon").sid("e-1"), u("JLennon").sid("e-2")],
        vec![],
    );
    check(
        &StoreState::default(),
        &twins,
        &full(),
        "
        created-user: JLennon
        created-user: jlennon
        ",
    );
    check(
        &StoreState::default(),
        &twins,
        &ignoring_case(full()),
        "
        created-user: jlennon
        conflict: user id jlennon is claimed by jlennon (source id e-1) and by JLennon (source id e-2); the second is skipped
        ",
    );
}

#[test]
fn a_differential_run_skips_a_user_whose_login_another_active_user_holds() {
    let store = synced(&src(vec![u("jlennon").sid("e-1")], vec![]));
    let clash = src(vec![u("jlennon").sid("e-2")], vec![]);
    check(
        &store,
        &clash,
        &diff(),
        "skipped-user: jlennon: user id already used by source id e-1; skipped until a full run",
    );
    check(
        &store,
        &src(vec![u("JLENNON").sid("e-2")], vec![]),
        &ignoring_case(diff()),
        "skipped-user: JLENNON: user id already used by source id e-1; skipped until a full run",
    );
    // A full run sees that e-1 is gone and takes the login over.
    check(
        &store,
        &clash,
        &full(),
        "
        deactivated-user: jlennon (missing from the source)
        created-user: jlennon
        ",
    );
    // A differential run that renames the holder frees the login in the same run.
    check(
        &store,
        &src(vec![u("john").sid("e-1"), u("jlennon").sid("e-2")], vec![]),
        &diff(),
        "
        created-user: jlennon
        updated-user: john (external_id \"jlennon\" → \"john\")
        ",
    );
}

#[test]
fn counts_match_the_changes() {
    let mut store = synced(&src(logins(&["a", "b", "c", "d"]), vec![g("g", &["a"])]));
    deactivate(&mut store, "d", DeactivatedBy::Sync);
    let changes = check(
        &store,
        &src(
            vec![u("a").named("A", ""), u("b").disabled(), u("d"), u("e")],
            vec![g("g", &["e"])],
        ),
        &full(),
        "
        updated-user: a (first_name \"\" → \"A\")
        deactivated-user: b (disabled in the source)
        deactivated-user: c (missing from the source)
        reactivated-user: d
        created-user: e
        added-user-to-group: e to g
        removed-user-from-group: a from g
        ",
    );
    assert_eq!(
        changes.counts().to_string(),
        "1 user created, 1 user updated, 2 users deactivated, 1 user reactivated, \
         1 membership added, 1 membership removed"
    );
    assert_eq!(changes.user_deactivations(), 2);
}

#[test]
fn an_unreadable_entry_keeps_its_stored_user_and_memberships_in_a_full_run() {
    // The service account cannot read jlennon's unique id (finding: 51 users deactivated as
    // "missing from the source"): the run keeps the stored user, found by DN, as it is.
    let dn = "uid=jlennon,ou=people,dc=example,dc=com";
    let before = src(
        vec![u("jlennon").dn(dn), u("pmccartney")],
        vec![g("beatles", &[dn, "pmccartney"])],
    );
    let mut store = synced(&before);
    let mut after = src(
        vec![u("pmccartney")],
        vec![g("beatles", &[dn, "pmccartney"])],
    );
    after.unreadable.push(Unreadable {
        group: false,
        locator: dn.to_string(),
        source_id: None,
        reason: "no value for 'entryUUID'".to_string(),
        conflict: false,
    });
    step(
        &mut store,
        &after,
        &full(),
        "
        skipped-user: uid=jlennon,ou=people,dc=example,dc=com: could not be read (no value for 'entryUUID'); the stored entry is kept as it is
        ",
    );
    assert_eq!(users_of(&store), "jlennon: active\npmccartney: active");
    assert_eq!(edges_of(&store), edges_of(&synced(&before)));
}

#[test]
fn a_user_run_deactivates_only_the_user_it_asked_for() {
    let store = synced(&src(
        logins(&["jlennon", "pbest", "rstarr"]),
        vec![g("beatles", &["jlennon", "pbest", "rstarr"])],
    ));
    // The source has no pbest any more; beatles, re-read because pbest was in it, lists the
    // others. rstarr was not asked about and stays as it is.
    let gone = src(vec![], vec![g("beatles", &["jlennon", "rstarr"])]);
    let changes = check(
        &store,
        &gone,
        &user_run("PBest"),
        "removed-user-from-group: pbest from beatles",
    );
    assert_eq!(
        changes.user_deactivations(),
        0,
        "PBest is not pbest without ignore_case"
    );
    let changes = check(
        &store,
        &gone,
        &user_run("pbest"),
        "
        deactivated-user: pbest (missing from the source)
        removed-user-from-group: pbest from beatles
        ",
    );
    assert_eq!(changes.user_deactivations(), 1);
    let after = apply(&store, &changes);
    assert_idempotent(&after, &gone, &user_run("pbest"));
    // A group that still names the user (no referential integrity in the directory) keeps it
    // no longer: the user left.
    let named = src(vec![], vec![g("beatles", &["jlennon", "pbest", "rstarr"])]);
    let changes = check(
        &store,
        &named,
        &user_run("pbest"),
        "
        deactivated-user: pbest (missing from the source)
        removed-user-from-group: pbest from beatles
        skipped-member: beatles: member pbest refers to no known user or group
        ",
    );
    assert_eq!(changes.user_deactivations(), 1);
    // A user run that finds its user changes nothing else.
    let here = src(
        logins(&["jlennon"]),
        vec![g("beatles", &["jlennon", "pbest", "rstarr"])],
    );
    check(&store, &here, &user_run("jlennon"), "");
}
