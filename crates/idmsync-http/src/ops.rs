//! The open operations endpoints: liveness and readiness probes and the Prometheus metrics.
//! They need no credentials: probes and scrapers have none, and nothing here names a user.
//!
//! Nor does anything here name the service's infrastructure: when readiness or the metrics
//! fail, the reason (which may name the database's user, host and database, from the store's
//! error) goes to the log, and the caller gets a fixed sentence.

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use crate::error::{self, ApiError};
use crate::ApiState;

/// What an open endpoint says when the service is not ready.
pub(crate) const NOT_READY: &str = "not ready; the reason is in the service log";
/// What an open endpoint says when the metrics cannot be read.
const NO_METRICS: &str = "metrics unavailable; the reason is in the service log";

/// The Prometheus text exposition format's content type.
const METRICS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The operations routes, without a fallback so that they can be merged with the API's.
pub(crate) fn routes(state: ApiState) -> Router {
    Router::new()
        .route("/health/live", get(live))
        .route("/health/ready", get(ready))
        .route("/metrics", get(metrics))
        .method_not_allowed_fallback(error::method_not_allowed)
        .with_state(state)
}

/// `GET /health/live`: the process answers; restart it only when this fails.
pub(crate) async fn live() -> impl IntoResponse {
    Json(json!({ "status": "up" }))
}

/// `GET /health/ready`: 503 until the service can do its job, so that a load balancer sends no
/// traffic before then; what is missing is logged, not answered. Either way `live` shows the
/// live stream's state (`off`, `connected`, `reconnecting`) and lag in seconds, which do not
/// decide readiness: the scheduled runs go on without the stream.
async fn ready(State(state): State<ApiState>) -> impl IntoResponse {
    let live = state.readiness.live();
    let live = json!({
        "state": live.state.as_str(),
        "lagSeconds": live.lag.as_secs_f64(),
    });
    match state.readiness.ready().await {
        Ok(()) => (
            StatusCode::OK,
            Json(json!({ "status": "ready", "live": live })),
        ),
        Err(reason) => {
            tracing::warn!(%reason, "answering /health/ready with 503");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "status": "not-ready", "message": NOT_READY, "live": live })),
            )
        }
    }
}

/// `GET /metrics`: the Prometheus text format; 503 when the metrics cannot be read, so that the
/// scrape shows as failed rather than as zeros.
async fn metrics(State(state): State<ApiState>) -> Result<impl IntoResponse, ApiError> {
    let text = state.metrics.render().await.map_err(|reason| {
        tracing::warn!(%reason, "cannot render metrics");
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, NO_METRICS)
    })?;
    Ok(([(CONTENT_TYPE, METRICS_CONTENT_TYPE)], text))
}
