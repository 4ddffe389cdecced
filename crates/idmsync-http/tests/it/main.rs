//! Tests of the REST API: the routers driven with `oneshot` against one in-memory fake of every
//! port, and `serve` on real sockets (HTTP and HTTPS).

mod auth;
mod directory;
mod load;
mod ops;
mod routing;
mod runs;
mod serve;
mod sync;

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
    Counts, LogLine, Outcome, Password, RunId, RunRecord, SyncMode, Tenant, Trigger, UserStatus,
};
use idmsync_http::ApiState;
use idmsync_ports::{
    AuthError, Authenticator, DirectoryReader, DryRunReport, GroupView, MetricsExporter, Page,
    Principal, Readiness, RunLogReader, RunTrigger, StoreError, Totals, TriggerError, UserFilter,
    UserView,
};
use tower::ServiceExt;

/// The tenant every fake belongs to.
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

/// A port call the fake saw, for checking what the handlers forward.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Call {
    Auth {
        tenant: String,
        login: String,
    },
    /// A list of runs; `None` is the whole log.
    Runs(Option<Page>),
    Run(RunId),
    Totals,
    Users(UserFilter, Page),
    Groups(UserFilter, Page),
    Start(Option<SyncMode>, Trigger),
    StartUser(String, Trigger),
    DryRun(Option<SyncMode>),
}

/// One fake for every port: plain data set up by each test, and a record of the calls.
#[derive(Default)]
pub(crate) struct Fake {
    pub(crate) runs: Vec<RunRecord>,
    pub(crate) lines: Vec<(RunId, Vec<LogLine>)>,
    pub(crate) users: Vec<UserView>,
    pub(crate) groups: Vec<GroupView>,
    /// Every store call fails with this.
    pub(crate) store_error: Option<StoreError>,
    /// What `start` and `dry_run` fail with.
    pub(crate) trigger_error: Option<TriggerError>,
    /// The id `start` returns.
    pub(crate) started: Option<RunId>,
    pub(crate) dry_run: Option<DryRunReport>,
    pub(crate) not_ready: Option<String>,
    /// How long `ready` takes; lets a test hold a request in flight.
    pub(crate) ready_delay: Option<Duration>,
    pub(crate) metrics_error: Option<String>,
    pub(crate) calls: Mutex<Vec<Call>>,
}

impl Fake {
    fn record(&self, call: Call) {
        self.calls.lock().expect("calls lock").push(call);
    }

    /// The calls seen so far, authentication left out.
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

    fn store<T>(&self, value: T) -> Result<T, StoreError> {
        match &self.store_error {
            Some(e) => Err(e.clone()),
            None => Ok(value),
        }
    }

    fn trigger<T>(&self, value: T) -> Result<T, TriggerError> {
        match &self.trigger_error {
            Some(e) => Err(e.clone()),
            None => Ok(value),
        }
    }
}

fn window<T: Clone>(rows: &[T], page: Option<Page>) -> Vec<T> {
    let page = page.unwrap_or(Page {
        start: 0,
        size: u64::MAX,
    });
    rows.iter()
        .skip(page.start as usize)
        .take(page.size as usize)
        .cloned()
        .collect()
}

/// How many of `statuses` are active and inactive.
fn by_status(statuses: impl Iterator<Item = UserStatus>) -> [u64; 2] {
    statuses.fold([0, 0], |[active, inactive], status| match status {
        UserStatus::Active => [active + 1, inactive],
        UserStatus::Inactive => [active, inactive + 1],
    })
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
impl RunLogReader for Fake {
    async fn runs(
        &self,
        tenant: &Tenant,
        page: Option<Page>,
    ) -> Result<Vec<RunRecord>, StoreError> {
        assert_eq!(tenant.as_str(), TENANT);
        self.record(Call::Runs(page));
        let own: Vec<_> = self
            .runs
            .iter()
            .filter(|r| r.tenant == *tenant)
            .cloned()
            .collect();
        self.store(window(&own, page))
    }

    async fn run(&self, id: RunId) -> Result<Option<RunRecord>, StoreError> {
        self.record(Call::Run(id));
        self.store(self.runs.iter().find(|r| r.id == id).cloned())
    }

    async fn lines(&self, id: RunId) -> Result<Vec<LogLine>, StoreError> {
        let lines = self.lines.iter().find(|(r, _)| *r == id);
        self.store(lines.map(|(_, l)| l.clone()).unwrap_or_default())
    }
}

#[async_trait]
impl DirectoryReader for Fake {
    async fn users(
        &self,
        tenant: &Tenant,
        filter: &UserFilter,
        page: Option<Page>,
    ) -> Result<Vec<UserView>, StoreError> {
        assert_eq!(tenant.as_str(), TENANT);
        self.record(Call::Users(filter.clone(), page.expect("paged")));
        self.store(window(&self.users, page))
    }

    async fn totals(&self, tenant: &Tenant) -> Result<Totals, StoreError> {
        assert_eq!(tenant.as_str(), TENANT);
        self.record(Call::Totals);
        let [users_active, users_inactive] = by_status(self.users.iter().map(|u| u.status));
        let [groups_active, groups_inactive] = by_status(self.groups.iter().map(|g| g.status));
        self.store(Totals {
            users_active,
            users_inactive,
            groups_active,
            groups_inactive,
        })
    }

    async fn groups(
        &self,
        tenant: &Tenant,
        filter: &UserFilter,
        page: Option<Page>,
    ) -> Result<Vec<GroupView>, StoreError> {
        assert_eq!(tenant.as_str(), TENANT);
        self.record(Call::Groups(filter.clone(), page.expect("paged")));
        self.store(window(&self.groups, page))
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
}

#[async_trait]
impl Readiness for Fake {
    async fn ready(&self) -> Result<(), String> {
        if let Some(delay) = self.ready_delay {
            tokio::time::sleep(delay).await;
        }
        self.not_ready.clone().map_or(Ok(()), Err)
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

/// The API state with `fake` behind every port.
pub(crate) fn state(fake: &Arc<Fake>) -> ApiState {
    ApiState {
        tenant: Tenant::new(TENANT).expect("tenant"),
        runs: fake.clone(),
        directory: fake.clone(),
        auth: fake.clone(),
        trigger: fake.clone(),
        readiness: fake.clone(),
        metrics: fake.clone(),
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
    let response = router
        .clone()
        .oneshot(request.body(Body::empty()).expect("request"))
        .await
        .expect("infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    let body = String::from_utf8(bytes.to_vec()).expect("UTF-8 body");
    let encoded = STANDARD.encode(format!("{ADMIN}:{CANARY}"));
    assert!(!body.contains(CANARY), "canary password in {body}");
    assert!(!body.contains(&encoded), "encoded canary in {body}");
    for value in headers.values() {
        let value = String::from_utf8_lossy(value.as_bytes());
        assert!(!value.contains(CANARY) && !value.contains(&encoded));
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

/// A finished run of the test tenant.
pub(crate) fn run(id: i64, mode: SyncMode, outcome: Outcome) -> RunRecord {
    RunRecord {
        id: RunId(id),
        tenant: Tenant::new(TENANT).expect("tenant"),
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
