//! The database-password authenticator against a mocked login query and the real argon2 hasher.

use std::sync::Arc;

use idmsync_auth::{Argon2Hasher, DatabaseAuthenticator, LoginOptions};
use idmsync_domain::{Password, PasswordHasher, Tenant, UserStatus};
use idmsync_ports::auth::MockLoginReader;
use idmsync_ports::{AuthError, Authenticator, LoginField, LoginRecord, Principal, StoreError};

fn tenant() -> Tenant {
    Tenant::new("default").expect("tenant")
}

fn record(id: &str, status: UserStatus, password: Option<&str>) -> LoginRecord {
    LoginRecord {
        external_id: id.into(),
        locator: None,
        status,
        admin: id == "jlennon",
        password_hash: password.and_then(|p| Argon2Hasher::default().hash(&Password::new(p))),
    }
}

fn authenticator(found: Vec<LoginRecord>) -> DatabaseAuthenticator {
    let mut logins = MockLoginReader::new();
    logins
        .expect_find_login()
        .returning(move |_, _, _, _| Ok(found.clone()));
    DatabaseAuthenticator::new(
        Arc::new(logins),
        Arc::new(Argon2Hasher::default()),
        LoginOptions::default(),
    )
}

async fn login(
    auth: &DatabaseAuthenticator,
    user: &str,
    password: &str,
) -> Result<Principal, AuthError> {
    auth.authenticate(&tenant(), user, &Password::new(password))
        .await
}

#[tokio::test]
async fn the_right_password_of_an_active_user_logs_in() {
    let auth = authenticator(vec![record(
        "jlennon",
        UserStatus::Active,
        Some("johnpassword"),
    )]);
    assert_eq!(
        login(&auth, "jlennon", "johnpassword").await,
        Ok(Principal {
            external_id: "jlennon".into(),
            admin: true
        })
    );
}

#[tokio::test]
async fn every_refusal_is_the_same_rejection() {
    let cases: Vec<(&str, Vec<LoginRecord>, &str)> = vec![
        (
            "wrong password",
            vec![record("jlennon", UserStatus::Active, Some("johnpassword"))],
            "nope",
        ),
        ("unknown user", vec![], "johnpassword"),
        (
            "inactive user",
            vec![record(
                "jlennon",
                UserStatus::Inactive,
                Some("johnpassword"),
            )],
            "johnpassword",
        ),
        (
            "no local password",
            vec![record("jlennon", UserStatus::Active, None)],
            "johnpassword",
        ),
        (
            "ambiguous login",
            vec![
                record("jlennon", UserStatus::Active, Some("johnpassword")),
                record("jlennon", UserStatus::Active, Some("johnpassword")),
            ],
            "johnpassword",
        ),
    ];
    for (case, found, password) in cases {
        let auth = authenticator(found);
        assert_eq!(
            login(&auth, "jlennon", password).await,
            Err(AuthError::Rejected),
            "{case}"
        );
    }
}

#[tokio::test]
async fn blank_passwords_and_logins_fail_before_any_lookup() {
    let mut logins = MockLoginReader::new();
    logins.expect_find_login().never();
    let auth = DatabaseAuthenticator::new(
        Arc::new(logins),
        Arc::new(Argon2Hasher::default()),
        LoginOptions::default(),
    );
    for (user, password) in [
        ("jlennon", ""),
        ("jlennon", " \t "),
        ("", "johnpassword"),
        ("  ", "x"),
    ] {
        assert_eq!(login(&auth, user, password).await, Err(AuthError::Rejected));
    }
}

#[tokio::test]
async fn a_store_failure_is_unavailable_not_a_rejection() {
    let mut logins = MockLoginReader::new();
    logins
        .expect_find_login()
        .returning(|_, _, _, _| Err(StoreError::Unavailable("db.example.com: refused".into())));
    let auth = DatabaseAuthenticator::new(
        Arc::new(logins),
        Arc::new(Argon2Hasher::default()),
        LoginOptions::default(),
    );
    assert!(matches!(
        login(&auth, "jlennon", "johnpassword").await,
        Err(AuthError::Unavailable(m)) if m.contains("db.example.com")
    ));
}

#[tokio::test]
async fn the_login_options_reach_the_query() {
    let mut logins = MockLoginReader::new();
    logins
        .expect_find_login()
        .withf(|_, login, field, case_sensitive| {
            login == "John@Beatles.com" && *field == LoginField::Email && !case_sensitive
        })
        .times(1)
        .returning(|_, _, _, _| Ok(vec![]));
    let auth = DatabaseAuthenticator::new(
        Arc::new(logins),
        Arc::new(Argon2Hasher::default()),
        LoginOptions {
            field: LoginField::Email,
            case_sensitive: false,
        },
    );
    assert_eq!(
        login(&auth, "John@Beatles.com", "x").await,
        Err(AuthError::Rejected)
    );
}
