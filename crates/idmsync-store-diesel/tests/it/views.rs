//! The directory views: sorting, filters, paging, group member lists, one user's or group's
//! page, and an entry's history.

use idmsync_domain::change::{Event, GroupWrite, Key};
use idmsync_domain::{ChangeSet, DeactivatedBy, EventKey, LogLine, RunId, Tenant, UserStatus};
use idmsync_ports::{
    DirectoryReader, GroupView, NoProgress, Page, RunLock, RunLogReader, SyncStore, UserFilter,
};
use idmsync_test_doubles::MemoryStore;

use crate::support::{
    at, backend_tests, created_group, created_user, directory, edge, group, key, new_run,
    succeeded, sync, tenant, user,
};

fn ids<T>(views: &[T], id: impl Fn(&T) -> &str) -> Vec<String> {
    views.iter().map(|v| id(v).to_string()).collect()
}

backend_tests! {
    async fn users_are_sorted_filtered_and_paged(db: Db) {
        let acme = tenant("acme");
        sync(&db, &acme, &directory(), 1).await;
        let list = |filter: UserFilter, page: Option<Page>| {
            let store = &db.store;
            let acme = &acme;
            async move {
                let views = store.users(acme, &filter, page).await.expect("users");
                ids(&views, |v| &v.external_id)
            }
        };
        assert_eq!(
            list(UserFilter::default(), None).await,
            ["gharrison", "jlennon", "pmccartney", "rstarr"]
        );
        let inactive = UserFilter {
            status: Some(UserStatus::Inactive),
            ..UserFilter::default()
        };
        assert_eq!(list(inactive, None).await, ["rstarr"]);
        let exact = UserFilter {
            external_id: Some("jlennon".into()),
            ..UserFilter::default()
        };
        assert_eq!(list(exact, None).await, ["jlennon"]);
        let text = |t: &str| UserFilter {
            text: Some(t.into()),
            ..UserFilter::default()
        };
        assert_eq!(list(text("LENNON"), None).await, ["jlennon"]);
        assert_eq!(list(text("first g"), None).await, ["gharrison"]);
        assert_eq!(list(text("%"), None).await, Vec::<String>::new());
        let page = Page { start: 1, size: 2 };
        assert_eq!(
            list(UserFilter::default(), Some(page)).await,
            ["jlennon", "pmccartney"]
        );

        let views = db
            .store
            .users(&acme, &UserFilter::default(), None)
            .await
            .expect("users");
        let john = &views[1];
        assert_eq!(john.tenant, "acme");
        assert!(john.admin);
        assert_eq!(john.email, None);
        assert_eq!(john.first_name, "First jlennon");
        assert_eq!(john.last_sync_at, Some(at(1)));
        let ringo = &views[3];
        assert_eq!(ringo.status, UserStatus::Inactive);
        assert_eq!(ringo.deactivated_by.as_deref(), Some("sync"));
        assert_eq!(ringo.email.as_deref(), Some("rstarr@example.com"));
    }
}

backend_tests! {
    async fn groups_list_direct_active_members_and_children(db: Db) {
        let acme = tenant("acme");
        sync(&db, &acme, &directory(), 1).await;
        let all = UserFilter::default();
        let groups = db.store.groups(&acme, &all, None).await.expect("groups");
        let view = |external_id: &str, name: &str, members: &[&str], children: &[&str]| GroupView {
            tenant: "acme".into(),
            external_id: external_id.into(),
            name: name.into(),
            status: UserStatus::Active,
            members: members.iter().map(|m| m.to_string()).collect(),
            child_groups: children.iter().map(|c| c.to_string()).collect(),
        };
        assert_eq!(
            groups,
            vec![
                view("apple", "Group apple", &[], &[]),
                view(
                    "beatles",
                    "Group beatles",
                    &["gharrison", "jlennon", "pmccartney"],
                    &["apple", "wings"]
                ),
                view("wings", "Group wings", &["pmccartney"], &["beatles"]),
            ]
        );

        // An inactive child group disappears from its parent's list.
        let mut wings = group(&key("s-g2", "wings"));
        wings.status = UserStatus::Inactive;
        let changes = ChangeSet {
            groups: vec![GroupWrite {
                event: Event::Deactivated(DeactivatedBy::Sync),
                row: wings,
            }],
            ..ChangeSet::default()
        };
        sync(&db, &acme, &changes, 2).await;
        let beatles = UserFilter {
            text: Some("BEAT".into()),
            ..UserFilter::default()
        };
        let groups = db
            .store
            .groups(&acme, &beatles, None)
            .await
            .expect("groups");
        assert_eq!(ids(&groups, |g| &g.external_id), ["beatles"]);
        assert_eq!(groups[0].child_groups, ["apple"]);

        let active = UserFilter {
            status: Some(UserStatus::Active),
            ..UserFilter::default()
        };
        let page = Some(Page { start: 1, size: 5 });
        let groups = db.store.groups(&acme, &active, page).await.expect("groups");
        assert_eq!(ids(&groups, |g| &g.external_id), ["beatles"]);
    }
}

