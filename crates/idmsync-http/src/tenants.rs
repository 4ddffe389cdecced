//! Several tenants on one listener: `/api/enterprise/**` and `/metrics` go to the tenant that
//! the `tenantId` query parameter names (the original's parameter), each through the very
//! router one tenant gets, so that it authenticates that tenant's administrators only;
//! readiness is every tenant's.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::{Json, Router};
use serde_json::json;
use tower::ServiceExt;

use crate::error::{self, ApiError};
use crate::ops::{self, NOT_READY};
use crate::params::Params;
use crate::{ApiState, API_PREFIX};

/// What a caller without `tenantId` is told. It names no tenant: the caller is not
/// authenticated yet, and which tenants a service keeps is not theirs to learn.
const WHICH_TENANT: &str = "this service serves several tenants: add tenantId=NAME";

/// Each tenant's own router by name, and the states for readiness.
pub(crate) struct Tenants {
    routers: BTreeMap<String, Router>,
    states: Vec<ApiState>,
}

impl Tenants {
    /// One router per tenant: the API and its metrics, exactly as a one-tenant service has them.
    pub(crate) fn new(states: Vec<ApiState>) -> Arc<Self> {
        let routers = states
            .iter()
            .map(|state| (state.tenant.to_string(), crate::app_router(state.clone())))
            .collect();
        Arc::new(Self { routers, states })
    }

    /// The router of the tenant `tenantId` names; without it, the only tenant if there is one.
    fn router(&self, params: &Params) -> Result<&Router, ApiError> {
        match params.text("tenantId") {
            Some(name) => self
                .routers
                .get(name)
                .ok_or_else(|| ApiError::not_found(format!("no tenant {name}"))),
            None => {
                let mut all = self.routers.values();
                match (all.next(), all.next()) {
                    (Some(only), None) => Ok(only),
                    _ => Err(ApiError::new(StatusCode::BAD_REQUEST, WHICH_TENANT)),
                }
            }
        }
    }
}

/// `/api/enterprise/**`, dispatched by `tenantId`; without a fallback, to be merged.
pub(crate) fn api_routes(tenants: Arc<Tenants>) -> Router {
    Router::new()
        .route(API_PREFIX, any(dispatch))
        .route(&format!("{API_PREFIX}/{{*rest}}"), any(dispatch))
        .with_state(tenants)
}

/// `/health/live`, `/health/ready` over every tenant and `/metrics` dispatched by `tenantId`
/// (Prometheus passes it as a scrape `params`); without a fallback, to be merged.
pub(crate) fn ops_routes(tenants: Arc<Tenants>) -> Router {
    Router::new()
        .route("/health/live", get(ops::live))
        .route("/health/ready", get(ready))
        .route("/metrics", any(dispatch))
        .method_not_allowed_fallback(error::method_not_allowed)
        .with_state(tenants)
}

/// Hands the request, untouched, to its tenant's router.
async fn dispatch(
    State(tenants): State<Arc<Tenants>>,
    params: Params,
    request: Request,
) -> Result<Response, ApiError> {
    let router = tenants.router(&params)?.clone();
    match router.oneshot(request).await {
        Ok(response) => Ok(response),
        Err(never) => match never {},
    }
}

/// `GET /health/ready`: 200 when every tenant is ready, else 503 naming those that are not (a
/// load balancer sends the service nothing until all can work); each reason goes to the log.
async fn ready(State(tenants): State<Arc<Tenants>>) -> impl IntoResponse {
    let mut not_ready = Vec::new();
    for state in &tenants.states {
        if let Err(reason) = state.readiness.ready().await {
            tracing::warn!(tenant = %state.tenant, %reason, "answering /health/ready with 503");
            not_ready.push(state.tenant.to_string());
        }
    }
    if not_ready.is_empty() {
        (StatusCode::OK, Json(json!({ "status": "ready" })))
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({
                "status": "not-ready",
                "message": NOT_READY,
                "notReady": not_ready,
            })),
        )
    }
}
