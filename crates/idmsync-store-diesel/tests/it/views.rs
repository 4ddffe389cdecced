//! The directory views: sorting, filters, paging, and group member lists.

use idmsync_domain::change::{Event, GroupWrite};
use idmsync_domain::{ChangeSet, DeactivatedBy, UserStatus};
use idmsync_ports::{DirectoryReader, GroupView, Page, UserFilter};

use crate::support::{at, backend_tests, directory, group, key, sync, tenant};

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
