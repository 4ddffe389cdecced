//! Tests of the REST API: the routers driven with `oneshot` against the shared in-memory store
//! (run log and directory) and a fake of every other port, and `serve` on real sockets (HTTP
//! and HTTPS); the SCIM endpoints over a small in-memory `Provisioning` of their own.

mod auth;
mod console;
mod directory;
mod load;
mod ops;
mod routing;
mod runs;
mod scim;
mod serve;
mod sync;
mod tenants;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use axum::body::Body;
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, HeaderValue, Method, Request, StatusCode};
use axum::Router;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::{DateTime, TimeZone, Utc};
use idmsync_domain::{
    Counts, LogLine, Outcome, Password, RunId, RunRecord, SyncMode, Tenant, Trigger,
};
use idmsync_http::ApiState;
use idmsync_ports::{
    AuthError, Authenticator, DryRunReport, MetricsExporter, Principal, Readiness, RunProgress,
    RunTrigger, StoreError, TriggerError,
};
use idmsync_test_doubles::{MemoryStore, StoreOp};
use tower::ServiceExt;

/// The tenant of the API and of the runs and rows the tests seed.
pub(crate) const TENANT: &str = "acme";
/// The administrator's login.
pub(crate) const ADMIN: &str = "admin";
/// The administrator's password: a canary that no response may ever contain.
pub(crate) const CANARY: &str = "canary-Pa55w0rd!";
/// A valid user who is not an administrator, and their password.
pub(crate) const USER: &str = "jdoe";
pub(crate) const USER_PASSWORD: &str = "jdoe-password";
/// A login for which the authenticator cannot check anything.
pub(crate) const UNAVAILABLE: &str = "unavailable";

/// A call to the authenticator or the trigger, the ports whose calls are the effect to check.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Call {
    Auth { tenant: String, login: String },
    Start(Option<SyncMode>, Trigger),
    StartUser(String, Trigger),
    DryRun(Option<SyncMode>),
}

/// The shared in-memory store for the run log and the directory views, and a fake of each port
/// no shared double offers: the authenticator (fixed logins), the trigger (a set answer, and
/// a record of the calls) and the readiness and metrics answers.
#[derive(Default)]
pub(crate) struct Fake {
    /// The run log and the directory, seeded by each test.
    pub(crate) store: Arc<MemoryStore>,
    /// What `start` and `dry_run` fail with.
    pub(crate) trigger_error: Option<TriggerError>,
    /// The id `start` returns.
    pub(crate) started: Option<RunId>,
    pub(crate) dry_run: Option<DryRunReport>,
    /// What `progress` shows: the run in progress, if any.
    pub(crate) progress: Option<RunProgress>,
    pub(crate) not_ready: Option<String>,
    /// How long `ready` takes; lets a test hold a request in flight.
    pub(crate) ready_delay: Option<Duration>,
    pub(crate) metrics_error: Option<String>,
    /// What readiness says of the live stream.
    pub(crate) live: idmsync_ports::LiveStatus,
    pub(crate) calls: Mutex<Vec<Call>>,
}

impl Fake {
    fn record(&self, call: Call) {
        self.calls.lock().expect("calls lock").push(call);
    }

    /// The trigger calls seen so far.
    pub fn calls(&self) -> Vec<Call> {
        self.calls
            .lock()
            .expect("calls lock")
            .iter()
            .filter(|c| !matches!(c, Call::Auth { .. }))
            .cloned()
            .collect()
    }

    /// The authentication calls seen so far.
    pub fn auth_calls(&self) -> Vec<Call> {
        self.calls
            .lock()
            .expect("calls lock")
            .iter()
            .filter(|c| matches!(c, Call::Auth { .. }))
            .cloned()
            .collect()
    }

    fn trigger<T>(&self, value: T) -> Result<T, TriggerError> {
        match &self.trigger_error {
            Some(e) => Err(e.clone()),
            None => Ok(value),
        }
    }
}

#[async_trait]
impl Authenticator for Fake {
    async fn authenticate(
        &self,
        tenant: &Tenant,
        login: &str,
        password: &Password,
    ) -> Result<Principal, AuthError> {
        self.record(Call::Auth {
            tenant: tenant.to_string(),
            login: login.to_string(),
        });
        let admin = match (login, password.expose()) {
            (ADMIN, CANARY) => true,
            (USER, USER_PASSWORD) => false,
            (UNAVAILABLE, _) => return Err(AuthError::Unavailable("ldap://dc1 down".into())),
            _ => return Err(AuthError::Rejected),
        };
        Ok(Principal {
            external_id: login.to_string(),
            admin,
        })
    }
}

#[async_trait]
impl RunTrigger for Fake {
    async fn start(&self, mode: Option<SyncMode>, trigger: Trigger) -> Result<RunId, TriggerError> {
        self.record(Call::Start(mode, trigger));
        self.trigger(self.started.unwrap_or(RunId(99)))
    }

    async fn start_user(&self, login: &str, trigger: Trigger) -> Result<RunId, TriggerError> {
        self.record(Call::StartUser(login.to_owned(), trigger));
        self.trigger(self.started.unwrap_or(RunId(99)))
    }