backend_tests! {
    async fn an_unknown_tenant_has_no_entries(db: Db) {
        sync(&db, &tenant("acme"), &directory(), 1).await;
        let other = tenant("other");
        let all = UserFilter::default();
        assert!(db
            .store
            .users(&other, &all, None)
            .await
            .expect("users")
            .is_empty());
        assert!(db
            .store
            .groups(&other, &all, None)
            .await
            .expect("groups")
            .is_empty());
    }
}

/// What the console's checks below need of a store. They run on every backend and on the
/// in-memory double, which must answer alike.
trait Store: SyncStore + RunLock + DirectoryReader + RunLogReader {}

impl<S: SyncStore + RunLock + DirectoryReader + RunLogReader> Store for S {}

/// Applies `changes` as a successful run of `t` started at `hour`, under the tenant's lock.
async fn run_on(store: &impl Store, t: &Tenant, changes: &ChangeSet, hour: u32) -> RunId {
    let _lock = store.try_lock(t).await.expect("try").expect("free");
    let run = store.begin_run(&new_run(t, hour)).await.expect("begin");
    let result = succeeded(changes, hour);
    store
        .apply(run, t, changes, &result, &NoProgress)
        .await
        .expect("apply");
    run
}

/// A tenant for the console: users `jdoe` and `jdoe2`; `jdoe` directly in `staff` and in the
/// inactive `old`, `jdoe2` in `team`; nesting (parent > child) `dept > staff`, `org > dept`,
/// `staff > org` (a cycle back to a direct group), the inactive `archive > dept`, and
/// `top > old` (above an inactive group). Returns the keys of `jdoe` and `old`, and the run.
async fn console(store: &impl Store, t: &Tenant, hour: u32) -> (Key, Key, RunId) {
    let (jdoe, jdoe2) = (key("s-jdoe", "jdoe"), key("s-jdoe2", "jdoe2"));
    let [staff, team, dept, org, archive, old, top] =
        ["staff", "team", "dept", "org", "archive", "old", "top"]
            .map(|g| key(&format!("s-{g}"), g));
    let retired = |k: &Key| {
        let mut row = group(k);
        row.status = UserStatus::Inactive;
        created_group(row)
    };
    let changes = ChangeSet {
        users: vec![created_user(user(&jdoe)), created_user(user(&jdoe2))],
        groups: vec![
            created_group(group(&staff)),
            created_group(group(&team)),
            created_group(group(&dept)),
            created_group(group(&org)),
            retired(&archive),
            retired(&old),
            created_group(group(&top)),
        ],
        memberships_added: vec![edge(&staff, &jdoe), edge(&old, &jdoe), edge(&team, &jdoe2)],
        nesting_added: vec![
            edge(&dept, &staff),
            edge(&org, &dept),
            edge(&staff, &org),
            edge(&archive, &dept),
            edge(&top, &old),
        ],
        ..ChangeSet::default()
    };
    let run = run_on(store, t, &changes, hour).await;
    (jdoe, old, run)
}

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

async fn users_are_found_by_email(store: &impl Store) {
    let acme = tenant("acme");
    console(store, &acme, 1).await;
    let search = |text: &str| UserFilter {
        text: Some(text.into()),
        ..UserFilter::default()
    };
    for (text, expected) in [
        ("JDOE2@", &["jdoe2"][..]),
        ("@Example.COM", &["jdoe", "jdoe2"]),
        ("@nowhere", &[]),
    ] {
        let users = store
            .users(&acme, &search(text), None)
            .await
            .expect("users");
        assert_eq!(ids(&users, |u| &u.external_id), expected, "{text}");
    }
    // Groups have no e-mail; their names are searched as before.
    let groups = store
        .groups(&acme, &search("example"), None)
        .await
        .expect("groups");
    assert!(groups.is_empty());
}

async fn a_users_page_has_its_direct_groups_and_the_active_ones_above_them(store: &impl Store) {
    let acme = tenant("acme");
    console(store, &acme, 1).await;
    let detail = store
        .user(&acme, "jdoe")
        .await
        .expect("user")
        .expect("jdoe");
    let listed = store
        .users(&acme, &UserFilter::default(), None)
        .await
        .expect("users");
    assert_eq!(
        Some(&detail.user),
        listed.iter().find(|u| u.external_id == "jdoe")
    );
    // `old` is inactive but direct; `staff` is reached again through the cycle but is direct;
    // `archive` is above but inactive; `top` is above the inactive `old`.
    assert_eq!(detail.groups, strings(&["old", "staff"]));
    assert_eq!(detail.inherited, strings(&["dept", "org", "top"]));

    let other = store
        .user(&acme, "jdoe2")
        .await
        .expect("user")
        .expect("jdoe2");
    assert_eq!(
        (other.groups, other.inherited),
        (strings(&["team"]), vec![])
    );
    for (t, id) in [
        ("acme", "JDOE"),
        ("acme", "jdoe%"),
        ("acme", "staff"),
        ("other", "jdoe"),
    ] {
        let found = store.user(&tenant(t), id).await.expect("user");
        assert_eq!(found, None, "{t} {id}");
    }
}

