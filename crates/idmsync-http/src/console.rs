//! The operator's console: web pages for the runs, their lines, users, groups and sync actions,
//! served at `/` beside the REST API ([`console_router`]).
//!
//! Server-rendered HTML (`pages`, written with maud) over the same ports as the API: the
//! handlers here only read the request, call a port and hand the result to a page. Operators
//! sign in with a form checked by the API's `Authenticator` (directory bind, fallback, lockout),
//! and only tenant administrators get a session (`session`); every refusal reads the same. The
//! page's CSS and script are compiled into the binary (`assets/`): nothing is fetched from
//! elsewhere.

mod chart;
mod pages;
mod session;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Form, Json, Router};
use idmsync_domain::{Password, RunId, SyncMode, Trigger};
use idmsync_ports::{
    AuthError, HistoryLine, Page, StoreError, TriggerError, UserDetail, UserFilter,
};
use maud::Markup;
use serde::Deserialize;

use crate::error::ApiError;
use crate::ApiState;
use pages::Frame;
use session::{Session, Sessions, SESSION_COOKIE, SIGN_IN_COOKIE};

/// Which entry of each source makes a user, read from the user's source document: (source,
/// the source's id) pairs, or `None` for a document that says nothing of it. The binary gives
/// the console the reader of the one source that writes such documents (several sources
/// merged); the console knows no source's format.
pub type Provenance = fn(&str) -> Option<Vec<(String, String)>>;

/// What the console's handlers share: each served tenant's API ports, and the sessions.
#[derive(Clone)]
pub struct ConsoleState {
    tenants: Arc<BTreeMap<String, ApiState>>,
    sessions: Sessions,
    secure: bool,
    provenance: Option<Provenance>,
}

impl ConsoleState {
    /// The console over the API's ports of each tenant in `apis` (one, or every tenant a
    /// service serves: the sign-in form then asks which). `secure`: the listener speaks HTTPS,
    /// so cookies are marked `Secure`. Sessions end after `idle` without a request.
    pub fn new(apis: Vec<ApiState>, secure: bool, idle: Duration) -> Self {
        let tenants = apis
            .into_iter()
            .map(|api| (api.tenant.to_string(), api))
            .collect();
        Self {
            tenants: Arc::new(tenants),
            sessions: Sessions::new(idle),
            secure,
            provenance: None,
        }
    }

    /// The console with a user's page listing which entry of each source makes the user.
    #[must_use]
    pub fn with_provenance(mut self, provenance: Provenance) -> Self {
        self.provenance = Some(provenance);
        self
    }

    /// The tenant a sign-in names: the only one, or the one chosen among several.
    fn tenant(&self, chosen: &str) -> Option<&ApiState> {
        match self.tenants.len() {
            1 => self.tenants.values().next(),
            _ => self.tenants.get(chosen),
        }
    }

    /// The names the sign-in form offers: none when there is one tenant.
    fn choices(&self) -> Vec<&str> {
        if self.tenants.len() > 1 {
            self.tenants.keys().map(String::as_str).collect()
        } else {
            Vec::new()
        }
    }
}

/// Rows a list page shows.
const PAGE_ROWS: u64 = 25;
/// Runs the chart shows.
const CHART_RUNS: u64 = 50;
/// History lines a user's or group's page shows.
const HISTORY_LINES: u64 = 200;

/// The one sentence for every refused sign-in, whatever the reason, so that nobody can tell a
/// wrong password from an unknown login or a user who is not an administrator.
const REFUSED: &str =
    "Sign-in refused: the login or password is wrong, or this account may not use the console.";

/// The console's routes: the pages, the sign-in and sign-out forms, the progress feed and the
/// embedded assets. No fallback: it is merged into a router that has one.
pub fn console_router(state: ConsoleState) -> Router {
    Router::new()
        .route("/", get(home))
        .route("/sign-in", get(sign_in_form).post(sign_in))
        .route("/sign-out", axum::routing::post(sign_out))
        .route("/runs", get(runs))
        .route("/runs/{id}", get(run))
        .route("/runs/{id}/log", get(run_log))
        .route("/users", get(users))
        .route("/users/{login}", get(user))
        .route("/groups", get(groups))
        .route("/groups/{id}", get(group))
        .route("/sync", get(sync_page).post(sync_action))
        .route("/sync/progress", get(progress))
        .route("/assets/console.css", get(css))
        .route("/assets/console.js", get(js))
        .with_state(state)
}

/// A signed-in administrator and the ports of their tenant; a page asked for without a session
/// is sent to the sign-in form.
struct Operator {
    session: Session,
    api: ApiState,
}

impl Operator {
    fn frame(&self) -> Frame<'_> {
        Frame {
            login: &self.session.login,
            csrf: &self.session.csrf,
            tenant: &self.session.tenant,
        }
    }
}

