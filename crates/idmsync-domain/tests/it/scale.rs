//! A large directory: 50,000 users in 2,000 groups of 100 (200,000 memberships), nested in a
//! chain. Asserts on correctness only; a quadratic planner would not finish in debug builds.

use std::num::NonZeroUsize;

use idmsync_domain::plan::{plan, SourceData};
use idmsync_domain::{PlanOptions, SourceGroup, StoreState};

use crate::fixture::*;

const USERS: usize = 50_000;
const GROUPS: usize = 2_000;
const PER_GROUP: usize = 100;

/// The user index of the `k`th member of group `gi`: 100 distinct users per group.
fn member_of(gi: usize, k: usize) -> usize {
    (gi * 25 + k * 500) % USERS
}

fn directory(skip_user: impl Fn(usize) -> bool) -> SourceData {
    let users = (0..USERS)
        .filter(|&i| !skip_user(i))
        .map(|i| u(&format!("user{i:05}")).dn(&format!("uid=user{i:05},dc=big")))
        .collect();
    let groups = (0..GROUPS)
        .map(|gi| {
            let mut group: SourceGroup = g(&format!("group{gi:04}"), &[]);
            group.members = (0..PER_GROUP)
                .map(|k| member(&format!("uid=user{:05},dc=big", member_of(gi, k))))
                .collect();
            if gi > 0 {
                group.members.push(member(&format!("group{:04}", gi - 1)));
            }
            group
        })
        .collect();
    SourceData {
        users,
        groups,
        unreadable: Vec::new(),
        departed: Default::default(),
        documents: Vec::new(),
    }
}

#[test]
fn a_large_directory_plans_and_converges() {
    let source = directory(|_| false);
    let empty = StoreState::default();
    let first = plan(source.clone(), &empty, &full(), &PlainHasher);
    let c = first.counts();
    assert_eq!(
        (
            c.users_created,
            c.groups_created,
            c.memberships_added,
            c.nesting_added,
            c.warnings
        ),
        (
            USERS as u64,
            GROUPS as u64,
            (GROUPS * PER_GROUP) as u64,
            GROUPS as u64 - 1,
            0
        )
    );
    let store = apply(&empty, &first);
    assert_eq!(store.memberships.len(), GROUPS * PER_GROUP);

    let again = plan(source, &store, &full(), &PlainHasher);
    assert!(again.is_empty() && again.warnings.is_empty());

    // Every 100th user leaves: 500 deactivations, each with its memberships.
    let smaller = directory(|i| i % 100 == 0);
    let next = plan(smaller, &store, &full(), &PlainHasher);
    let c = next.counts();
    assert_eq!(c.users_deactivated, (USERS / 100) as u64);
    let stale = (0..GROUPS)
        .flat_map(|gi| (0..PER_GROUP).map(move |k| member_of(gi, k)))
        .filter(|i| i % 100 == 0)
        .count();
    assert!(stale > 0);
    assert_eq!(c.memberships_removed, stale as u64);
    assert_eq!(
        c.warnings, c.memberships_removed,
        "each stale reference is reported"
    );

    // Groups are compared on several threads: any number gives the same plan, warnings in the
    // same order, whatever runs of groups the threads get.
    for threads in [1, 3, 7] {
        let options = PlanOptions {
            threads: NonZeroUsize::new(threads).expect("positive"),
            ..full()
        };
        let same = plan(directory(|i| i % 100 == 0), &store, &options, &PlainHasher);
        assert_eq!(same, next, "{threads} thread(s)");
    }
}
