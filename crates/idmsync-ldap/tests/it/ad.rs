//! Active Directory mode against a real Samba domain controller (`idmsync-test-ad`): identity,
//! disabled accounts, paging, member ranges, nesting, and USN and time differentials after real
//! changes, DirSync reads and live sync by DirSync polls. One domain controller for all
//! checks, because provisioning takes seconds.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use idmsync_domain::plan::{Departures, SourceData};
use idmsync_domain::{SourceUser, Watermark};
use idmsync_ldap::{Deltas, LdapConfig, Secret};
use idmsync_ports::{ChangeFeed, FeedEvent, IdentitySource, NoProgress, SourceError};
use idmsync_test_ad::{fixtures, SambaDc};

use crate::live::{left, Following};
use crate::{departed, ids, resolved_members, source, user};

/// A range size far below the 300 members of `all-staff` and the 150 of `london`.
const RANGE_SIZE: u32 = 64;

fn config(dc: &SambaDc) -> LdapConfig {
    LdapConfig {
        url: dc.url(),
        bind_dn: dc.sync_dn(),
        bind_password: Some(Secret::new(dc.sync_password())),
        active_directory: true,
        user_search_base: format!("{},{}", fixtures::CORP, dc.base_dn()),
        group_search_base: format!("OU=Groups,{},{}", fixtures::CORP, dc.base_dn()),
        page_size: 100,
        range_size: Some(RANGE_SIZE),
        differential_overlap_secs: 0,
        ..LdapConfig::default()
    }
}

/// The user numbers of `group` and of every group nested in it, per the fixture.
fn transitive_users(group: &str) -> BTreeSet<u32> {
    let (users, groups) = fixtures::members(group);
    let mut all: BTreeSet<u32> = users.into_iter().collect();
    for child in groups {
        all.extend(transitive_users(child));
    }
    all
}

fn by_login(users: &[SourceUser]) -> BTreeMap<&str, &SourceUser> {
    users.iter().map(|u| (u.external_id.as_str(), u)).collect()
}

/// Whether `text` looks like `67c91630-8b64-4afe-bd01-d22958c7bf7e`.
fn is_guid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
        && text
            .chars()
            .all(|c| c == '-' || c.is_ascii_digit() || ('a'..='f').contains(&c))
}

