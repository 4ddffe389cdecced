//! The login policy (`LoginService`) against a mocked login query, a fake directory and a
//! counting hasher: who may log in, database and directory checks, the fallback, the throttle,
//! and equal answers and costs for every refusal. The LDAP side is tested against a real slapd
//! in `idmsync-ldap`; `throttle` races the throttle against argon2 and a real slapd.

mod throttle;

use idmsync_test_doubles::{Counting, CountingHasher, ManualClock, PlainHasher};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use idmsync_auth::{Argon2Hasher, LoginOptions, LoginService, PasswordCheck, ThrottleOptions};
use idmsync_domain::{Password, PasswordHash, PasswordHasher, Tenant, UserStatus};
use idmsync_ports::auth::{MockDirectoryBind, MockLoginReader};
use idmsync_ports::{
    AuthError, Authenticator, DirectoryBind, LoginField, LoginRecord, Principal, StoreError,
};

fn tenant() -> Tenant {
    Tenant::new("default").expect("tenant")
}

/// A directory that answers what the test says and counts the questions.
struct FakeDirectory {
    answer: Result<bool, AuthError>,
    /// The password the directory knows, when `answer` is `Ok`.
    password: &'static str,
    calls: AtomicUsize,
}

impl FakeDirectory {
    fn with_password(password: &'static str) -> Arc<Self> {
        Arc::new(Self {
            answer: Ok(true),
            password,
            calls: AtomicUsize::new(0),
        })
    }

