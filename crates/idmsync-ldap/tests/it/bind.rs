//! The LDAP binder (`DirectoryBind`) against a real slapd: search-then-bind, `dn_pattern`,
//! escaping of hostile logins, ambiguous searches, blank passwords, outages and TLS.

use idmsync_domain::{Password, UserStatus};
use idmsync_ldap::{LdapBindConfig, LdapBinder, LdapConfig, Secret};

use crate::config;
use idmsync_ports::{AuthError, DirectoryBind, LoginRecord};
use idmsync_test_ldap::{fixtures, Slapd};

fn binder(connection: LdapConfig, dn_pattern: &str) -> LdapBinder {
    LdapBinder::new(LdapBindConfig {
        connection,
        dn_pattern: dn_pattern.into(),
        active_directory_domain: String::new(),
    })
    .expect("valid configuration")
}

fn user(id: &str) -> LoginRecord {
    LoginRecord {
        external_id: id.into(),
        locator: None,
        status: UserStatus::Active,
        admin: false,
        password_hash: None,
    }
}

async fn check(binder: &LdapBinder, id: &str, password: &str) -> Result<bool, AuthError> {
    binder.check(&user(id), &Password::new(password)).await
}

/// Logins that would name someone if they reached a filter or DN unescaped: `jlenn*` and
/// `*)(uid=jlennon` would match jlennon's entry alone in a filter, `jlennon,ou=liverpool`
/// would be jlennon's DN under the pattern `uid={0},ou=people,...`.
const HOSTILE: [&str; 9] = [
    "*",
    "*)(uid=*",
    "admin)(|(uid=*",
    "jlenn*",
    "*)(uid=jlennon",
    "jlennon)(objectClass=*",
    "jlennon,ou=liverpool",
    "jlennon,ou=x",
    "a+cn=b",
];

#[tokio::test]
async fn search_then_bind_checks_the_password_of_the_one_entry_found() {
    let slapd = Slapd::builder().ldif(fixtures::DIRECTORY).start();
    let b = binder(config(&slapd), "");
    // jlennon's password is an {SSHA} hash, the others clear; DNs with a multi-valued RDN, an
    // escaped comma and non-ASCII characters.
    for id in [
        "jlennon",
        "pmccartney",
        "rstarr",
        "jsmith",
        "bjork",
        "dbowie",
    ] {
        assert_eq!(
            check(&b, id, &format!("{id}-secret")).await,
            Ok(true),
            "{id}"
        );
    }
    assert_eq!(check(&b, "jlennon", "wrong").await, Ok(false));
    assert_eq!(
        check(&b, "jlennon", "pmccartney-secret").await,
        Ok(false),
        "another user's password"
    );
    assert_eq!(check(&b, "nosuchuser", "x-secret").await, Ok(false));
    assert_eq!(
        check(&b, "outsider", "outsider-secret").await,
        Ok(false),
        "an entry outside the user search base"
    );
    assert_eq!(
        check(&b, "JLENNON", "jlennon-secret").await,
        Ok(true),
        "uid matches without regard to case, as the directory compares it"
    );
}

#[tokio::test]
async fn hostile_logins_match_nothing_and_bind_as_nobody() {
    let slapd = Slapd::builder().ldif(fixtures::DIRECTORY).start();
    let search = binder(config(&slapd), "");
    let pattern = binder(
        config(&slapd),
        &format!("uid={{0}},ou=people,{}", slapd.suffix()),
    );
    for login in HOSTILE {
        for password in ["jlennon-secret", "dbowie-secret"] {
            assert_eq!(
                check(&search, login, password).await,
                Ok(false),
                "search: {login}"
            );
            assert_eq!(
                check(&pattern, login, password).await,
                Ok(false),
                "pattern: {login}"
            );
        }
    }
    assert_eq!(check(&pattern, "dbowie", "dbowie-secret").await, Ok(true));
}

#[tokio::test]
async fn dn_pattern_binds_without_searching() {
    let slapd = Slapd::builder().ldif(fixtures::DIRECTORY).start();
    let mut no_service = config(&slapd);
    no_service.bind_password = Some(Secret::new("not-the-sync-password"));
    let b = binder(
        no_service,
        &format!("uid={{0}},ou=liverpool,ou=people,{}", slapd.suffix()),
    );
    assert_eq!(check(&b, "jlennon", "jlennon-secret").await, Ok(true));
    assert_eq!(check(&b, "jlennon", "wrong").await, Ok(false));
    assert_eq!(
        check(&b, "dbowie", "dbowie-secret").await,
        Ok(false),
        "not under the pattern's OU"
    );
}