    async fn dry_run(&self, mode: Option<SyncMode>) -> Result<DryRunReport, TriggerError> {
        self.record(Call::DryRun(mode));
        self.trigger(())?;
        Ok(self.dry_run.clone().expect("a dry-run report set up"))
    }

    fn progress(&self) -> Option<RunProgress> {
        self.progress.clone()
    }
}

#[async_trait]
impl Readiness for Fake {
    async fn ready(&self) -> Result<(), String> {
        if let Some(delay) = self.ready_delay {
            tokio::time::sleep(delay).await;
        }
        self.not_ready.clone().map_or(Ok(()), Err)
    }

    fn live(&self) -> idmsync_ports::LiveStatus {
        self.live
    }
}

#[async_trait]
impl MetricsExporter for Fake {
    async fn render(&self) -> Result<String, String> {
        match &self.metrics_error {
            Some(e) => Err(e.clone()),
            None => Ok("idmsync_up 1\n".to_string()),
        }
    }
}

/// The tenant of the API.
pub(crate) fn tenant() -> Tenant {
    Tenant::new(TENANT).expect("tenant")
}

/// The API state with `fake`'s store behind the run log and the directory, and `fake` behind
/// every other port.
pub(crate) fn state(fake: &Arc<Fake>) -> ApiState {
    ApiState {
        tenant: tenant(),
        runs: fake.store.clone(),
        directory: fake.store.clone(),
        auth: fake.clone(),
        trigger: fake.clone(),
        readiness: fake.clone(),
        metrics: fake.clone(),
        scim_guard: None,
        managers: idmsync_http::Managers::default(),
    }
}

/// The API router over `fake`, and the fake to inspect afterwards.
pub(crate) fn api(fake: Fake) -> (Router, Arc<Fake>) {
    let fake = Arc::new(fake);
    (idmsync_http::api_router(state(&fake)), fake)
}

/// `Basic base64(login:password)`.
pub(crate) fn basic(login: &str, password: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{login}:{password}")))
}

/// A response, read whole.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: String,
}

impl Reply {
    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(name)
            .map(|v| v.to_str().expect("ASCII header"))
    }

    /// The `message` of a JSON error body.
    pub fn message(&self) -> String {
        self.json()["message"]
            .as_str()
            .unwrap_or_else(|| panic!("no message in {}", self.body))
            .to_string()
    }
}

/// Sends `method uri` with `authorization` (if any) and reads the answer. Every answer of every
/// test passes through here, which checks that none contains the canary password, in clear or
/// in the base64 of the header that carried it.
pub(crate) async fn send(
    router: &Router,
    method: Method,
    uri: &str,
    authorization: Option<HeaderValue>,
) -> Reply {
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(value) = authorization {
        request = request.header(AUTHORIZATION, value);
    }
    let encoded = STANDARD.encode(format!("{ADMIN}:{CANARY}"));
    exchange(
        router,
        request.body(Body::empty()).expect("request"),
        &[CANARY, &encoded],
    )
    .await
}

/// Sends `request` and reads the whole answer, failing the test if any of `secrets` comes back
/// in its body or its headers.
pub(crate) async fn exchange(router: &Router, request: Request<Body>, secrets: &[&str]) -> Reply {
    let response = router.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    let body = String::from_utf8(bytes.to_vec()).expect("UTF-8 body");
    for secret in secrets {
        assert!(!body.contains(secret), "a secret in {body}");
        for value in headers.values() {
            let value = String::from_utf8_lossy(value.as_bytes());
            assert!(!value.contains(secret), "a secret in a header: {value}");
        }
    }
    Reply {
        status,
        headers,
        body,
    }
}

/// `GET uri` as the administrator.
pub(crate) async fn get_as_admin(router: &Router, uri: &str) -> Reply {
    send(router, Method::GET, uri, Some(admin())).await
}

/// The administrator's `Authorization` header.
pub(crate) fn admin() -> HeaderValue {
    HeaderValue::from_str(&basic(ADMIN, CANARY)).expect("header")
}

/// A point in time, `h` hours into 1 May 2024 (UTC).
pub(crate) fn at(h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 5, 1, h, 0, 0)
        .single()
        .expect("valid time")
}

/// A finished run of the test tenant, to seed; the store numbers it.
pub(crate) fn run(mode: SyncMode, outcome: Outcome) -> RunRecord {
    RunRecord {
        id: RunId(0),
        tenant: tenant(),
        mode,
        trigger: Trigger::Schedule,
        source: "file".into(),
        started_at: at(10),
        finished_at: Some(at(11)),
        outcome,
        reason: None,
        counts: Counts::default(),
        watermark: None,
    }
}

/// A fake whose run log holds `runs`, oldest first, numbered from 1.
pub(crate) fn logged(runs: impl IntoIterator<Item = RunRecord>) -> Fake {
    let fake = Fake::default();
    for run in runs {
        fake.store.seed_run(run);
    }
    fake
}
