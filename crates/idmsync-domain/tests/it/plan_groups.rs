//! Groups, memberships and nesting: creation, replacement of member lists, member resolution
//! (by external id, by locator, case folding, unknown and ambiguous references), cycles,
//! deactivation and reactivation, and differential runs.

use idmsync_domain::plan::SourceData;
use idmsync_domain::{StoreState, UserStatus};

use crate::fixture::*;

fn beatles() -> SourceData {
    src(
        logins(&["jlennon", "rstarr"]),
        vec![
            g("beatles", &["jlennon", "rstarr"]).name("The Beatles"),
            g("music", &["beatles"]).name("Music"),
        ],
    )
}

#[test]
fn groups_are_created_with_members_and_children() {
    let changes = check(
        &StoreState::default(),
        &beatles(),
        &full(),
        "
        created-user: jlennon
        created-user: rstarr
        created-group: beatles (The Beatles)
        created-group: music (Music)
        added-user-to-group: jlennon to beatles
        added-user-to-group: rstarr to beatles
        added-group-to-group: beatles to music
        ",
    );
    let c = changes.counts();
    assert_eq!(
        (c.groups_created, c.memberships_added, c.nesting_added),
        (2, 2, 1)
    );
}

#[test]
fn members_resolve_by_locator_for_users_and_groups() {
    let source = src(
        vec![u("jlennon").dn("uid=jlennon,dc=b"), u("rstarr")],
        vec![
            g("beatles", &["uid=jlennon,dc=b", "rstarr"]).dn("cn=beatles,dc=b"),
            g("music", &["cn=beatles,dc=b"]),
        ],
    );
    let mut store = StoreState::default();
    step(
        &mut store,
        &source,
        &full(),
        "
        created-user: jlennon
        created-user: rstarr
        created-group: beatles
        created-group: music
        added-user-to-group: jlennon to beatles
        added-user-to-group: rstarr to beatles
        added-group-to-group: beatles to music
        ",
    );
    // A locator nobody has is unknown, even if it looks like an external id elsewhere.
    check(
        &store,
        &src(
            source.users.clone(),
            vec![
                g("beatles", &["uid=rstarr,dc=b"]).dn("cn=beatles,dc=b"),
                source.groups[1].clone(),
            ],
        ),
        &full(),
        "
        removed-user-from-group: jlennon from beatles
        removed-user-from-group: rstarr from beatles
        skipped-member: beatles: member uid=rstarr,dc=b refers to no known user or group
        ",
    );
}

#[test]
fn a_member_list_is_replaced() {
    let mut store = synced(&beatles());
    step(
        &mut store,
        &src(
            logins(&["jlennon", "pmccartney", "rstarr"]),
            vec![
                g("beatles", &["pmccartney", "rstarr", "rstarr"]).name("The Beatles"),
                g("music", &[]).name("Music"),
            ],
        ),
        &full(),
        "
        created-user: pmccartney
        added-user-to-group: pmccartney to beatles
        removed-user-from-group: jlennon from beatles
        removed-group-from-group: beatles from music
        ",
    );
    assert_eq!(edges_of(&store), "beatles > pmccartney\nbeatles > rstarr");
}

#[test]
fn unknown_and_ambiguous_members_are_skipped_with_a_warning() {
    let cases = [
        (
            vec![u("jlennon")],
            vec![g("beatles", &["nobody"])],
            "skipped-member: beatles: member nobody refers to no known user or group",
        ),
        // A user and a group with the same external id.
        (
            vec![u("music")],
            vec![g("music", &[]), g("beatles", &["music"])],
            "conflict: beatles (source id id:beatles): member music names more than one user or group; skipped",
        ),
        // A user and a group with the same locator.
        (
            vec![u("jlennon").dn("cn=x,dc=b")],
            vec![
                g("music", &[]).dn("cn=x,dc=b"),
                g("beatles", &["cn=x,dc=b"]),
            ],
            "conflict: beatles (source id id:beatles): member cn=x,dc=b names more than one user or group; skipped",
        ),
        // Two users with the same locator.
        (
            vec![u("jlennon").dn("cn=x,dc=b"), u("john").dn("cn=x,dc=b")],
            vec![g("beatles", &["cn=x,dc=b"])],
            "conflict: beatles (source id id:beatles): member cn=x,dc=b names more than one user or group; skipped",
        ),
    ];
    for (users, groups, warning) in cases {
        let source = src(users, groups);
        let changes = plan_only(&source);
        assert!(changes.memberships_added.is_empty() && changes.nesting_added.is_empty());
        let warnings: Vec<String> = changes.warnings.iter().map(|w| w.to_string()).collect();
        assert_eq!(warnings, vec![warning.to_string()]);
        assert_idempotent(&apply(&StoreState::default(), &changes), &source, &full());
    }
}

