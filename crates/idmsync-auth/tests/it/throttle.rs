//! The throttle under the attacks it exists for: hundreds of parallel guesses for one login,
//! against the real argon2 hasher and against a real slapd (binds counted on the wire), a flood
//! of made-up logins, and a login flood that must not stall the async runtime.

use std::net::SocketAddr;

use idmsync_ldap::{LdapBindConfig, LdapBinder, LdapConfig, Secret};
use idmsync_test_ldap::{fixtures, Slapd};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Barrier;
use tokio::task::JoinHandle;

use crate::*;

/// Parallel attempts in the races below.
const PARALLEL: usize = 200;

/// Waits (up to ten seconds) until `done` holds.
async fn until(what: &str, done: impl Fn() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// `PARALLEL - 1` wrong passwords for jlennon, released together; once `started` says the
/// first checks are under way, the right password joins them. Every answer must be a refusal:
/// the right password comes after `max_failures` wrong ones took every slot.
async fn race(auth: &Arc<LoginService>, right: &str, started: impl Fn() -> bool) {
    let barrier = Arc::new(Barrier::new(PARALLEL - 1));
    let wrong: Vec<JoinHandle<_>> = (0..PARALLEL - 1)
        .map(|i| {
            let auth = auth.clone();
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                login(&auth, "jlennon", &format!("guess-{i}")).await
            })
        })
        .collect();
    until("the first checks", started).await;
    let last = login(auth, "jlennon", right).await;
    assert_eq!(
        last,
        Err(AuthError::Rejected),
        "the right password after {} parallel wrong ones",
        PARALLEL - 1
    );
    for attempt in wrong {
        assert_eq!(attempt.await.expect("task"), Err(AuthError::Rejected));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_wrong_passwords_verify_at_most_max_failures_hashes() {
    let hasher = Arc::new(Counting::<Argon2Hasher>::default());
    let mut user = record("jlennon", UserStatus::Active, None);
    user.password_hash = hasher.hash(&Password::new("johnpassword"));
    let auth = Arc::new(LoginService::new(
        logins(vec![user]),
        hasher.clone(),
        PasswordCheck::Database,
        LoginOptions::default(),
    ));
    let max = LoginOptions::default().throttle.max_failures as usize;
    race(&auth, "johnpassword", || hasher.verifications() >= max).await;
    assert_eq!(
        hasher.verifications(),
        max,
        "verifications of {PARALLEL} attempts"
    );
    assert_eq!(
        login(&auth, "jlennon", "johnpassword").await,
        Err(AuthError::Rejected),
        "still locked"
    );
    assert_eq!(
        hasher.verifications(),
        max,
        "a locked login verifies nothing"
    );
}

/// A TCP relay in front of a server that counts the connections it relays and adds `delay` to
/// each, as a directory across a network would.
struct CountingProxy {
    addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl CountingProxy {
    async fn start(target: SocketAddr, delay: Duration) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address");
        let connections = Arc::new(AtomicUsize::new(0));
        let counter = connections.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    tokio::time::sleep(delay).await;
                    if let Ok(mut server) = TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        });
        Self {
            addr,
            connections,
            task,
        }
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

impl Drop for CountingProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The finding this guards against: 200 parallel wrong passwords all reached the directory
/// (200 failed binds, enough to trip its own lockout) and the right one was accepted. Binds are
/// counted as connections to slapd: with `dn_pattern`, each check opens one and binds once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_wrong_passwords_bind_at_most_max_failures_times() {
    let slapd = Slapd::builder().ldif(fixtures::DIRECTORY).start();
    let target = slapd
        .url()
        .trim_start_matches("ldap://")
        .parse()
        .expect("slapd's address");
    let proxy = CountingProxy::start(target, Duration::from_millis(20)).await;
    let suffix = slapd.suffix();
    let binder = LdapBinder::new(LdapBindConfig {
        connection: LdapConfig {
            url: format!("ldap://{}", proxy.addr),
            bind_dn: slapd.sync_dn(),
            bind_password: Some(Secret::new(slapd.sync_password())),
            user_search_base: format!("ou=people,{suffix}"),
            group_search_base: format!("ou=groups,{suffix}"),
            ..LdapConfig::default()
        },
        dn_pattern: format!("uid={{0}},ou=liverpool,ou=people,{suffix}"),
        active_directory_domain: String::new(),
    })
    .expect("valid configuration");
    let clock = ManualClock::new();
    let auth = Arc::new(
        LoginService::new(
            logins(active(None)),
            Arc::new(Argon2Hasher::default()),
            PasswordCheck::Directory {
                bind: Arc::new(binder),
                database_fallback: false,
            },
            LoginOptions::default(),
        )
        .with_clock(clock.clone()),
    );
    let max = LoginOptions::default().throttle.max_failures as usize;

    race(&auth, "jlennon-secret", || proxy.connections() >= max).await;
    assert_eq!(proxy.connections(), max, "binds of {PARALLEL} attempts");

    // The refusal was the lockout's: once it ends, the same password logs in.
    clock.advance(300);
    assert_eq!(login(&auth, "jlennon", "jlennon-secret").await, jlennon());
    assert_eq!(proxy.connections(), max + 1);
}

