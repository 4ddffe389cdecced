//! The LDAP source against a real 389 Directory Server (`idmsync-test-389ds`): the test
//! directory read as on OpenLDAP, an account lock, a `uniqueMember` with an optional UID, and
//! what `config check` learns of the server, and RFC 4533 content synchronisation. One
//! instance for all of it: creating one takes about ten seconds.

use idmsync_domain::{MemberRef, SourceId};
use idmsync_ldap::{LdapConfig, LdapSource, Secret};
use idmsync_ports::{IdentitySource, NoProgress, SourceError};
use idmsync_test_389ds::Ds389;
use idmsync_test_ldap::{fixtures, TestDirectory};

use crate::live::{left, Following};
use crate::{departed, ids, make_leavers};

fn config(ds: &Ds389) -> LdapConfig {
    LdapConfig {
        url: ds.url(),
        bind_dn: ds.sync_dn(),
        bind_password: Some(Secret::new(ds.sync_password())),
        user_search_base: format!("ou=people,{}", ds.suffix()),
        group_search_base: format!("ou=groups,{}", ds.suffix()),
        ..LdapConfig::default()
    }
}

#[tokio::test]
async fn a_389_directory_reads_like_openldap_with_its_locks_and_optional_uids() {
    let ds = Ds389::start();
    ds.add(fixtures::DIRECTORY);
    let source = LdapSource::new(config(&ds)).expect("valid configuration");

    let check = source.check().await.expect("check");
    let server = check.server.clone().unwrap_or_default();
    assert!(server.contains("389-Directory/"), "{server}");
    assert!(
        check.features.iter().any(|f| f == "paged results"),
        "{check:?}"
    );

    let data = source.snapshot(&NoProgress).await.expect("snapshot");
    assert_eq!(
        ids(data.users.iter().map(|u| u.external_id.as_str())),
        fixtures::PEOPLE,
        "every user, with an entryUUID the account may read"
    );
    assert!(data.unreadable.is_empty(), "{:?}", data.unreadable);
    assert_eq!(data.groups.len(), 7);
    assert!(data.users.iter().all(|u| u.enabled));

    // nsAccountLock locks; a uniqueMember with an optional UID counts by its DN.
    let people = format!("ou=people,{}", ds.suffix());
    ds.modify(&format!(
        "dn: uid=jlennon,ou=liverpool,{people}\nchangetype: modify\nadd: nsAccountLock\n\
         nsAccountLock: true\n"
    ));
    ds.add(&format!(
        "dn: cn=unique,ou=groups,{}\nobjectClass: groupOfUniqueNames\ncn: unique\n\
         uniqueMember: uid=dbowie,{people}#'0101'B\n",
        ds.suffix()
    ));
    let unique = LdapSource::new(LdapConfig {
        group_filter: Some("(objectClass=groupOfUniqueNames)".into()),
        group_member_attribute: Some("uniqueMember".into()),
        ..config(&ds)
    })
    .expect("valid configuration");
    let data = unique.snapshot(&NoProgress).await.expect("snapshot");
    let jlennon = data
        .users
        .iter()
        .find(|u| u.external_id.as_str() == "jlennon")
        .expect("jlennon");
    assert!(!jlennon.enabled, "nsAccountLock: true disables");
    assert_eq!(
        data.groups
            .iter()
            .find(|g| g.external_id.as_str() == "unique")
            .map(|g| &g.members),
        Some(&vec![MemberRef::Locator(
            format!("uid=dbowie,{people}").into()
        )])
    );

    // Unlocked (389-ds writes `false`): enabled again.
    ds.modify(&format!(
        "dn: uid=jlennon,ou=liverpool,{people}\nchangetype: modify\nreplace: nsAccountLock\n\
         nsAccountLock: false\n"
    ));
    let data = unique.snapshot(&NoProgress).await.expect("snapshot");
    assert!(data
        .users
        .iter()
        .any(|u| u.external_id.as_str() == "jlennon" && u.enabled));

    // The account's paged limits, as 389-ds ships them for an account without its own: each
    // failure says which setting to change.
    let account = ds.sync_dn();
    for (attribute, value, expected) in [
        ("nsPagedSizeLimit", "5", "lower source.ldap.page_size"),
        (
            "nsPagedLookThroughLimit",
            "5",
            "nsPagedLookThroughLimit: -1",
        ),
    ] {
        ds.modify(&format!(
            "dn: {account}\nchangetype: modify\nreplace: {attribute}\n{attribute}: {value}\n"
        ));
        let failed = LdapSource::new(LdapConfig {
            page_size: 10,
            ..config(&ds)
        })
        .expect("valid configuration")
        .snapshot(&NoProgress)
        .await;
        match failed {
            Err(SourceError::Failed(message)) => {
                assert!(message.contains(expected), "{attribute}: {message}");
            }
            other => panic!("{attribute}: expected Failed, got {other:?}"),
        }
        ds.modify(&format!(
            "dn: {account}\nchangetype: modify\nreplace: {attribute}\n{attribute}: -1\n"
        ));
    }

    content_synchronisation_names_leavers(&ds).await;
}