#[tokio::test]
async fn active_directory_mode_reads_a_samba_domain() {
    let dc = SambaDc::start();
    dc.add(&fixtures::directory(dc.base_dn()));
    let base = dc.base_dn().to_owned();
    let ad = source(config(&dc));

    // Full snapshot: every user (no computer, no service account), GUIDs, disabled flags.
    let watermark = ad.watermark().await.expect("watermark");
    let data = ad.snapshot(&NoProgress).await.expect("snapshot");
    let expected: Vec<String> = (1..=fixtures::USER_COUNT).map(fixtures::login).collect();
    assert_eq!(
        ids(data.users.iter().map(|u| u.external_id.as_str())),
        expected.iter().map(String::as_str).collect::<Vec<_>>()
    );
    for user in &data.users {
        assert!(is_guid(user.source_id.as_str()), "{user:?}");
        let n: u32 = user.external_id.as_str()[4..].parse().expect("numbered");
        assert_eq!(user.enabled, !fixtures::is_disabled(n), "{user:?}");
        assert_eq!(
            user.locator.as_deref(),
            Some(fixtures::user_dn(&base, n).to_lowercase().as_str())
        );
        assert_eq!(user.first_name, format!("Given {n:03}"));
        assert_eq!(user.email, Some(format!("user{n:03}@example.test")));
    }

    // Groups, nesting and members beyond the range size, exactly as the fixture says.
    let members = resolved_members(&data);
    assert_eq!(
        members.keys().map(String::as_str).collect::<Vec<_>>(),
        ids(fixtures::GROUPS.into_iter())
    );
    for group in fixtures::GROUPS {
        let (users, groups) = fixtures::members(group);
        let mut want: Vec<String> = users
            .into_iter()
            .map(fixtures::login)
            .chain(groups.into_iter().map(str::to_owned))
            .collect();
        want.sort();
        assert_eq!(members[group], want, "{group}");
    }

    // transitive_members: each group also lists the users of its nested groups (engineering
    // those of platform and sre), child groups stay members; off (above) only direct ones.
    let transitive = source(LdapConfig {
        transitive_members: true,
        ..config(&dc)
    });
    let nested = resolved_members(&transitive.snapshot(&NoProgress).await.expect("snapshot"));
    for group in fixtures::GROUPS {
        let mut want: Vec<String> = transitive_users(group)
            .into_iter()
            .map(fixtures::login)
            .chain(fixtures::members(group).1.into_iter().map(str::to_owned))
            .collect();
        want.sort();
        assert_eq!(nested[group], want, "{group}");
    }
    let engineering = &nested["engineering"];
    assert!(
        engineering.contains(&fixtures::login(22)),
        "platform's user"
    );
    assert!(engineering.contains(&fixtures::login(27)), "sre's user");
    assert!(!members["engineering"].contains(&fixtures::login(27)));

    // Nothing changed yet: a differential finds nothing.
    let users_since = ad
        .changed_since(&watermark, &NoProgress)
        .await
        .expect("differential users")
        .users;
    assert_eq!(users_since, [], "nothing changed");

    // Disable one user, rename another (same GUID), move a third to the other office.
    let guid_of = |login: &str| by_login(&data.users)[login].source_id.clone();
    let people = format!("OU=Staff,{},{base}", fixtures::CORP);
    dc.modify(&format!(
        "dn: {u5}\nchangetype: modify\nreplace: userAccountControl\nuserAccountControl: {dis}\n\n\
         dn: {u7}\nchangetype: modify\nreplace: sAMAccountName\nsAMAccountName: renamed007\n\n\
         dn: {u7}\nchangetype: modrdn\nnewrdn: CN=Renamed 007\ndeleteoldrdn: 1\n\n\
         dn: {u9}\nchangetype: modrdn\nnewrdn: CN=User 009\ndeleteoldrdn: 1\n\
         newsuperior: OU=Paris,{people}\n",
        u5 = fixtures::user_dn(&base, 5),
        u7 = fixtures::user_dn(&base, 7),
        u9 = fixtures::user_dn(&base, 9),
        dis = fixtures::DISABLED,
    ));
    let changed = ad
        .changed_since(&watermark, &NoProgress)
        .await
        .expect("differential users")
        .users;
    let changed = by_login(&changed);
    assert_eq!(
        changed.keys().copied().collect::<Vec<_>>(),
        ["renamed007", "user005", "user009"]
    );
    assert!(!changed["user005"].enabled);
    assert_eq!(changed["renamed007"].source_id, guid_of("user007"));
    assert_eq!(
        changed["renamed007"].locator.as_deref(),
        Some(
            format!("cn=renamed 007,ou=london,{people}")
                .to_lowercase()
                .as_str()
        )
    );
    assert_eq!(changed["user009"].source_id, guid_of("user009"));
    assert_eq!(
        changed["user009"].locator.as_deref(),
        Some(
            format!("cn=user 009,ou=paris,{people}")
                .to_lowercase()
                .as_str()
        )
    );

    // A member change is a change of the group; its members still come in ranges.
    dc.modify(&format!(
        "dn: {}\nchangetype: modify\ndelete: member\nmember: {}\n",
        fixtures::group_dn(&base, fixtures::ALL_STAFF),
        fixtures::user_dn(&base, 2),
    ));
    let groups = ad
        .changed_since(&watermark, &NoProgress)
        .await
        .expect("differential groups")
        .groups;
    let staff = groups
        .iter()
        .find(|g| g.external_id.as_str() == fixtures::ALL_STAFF)
        .expect("all-staff changed");
    assert_eq!(staff.members.len() as u32, fixtures::USER_COUNT - 1);
    // Differential runs list a changed group's transitive users too.
    let groups = transitive
        .changed_since(&watermark, &NoProgress)
        .await
        .expect("transitive differential groups")
        .groups;
    let staff = groups
        .iter()
        .find(|g| g.external_id.as_str() == fixtures::ALL_STAFF)
        .expect("all-staff changed");
    assert_eq!(staff.members.len() as u32, fixtures::USER_COUNT - 1);

    // A watermark of another domain controller reads everything rather than guessing.
    let foreign = Watermark("00000000-0000-0000-0000-000000000000:1".into());
    let all = ad
        .changed_since(&foreign, &NoProgress)
        .await
        .expect("everything")
        .users;
    assert_eq!(all.len() as u32, fixtures::USER_COUNT);
    let error = ad
        .changed_since(&Watermark("20240101000000Z".into()), &NoProgress)
        .await
        .expect_err("a time watermark in USN mode");
    assert!(matches!(error, SourceError::Invalid { .. }), "{error:?}");

    // whenChanged differentials, in AD's time format.
    let by_time = source(LdapConfig {
        modify_timestamp_attribute: Some("whenChanged".into()),
        ..config(&dc)
    });
    let before = by_time.watermark().await.expect("time watermark");
    assert!(
        before.0.ends_with('Z') && !before.0.contains(':'),
        "{before}"
    );
    dc.modify(&format!(
        "dn: {}\nchangetype: modify\nreplace: sn\nsn: Changed\n",
        fixtures::user_dn(&base, 11)
    ));
    let changed = by_time
        .changed_since(&before, &NoProgress)
        .await
        .expect("differential by time")
        .users;
    // whenChanged has whole seconds, and the port allows re-reading unchanged entries (they
    // plan to nothing); what a differential must never do is miss a change.
    let changed = by_login(&changed);
    assert_eq!(changed["user011"].last_name, "Changed");

    dirsync_sees_leavers(&dc, &base).await;
    dirsync_follows_by_polling(&dc, &base).await;

    // Without AD mode the same directory has no user with the OpenLDAP defaults.
    let plain = LdapConfig {
        active_directory: false,
        range_size: None,
        ..config(&dc)
    };
    let data = source(plain).snapshot(&NoProgress).await.expect("snapshot");
    assert_eq!(data.users, []);
}

