//! Differential runs whose source reports departures (RFC 4533, DirSync, a file read whole):
//! the entries named gone, or not named present, are deactivated and lose their edges, as a
//! full run does with what it misses; every other entry the run did not return is untouched.

use idmsync_domain::plan::{Departed, Departures, SourceData};
use idmsync_domain::{SourceGroup, SourceUser, StoreState};

use crate::fixture::*;

fn band() -> StoreState {
    synced(&src(
        logins(&["jlennon", "pbest", "rstarr"]),
        vec![
            g("beatles", &["jlennon", "pbest", "rstarr"]),
            g("quarrymen", &["pbest"]),
            g("music", &["beatles", "quarrymen"]),
        ],
    ))
}

fn changed(
    users: Vec<SourceUser>,
    groups: Vec<SourceGroup>,
    departed_users: Departures,
    departed_groups: Departures,
) -> SourceData {
    SourceData {
        departed: Departed {
            users: departed_users,
            groups: departed_groups,
        },
        ..src(users, groups)
    }
}

fn ids(names: &[&str]) -> Vec<idmsync_domain::SourceId> {
    names.iter().map(|n| sid(&format!("id:{n}"))).collect()
}

#[test]
fn a_user_reported_gone_is_deactivated_and_leaves_its_groups() {
    let mut store = band();
    let gone = changed(
        vec![],
        vec![],
        Departures::Listed(ids(&["pbest"])),
        Departures::Unknown,
    );
    step(
        &mut store,
        &gone,
        &diff(),
        "
        deactivated-user: pbest (missing from the source)
        removed-user-from-group: pbest from beatles
        removed-user-from-group: pbest from quarrymen
        ",
    );
    assert_eq!(
        edges_of(&store),
        "beatles > jlennon\nbeatles > rstarr\nmusic >> beatles\nmusic >> quarrymen"
    );
    assert_idempotent(&store, &gone, &diff());
}

#[test]
fn after_a_present_phase_every_user_not_named_is_gone() {
    let store = band();
    // Ringo changed (returned), John is named present, Pete is named nowhere.
    let source = changed(
        vec![u("rstarr").named("Richard", "Starkey")],
        vec![],
        Departures::AllBut(ids(&["jlennon"])),
        Departures::AllBut(ids(&["beatles", "quarrymen", "music"])),
    );
    let changes = check(
        &store,
        &source,
        &diff(),
        "
        deactivated-user: pbest (missing from the source)
        updated-user: rstarr (first_name \"\" → \"Richard\"; last_name \"\" → \"Starkey\")
        removed-user-from-group: pbest from beatles
        removed-user-from-group: pbest from quarrymen
        ",
    );
    assert_eq!(changes.counts().users_deactivated, 1);
}

#[test]
fn a_group_reported_gone_is_deactivated_with_its_members_and_parents_removed() {
    let mut store = band();
    let gone = changed(
        vec![],
        vec![],
        Departures::Unknown,
        Departures::Listed(ids(&["quarrymen"])),
    );
    step(
        &mut store,
        &gone,
        &diff(),
        "
        deactivated-group: quarrymen (missing from the source)
        removed-user-from-group: pbest from quarrymen
        removed-group-from-group: quarrymen from music
        ",
    );
    assert_eq!(
        edges_of(&store),
        "beatles > jlennon\nbeatles > pbest\nbeatles > rstarr\nmusic >> beatles"
    );
}

#[test]
fn a_changed_group_that_still_names_a_departed_user_does_not_keep_it() {
    // A directory without referential integrity: the group still lists the deleted user.
    let store = band();
    check(
        &store,
        &changed(
            vec![],
            vec![g("quarrymen", &["pbest", "jlennon"])],
            Departures::Listed(ids(&["pbest"])),
            Departures::Unknown,
        ),
        &diff(),
        "
        deactivated-user: pbest (missing from the source)
        added-user-to-group: jlennon to quarrymen
        removed-user-from-group: pbest from beatles
        removed-user-from-group: pbest from quarrymen
        skipped-member: quarrymen: member pbest refers to no known user or group
        ",
    );
}

#[test]
fn departures_of_entries_returned_or_unknown_change_nothing() {
    let store = band();
    // Returned and reported gone at once (a server that sends both): returned wins.
    check(
        &store,
        &changed(
            vec![u("jlennon")],
            vec![g("music", &["beatles", "quarrymen"])],
            Departures::Listed(ids(&["jlennon", "nobody"])),
            Departures::Listed(ids(&["music", "nothing"])),
        ),
        &diff(),
        "",
    );
}

#[test]
fn an_inactive_user_reported_gone_is_not_deactivated_again_but_leaves_its_groups() {
    let mut store = band();
    deactivate(&mut store, "pbest", idmsync_domain::DeactivatedBy::Admin);
    check(
        &store,
        &changed(
            vec![],
            vec![],
            Departures::Listed(ids(&["pbest"])),
            Departures::Unknown,
        ),
        &diff(),
        "
        removed-user-from-group: pbest from beatles
        removed-user-from-group: pbest from quarrymen
        ",
    );
}

#[test]
fn a_full_run_decides_by_what_it_read_not_by_departures() {
    let store = band();
    let everyone = changed(
        logins(&["jlennon", "pbest", "rstarr"]),
        vec![
            g("beatles", &["jlennon", "pbest", "rstarr"]),
            g("quarrymen", &["pbest"]),
            g("music", &["beatles", "quarrymen"]),
        ],
        Departures::Listed(ids(&["pbest"])),
        Departures::AllBut(vec![]),
    );
    check(&store, &everyone, &full(), "");
}