/// With the Content Synchronization plugin, 389-ds answers RFC 4533 with its UUIDs taken from
/// nsUniqueId: with that as the unique id `auto` uses it, and a differential read names what
/// left; with entryUUID `auto` keeps timestamps, since deletions could not be matched.
async fn content_synchronisation_names_leavers(ds: &Ds389) {
    ds.enable_content_sync();
    let by_entry_uuid = LdapSource::new(config(ds)).expect("valid configuration");
    let timestamp = by_entry_uuid.watermark().await.expect("watermark");
    assert_eq!(timestamp.0.len(), 15, "{timestamp}");

    let source = LdapSource::new(LdapConfig {
        unique_id_attribute: Some("nsUniqueId".into()),
        ..config(ds)
    })
    .expect("valid configuration");
    let before = source.snapshot(&NoProgress).await.expect("snapshot");
    let watermark = source.watermark().await.expect("watermark");
    assert!(watermark.0.starts_with("rfc4533;"), "{watermark}");
    make_leavers(ds);
    let read = source
        .changed_since(&watermark, &NoProgress)
        .await
        .expect("a refresh");
    assert_eq!(
        ids(read.users.iter().map(|u| u.external_id.as_str())),
        ["mjagger"]
    );
    let stones = read
        .groups
        .iter()
        .find(|g| g.external_id.as_str() == "stones")
        .expect("stones changed");
    assert_eq!(stones.members.len(), 3, "cwatts is out: {stones:?}");
    let returned = |sid: &SourceId| read.users.iter().any(|u| &u.source_id == sid);
    let gone_users = departed(
        &read.departed.users,
        before
            .users
            .iter()
            .filter(|u| !returned(&u.source_id))
            .map(|u| (&u.source_id, u.external_id.as_str())),
    );
    assert_eq!(gone_users, ["dbowie", "eclapton"], "{:?}", read.departed);
    let gone_groups = departed(
        &read.departed.groups,
        before
            .groups
            .iter()
            .filter(|g| g.external_id.as_str() != "stones")
            .map(|g| (&g.source_id, g.external_id.as_str())),
    );
    assert_eq!(gone_groups, ["dangling"]);

    // Live sync follows 389-ds too: a deletion arrives with a new position.
    let source = std::sync::Arc::new(source);
    let jsmith = before
        .users
        .iter()
        .find(|u| u.external_id.as_str() == "jsmith")
        .expect("jsmith")
        .source_id
        .clone();
    let since = source.watermark().await.expect("watermark");
    let mut feed = Following::of(&source, Some(since.clone()), "rfc4533;");
    feed.refreshed().await;
    ds.delete(&format!(
        "cn=Smith\\, John,ou=london,ou=people,{}",
        ds.suffix()
    ));
    feed.changes(|d| left(&d.departed.users, &jsmith)).await;
    assert_ne!(feed.position, Some(since));
    feed.task.abort();
}
