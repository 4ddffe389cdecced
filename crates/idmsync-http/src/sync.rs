//! `POST idm-sync`: start a run in the background, or plan one and show the plan (dry run).

use axum::extract::{Extension, State};
use axum::http::header::LOCATION;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use idmsync_domain::{Counts, RunId, SyncMode, Trigger};
use idmsync_ports::{DryRunReport, Principal};
use serde::Serialize;

use crate::error::ApiError;
use crate::params::Params;
use crate::runs::logfile_path;
use crate::ApiState;

/// The answer to a started run: its id, to poll the run log with, and its mode.
#[derive(Serialize)]
struct Started {
    id: i64,
    #[serde(rename = "type")]
    kind: Option<&'static str>,
}

/// The answer to a dry run: what a run would change now.
#[derive(Serialize)]
struct DryRun {
    #[serde(rename = "type")]
    kind: &'static str,
    counts: Counts,
    lines: Vec<String>,
    guard: Option<String>,
}

impl From<DryRunReport> for DryRun {
    fn from(report: DryRunReport) -> Self {
        Self {
            kind: report.mode.as_str(),
            counts: report.counts,
            lines: report.lines.iter().map(ToString::to_string).collect(),
            guard: report.guard,
        }
    }
}

/// `POST idm-sync?type=full|differential&dryRun=true|false`. Without `type` the service picks
/// the mode (full until one run succeeded).
pub(crate) async fn start(
    State(state): State<ApiState>,
    Extension(principal): Extension<Principal>,
    params: Params,
) -> Result<Response, ApiError> {
    let mode = params.parse("type", SyncMode::parse, "must be full or differential")?;
    let dry_run = params
        .parse("dryRun", parse_bool, "must be true or false")?
        .unwrap_or(false);
    if dry_run {
        let report = state.trigger.dry_run(mode).await?;
        return Ok(Json(DryRun::from(report)).into_response());
    }
    let id = state.trigger.start(mode, Trigger::Api).await?;
    tracing::info!(run = %id, by = %principal.external_id, "sync run started through the API");
    let kind = match mode {
        Some(mode) => Some(mode),
        None => recorded_mode(&state, id).await,
    };
    let body = Started {
        id: id.0,
        kind: kind.map(SyncMode::as_str),
    };
    Ok((
        StatusCode::ACCEPTED,
        [(LOCATION, logfile_path(id))],
        Json(body),
    )
        .into_response())
}

/// The mode the service chose for run `id`, read back from the run log (the trigger port
/// returns only the id). `None` if the log cannot tell: the run has started either way, so the
/// answer stays 202.
async fn recorded_mode(state: &ApiState, id: RunId) -> Option<SyncMode> {
    match state.runs.run(id).await {
        Ok(run) => run.map(|run| run.mode),
        Err(error) => {
            tracing::warn!(run = %id, %error, "cannot read the mode of a started run");
            None
        }
    }
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