async fn a_groups_page_has_its_members_children_and_every_parent(store: &impl Store) {
    let acme = tenant("acme");
    console(store, &acme, 1).await;
    let all = store
        .groups(&acme, &UserFilter::default(), None)
        .await
        .expect("groups");
    for (id, parents) in [
        ("dept", &["archive", "org"][..]),
        ("staff", &["dept"]),
        ("old", &["top"]),
        ("top", &[]),
    ] {
        let detail = store.group(&acme, id).await.expect("group").expect(id);
        assert_eq!(
            Some(&detail.group),
            all.iter().find(|g| g.external_id == id)
        );
        assert_eq!(detail.parents, strings(parents), "{id}");
    }
    let staff = store
        .group(&acme, "staff")
        .await
        .expect("group")
        .expect("staff");
    assert_eq!(
        (staff.group.members, staff.group.child_groups),
        (strings(&["jdoe"]), strings(&["org"]))
    );
    for (t, id) in [("acme", "STAFF"), ("acme", "jdoe"), ("other", "staff")] {
        let found = store.group(&tenant(t), id).await.expect("group");
        assert_eq!(found, None, "{t} {id}");
    }
}

async fn an_entrys_history_is_the_newest_lines_naming_it_as_a_word(store: &impl Store) {
    let acme = tenant("acme");
    let (jdoe, old, first) = console(store, &acme, 1).await;
    console(store, &tenant("other"), 2).await;
    let later = ChangeSet {
        memberships_removed: vec![edge(&old, &jdoe)],
        admins_granted: vec![jdoe.clone()],
        ..ChangeSet::default()
    };
    let second = run_on(store, &acme, &later, 3).await;
    // More lines than a page of the database's search, which its prefilter passes and the
    // word check drops, newer than every match: the limit still reaches the older lines.
    let noise = ChangeSet {
        warnings: (0..300)
            .map(|i| LogLine::new(EventKey::SkippedMember, format!("jdoe2 to team ({i})")))
            .collect(),
        ..ChangeSet::default()
    };
    run_on(store, &acme, &noise, 4).await;

    let history = |id: &str, limit: u64| {
        let id = id.to_string();
        let acme = &acme;
        async move {
            let lines = store.history(acme, &id, limit).await.expect("history");
            lines
                .iter()
                .map(|h| {
                    // Runs by the order they ran, each started at its hour.
                    let (run, hour) = match h.run {
                        r if r == first => (1, 1),
                        r if r == second => (2, 3),
                        _ => (3, 4),
                    };
                    assert_eq!(h.started_at, at(hour), "{h:?}");
                    (run, h.line.to_string())
                })
                .collect::<Vec<_>>()
        }
    };
    let line = |run: u8, text: &str| (run, text.to_string());
    let all = [
        line(2, "removed-user-from-group: jdoe from old"),
        line(2, "added-capability: tenant-admin to jdoe"),
        line(
            1,
            "created-user: jdoe (First jdoe Last jdoe, jdoe@example.com)",
        ),
        line(1, "added-user-to-group: jdoe to staff"),
        line(1, "added-user-to-group: jdoe to old"),
    ];
    assert_eq!(history("jdoe", 100).await, all);
    // The newest lines, each run's in written order.
    assert_eq!(
        history("jdoe", 3).await,
        [all[0].clone(), all[1].clone(), all[4].clone()]
    );
    assert!(history("jdoe", 0).await.is_empty());
    assert_eq!(
        history("old", 100).await,
        [
            line(2, "removed-user-from-group: jdoe from old"),
            line(1, "created-group: old (Group old)"),
            line(1, "added-user-to-group: jdoe to old"),
            line(1, "added-group-to-group: old to top"),
        ]
    );
    let noisy = history("jdoe2", 1000).await;
    assert_eq!(noisy.len(), 302);
    assert_eq!(noisy[0], line(3, "skipped-member: jdoe2 to team (0)"));
    // A limit just past a page of noise: the newest line of the older run.
    let cut = history("jdoe2", 301).await;
    assert_eq!(cut.len(), 301);
    assert_eq!(cut[300], line(1, "added-user-to-group: jdoe2 to team"));
    for absent in ["jdo", "j_oe", "jdoe%", "JDOE"] {
        assert!(history(absent, 100).await.is_empty(), "{absent}");
    }
    let nobody = store
        .history(&tenant("none"), "jdoe", 10)
        .await
        .expect("history");
    assert!(nobody.is_empty());
}

/// The console's checks on every backend, and on the in-memory double.
macro_rules! console_tests {
    ($($check:ident),+ $(,)?) => {
        $(backend_tests! {
            async fn $check(db: Db) {
                super::$check(&db.store).await;
            }
        })+

        #[tokio::test]
        async fn the_memory_store_answers_the_console_like_the_database() {
            $($check(&MemoryStore::new()).await;)+
        }
    };
}

console_tests!(
    users_are_found_by_email,
    a_users_page_has_its_direct_groups_and_the_active_ones_above_them,
    a_groups_page_has_its_members_children_and_every_parent,
    an_entrys_history_is_the_newest_lines_naming_it_as_a_word,
);