/// The finding: 10,050 made-up logins evicted a locked login from the throttle's table. Now a
/// flood larger than the table evicts only unlocked entries.
#[tokio::test]
async fn a_flood_of_made_up_logins_does_not_unlock_a_locked_login() {
    let mut reader = MockLoginReader::new();
    reader.expect_find_login().returning(|_, login, _, _| {
        Ok(if login == "jlennon" {
            active(Some("johnpassword"))
        } else {
            vec![]
        })
    });
    let hasher = Arc::new(CountingHasher::default());
    let auth = LoginService::new(
        Arc::new(reader),
        hasher.clone(),
        PasswordCheck::Database,
        LoginOptions::default(),
    );
    let max = LoginOptions::default().throttle.max_failures as usize;
    for _ in 0..max {
        assert!(login(&auth, "jlennon", "nope").await.is_err());
    }
    let flood = ThrottleOptions::MAX_TRACKED + 50;
    for i in 0..flood {
        assert_eq!(
            login(&auth, &format!("made-up-{i}"), "guess").await,
            Err(AuthError::Rejected)
        );
    }
    assert_eq!(
        hasher.verifications(),
        max + flood,
        "one verification per attempt"
    );
    assert_eq!(
        login(&auth, "jlennon", "johnpassword").await,
        Err(AuthError::Rejected),
        "still locked after the flood"
    );
    assert_eq!(
        hasher.verifications(),
        max + flood,
        "a locked login verifies nothing"
    );
}

/// A hasher whose verification takes a while of blocking work and that records how many ran
/// at once.
#[derive(Default)]
struct SlowHasher {
    running: AtomicUsize,
    peak: AtomicUsize,
}

/// How long one of `SlowHasher`'s verifications blocks its thread.
const SLOW_VERIFY: Duration = Duration::from_millis(300);

impl PasswordHasher for SlowHasher {
    fn hash(&self, clear: &Password) -> Option<PasswordHash> {
        Some(PasswordHash::new(PlainHasher::of(clear.expose())))
    }

    fn verify(&self, _clear: &Password, _hash: &PasswordHash) -> bool {
        let running = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(running, Ordering::SeqCst);
        std::thread::sleep(SLOW_VERIFY);
        self.running.fetch_sub(1, Ordering::SeqCst);
        false
    }
}

/// The finding: under 53 logins/s, `/health/live` took up to 1.3 s, password hashing
/// competing with the async runtime. On a single-threaded runtime, a verification run on it
/// would stop everything else for its whole duration; here a timer keeps ticking on time while
/// several logins verify, and no more verifications run at once than there are cores.
#[tokio::test(flavor = "current_thread")]
async fn password_checks_leave_the_runtime_free_and_run_one_per_core() {
    let hasher = Arc::new(SlowHasher::default());
    let auth = Arc::new(LoginService::new(
        logins(active(Some("johnpassword"))),
        hasher.clone(),
        PasswordCheck::Database,
        LoginOptions::default(),
    ));
    let logins: Vec<JoinHandle<_>> = (0..6)
        .map(|i| {
            let auth = auth.clone();
            tokio::spawn(async move { login(&auth, &format!("user-{i}"), "nope").await })
        })
        .collect();
    let mut worst = Duration::ZERO;
    let tick = Duration::from_millis(10);
    while hasher.running.load(Ordering::SeqCst) > 0 || worst.is_zero() {
        let start = Instant::now();
        tokio::time::sleep(tick).await;
        worst = worst.max(start.elapsed().saturating_sub(tick));
    }
    for attempt in logins {
        assert_eq!(attempt.await.expect("task"), Err(AuthError::Rejected));
    }
    assert!(
        worst < SLOW_VERIFY / 2,
        "a 10 ms timer was {worst:?} late while passwords were verified"
    );
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let peak = hasher.peak.load(Ordering::SeqCst);
    assert!(
        (1..=cores).contains(&peak),
        "{peak} verifications at once on {cores} cores"
    );
}
