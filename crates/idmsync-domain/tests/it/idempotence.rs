//! Idempotence and multi-run stories: apply a plan, plan again, expect nothing; and whole
//! sequences of runs with exactly the lines each one logs.

use std::num::NonZeroUsize;

use idmsync_domain::plan::SourceData;
use idmsync_domain::{DeactivatedBy, PlanOptions, Reactivate, StoreState};

use crate::fixture::*;

/// Directories with every kind of awkward entry; each must converge in one run from an empty
/// store and from a store synced with a different directory, in both modes.
fn directories() -> Vec<(&'static str, SourceData, PlanOptions)> {
    vec![
        ("empty", src(vec![], vec![]), full()),
        (
            "beatles",
            src(
                vec![
                    u("jlennon")
                        .named("John", "Lennon")
                        .mail("john@beatles.com"),
                    u("pmccartney").dn("uid=pmccartney,dc=b"),
                    u("rstarr").disabled(),
                ],
                vec![
                    g("beatles", &["jlennon", "uid=pmccartney,dc=b", "rstarr"]),
                    g("music", &["beatles", "wings"]),
                    g("wings", &["pmccartney"]),
                ],
            ),
            with_admins(full(), &["jlennon", "ghost"]),
        ),
        (
            "cycles",
            src(
                logins(&["a"]),
                vec![g("x", &["y", "a"]), g("y", &["z"]), g("z", &["x", "z"])],
            ),
            full(),
        ),
        (
            "duplicates and bad members",
            src(
                vec![
                    u("a").sid("1"),
                    u("a").sid("2"),
                    u("b").sid("1"),
                    u("c").sid("3"),
                ],
                vec![
                    g("g", &["a", "c", "nobody", "h"]),
                    g("h", &["g"]),
                    g("g", &[]).sid("g-dup"),
                    g("c", &[]),
                ],
            ),
            full(),
        ),
        (
            "case folding",
            src(
                vec![u("JLennon").dn("UID=JLennon"), u("jlennon").sid("other")],
                vec![g("Beatles", &["jlennon", "uid=jlennon", "BEATLES"])],
            ),
            ignoring_case(with_admins(full(), &["JLENNON"])),
        ),
        (
            "passwords",
            src(
                vec![
                    u("a").pw(idmsync_domain::SourcePassword::Clear(
                        idmsync_domain::Password::new("pw"),
                    )),
                    u("b").pw(idmsync_domain::SourcePassword::Absent),
                ],
                vec![],
            ),
            full(),
        ),
    ]
}

#[test]
fn every_directory_converges_in_one_run() {
    let all = directories();
    for (name, source, options) in &all {
        for (other, before, _) in &all {
            let store = synced(before);
            for mode in [
                idmsync_domain::SyncMode::Full,
                idmsync_domain::SyncMode::Differential,
            ] {
                let options = PlanOptions {
                    mode,
                    ..options.clone()
                };
                let changes =
                    idmsync_domain::plan::plan(source.clone(), &store, &options, &PlainHasher);
                for threads in [1, 3] {
                    let options = PlanOptions {
                        threads: NonZeroUsize::new(threads).expect("positive"),
                        ..options.clone()
                    };
                    let again =
                        idmsync_domain::plan::plan(source.clone(), &store, &options, &PlainHasher);
                    assert_eq!(again, changes, "{name} over {other}: {threads} thread(s)");
                }
                let after = apply(&store, &changes);
                // Ignore a second run's warnings, but they must be the first run's.
                let again =
                    idmsync_domain::plan::plan(source.clone(), &after, &options, &PlainHasher);
                assert!(
                    again.is_empty(),
                    "{name} after {other} ({mode:?}) is not stable:\n{}",
                    lines(&again)
                );
                assert_eq!(again.log_lines().count(), again.warnings.len());
            }
        }
    }
}

#[test]
fn the_beatles_story() {
    let admins = with_admins(full(), &["jlennon"]);
    let mut store = StoreState::default();
    let mut users = vec![
        u("jlennon")
            .named("John", "Lennon")
            .mail("john@beatles.com"),
        u("pbest").named("Pete", "Best"),
        u("pmccartney").named("Paul", "McCartney"),
    ];
    let groups = |members: &[&str]| vec![g("beatles", members).name("The Beatles")];

    // 1962: the first sync.
    step(
        &mut store,
        &src(users.clone(), groups(&["jlennon", "pbest", "pmccartney"])),
        &admins,
        "
        created-user: jlennon (John Lennon, john@beatles.com)
        created-user: pbest (Pete Best)
        created-user: pmccartney (Paul McCartney)
        created-group: beatles (The Beatles)
        added-user-to-group: jlennon to beatles
        added-user-to-group: pbest to beatles
        added-user-to-group: pmccartney to beatles
        added-capability: tenant-admin to jlennon
        ",
    );

    // Pete leaves, Ringo joins; a differential run sees Ringo and the group, never Pete's exit.
    users.retain(|u| u.external_id.as_str() != "pbest");
    users.push(u("rstarr").named("Ringo", "Starr"));
    step(
        &mut store,
        &src(
            vec![users[2].clone()],
            groups(&["jlennon", "pmccartney", "rstarr"]),
        ),
        &with_admins(diff(), &["jlennon"]),
        "
        created-user: rstarr (Ringo Starr)
        added-user-to-group: rstarr to beatles
        removed-user-from-group: pbest from beatles
        ",
    );
    assert!(users_of(&store).contains("pbest: active"));

    // The nightly full run deactivates Pete.
    step(
        &mut store,
        &src(users.clone(), groups(&["jlennon", "pmccartney", "rstarr"])),
        &admins,
        "deactivated-user: pbest (missing from the source)",
    );

    // An administrator locks Paul out; he stays locked out across syncs.
    deactivate(&mut store, "pmccartney", DeactivatedBy::Admin);
    step(
        &mut store,
        &src(users.clone(), groups(&["jlennon", "pmccartney", "rstarr"])),
        &admins,
        "",
    );

    // Pete comes back to the directory, and a run that reactivates anyone also lets Paul in.
    users.push(u("pbest").named("Pete", "Best"));
    step(
        &mut store,
        &src(
            users.clone(),
            groups(&["jlennon", "pbest", "pmccartney", "rstarr"]),
        ),
        &reactivating(admins.clone(), Reactivate::Any),
        "
        reactivated-user: pbest
        reactivated-user: pmccartney
        added-user-to-group: pbest to beatles
        ",
    );

    // John renames himself; the group refers to him by the new name.
    users[0] = users[0].clone().login("johnono");
    step(
        &mut store,
        &src(
            users.clone(),
            groups(&["johnono", "pbest", "pmccartney", "rstarr"]),
        ),
        &with_admins(full(), &["johnono"]),
        "updated-user: johnono (external_id \"jlennon\" → \"johnono\")",
    );
    assert_eq!(
        users_of(&store),
        "johnono: active admin\npbest: active\npmccartney: active\nrstarr: active"
    );

    // 1970: the band splits.
    step(
        &mut store,
        &src(users.clone(), vec![]),
        &with_admins(full(), &["johnono"]),
        "
        deactivated-group: beatles (missing from the source)
        removed-user-from-group: johnono from beatles
        removed-user-from-group: pbest from beatles
        removed-user-from-group: pmccartney from beatles
        removed-user-from-group: rstarr from beatles
        ",
    );
    assert_eq!(edges_of(&store), "");
}