    fn down() -> Arc<Self> {
        Arc::new(Self {
            answer: Err(AuthError::Unavailable(
                "ldap://dir:389: connect failed".into(),
            )),
            password: "",
            calls: AtomicUsize::new(0),
        })
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl DirectoryBind for FakeDirectory {
    async fn check(&self, _user: &LoginRecord, password: &Password) -> Result<bool, AuthError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.answer
            .clone()
            .map(|ok| ok && password.expose() == self.password)
    }
}

fn record(id: &str, status: UserStatus, password: Option<&str>) -> LoginRecord {
    LoginRecord {
        external_id: id.into(),
        locator: None,
        status,
        admin: id == "jlennon",
        password_hash: password.map(|p| PasswordHash::new(PlainHasher::of(p))),
    }
}

fn active(password: Option<&str>) -> Vec<LoginRecord> {
    vec![record("jlennon", UserStatus::Active, password)]
}

fn logins(found: Vec<LoginRecord>) -> Arc<MockLoginReader> {
    let mut logins = MockLoginReader::new();
    logins
        .expect_find_login()
        .returning(move |_, _, _, _| Ok(found.clone()));
    Arc::new(logins)
}

/// A service over `found`, checking passwords with `check` and the counting hasher.
fn service(
    found: Vec<LoginRecord>,
    check: PasswordCheck,
    options: LoginOptions,
) -> (LoginService, Arc<CountingHasher>) {
    let hasher = Arc::new(CountingHasher::default());
    let service = LoginService::new(logins(found), hasher.clone(), check, options);
    (service, hasher)
}

fn database(found: Vec<LoginRecord>) -> (LoginService, Arc<CountingHasher>) {
    service(found, PasswordCheck::Database, LoginOptions::default())
}

fn directory(
    found: Vec<LoginRecord>,
    bind: Arc<FakeDirectory>,
    database_fallback: bool,
) -> (LoginService, Arc<CountingHasher>) {
    let check = PasswordCheck::Directory {
        bind,
        database_fallback,
    };
    service(found, check, LoginOptions::default())
}

async fn login(auth: &LoginService, user: &str, password: &str) -> Result<Principal, AuthError> {
    auth.authenticate(&tenant(), user, &Password::new(password))
        .await
}

fn jlennon() -> Result<Principal, AuthError> {
    Ok(Principal {
        external_id: "jlennon".into(),
        admin: true,
    })
}

#[tokio::test]
async fn the_right_database_password_of_an_active_user_logs_in() {
    let (auth, _) = database(active(Some("johnpassword")));
    assert_eq!(login(&auth, "jlennon", "johnpassword").await, jlennon());
}

/// Every refusal, in both modes: the same answer, one hash verification, and the directory is
/// asked only about one active user.
#[tokio::test]
async fn every_refusal_is_the_same_rejection_at_the_same_cost() {
    let cases: Vec<(&str, Vec<LoginRecord>, &str)> = vec![
        ("wrong password", active(Some("johnpassword")), "nope"),
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
        ("no local password", active(None), "johnpassword"),
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
        let (auth, hasher) = database(found.clone());
        assert_eq!(
            login(&auth, "jlennon", password).await,
            Err(AuthError::Rejected),
            "database: {case}"
        );
        assert_eq!(hasher.verifications(), 1, "database: {case}");

        let reaches_directory = found.len() == 1 && found[0].status == UserStatus::Active;
        let bind = FakeDirectory::with_password("jlennon-secret");
        let wrong = if reaches_directory { "nope" } else { password };
        let (auth, hasher) = directory(found, bind.clone(), false);
        assert_eq!(
            login(&auth, "jlennon", wrong).await,
            Err(AuthError::Rejected),
            "directory: {case}"
        );
        assert_eq!(hasher.verifications(), 1, "directory: {case}");
        assert_eq!(
            bind.calls(),
            usize::from(reaches_directory),
            "directory: {case}"
        );
    }
}

#[tokio::test]
async fn blank_passwords_and_logins_fail_before_anything_is_asked() {
    let mut logins = MockLoginReader::new();
    logins.expect_find_login().never();
    let mut bind = MockDirectoryBind::new();
    bind.expect_check().never();
    let hasher = Arc::new(CountingHasher::default());
    let auth = LoginService::new(
        Arc::new(logins),
        hasher.clone(),
        PasswordCheck::Directory {
            bind: Arc::new(bind),
            database_fallback: true,
        },
        LoginOptions::default(),
    );
    for (user, password) in [
        ("jlennon", ""),
        ("jlennon", " \t "),
        ("jlennon", "\n"),
        ("", "johnpassword"),
        ("  ", "x"),
    ] {
        assert_eq!(login(&auth, user, password).await, Err(AuthError::Rejected));
    }
    assert_eq!(hasher.verifications(), 0);
}

#[tokio::test]
async fn a_store_failure_is_unavailable_not_a_rejection() {
    let mut logins = MockLoginReader::new();
    logins
        .expect_find_login()
        .returning(|_, _, _, _| Err(StoreError::Unavailable("db.example.com: refused".into())));
    let auth = LoginService::new(
        Arc::new(logins),
        Arc::new(CountingHasher::default()),
        PasswordCheck::Database,
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
    let auth = LoginService::new(
        Arc::new(logins),
        Arc::new(CountingHasher::default()),
        PasswordCheck::Database,
        LoginOptions {
            field: LoginField::Email,
            case_sensitive: false,
            ..LoginOptions::default()
        },
    );
    assert_eq!(
        login(&auth, "John@Beatles.com", "x").await,
        Err(AuthError::Rejected)
    );
}

#[tokio::test]
async fn the_directory_decides_without_fallback() {
    let bind = FakeDirectory::with_password("jlennon-secret");
    let (auth, _) = directory(active(Some("johnpassword")), bind.clone(), false);
    assert_eq!(login(&auth, "jlennon", "jlennon-secret").await, jlennon());
    assert_eq!(
        login(&auth, "jlennon", "johnpassword").await,
        Err(AuthError::Rejected),
        "the local hash is ignored without database_fallback"
    );
    assert_eq!(bind.calls(), 2);
}

/// `database_fallback`: when the directory refuses the password and when it cannot be reached,
/// a user with a local hash may log in with it; a user without one may not; without the
/// setting nobody may. A directory outage is a plain rejection, never `Unavailable`.
#[tokio::test]
async fn the_database_fallback_applies_when_the_directory_refuses_or_is_down() {
    // (fallback, directory up, local hash, password, expected)
    let cases = [
        (true, true, Some("johnpassword"), "johnpassword", true),
        (true, true, Some("johnpassword"), "jlennon-secret", true),
        (true, true, Some("johnpassword"), "nope", false),
        (true, true, None, "johnpassword", false),
        (true, false, Some("johnpassword"), "johnpassword", true),
        (true, false, Some("johnpassword"), "jlennon-secret", false),
        (true, false, None, "johnpassword", false),
        (false, true, Some("johnpassword"), "johnpassword", false),
        (false, false, Some("johnpassword"), "johnpassword", false),
        (false, false, Some("johnpassword"), "jlennon-secret", false),
    ];
    for (fallback, up, hash, password, accepted) in cases {
        let bind = if up {
            FakeDirectory::with_password("jlennon-secret")
        } else {
            FakeDirectory::down()
        };
        let (auth, _) = directory(active(hash), bind.clone(), fallback);
        let expected = if accepted {
            jlennon()
        } else {
            Err(AuthError::Rejected)
        };
        let case = format!("fallback {fallback}, up {up}, hash {hash:?}, password {password}");
        assert_eq!(login(&auth, "jlennon", password).await, expected, "{case}");
        assert_eq!(bind.calls(), 1, "{case}");
    }
}

fn throttled(
    found: Vec<LoginRecord>,
    bind: Arc<FakeDirectory>,
    case_sensitive: bool,
) -> (LoginService, Arc<ManualClock>) {
    let clock = ManualClock::new();
    let options = LoginOptions {
        case_sensitive,
        throttle: ThrottleOptions {
            max_failures: 3,
            lockout: Duration::from_secs(60),
        },
        ..LoginOptions::default()
    };
    let check = PasswordCheck::Directory {
        bind,
        database_fallback: false,
    };
    let auth = LoginService::new(
        logins(found),
        Arc::new(CountingHasher::default()),
        check,
        options,
    )
    .with_clock(clock.clone());
    (auth, clock)
}

#[tokio::test]
async fn repeated_failures_lock_a_login_without_touching_the_directory() {
    let bind = FakeDirectory::with_password("jlennon-secret");
    let (auth, clock) = throttled(active(None), bind.clone(), true);
    for _ in 0..3 {
        assert_eq!(
            login(&auth, "jlennon", "nope").await,
            Err(AuthError::Rejected)
        );
    }
    assert_eq!(bind.calls(), 3);
    assert_eq!(
        login(&auth, "jlennon", "jlennon-secret").await,
        Err(AuthError::Rejected),
        "the 4th attempt fails even with the right password"
    );
    assert_eq!(
        bind.calls(),
        3,
        "a locked login does not reach the directory"
    );
    clock.advance(59);
    assert_eq!(
        login(&auth, "jlennon", "jlennon-secret").await,
        Err(AuthError::Rejected)
    );
    clock.advance(1);
    assert_eq!(login(&auth, "jlennon", "jlennon-secret").await, jlennon());
}

#[tokio::test]
async fn a_success_resets_the_failure_count() {
    let bind = FakeDirectory::with_password("jlennon-secret");
    let (auth, _) = throttled(active(None), bind, true);
    for _ in 0..2 {
        assert!(login(&auth, "jlennon", "nope").await.is_err());
    }
    assert_eq!(login(&auth, "jlennon", "jlennon-secret").await, jlennon());
    for _ in 0..2 {
        assert!(login(&auth, "jlennon", "nope").await.is_err());
    }
    assert_eq!(login(&auth, "jlennon", "jlennon-secret").await, jlennon());
}

#[tokio::test]
async fn unknown_logins_are_throttled_too_and_case_folds_when_logins_ignore_case() {
    let bind = FakeDirectory::with_password("jlennon-secret");
    let (auth, _) = throttled(active(None), bind.clone(), false);
    for spelling in ["JLennon", "jlennon", "JLENNON"] {
        assert!(login(&auth, spelling, "nope").await.is_err());
    }
    assert_eq!(
        login(&auth, "jLennon", "jlennon-secret").await,
        Err(AuthError::Rejected),
        "one count for every spelling"
    );

    let (auth, _) = throttled(vec![], bind, true);
    for _ in 0..3 {
        assert!(login(&auth, "nobody", "x").await.is_err());
    }
    // Locked: fails fast, the same answer as for a known login.
    assert_eq!(login(&auth, "nobody", "x").await, Err(AuthError::Rejected));
}

#[tokio::test]
async fn a_directory_outage_does_not_count_towards_the_lockout() {
    let (auth, _) = throttled(active(None), FakeDirectory::down(), true);
    for _ in 0..5 {
        assert_eq!(
            login(&auth, "jlennon", "jlennon-secret").await,
            Err(AuthError::Rejected)
        );
    }
    let bind = FakeDirectory::with_password("jlennon-secret");
    let (auth, _) = throttled(active(None), bind.clone(), true);
    assert_eq!(login(&auth, "jlennon", "jlennon-secret").await, jlennon());
}

/// With the real argon2 hasher, an unknown login and a wrong password cost about the same:
/// both verify one hash (the minimum of several tries filters out scheduling noise).
#[tokio::test]
async fn unknown_users_and_wrong_passwords_take_similar_time() {
    let hasher = Arc::new(Argon2Hasher::default());
    let hash = hasher.hash(&Password::new("johnpassword"));
    let mut user = record("jlennon", UserStatus::Active, None);
    user.password_hash = hash;
    let known = LoginService::new(
        logins(vec![user]),
        hasher.clone(),
        PasswordCheck::Database,
        LoginOptions::default(),
    );
    let unknown = LoginService::new(
        logins(vec![]),
        hasher,
        PasswordCheck::Database,
        LoginOptions::default(),
    );
    let mut fastest = [Duration::MAX; 2];
    for _ in 0..4 {
        for (i, auth) in [&known, &unknown].into_iter().enumerate() {
            let start = Instant::now();
            assert_eq!(
                login(auth, "jlennon", "wrong").await,
                Err(AuthError::Rejected)
            );
            fastest[i] = fastest[i].min(start.elapsed());
        }
    }
    let [known, unknown] = fastest;
    let ratio = known.as_secs_f64() / unknown.as_secs_f64();
    assert!(
        (0.5..2.0).contains(&ratio),
        "wrong password {known:?}, unknown user {unknown:?}"
    );
}