impl FromRequestParts<ConsoleState> for Operator {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &ConsoleState,
    ) -> Result<Self, Self::Rejection> {
        let session = state.sessions.find(&parts.headers);
        match session.and_then(|s| Some((state.tenants.get(&s.tenant)?.clone(), s))) {
            Some((api, session)) => Ok(Self { session, api }),
            None => Err(see_other("/sign-in")),
        }
    }
}

/// A page, never cached: it shows the operator's data.
fn html(status: StatusCode, markup: Markup) -> Response {
    (status, [(CACHE_CONTROL, "no-store")], markup).into_response()
}

fn see_other(to: &str) -> Response {
    (StatusCode::SEE_OTHER, [(LOCATION, to.to_string())]).into_response()
}

/// A page for a port's failure, in the operator's words.
fn failed(operator: &Operator, error: ApiError) -> Response {
    let (status, message) = error.parts();
    html(
        status,
        pages::problem(&operator.frame(), "Something went wrong", message),
    )
}

async fn home(State(state): State<ConsoleState>, headers: HeaderMap) -> Response {
    match state.sessions.find(&headers) {
        Some(_) => see_other("/runs"),
        None => see_other("/sign-in"),
    }
}

async fn sign_in_form(State(state): State<ConsoleState>) -> Response {
    sign_in_page(&state, StatusCode::OK, None)
}

/// The form with a fresh token, set as the sign-in cookie too.
fn sign_in_page(state: &ConsoleState, status: StatusCode, message: Option<&str>) -> Response {
    let token = session::random_token();
    let cookie = session::set_cookie(SIGN_IN_COOKIE, Some(&token), state.secure);
    let mut response = html(status, pages::sign_in(&token, message, &state.choices()));
    if let Ok(value) = cookie.parse() {
        response.headers_mut().append(SET_COOKIE, value);
    }
    response
}

#[derive(Deserialize)]
struct SignIn {
    #[serde(default)]
    login: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    token: String,
    /// Among several tenants, the one whose administrator signs in.
    #[serde(default)]
    tenant: String,
}

async fn sign_in(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    Form(form): Form<SignIn>,
) -> Response {
    let expected = session::cookie(&headers, SIGN_IN_COOKIE).unwrap_or_default();
    if expected.is_empty() || !session::same_token(&form.token, &expected) {
        return sign_in_page(
            &state,
            StatusCode::FORBIDDEN,
            Some("The sign-in form expired; please sign in again."),
        );
    }
    let Some(api) = state.tenant(&form.tenant) else {
        return sign_in_page(&state, StatusCode::UNAUTHORIZED, Some(REFUSED));
    };
    let password = Password::new(form.password);
    let answer = api
        .auth
        .authenticate(&api.tenant, &form.login, &password)
        .await;
    match answer {
        Ok(principal) if principal.admin => {
            let id = state.sessions.open(&form.login, api.tenant.as_str());
            tracing::info!(login = %form.login, tenant = %api.tenant, "console sign-in");
            let mut response = see_other("/runs");
            for cookie in [
                session::set_cookie(SESSION_COOKIE, Some(&id), state.secure),
                session::set_cookie(SIGN_IN_COOKIE, None, state.secure),
            ] {
                if let Ok(value) = cookie.parse() {
                    response.headers_mut().append(SET_COOKIE, value);
                }
            }
            response
        }
        Ok(_) | Err(AuthError::Rejected) => {
            sign_in_page(&state, StatusCode::UNAUTHORIZED, Some(REFUSED))
        }
        Err(AuthError::Unavailable(reason)) => {
            tracing::warn!(%reason, "console sign-in unavailable");
            sign_in_page(
                &state,
                StatusCode::SERVICE_UNAVAILABLE,
                Some("Signing in is not possible right now; try again in a moment."),
            )
        }
    }
}

/// A form's CSRF field; a form without one is refused like one with a wrong one.
#[derive(Deserialize)]
struct Csrf {
    #[serde(default)]
    csrf: String,
}

/// The refusal of a state-changing request whose form lacks the session's token; `None` when
/// it carries it.
fn forged(operator: &Operator, given: &str) -> Option<Response> {
    if session::same_token(given, &operator.session.csrf) {
        None
    } else {
        Some(html(
            StatusCode::FORBIDDEN,
            pages::problem(
                &operator.frame(),
                "Refused",
                "This form is not from this session (it may be from an old page or another site); nothing was done. Reload the page and try again.",
            ),
        ))
    }
}

async fn sign_out(
    State(state): State<ConsoleState>,
    operator: Operator,
    headers: HeaderMap,
    Form(form): Form<Csrf>,
) -> Response {
    if let Some(refused) = forged(&operator, &form.csrf) {
        return refused;
    }
    state.sessions.close(&headers);
    let mut response = see_other("/sign-in");
    if let Ok(value) = session::set_cookie(SESSION_COOKIE, None, state.secure).parse() {
        response.headers_mut().append(SET_COOKIE, value);
    }
    response
}

