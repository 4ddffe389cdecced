//! `IdentitySource::check` and `IdentitySource::user` against a real slapd: what `idmsync
//! config check` reports about a directory and the mistakes it must name (a wrong password, a
//! base that does not exist), and the one user and their groups a user run reads.

use idmsync_ldap::{LdapConfig, Secret};
use idmsync_ports::{IdentitySource, NoProgress, SourceError};
use idmsync_test_ldap::{fixtures, SessionLog, Slapd};

use crate::{config, fixture, source};

#[tokio::test]
async fn a_check_names_the_server_and_counts_what_a_snapshot_reads() {
    let slapd = fixture();
    let source = source(config(&slapd));
    let check = source.check().await.expect("check");
    let data = source.snapshot(&NoProgress).await.expect("snapshot");
    assert_eq!(check.server.as_deref(), Some("OpenLDAP"));
    assert!(
        check.features.iter().any(|f| f == "paged results"),
        "{:?}",
        check.features
    );
    assert_eq!(check.users, data.users.len() as u64);
    assert_eq!(check.groups, data.groups.len() as u64);
    assert_eq!(check.unreadable, data.unreadable.len() as u64);
    assert!(check.users > 0 && check.groups > 0, "{check:?}");
    assert_eq!(
        check.differential.as_deref(),
        Some("timestamps, so deletions wait for a full run")
    );
}

#[tokio::test]
async fn a_check_says_when_differential_runs_see_deletions() {
    let slapd = Slapd::builder()
        .ldif(fixtures::DIRECTORY)
        .syncprov(SessionLog::None)
        .start();
    let check = source(config(&slapd)).check().await.expect("check");
    assert!(
        check
            .features
            .iter()
            .any(|f| f == "content synchronisation (syncrepl)"),
        "{check:?}"
    );
    assert_eq!(
        check.differential.as_deref(),
        Some("RFC 4533 content synchronisation, which sees deletions")
    );
}

#[tokio::test]
async fn a_check_counts_entries_it_cannot_read() {
    let slapd = fixture();
    // `description` is absent from every fixture user: none can be identified by it.
    let check = source(LdapConfig {
        user_id_attribute: Some("description".into()),
        ..config(&slapd)
    })
    .check()
    .await
    .expect("check");
    assert_eq!(check.users, 0);
    assert!(check.unreadable > 0, "{check:?}");
}

#[tokio::test]
async fn a_check_names_a_base_that_does_not_exist() {
    let slapd = fixture();
    let base = format!("ou=nowhere,{}", slapd.suffix());
    let result = source(LdapConfig {
        user_search_base: base.clone(),
        ..config(&slapd)
    })
    .check()
    .await;
    match result {
        Err(SourceError::Invalid { location, message }) => {
            assert_eq!(location, format!("source.ldap.user_search_base '{base}'"));
            assert!(message.contains("no such object (32)"), "{message}");
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[tokio::test]
async fn a_check_with_a_wrong_password_says_invalid_credentials() {
    let slapd = fixture();
    let result = source(LdapConfig {
        bind_password: Some(Secret::new("not-the-password")),
        ..config(&slapd)
    })
    .check()
    .await;
    match result {
        Err(SourceError::Unavailable(message)) => {
            let expected = format!(
                "bind as {} failed: invalid credentials (49)",
                slapd.sync_dn()
            );
            assert!(message.contains(&expected), "{message}");
            assert!(!message.contains("not-the-password"), "{message}");
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

#[tokio::test]
async fn a_user_read_finds_the_user_and_exactly_the_groups_that_have_them() {
    let slapd = fixture();
    let source = source(config(&slapd));
    let all = source.snapshot(&NoProgress).await.expect("snapshot");
    let jlennon = all
        .users
        .iter()
        .find(|u| u.external_id.as_str() == "jlennon")
        .expect("jlennon in the fixture");
    let has_jlennon = |g: &&idmsync_domain::SourceGroup| {
        g.members.iter().any(|m| match m {
            idmsync_domain::MemberRef::Locator(l) => Some(l.as_str()) == jlennon.locator.as_deref(),
            idmsync_domain::MemberRef::ExternalId(id) => id == "jlennon",
        })
    };
    let mut expected: Vec<&idmsync_domain::SourceGroup> =
        all.groups.iter().filter(has_jlennon).collect();
    expected.sort_by(|a, b| a.external_id.cmp(&b.external_id));
    assert!(!expected.is_empty(), "the fixture puts jlennon in a group");

    let read = source.user("jlennon", &[]).await.expect("user read");
    assert_eq!(read.users, vec![jlennon.clone()]);
    let mut groups: Vec<&idmsync_domain::SourceGroup> = read.groups.iter().collect();
    groups.sort_by(|a, b| a.external_id.cmp(&b.external_id));
    assert_eq!(
        groups, expected,
        "complete member lists of exactly those groups"
    );

    // A login the directory does not have: no user, but the groups asked for by name.
    let other = all
        .groups
        .iter()
        .find(|g| !has_jlennon(g))
        .expect("a group without jlennon");
    let read = source
        .user("nobody*)(uid=*", &[other.external_id.as_str().to_owned()])
        .await
        .expect("user read");
    assert!(read.users.is_empty(), "{:?}", read.users);
    assert_eq!(read.groups, vec![other.clone()]);
}