/// The configuration of the domain administrator, who has the replication right DirSync needs.
fn admin(dc: &SambaDc) -> LdapConfig {
    LdapConfig {
        bind_dn: dc.admin_dn(),
        bind_password: Some(Secret::new(dc.admin_password())),
        ..config(dc)
    }
}

/// DirSync: the sync account lacks the replication right, so `auto` kept USNs above and
/// `dirsync` names the missing right; with the right (the domain administrator has it) a
/// differential run sees deleted users and groups, a user moved out of the base, a disabled
/// one and a member taken out of a group.
async fn dirsync_sees_leavers(dc: &SambaDc, base: &str) {
    let required = source(LdapConfig {
        deltas: Deltas::Dirsync,
        ..config(dc)
    });
    match required.watermark().await {
        Err(SourceError::Invalid { location, message }) => {
            assert_eq!(location, "source.ldap.deltas");
            assert!(
                message.contains("Replicating Directory Changes"),
                "{message}"
            );
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
    let admin = source(admin(dc));
    let before = admin.snapshot(&NoProgress).await.expect("snapshot");
    let watermark = admin.watermark().await.expect("watermark");
    assert!(watermark.0.starts_with("dirsync;"), "{watermark}");
    let group_dn = |name: &str| fixtures::group_dn(base, name);
    dc.modify(&format!(
        "dn: {}\nchangetype: delete\n\n\
         dn: {}\nchangetype: modrdn\nnewrdn: CN=User 032\ndeleteoldrdn: 1\nnewsuperior: CN=Users,{base}\n\n\
         dn: {}\nchangetype: modify\nreplace: userAccountControl\nuserAccountControl: {}\n\n\
         dn: {}\nchangetype: modify\nreplace: sn\nsn: Renamed\n\n\
         dn: {}\nchangetype: modify\ndelete: member\nmember: {}\n\n\
         dn: {}\nchangetype: delete\n",
        fixtures::user_dn(base, 31),
        fixtures::user_dn(base, 32),
        fixtures::user_dn(base, 33),
        fixtures::DISABLED,
        fixtures::user_dn(base, 34),
        group_dn("platform"),
        fixtures::user_dn(base, 21),
        group_dn("empty"),
    ));
    let read = admin
        .changed_since(&watermark, &NoProgress)
        .await
        .expect("a DirSync read");
    let users = by_login(&read.users);
    assert!(
        !users["user033"].enabled,
        "disabled: {:?}",
        users["user033"]
    );
    assert_eq!(users["user034"].last_name, "Renamed");
    assert!(!users.contains_key("user031") && !users.contains_key("user032"));
    let platform = read
        .groups
        .iter()
        .find(|g| g.external_id.as_str() == "platform")
        .expect("platform changed");
    assert_eq!(platform.members.len(), 5, "user021 is out: {platform:?}");
    assert!(
        matches!(read.departed.users, Departures::Listed(_)),
        "DirSync lists what left"
    );
    let gone_users = departed(
        &read.departed.users,
        before
            .users
            .iter()
            .map(|u| (&u.source_id, u.external_id.as_str())),
    );
    assert_eq!(gone_users, ["user031", "user032"]);
    let gone_groups = departed(
        &read.departed.groups,
        before
            .groups
            .iter()
            .map(|g| (&g.source_id, g.external_id.as_str())),
    );
    assert_eq!(gone_groups, ["empty"]);
}

/// Live sync by DirSync polls: the sync account (no replication right) cannot follow, and the
/// error names the right; the administrator's feed sends the whole content first, then a
/// deleted user and a member taken out of a group within a few polls, with a position that
/// moved on; a feed resumed from the first position sends them again before it follows.
async fn dirsync_follows_by_polling(dc: &SambaDc, base: &str) {
    let refused = source(config(dc)).follow(None, &|_| {}).await;
    match refused {
        Err(SourceError::Invalid { message, .. }) => assert!(
            message.contains("Replicating Directory Changes"),
            "{message}"
        ),
        other => panic!("expected Invalid, got {other:?}"),
    }

    let admin = Arc::new(source(admin(dc)).with_poll_interval(Duration::from_secs(1)));
    let mut feed = Following::of(&admin, None, "dirsync;");
    let everything = feed.refreshed().await;
    assert!(
        matches!(everything.departed.users, Departures::AllBut(_)),
        "the whole content names what is still there"
    );
    let leaver = user(&everything.users, "user036").source_id.clone();
    let start = feed.position.clone().expect("a position with the content");

    let platform = fixtures::group_dn(base, "platform");
    dc.modify(&format!(
        "dn: {}\nchangetype: delete\n\n\
         dn: {platform}\nchangetype: modify\ndelete: member\nmember: {}\n",
        fixtures::user_dn(base, 36),
        fixtures::user_dn(base, 22),
    ));
    // platform had user022-025 and sre once the checks above took user021 out.
    let arrived = |data: &SourceData| {
        let platform_without_022 = data
            .groups
            .iter()
            .any(|g| g.external_id.as_str() == "platform" && g.members.len() == 4);
        (left(&data.departed.users, &leaver), platform_without_022)
    };
    let mut seen = (false, false);
    while seen != (true, true) {
        if let FeedEvent::Changes { data, .. } = feed.next().await {
            let (gone, removed) = arrived(&data);
            seen = (seen.0 || gone, seen.1 || removed);
        }
    }
    let moved = feed.position.clone().expect("a position");
    assert_ne!(moved, start, "the position moved on");
    feed.task.abort();

    let mut resumed = Following::of(&admin, Some(start), "dirsync;");
    let caught_up = resumed.refreshed().await;
    assert_eq!(arrived(&caught_up), (true, true), "{caught_up:?}");
    resumed.task.abort();
}
