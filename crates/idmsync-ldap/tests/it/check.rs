//! `IdentitySource::check` against a real slapd: what `idmsync config check` reports about a
//! directory, and the mistakes it must name (a wrong password, a base that does not exist).

use idmsync_ldap::{LdapConfig, Secret};
use idmsync_ports::{IdentitySource, NoProgress, SourceError};

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