#[derive(Deserialize, Default)]
struct ListQuery {
    page: Option<u64>,
    q: Option<String>,
}

impl ListQuery {
    fn page_no(&self) -> u64 {
        self.page.unwrap_or(1).max(1)
    }

    /// One more row than shown, to know whether there is a next page.
    fn window(&self) -> Page {
        Page {
            start: (self.page_no() - 1) * PAGE_ROWS,
            size: PAGE_ROWS + 1,
        }
    }

    fn text(&self) -> &str {
        self.q.as_deref().map(str::trim).unwrap_or_default()
    }

    /// The entries whose id or name (a user's e-mail too) contains the search text.
    fn filter(&self) -> UserFilter {
        UserFilter {
            text: Some(self.text().to_string()).filter(|t| !t.is_empty()),
            ..UserFilter::default()
        }
    }
}

/// `rows` cut to a page, and whether more follow.
fn cut<T>(mut rows: Vec<T>) -> (Vec<T>, bool) {
    let more = rows.len() as u64 > PAGE_ROWS;
    rows.truncate(PAGE_ROWS as usize);
    (rows, more)
}

async fn runs(operator: Operator, Query(query): Query<ListQuery>) -> Response {
    let api = &operator.api;
    let read = async {
        let recent = api
            .runs
            .runs(
                &api.tenant,
                Some(Page {
                    start: 0,
                    size: CHART_RUNS,
                }),
            )
            .await?;
        let shown = api.runs.runs(&api.tenant, Some(query.window())).await?;
        Ok::<_, ApiError>((recent, shown))
    };
    match read.await {
        Ok((recent, shown)) => {
            let (shown, more) = cut(shown);
            html(
                StatusCode::OK,
                pages::runs(&operator.frame(), &recent, &shown, query.page_no(), more),
            )
        }
        Err(error) => failed(&operator, error),
    }
}

#[derive(Deserialize, Default)]
struct LineQuery {
    event: Option<String>,
    q: Option<String>,
}

/// The run id of the path, if it is one.
fn run_id(id: Result<Path<String>, PathRejection>) -> Option<RunId> {
    id.ok()
        .and_then(|Path(id)| id.parse::<i64>().ok())
        .map(RunId)
}

fn no_run(operator: &Operator) -> Response {
    html(
        StatusCode::NOT_FOUND,
        pages::problem(&operator.frame(), "No such run", "There is no such run."),
    )
}

async fn run(
    operator: Operator,
    id: Result<Path<String>, PathRejection>,
    Query(query): Query<LineQuery>,
) -> Response {
    let Some(id) = run_id(id) else {
        return no_run(&operator);
    };
    let api = &operator.api;
    let read = async {
        let run = api.runs.run(id).await?.filter(|r| r.tenant == api.tenant);
        let Some(run) = run else {
            return Ok(None);
        };
        let lines = api.runs.lines(id).await?;
        Ok::<_, ApiError>(Some((run, lines)))
    };
    let filter = pages::LineFilter {
        event: query.event.as_deref().filter(|e| !e.is_empty()),
        text: query.q.as_deref().map(str::trim).filter(|q| !q.is_empty()),
    };
    match read.await {
        Ok(Some((run, lines))) => html(
            StatusCode::OK,
            pages::run(&operator.frame(), &run, &lines, &filter),
        ),
        Ok(None) => no_run(&operator),
        Err(error) => failed(&operator, error),
    }
}

async fn run_log(operator: Operator, id: Result<Path<String>, PathRejection>) -> Response {
    let Some(id) = run_id(id) else {
        return no_run(&operator);
    };
    match crate::runs::log_file(&operator.api, id).await {
        Ok(file) => file.into_response(),
        Err(error) => failed(&operator, error),
    }
}

async fn users(operator: Operator, Query(query): Query<ListQuery>) -> Response {
    let api = &operator.api;
    let found = api
        .directory
        .users(&api.tenant, &query.filter(), Some(query.window()))
        .await;
    list_page(&operator, &query, found, pages::users)
}

async fn user(
    State(state): State<ConsoleState>,
    operator: Operator,
    Path(login): Path<String>,
) -> Response {
    let api = &operator.api;
    let found = api.directory.user(&api.tenant, &login);
    let sources = |detail: &UserDetail| {
        let read = state.provenance?;
        read(detail.document.as_deref()?)
    };
    entry_page(
        &operator,
        ("user", &login),
        found,
        |frame, detail, lines| {
            pages::user(frame, detail, &sources(detail).unwrap_or_default(), lines)
        },
    )
    .await
}

