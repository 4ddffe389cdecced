//! Live batches: changes sent one after another fold into one `SourceData` that plans as the
//! last word on each entry.

use idmsync_domain::plan::{plan, Departed, Departures, SourceData};
use idmsync_domain::{SourceGroup, SourceUser};

use crate::fixture::*;

fn ids(names: &[&str]) -> Vec<idmsync_domain::SourceId> {
    names.iter().map(|n| sid(&format!("id:{n}"))).collect()
}

fn sent(
    users: Vec<SourceUser>,
    groups: Vec<SourceGroup>,
    left: (Departures, Departures),
) -> SourceData {
    SourceData {
        departed: Departed {
            users: left.0,
            groups: left.1,
        },
        ..src(users, groups)
    }
}

fn listed(users: &[&str], groups: &[&str]) -> (Departures, Departures) {
    (
        Departures::Listed(ids(users)),
        Departures::Listed(ids(groups)),
    )
}

fn folded(batches: Vec<SourceData>) -> SourceData {
    let mut batches = batches.into_iter();
    let mut batch = batches.next().unwrap_or_default();
    for later in batches {
        batch.absorb(later);
    }
    batch
}

fn user_ids(data: &SourceData) -> Vec<&str> {
    data.users.iter().map(|u| u.external_id.as_str()).collect()
}

#[test]
fn an_entry_sent_again_keeps_its_last_version() {
    let mut renamed = u("jlennon");
    renamed.email = Some("john@example.com".into());
    let batch = folded(vec![
        sent(
            vec![u("jlennon")],
            vec![g("beatles", &["jlennon", "pbest"])],
            listed(&[], &[]),
        ),
        sent(
            vec![renamed.clone()],
            vec![g("beatles", &["jlennon"])],
            listed(&[], &[]),
        ),
    ]);
    assert_eq!(batch.users, vec![renamed]);
    assert_eq!(batch.groups, vec![g("beatles", &["jlennon"])]);
    assert_eq!(
        batch.departed,
        Departed {
            users: Departures::Listed(vec![]),
            groups: Departures::Listed(vec![]),
        }
    );
}

#[test]
fn an_entry_that_left_after_it_changed_is_left_and_one_that_came_back_is_back() {
    let batch = folded(vec![
        sent(vec![u("jlennon")], vec![], listed(&["pbest"], &[])),
        sent(vec![], vec![], listed(&["jlennon"], &[])),
        sent(vec![u("pbest")], vec![], listed(&[], &[])),
    ]);
    assert_eq!(user_ids(&batch), ["pbest"]);
    assert_eq!(batch.departed.users, Departures::Listed(ids(&["jlennon"])));
}

#[test]
fn what_a_later_present_phase_does_not_keep_is_gone_even_if_sent_before() {
    let batch = folded(vec![
        sent(
            vec![u("jlennon"), u("rstarr")],
            vec![],
            listed(&["pbest"], &[]),
        ),
        sent(
            vec![u("gharrison")],
            vec![],
            (
                Departures::AllBut(ids(&["rstarr"])),
                Departures::Listed(vec![]),
            ),
        ),
        sent(vec![], vec![], listed(&["rstarr"], &[])),
    ]);
    assert_eq!(user_ids(&batch), ["gharrison"]);
    assert_eq!(batch.departed.users, Departures::AllBut(vec![]));
}

#[test]
fn a_folded_batch_plans_like_its_changes_one_after_another() {
    let mut one_by_one = synced(&src(
        logins(&["jlennon", "pbest", "rstarr"]),
        vec![g("beatles", &["jlennon", "pbest", "rstarr"])],
    ));
    let mut at_once = one_by_one.clone();
    let changes = vec![
        sent(
            vec![],
            vec![g("beatles", &["jlennon", "rstarr"])],
            listed(&[], &[]),
        ),
        sent(vec![], vec![], listed(&["pbest"], &[])),
        sent(
            vec![u("gharrison")],
            vec![g("beatles", &["jlennon", "rstarr", "gharrison"])],
            listed(&[], &[]),
        ),
    ];
    for change in &changes {
        let planned = plan(change.clone(), &one_by_one, &diff(), &PlainHasher);
        one_by_one = apply(&one_by_one, &planned);
    }
    let planned = plan(folded(changes), &at_once, &diff(), &PlainHasher);
    at_once = apply(&at_once, &planned);
    assert_eq!(users_of(&at_once), users_of(&one_by_one));
    assert_eq!(edges_of(&at_once), edges_of(&one_by_one));
}

#[test]
fn a_group_with_a_member_that_resolves_to_nothing_is_named_for_a_second_try() {
    let store = synced(&src(logins(&["jlennon"]), vec![]));
    let early = src(
        vec![],
        vec![g("beatles", &["jlennon", "pbest"]), g("solo", &["jlennon"])],
    );
    let changes = plan(early, &store, &diff(), &PlainHasher);
    assert_eq!(changes.unresolved, ids(&["beatles"]));
    assert!(changes
        .warnings
        .iter()
        .any(|w| w.to_string().contains("pbest")));
}