fn plan_only(source: &SourceData) -> idmsync_domain::ChangeSet {
    idmsync_domain::plan::plan(
        source.clone(),
        &StoreState::default(),
        &full(),
        &PlainHasher,
    )
}

#[test]
fn member_references_fold_case_when_asked() {
    let source = src(
        vec![u("jlennon").dn("uid=jlennon,dc=b")],
        vec![g("beatles", &["JLENNON", "UID=JLennon,DC=b"])],
    );
    check(
        &StoreState::default(),
        &source,
        &ignoring_case(full()),
        "
        created-user: jlennon
        created-group: beatles
        added-user-to-group: jlennon to beatles
        ",
    );
    check(
        &StoreState::default(),
        &source,
        &full(),
        "
        created-user: jlennon
        created-group: beatles
        skipped-member: beatles: member JLENNON refers to no known user or group
        skipped-member: beatles: member UID=JLennon,DC=b refers to no known user or group
        ",
    );
}

#[test]
fn nesting_cycles_and_self_membership_are_plain_edges() {
    let source = src(
        logins(&["jlennon"]),
        vec![g("a", &["b", "jlennon"]), g("b", &["a"]), g("c", &["c"])],
    );
    let mut store = StoreState::default();
    step(
        &mut store,
        &source,
        &full(),
        "
        created-user: jlennon
        created-group: a
        created-group: b
        created-group: c
        added-user-to-group: jlennon to a
        added-group-to-group: b to a
        added-group-to-group: a to b
        added-group-to-group: c to c
        ",
    );
    // Deactivating every group of a cycle removes each edge once.
    step(
        &mut store,
        &src(logins(&["jlennon"]), vec![]),
        &full(),
        "
        deactivated-group: a (missing from the source)
        deactivated-group: b (missing from the source)
        deactivated-group: c (missing from the source)
        removed-user-from-group: jlennon from a
        removed-group-from-group: b from a
        removed-group-from-group: a from b
        removed-group-from-group: c from c
        ",
    );
    assert_eq!(edges_of(&store), "");
    // And they all come back.
    step(
        &mut store,
        &source,
        &diff(),
        "
        reactivated-group: a
        reactivated-group: b
        reactivated-group: c
        added-user-to-group: jlennon to a
        added-group-to-group: b to a
        added-group-to-group: a to b
        added-group-to-group: c to c
        ",
    );
}

#[test]
fn a_missing_group_is_deactivated_with_all_its_edges() {
    let mut store = synced(&src(
        logins(&["jlennon", "rstarr"]),
        vec![
            g("beatles", &["jlennon", "rstarr", "sub"]),
            g("music", &["beatles", "jlennon"]),
            g("sub", &[]),
            g("old", &["beatles"]),
        ],
    ));
    // beatles and old vanish; music still lists beatles.
    step(
        &mut store,
        &src(
            logins(&["jlennon", "rstarr"]),
            vec![g("music", &["beatles", "jlennon"]), g("sub", &[])],
        ),
        &full(),
        "
        deactivated-group: beatles (missing from the source)
        deactivated-group: old (missing from the source)
        removed-user-from-group: jlennon from beatles
        removed-user-from-group: rstarr from beatles
        removed-group-from-group: sub from beatles
        removed-group-from-group: beatles from music
        removed-group-from-group: beatles from old
        skipped-member: music: member beatles refers to no known user or group
        ",
    );
    assert_eq!(edges_of(&store), "music > jlennon");
    let inactive: Vec<&str> = store
        .groups
        .iter()
        .filter(|g| g.status == UserStatus::Inactive)
        .map(|g| g.external_id.as_str())
        .collect();
    assert_eq!(inactive, ["beatles", "old"]);
}

