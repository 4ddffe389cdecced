//! The REST API of idmsync: the run log, the sync trigger, users and groups under
//! `/api/enterprise` (as in Alfresco Process Services' IDM sync), plus open health and metrics
//! endpoints for operators and Prometheus.
//!
//! This is the only crate that names axum. Handlers speak to the service through the ports of
//! `idmsync-ports` only (bundled in [`ApiState`]), map port errors to HTTP statuses in one place
//! and answer every error as JSON `{"message": "..."}`. Answers take the original's shapes
//! (camelCase keys, its time form, its sync log entry types, paged lists with a total) so that
//! its clients keep working; those live in one leaf module, `wire`.
//!
//! The SCIM 2.0 endpoints under `/scim/v2` ([`scim_router`]), where identity providers push
//! users and groups, are a router of their own with their own state ([`ScimState`]): they
//! authenticate with bearer tokens, not tenant administrators, and answer SCIM's media type and
//! error bodies.
//!
//! One service may serve several tenants ([`tenants_router`]): each request names its tenant
//! with `tenantId` and goes to that tenant's own router, as if it were alone.
//!
//! Everything under `/api/enterprise` needs the HTTP Basic credentials of an active tenant
//! administrator. The password is wrapped in [`idmsync_domain::Password`] as soon as it is decoded
//! and no layer here logs request headers; whoever wraps these routers must not add one that does.
#![deny(missing_docs)]

mod auth;
mod console;
mod directory;
mod error;
mod ops;
mod params;
mod runs;
mod scim;
mod secret;
mod serve;
mod sync;
mod tenants;
mod wire;

use std::sync::Arc;

use axum::middleware::from_fn_with_state;
use axum::routing::{get, post};
use axum::Router;
use idmsync_domain::Tenant;
use idmsync_ports::{
    Authenticator, DirectoryReader, GuardRelease, MetricsExporter, Readiness, RunLogReader,
    RunTrigger,
};

pub use console::{console_router, ConsoleState, Provenance};
pub use error::HttpError;
pub use scim::{scim_router, scim_router_at, ScimState, ScimTokens, SCIM_PREFIX};
pub use serve::{check_tls_files, serve, ServeOptions, TlsFiles};

/// Everything the handlers need, behind the ports. The binary builds it once with the adapters
/// of its configuration; handlers clone it per request, which costs a few reference counts.
#[derive(Clone)]
pub struct ApiState {
    /// The one tenant this service synchronises; the API shows nothing of other tenants.
    pub tenant: Tenant,
    /// The run log, for `idm-sync-log-entries`.
    pub runs: Arc<dyn RunLogReader>,
    /// Users and groups, for `users` and `groups`.
    pub directory: Arc<dyn DirectoryReader>,
    /// Checks the Basic credentials of every API request.
    pub auth: Arc<dyn Authenticator>,
    /// Starts runs and dry runs, for `idm-sync`.
    pub trigger: Arc<dyn RunTrigger>,
    /// Answers `/health/ready`.
    pub readiness: Arc<dyn Readiness>,
    /// Renders `/metrics`.
    pub metrics: Arc<dyn MetricsExporter>,
    /// The SCIM guard's release, for a tenant whose source is SCIM.
    pub scim_guard: Option<Arc<dyn GuardRelease>>,
    /// The tenant managers of the service's tenants, who may use this tenant's API too.
    pub managers: Managers,
}

/// Tenant managers (`sync.managers`, the original's `tenantManagerDn`): per tenant, the logins
/// of that tenant who may use every served tenant's API, authenticated in their own tenant.
#[derive(Clone, Default)]
pub struct Managers(Arc<Vec<(Tenant, Vec<String>)>>);

impl Managers {
    /// The managers each tenant names.
    pub fn new(by_tenant: Vec<(Tenant, Vec<String>)>) -> Self {
        Self(Arc::new(by_tenant))
    }

