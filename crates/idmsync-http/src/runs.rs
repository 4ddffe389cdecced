//! The run log: `idm-sync-log-entries` (the runs, newest first), one entry, and each run's log
//! file.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::IntoResponse;
use axum::Json;
use idmsync_domain::{Outcome, RunId, RunRecord, SyncMode};
use serde::Serialize;

use crate::error::ApiError;
use crate::params::Params;
use crate::wire::{sync_type, time_stamp, CountsBody, ResultList, SourceKind};
use crate::ApiState;

/// A run as the original's `idm-sync-log-entries` shows it, plus what idmsync knows besides
/// (`mode`, `outcome`, `trigger`, `finished`, `counts`, `reason`).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct LogEntry {
    id: i64,
    /// The original's type (`initial-ldap-sync`, ...), for its clients.
    #[serde(rename = "type")]
    kind: String,
    /// `full` or `differential`, for scripts that want the mode without parsing `type`.
    mode: &'static str,
    time_stamp: String,
    outcome: &'static str,
    trigger: &'static str,
    finished: Option<String>,
    counts: CountsBody,
    reason: Option<String>,
}

/// The tenant's whole run log, newest first. Read whole because the original's types need the
/// tenant's first successful full run and its lists need a total, and the run log port has no
/// cheaper way to tell either; a run log grows by a few runs a day.
pub(crate) struct RunLog {
    runs: Vec<RunRecord>,
    first_success: Option<RunId>,
}

impl RunLog {
    /// Reads the run log of the API's tenant.
    pub(crate) async fn read(state: &ApiState) -> Result<Self, ApiError> {
        let runs = state.runs.runs(&state.tenant, None).await?;
        let first_success = runs
            .iter()
            .rev()
            .find(|run| run.mode == SyncMode::Full && run.outcome == Outcome::Succeeded)
            .map(|run| run.id);
        Ok(Self {
            runs,
            first_success,
        })
    }

    /// Run `id` as an entry, if it is this tenant's.
    pub(crate) fn entry(&self, id: RunId) -> Option<LogEntry> {
        self.runs
            .iter()
            .find(|run| run.id == id)
            .map(|run| self.to_entry(run))
    }

    /// Whether `run` is part of the initial sync: a full run up to the first that succeeded.
    fn initial(&self, run: &RunRecord) -> bool {
        run.mode == SyncMode::Full && self.first_success.is_none_or(|first| run.id <= first)
    }

    fn to_entry(&self, run: &RunRecord) -> LogEntry {
        LogEntry {
            id: run.id.0,
            kind: sync_type(run.mode, self.initial(run), SourceKind::of(&run.source)),
            mode: run.mode.as_str(),
            time_stamp: time_stamp(run.started_at),
            outcome: run.outcome.as_str(),
            trigger: run.trigger.as_str(),
            finished: run.finished_at.map(time_stamp),
            counts: CountsBody(run.counts),
            reason: run.reason.clone(),
        }
    }
}

/// Where one entry is served; also the `Location` of a run started through the API.
pub(crate) fn entry_path(id: RunId) -> String {
    format!("{}/idm-sync-log-entries/{id}", crate::API_PREFIX)
}

/// A path parameter that must be a run id; anything else is a 400 naming `id`.
fn run_id(id: Result<Path<String>, PathRejection>) -> Result<RunId, ApiError> {
    let invalid = || ApiError::bad_parameter("id", "must be an integer");
    let Path(id) = id.map_err(|_| invalid())?;
    Ok(RunId(id.parse().map_err(|_| invalid())?))
}

/// The 404 of a run that is unknown or another tenant's (the same, so as to reveal nothing).
fn no_entry(id: RunId) -> ApiError {
    ApiError::not_found(format!("no sync log entry {id}"))
}

/// `GET idm-sync-log-entries?tenantId=&start=&size=`: a page of the runs, newest first, with
/// the run log's total.
pub(crate) async fn list(
    State(state): State<ApiState>,
    params: Params,
) -> Result<Json<ResultList<LogEntry>>, ApiError> {
    params.check_tenant(&state.tenant)?;
    let page = params.page()?;
    let log = RunLog::read(&state).await?;
    let window = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
    let data = log
        .runs
        .iter()
        .skip(window(page.start))
        .take(window(page.size))
        .map(|run| log.to_entry(run))
        .collect();
    let total = u64::try_from(log.runs.len()).unwrap_or(u64::MAX);
    Ok(Json(ResultList::new(page, Some(total), data)))
}

/// `GET idm-sync-log-entries/{id}`: one run, as in the list.
pub(crate) async fn one(
    State(state): State<ApiState>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<LogEntry>, ApiError> {
    let id = run_id(id)?;
    let log = RunLog::read(&state).await?;
    log.entry(id).map(Json).ok_or_else(|| no_entry(id))
}

/// `GET idm-sync-log-entries/{id}/logfile`: the run's lines as a text download. A run of
/// another tenant is as unknown as a missing one.
pub(crate) async fn logfile(
    State(state): State<ApiState>,
    id: Result<Path<String>, PathRejection>,
) -> Result<impl IntoResponse, ApiError> {
    log_file(&state, run_id(id)?).await
}

/// Run `id`'s log file as a download: the API's and the console's.
pub(crate) async fn log_file(state: &ApiState, id: RunId) -> Result<impl IntoResponse, ApiError> {
    let run = state
        .runs
        .run(id)
        .await?
        .filter(|run| run.tenant == state.tenant)
        .ok_or_else(|| no_entry(id))?;
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