#[tokio::test]
async fn several_matching_entries_fail_closed() {
    let slapd = Slapd::builder().ldif(fixtures::DIRECTORY).start();
    slapd.add(&format!(
        "dn: uid=jlennon,ou=london,ou=people,{}\nobjectClass: inetOrgPerson\nuid: jlennon\n\
         cn: John Two\nsn: Two\nuserPassword: jlennon-secret\n",
        slapd.suffix()
    ));
    let b = binder(config(&slapd), "");
    assert_eq!(check(&b, "jlennon", "jlennon-secret").await, Ok(false));
}

#[tokio::test]
async fn blank_passwords_fail_before_any_network_call() {
    // Nothing listens on port 1: any connection attempt would be an error, not a refusal.
    let nowhere = LdapConfig {
        url: "ldap://127.0.0.1:1".into(),
        bind_dn: "cn=sync,dc=example,dc=com".into(),
        bind_password: Some(Secret::new("sync-secret")),
        user_search_base: "ou=people,dc=example,dc=com".into(),
        group_search_base: "ou=groups,dc=example,dc=com".into(),
        ..LdapConfig::default()
    };
    for pattern in ["", "uid={0},ou=people,dc=example,dc=com"] {
        let b = binder(nowhere.clone(), pattern);
        for blank in ["", " ", "\t\n"] {
            assert_eq!(check(&b, "jlennon", blank).await, Ok(false), "{blank:?}");
        }
        assert_eq!(check(&b, "", "jlennon-secret").await, Ok(false));
        assert!(matches!(
            check(&b, "jlennon", "jlennon-secret").await,
            Err(AuthError::Unavailable(_))
        ));
    }
}

#[tokio::test]
async fn an_unreachable_directory_is_unavailable_and_never_names_a_password() {
    let mut slapd = Slapd::builder().ldif(fixtures::DIRECTORY).start();
    let search = binder(config(&slapd), "");
    let pattern = binder(
        config(&slapd),
        &format!("uid={{0}},ou=liverpool,ou=people,{}", slapd.suffix()),
    );
    slapd.stop();
    for b in [&search, &pattern] {
        match check(b, "jlennon", "Canary-Pa55word").await {
            Err(AuthError::Unavailable(message)) => {
                assert!(message.contains(&slapd.url()), "{message}");
                assert!(!message.contains("Canary-Pa55word"), "{message}");
                assert!(!message.contains(slapd.sync_password()), "{message}");
            }
            other => panic!("expected Unavailable, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_refused_service_account_is_unavailable_not_a_wrong_password() {
    let slapd = Slapd::builder().ldif(fixtures::DIRECTORY).start();
    let mut wrong = config(&slapd);
    wrong.bind_password = Some(Secret::new("not-the-sync-password"));
    let b = binder(wrong, "");
    assert!(matches!(
        check(&b, "jlennon", "jlennon-secret").await,
        Err(AuthError::Unavailable(m)) if !m.contains("not-the-sync-password")
    ));
}

#[tokio::test]
async fn starttls_and_ldaps_bind_and_a_failed_starttls_never_falls_back_to_clear_text() {
    let tls = Slapd::builder().ldif(fixtures::DIRECTORY).tls(true).start();
    let starttls = LdapConfig {
        starttls: true,
        ca_file: tls.ca_file(),
        ..config(&tls)
    };
    let b = binder(starttls, "");
    assert_eq!(check(&b, "jlennon", "jlennon-secret").await, Ok(true));
    assert_eq!(check(&b, "jlennon", "wrong").await, Ok(false));
    let ldaps = LdapConfig {
        url: tls.ldaps_url().expect("ldaps"),
        ca_file: tls.ca_file(),
        ..config(&tls)
    };
    assert_eq!(
        check(
            &binder(ldaps, "uid={0},ou=liverpool,ou=people,dc=example,dc=com"),
            "jlennon",
            "jlennon-secret"
        )
        .await,
        Ok(true)
    );

    // A server without TLS: StartTLS fails, and the bind is not retried in clear text.
    let clear = Slapd::builder().ldif(fixtures::DIRECTORY).start();
    let pattern = format!("uid={{0}},ou=liverpool,ou=people,{}", clear.suffix());
    let upgrade = LdapConfig {
        starttls: true,
        insecure_skip_verify: true,
        ..config(&clear)
    };
    for b in [binder(upgrade.clone(), ""), binder(upgrade, &pattern)] {
        assert!(matches!(
            check(&b, "jlennon", "jlennon-secret").await,
            Err(AuthError::Unavailable(m)) if m.contains("StartTLS")
        ));
    }
}