    /// The tenants that name `login` a manager.
    pub(crate) fn tenants_of<'a>(&'a self, login: &'a str) -> impl Iterator<Item = &'a Tenant> {
        self.0
            .iter()
            .filter(move |(_, logins)| logins.iter().any(|l| l == login))
            .map(|(tenant, _)| tenant)
    }
}

/// Where the API lives, as in the original product, so that its scripts keep working.
const API_PREFIX: &str = "/api/enterprise";

/// The authenticated API, `/api/enterprise/**`, with JSON 404s for every other path. For a
/// listener that serves only the API (the operations endpoints listen elsewhere).
pub fn api_router(state: ApiState) -> Router {
    api_routes(state).fallback(error::not_found)
}

/// The open operations endpoints, `/health/live`, `/health/ready` and `/metrics`, with JSON 404s
/// for every other path. For a separate listener (`http.metrics_listen`) that load balancers and
/// Prometheus reach without credentials.
pub fn ops_router(state: ApiState) -> Router {
    ops::routes(state).fallback(error::not_found)
}

/// The API and the operations endpoints on one listener. A function of its own because two
/// routers that each answer unknown paths cannot be merged: this one answers them once.
pub fn app_router(state: ApiState) -> Router {
    api_routes(state.clone())
        .merge(ops::routes(state))
        .fallback(error::not_found)
}

/// The API and the operations endpoints of several tenants on one listener: `/api/enterprise/**`
/// and `/metrics` go to the router [`app_router`] makes for the tenant that `tenantId` names
/// (400 without it, 404 for a tenant not served), so each tenant's administrators reach their
/// tenant only; `/health/ready` is ready when every tenant is.
pub fn tenants_router(states: Vec<ApiState>) -> Router {
    let tenants = tenants::Tenants::new(states);
    tenants::api_routes(tenants.clone())
        .merge(tenants::ops_routes(tenants))
        .fallback(error::not_found)
}

/// [`tenants_router`]'s API alone, for a listener beside a separate operations listener.
pub fn tenants_api_router(states: Vec<ApiState>) -> Router {
    tenants::api_routes(tenants::Tenants::new(states)).fallback(error::not_found)
}

/// [`tenants_router`]'s operations endpoints alone, for `http.metrics_listen`.
pub fn tenants_ops_router(states: Vec<ApiState>) -> Router {
    tenants::ops_routes(tenants::Tenants::new(states)).fallback(error::not_found)
}

/// `router` (one of the routers above) with the SCIM endpoints of each pushed tenant added at
/// its path (`/scim/v2`, or `/scim/v2/NAME` beside other tenants); unchanged without any.
pub fn with_scim(router: Router, scim: Vec<(String, ScimState)>) -> Router {
    scim.into_iter().fold(router, |router, (path, state)| {
        router.merge(scim_router_at(state, &path))
    })
}

/// `router` with the operator's console at `/` added (`http.console`), or unchanged.
pub fn with_console(router: Router, console: Option<ConsoleState>) -> Router {
    match console {
        Some(state) => router.merge(console_router(state)),
        None => router,
    }
}

/// The API routes, nested under [`API_PREFIX`] behind the admin check. The check wraps the
/// nested router's own fallbacks too, so that without credentials nothing under the prefix
/// (not even which paths or methods exist) is revealed.
fn api_routes(state: ApiState) -> Router {
    let api = Router::new()
        .route("/idm-sync-log-entries", get(runs::list))
        .route("/idm-sync-log-entries/{id}", get(runs::one))
        .route("/idm-sync-log-entries/{id}/logfile", get(runs::logfile))
        .route("/idm-sync", post(sync::start))
        .route("/idm-sync/users/{login}", post(sync::start_user))
        .route("/users", get(directory::users))
        .route("/groups", get(directory::groups))
        .route("/scim/guard/release", post(sync::release_guard))
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(from_fn_with_state(state.clone(), auth::require_admin))
        .with_state(state);
    Router::new().nest(API_PREFIX, api)
}