#[test]
fn a_returning_group_is_reactivated_with_its_members() {
    let source = beatles();
    let mut store = synced(&source);
    step(
        &mut store,
        &src(source.users.clone(), vec![]),
        &full(),
        "
        deactivated-group: beatles (missing from the source)
        deactivated-group: music (missing from the source)
        removed-user-from-group: jlennon from beatles
        removed-user-from-group: rstarr from beatles
        removed-group-from-group: beatles from music
        ",
    );
    step(
        &mut store,
        &src(
            source.users.clone(),
            vec![g("beatles", &["jlennon"]).name("Beatles")],
        ),
        &full(),
        "
        reactivated-group: beatles (name \"The Beatles\" → \"Beatles\")
        added-user-to-group: jlennon to beatles
        ",
    );
}

#[test]
fn group_field_changes_are_updates() {
    let source = src(
        logins(&["jlennon"]),
        vec![g("beatles", &["jlennon"]).dn("cn=beatles")],
    );
    let store = synced(&source);
    let cases = [
        (
            g("beatles", &["jlennon"])
                .dn("cn=beatles")
                .name("The Beatles"),
            "updated-group: beatles (name \"beatles\" → \"The Beatles\")",
        ),
        (
            g("beatles", &["jlennon"]).dn("cn=the-beatles"),
            "updated-group: beatles (locator \"cn=beatles\" → \"cn=the-beatles\")",
        ),
        (
            g("beatles", &["jlennon"])
                .dn("cn=beatles")
                .gid("the-beatles"),
            "updated-group: the-beatles (external_id \"beatles\" → \"the-beatles\")",
        ),
    ];
    for (group, expected) in cases {
        let next = src(logins(&["jlennon"]), vec![group]);
        let changes = check(&store, &next, &full(), expected);
        let after = apply(&store, &changes);
        assert!(
            edges_of(&after).ends_with("> jlennon"),
            "memberships are kept"
        );
        assert_idempotent(&after, &next, &full());
    }
}

#[test]
fn a_duplicate_group_id_is_skipped() {
    check(
        &StoreState::default(),
        &src(
            vec![],
            vec![
                g("beatles", &[]).sid("g-1"),
                g("beatles", &[]).sid("g-2"),
                g("wings", &[]).sid("g-1"),
            ],
        ),
        &full(),
        "
        created-group: beatles
        conflict: group id beatles is claimed by beatles (source id g-1) and by beatles (source id g-2); the second is skipped
        conflict: group source id g-1 is claimed by beatles (source id g-1) and by wings (source id g-1); the second is skipped
        ",
    );
}

#[test]
fn a_missing_user_leaves_a_group_skipped_as_duplicate() {
    // wings (g-2) is known, but the source now calls it beatles like g-1: it is skipped and keeps
    // its row; jlennon left the directory, so his membership in it goes all the same.
    let store = synced(&src(
        logins(&["jlennon", "rstarr"]),
        vec![
            g("beatles", &["rstarr"]).sid("g-1"),
            g("wings", &["jlennon", "rstarr"]).sid("g-2"),
        ],
    ));
    let source = src(
        logins(&["rstarr"]),
        vec![
            g("beatles", &["rstarr"]).sid("g-1"),
            g("beatles", &["rstarr"]).sid("g-2"),
        ],
    );
    let changes = check(
        &store,
        &source,
        &full(),
        "
        deactivated-user: jlennon (missing from the source)
        removed-user-from-group: jlennon from wings
        conflict: group id beatles is claimed by beatles (source id g-1) and by beatles (source id g-2); the second is skipped
        ",
    );
    let after = apply(&store, &changes);
    assert_eq!(edges_of(&after), "beatles > rstarr\nwings > rstarr");
    assert_idempotent(&after, &source, &full());
}

#[test]
fn a_differential_group_change_resolves_members_from_the_store() {
    let mut store = synced(&src(
        logins(&["jlennon", "pmccartney", "pbest", "rstarr"]),
        vec![
            g("beatles", &["jlennon", "pbest"]),
            g("wings", &["pmccartney"]),
            g("music", &["beatles"]),
        ],
    ));
    deactivate(&mut store, "pbest", idmsync_domain::DeactivatedBy::Admin);
    // Only beatles changed: its members are users the run did not return, plus a new one.
    step(
        &mut store,
        &src(
            logins(&["gharrison"]),
            vec![g("beatles", &["jlennon", "rstarr", "gharrison", "wings"])],
        ),
        &diff(),
        "
        created-user: gharrison
        added-user-to-group: gharrison to beatles
        added-user-to-group: rstarr to beatles
        removed-user-from-group: pbest from beatles
        added-group-to-group: wings to beatles
        ",
    );
    assert_eq!(
        edges_of(&store),
        "beatles > gharrison\nbeatles > jlennon\nbeatles > rstarr\nbeatles >> wings\n\
         music >> beatles\nwings > pmccartney"
    );
    // A member that is inactive in the store does not resolve in a differential run.
    check(
        &store,
        &src(vec![], vec![g("wings", &["pmccartney", "pbest"])]),
        &diff(),
        "skipped-member: wings: member pbest refers to no known user or group",
    );
}

#[test]
fn a_differential_rename_resolves_the_new_name_only_as_a_full_run_does() {
    let store = synced(&src(
        vec![u("jlennon").sid("e-1")],
        vec![g("beatles", &["jlennon"])],
    ));
    for mode in [full(), diff()] {
        check(
            &store,
            &src(vec![u("john").sid("e-1")], vec![g("beatles", &["john"])]),
            &mode,
            "updated-user: john (external_id \"jlennon\" → \"john\")",
        );
        // The old name is stale: the source itself says the user is called john now.
        check(
            &store,
            &src(vec![u("john").sid("e-1")], vec![g("beatles", &["jlennon"])]),
            &mode,
            "
            updated-user: john (external_id \"jlennon\" → \"john\")
            removed-user-from-group: john from beatles
            skipped-member: beatles: member jlennon refers to no known user or group
            ",
        );
    }
}

#[test]
fn a_differential_run_neither_deactivates_groups_nor_touches_unchanged_ones() {
    let store = synced(&beatles());
    check(&store, &src(vec![], vec![]), &diff(), "");
    check(
        &store,
        &src(vec![], vec![g("music", &[]).name("Music")]),
        &diff(),
        "removed-group-from-group: beatles from music",
    );
}

#[test]
fn a_renamed_child_group_is_named_by_its_new_id_when_removed() {
    let store = synced(&src(
        vec![u("jlennon").sid("e-1")],
        vec![
            g("beatles", &["jlennon", "wings"]),
            g("wings", &[]).sid("w"),
        ],
    ));
    for mode in [full(), diff()] {
        check(
            &store,
            &src(
                vec![u("john").sid("e-1")],
                vec![
                    g("beatles", &[]),
                    g("paul-wings", &[]).sid("w").name("wings"),
                ],
            ),
            &mode,
            "
            updated-user: john (external_id \"jlennon\" → \"john\")
            updated-group: paul-wings (external_id \"wings\" → \"paul-wings\")
            removed-user-from-group: john from beatles
            removed-group-from-group: paul-wings from beatles
            ",
        );
    }
}

#[test]
fn a_corrupt_store_with_dangling_edges_does_not_stop_the_planner() {
    let mut store = synced(&src(logins(&["jlennon"]), vec![g("beatles", &["jlennon"])]));
    store.memberships.push((0, 99));
    store.memberships.push((99, 0));
    store.nesting.push((0, 99));
    store.nesting.push((99, 0));
    for mode in [full(), diff()] {
        check(
            &store,
            &src(logins(&["jlennon"]), vec![g("beatles", &["jlennon"])]),
            &mode,
            "",
        );
        check(
            &store,
            &src(logins(&["jlennon"]), vec![]),
            &mode,
            if mode.mode == idmsync_domain::SyncMode::Full {
                "
            deactivated-group: beatles (missing from the source)
            removed-user-from-group: jlennon from beatles
            "
            } else {
                ""
            },
        );
    }
}
