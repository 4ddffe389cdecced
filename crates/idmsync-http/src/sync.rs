//! `POST idm-sync`: start a run in the background, or plan one and show the plan (dry run);
//! `POST idm-sync/users/{login}`: start a run of one user; `POST scim/guard/release`: let the
//! SCIM guard's refused deactivations through.

use axum::extract::{Extension, Path, State};
use axum::http::header::LOCATION;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use idmsync_domain::{RunId, SyncMode, Trigger};
use idmsync_ports::{DryRunReport, Principal};
use serde::Serialize;

use crate::error::ApiError;
use crate::params::Params;
use crate::runs::{entry_path, LogEntry, RunLog};
use crate::wire::CountsBody;
use crate::ApiState;

/// The answer to a dry run: what a run would change now. Its `type` is the mode (`full` or
/// `differential`): a plan is no run, so it has no entry type of the original's.
#[derive(Serialize)]
struct DryRun {
    #[serde(rename = "type")]
    kind: &'static str,
    counts: CountsBody,
    lines: Vec<String>,
    guard: Option<String>,
}

impl From<DryRunReport> for DryRun {
    fn from(report: DryRunReport) -> Self {
        Self {
            kind: report.mode.as_str(),
            counts: CountsBody(report.counts),
            lines: report.lines.iter().map(ToString::to_string).collect(),
            guard: report.guard,
        }
    }
}

/// `POST idm-sync?type=full|differential&dryRun=true|false`. Without `type` the service picks
/// the mode (full until one run succeeded). A started run is answered 202 with its log entry as
/// it stands and a `Location` to poll it at.
pub(crate) async fn start(
    State(state): State<ApiState>,
    Extension(principal): Extension<Principal>,
    params: Params,
) -> Result<Response, ApiError> {
    let whole = |value: &str| {
        SyncMode::parse(value)
            .filter(|mode| matches!(mode, SyncMode::Full | SyncMode::Differential))
    };
    let mode = params.parse("type", whole, "must be full or differential")?;
    let dry_run = params
        .parse("dryRun", parse_bool, "must be true or false")?
        .unwrap_or(false);
    if dry_run {
        let report = state.trigger.dry_run(mode).await?;
        return Ok(Json(DryRun::from(report)).into_response());
    }
    let id = state.trigger.start(mode, Trigger::Api).await?;
    tracing::info!(run = %id, by = %principal.external_id, "sync run started through the API");
    Ok(accepted(&state, id).await)
}

/// `POST idm-sync/users/{login}`: a user run, which reads that one user and their groups from
/// the source now; answered as a started run.
pub(crate) async fn start_user(
    State(state): State<ApiState>,
    Extension(principal): Extension<Principal>,
    Path(login): Path<String>,
) -> Result<Response, ApiError> {
    let id = state.trigger.start_user(&login, Trigger::Api).await?;
    tracing::info!(
        run = %id,
        user = %login,
        by = %principal.external_id,
        "user run started through the API"
    );
    Ok(accepted(&state, id).await)
}

/// 202 with the started run's log entry as it stands and a `Location` to poll it at.
async fn accepted(state: &ApiState, id: RunId) -> Response {
    let location = [(LOCATION, entry_path(id))];
    match started_entry(state, id).await {
        Some(entry) => (StatusCode::ACCEPTED, location, Json(entry)).into_response(),
        None => (StatusCode::ACCEPTED, location, Json(Started { id: id.0 })).into_response(),
    }
}

/// The answer to a started run whose entry cannot be read back: its id, to poll with.
#[derive(Serialize)]
struct Started {
    id: i64,
}

/// The entry of run `id`, just started, read back from the run log (the trigger port returns
/// only the id). `None` if the log cannot tell (the store error is logged where it is mapped):
/// the run has started either way, so the answer stays 202.
async fn started_entry(state: &ApiState, id: RunId) -> Option<LogEntry> {
    RunLog::read(state).await.ok()?.entry(id)
}

/// `true` or `false`, in any case, as Java's `Boolean` reads the original's flags.
fn parse_bool(value: &str) -> Option<bool> {
    if value.eq_ignore_ascii_case("true") {
        Some(true)
    } else if value.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// `POST scim/guard/release`: lets the SCIM guard's refused deactivations through for one
/// window, recorded in the run log; 404 for a tenant whose source is not SCIM.
pub(crate) async fn release_guard(State(state): State<ApiState>) -> Result<Response, ApiError> {
    let Some(guard) = &state.scim_guard else {
        return Err(ApiError::not_found(
            "this tenant's source is not SCIM: it has no SCIM guard to release",
        ));
    };
    let until = guard
        .release()
        .await
        .map_err(|reason| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, reason))?;
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Released {
        released_until: String,
    }
    let body = Released {
        released_until: until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    };
    Ok((StatusCode::OK, Json(body)).into_response())
}
