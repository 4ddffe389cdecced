//! The run log: `idm-sync-log-entries` (the runs, newest first) and each run's log file.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::IntoResponse;
use axum::Json;
use chrono::{DateTime, SecondsFormat, Utc};
use idmsync_domain::{Counts, RunId, RunRecord};
use serde::Serialize;

use crate::error::ApiError;
use crate::params::Params;
use crate::ApiState;

/// A run as the original's `idm-sync-log-entries` shows it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct LogEntry {
    id: i64,
    #[serde(rename = "type")]
    kind: &'static str,
    time_stamp: String,
    outcome: &'static str,
    trigger: &'static str,
    finished: Option<String>,
    counts: Counts,
    reason: Option<String>,
}

impl From<RunRecord> for LogEntry {
    fn from(run: RunRecord) -> Self {
        Self {
            id: run.id.0,
            kind: run.mode.as_str(),
            time_stamp: iso(run.started_at),
            outcome: run.outcome.as_str(),
            trigger: run.trigger.as_str(),
            finished: run.finished_at.map(iso),
            counts: run.counts,
            reason: run.reason,
        }
    }
}

/// A time as the API prints it: ISO 8601 in UTC with milliseconds, one fixed width for scripts.
pub(crate) fn iso(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Where a run's log file is served; also the `Location` of a run started through the API.
pub(crate) fn logfile_path(id: RunId) -> String {
    format!("{}/idm-sync-log-entries/{id}/logfile", crate::API_PREFIX)
}

/// `GET idm-sync-log-entries?tenantId=&start=&size=`.
pub(crate) async fn list(
    State(state): State<ApiState>,
    params: Params,
) -> Result<Json<Vec<LogEntry>>, ApiError> {
    params.check_tenant(&state.tenant)?;
    let runs = state.runs.runs(&state.tenant, Some(params.page()?)).await?;
    Ok(Json(runs.into_iter().map(LogEntry::from).collect()))
}

/// `GET idm-sync-log-entries/{id}/logfile`: the run's lines as a text download. A run of
/// another tenant is as unknown as a missing one.
pub(crate) async fn logfile(
    State(state): State<ApiState>,
    id: Result<Path<String>, PathRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let invalid = || ApiError::bad_parameter("id", "must be an integer");
    let Path(id) = id.map_err(|_| invalid())?;
    let id = RunId(id.parse().map_err(|_| invalid())?);
    let run = state
        .runs
        .run(id)
        .await?
        .filter(|run| run.tenant == state.tenant)
        .ok_or_else(|| ApiError::not_found(format!("no sync log entry {id}")))?;
    let body: String = state
        .runs
        .lines(run.id)
        .await?
        .iter()
        .map(|line| format!("{line}\n"))
        .collect();
    Ok((
        [
            (CONTENT_TYPE, "text/plain; charset=utf-8".to_string()),
            (
                CONTENT_DISPOSITION,
                format!(r#"attachment; filename="idm-sync-log-{id}.log""#),
            ),
        ],
        body,
    ))
}