async fn groups(operator: Operator, Query(query): Query<ListQuery>) -> Response {
    let api = &operator.api;
    let found = api
        .directory
        .groups(&api.tenant, &query.filter(), Some(query.window()))
        .await;
    list_page(&operator, &query, found, pages::groups)
}

async fn group(operator: Operator, Path(id): Path<String>) -> Response {
    let api = &operator.api;
    let found = api.directory.group(&api.tenant, &id);
    entry_page(&operator, ("group", &id), found, pages::group).await
}

/// A page of a list the query searched: `found` cut to the page, or what failed.
fn list_page<T>(
    operator: &Operator,
    query: &ListQuery,
    found: Result<Vec<T>, StoreError>,
    render: impl Fn(&Frame<'_>, &str, &[T], u64, bool) -> Markup,
) -> Response {
    match found {
        Ok(found) => {
            let (found, more) = cut(found);
            let page = render(
                &operator.frame(),
                query.text(),
                &found,
                query.page_no(),
                more,
            );
            html(StatusCode::OK, page)
        }
        Err(error) => failed(operator, error.into()),
    }
}

/// A user's or group's page (`what` and its id): the entry `found` reads, with its history, or
/// a 404 that names it.
async fn entry_page<T>(
    operator: &Operator,
    (what, id): (&str, &str),
    found: impl std::future::Future<Output = Result<Option<T>, StoreError>>,
    render: impl Fn(&Frame<'_>, &T, &[HistoryLine]) -> Markup,
) -> Response {
    let api = &operator.api;
    let read = async {
        let Some(detail) = found.await? else {
            return Ok(None);
        };
        let lines = api.runs.history(&api.tenant, id, HISTORY_LINES).await?;
        Ok::<_, ApiError>(Some((detail, lines)))
    };
    match read.await {
        Ok(Some((detail, lines))) => {
            html(StatusCode::OK, render(&operator.frame(), &detail, &lines))
        }
        Ok(None) => html(
            StatusCode::NOT_FOUND,
            pages::problem(
                &operator.frame(),
                &format!("No such {what}"),
                &format!("There is no {what} {id}."),
            ),
        ),
        Err(error) => failed(operator, error),
    }
}

async fn sync_page(operator: Operator) -> Response {
    let running = operator.api.trigger.progress();
    html(
        StatusCode::OK,
        pages::sync(&operator.frame(), running.as_ref(), None),
    )
}

#[derive(Deserialize)]
struct SyncForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    mode: String,
    #[serde(default)]
    action: String,
}

async fn sync_action(operator: Operator, Form(form): Form<SyncForm>) -> Response {
    if let Some(refused) = forged(&operator, &form.csrf) {
        return refused;
    }
    let mode = match form.mode.as_str() {
        "full" => SyncMode::Full,
        "differential" => SyncMode::Differential,
        _ => {
            return html(
                StatusCode::BAD_REQUEST,
                pages::problem(
                    &operator.frame(),
                    "Refused",
                    "Choose a full or a differential run.",
                ),
            )
        }
    };
    let trigger = &operator.api.trigger;
    match form.action.as_str() {
        "dry-run" => match trigger.dry_run(Some(mode)).await {
            Ok(report) => html(
                StatusCode::OK,
                pages::dry_run(&operator.frame(), &report, &form.mode),
            ),
            Err(error) => failed(&operator, error.into()),
        },
        "start" => match trigger.start(Some(mode), Trigger::Console).await {
            Ok(run) => {
                tracing::info!(%run, login = %operator.session.login, "run started from the console");
                see_other("/sync")
            }
            Err(TriggerError::AlreadyRunning(run)) => html(
                StatusCode::CONFLICT,
                pages::sync(
                    &operator.frame(),
                    trigger.progress().as_ref(),
                    Some(&format!("Run {run} is in progress: wait for it to end.")),
                ),
            ),
            Err(error) => failed(&operator, error.into()),
        },
        _ => html(
            StatusCode::BAD_REQUEST,
            pages::problem(&operator.frame(), "Refused", "Unknown action."),
        ),
    }
}

/// The run in progress as JSON, for the sync page's script.
async fn progress(operator: Operator) -> Response {
    let body = match operator.api.trigger.progress() {
        Some(p) => serde_json::json!({
            "running": true, "run": p.run.0, "mode": p.mode.as_str(),
            "stage": p.stage, "done": p.done, "total": p.total,
        }),
        None => serde_json::json!({"running": false}),
    };
    ([(CACHE_CONTROL, "no-store")], Json(body)).into_response()
}

async fn css() -> Response {
    asset(
        "text/css; charset=utf-8",
        include_str!("console/assets/console.css"),
    )
}

async fn js() -> Response {
    asset(
        "text/javascript; charset=utf-8",
        include_str!("console/assets/console.js"),
    )
}

fn asset(kind: &'static str, body: &'static str) -> Response {
    (
        [
            (CONTENT_TYPE, kind),
            (CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}
