//! A measurement, run by hand: `/health/live` latency while the API is flooded with logins that
//! each cost one argon2id verification (the real `LoginService` and `Argon2Hasher`), as an
//! attacker guessing passwords for made-up logins would. The server runs on its own two-worker
//! runtime, as the binary does on a two-core machine; the load and the probes on another.
//!
//! ```sh
//! cargo test --release -p idmsync-http --test it -- --ignored --nocapture health_latency
//! ```

use std::time::Instant;

use idmsync_auth::{Argon2Hasher, LoginOptions, LoginService, PasswordCheck};
use idmsync_ports::{LoginField, LoginReader, LoginRecord};
use tokio::net::TcpListener;

use crate::*;

/// Logins per second sent to the API.
const LOGINS_PER_SEC: u64 = 50;
/// `/health/live` probes per second.
const PROBES_PER_SEC: u64 = 20;
/// How long the flood lasts.
const SECONDS: u64 = 10;

/// Nobody exists: every login verifies the dummy hash and is refused.
struct NoUsers;

#[async_trait]
impl LoginReader for NoUsers {
    async fn find_login(
        &self,
        _tenant: &Tenant,
        _login: &str,
        _field: LoginField,
        _case_sensitive: bool,
    ) -> Result<Vec<LoginRecord>, StoreError> {
        Ok(Vec::new())
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[index]
}

#[test]
#[ignore = "a measurement that prints figures; run it by hand in release mode"]
fn health_latency_under_a_login_flood() {
    let server = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("server runtime");
    let auth = LoginService::new(
        Arc::new(NoUsers),
        Arc::new(Argon2Hasher::default()),
        PasswordCheck::Database,
        LoginOptions::default(),
    );
    let fake = Arc::new(Fake::default());
    let mut api = state(&fake);
    api.auth = Arc::new(auth);
    let listener = server
        .block_on(TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    server.spawn(idmsync_http::serve(
        listener,
        idmsync_http::app_router(api),
        None,
        idmsync_http::ServeOptions::default(),
        std::future::pending(),
    ));

    let client = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("client runtime");
    let (latencies, refused) = client.block_on(async move {
        let http = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("client");
        let flood = {
            let http = http.clone();
            tokio::spawn(async move {
                let mut tick =
                    tokio::time::interval(Duration::from_micros(1_000_000 / LOGINS_PER_SEC));
                let mut sent = Vec::new();
                for i in 0..LOGINS_PER_SEC * SECONDS {
                    tick.tick().await;
                    let request = http
                        .get(format!("http://{addr}/api/enterprise/users"))
                        .header("authorization", basic(&format!("made-up-{i}"), "guess"))
                        .send();
                    sent.push(tokio::spawn(request));
                }
                let mut refused = 0;
                for request in sent {
                    if let Ok(Ok(reply)) = request.await {
                        refused += usize::from(reply.status() == reqwest::StatusCode::UNAUTHORIZED);
                    }
                }
                refused
            })
        };
        let mut latencies = Vec::new();
        let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / PROBES_PER_SEC));
        for _ in 0..PROBES_PER_SEC * SECONDS {
            tick.tick().await;
            let start = Instant::now();
            let reply = http
                .get(format!("http://{addr}/health/live"))
                .send()
                .await
                .expect("probe");
            assert_eq!(reply.status(), reqwest::StatusCode::OK);
            latencies.push(start.elapsed());
        }
        (latencies, flood.await.expect("flood"))
    });
    let mut sorted = latencies;
    sorted.sort_unstable();
    println!(
        "{LOGINS_PER_SEC} logins/s for {SECONDS} s ({refused} refused): /health/live p50 {:?}, \
         p90 {:?}, p99 {:?}, max {:?} over {} probes",
        percentile(&sorted, 0.5),
        percentile(&sorted, 0.9),
        percentile(&sorted, 0.99),
        sorted[sorted.len() - 1],
        sorted.len()
    );
    drop(client);
    drop(server);
}
