//! Rows as diesel reads and writes them, and their conversion from and to the domain types.
//! Reading validates every enumerated or non-blank column, so that a damaged row surfaces as
//! `Corrupt` naming the row instead of as a wrong plan.

use std::fmt;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use idmsync_domain::{
    Counts, DeactivatedBy, Document, EventKey, ExternalId, LogLine, Outcome, PasswordHash, RunId,
    RunRecord, SourceId, StoredGroup, StoredUser, SyncMode, Tenant, Trigger, UserStatus, Watermark,
};
use idmsync_ports::UserView;

use crate::error::DbError;
use crate::load::{Fields, Value};
use crate::schema::{idm_groups, idm_source_documents, idm_sync_runs, idm_tenants, idm_users};

/// Turns a failed parse into `Corrupt`, naming the table, row, column and stored value.
fn valid<T>(
    parsed: Option<T>,
    row: &dyn fmt::Display,
    column: &str,
    value: &str,
) -> Result<T, DbError> {
    parsed.ok_or_else(|| DbError::Corrupt(format!("{row}: {column} `{value}` is not valid")))
}

/// Names a user or group row in a `Corrupt` error. Formatted only when a row is damaged: a full
/// run reads every user and group, and formatting this name eagerly for each of them was an
/// allocation per row that a profile of a no-change full sync showed for nothing.
struct RowName(&'static str, i64);

impl fmt::Display for RowName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} row {}", self.0, self.1)
    }
}

fn source_id(row: &dyn fmt::Display, value: &str) -> Result<SourceId, DbError> {
    valid(SourceId::new(value).ok(), row, "source_id", value)
}

fn external_id(row: &dyn fmt::Display, value: &str) -> Result<ExternalId, DbError> {
    valid(ExternalId::new(value).ok(), row, "external_id", value)
}

fn status(row: &dyn fmt::Display, value: &str) -> Result<UserStatus, DbError> {
    valid(UserStatus::parse(value), row, "status", value)
}

/// A user row as read: the planner's [`StoredUser`] plus what the views show.
#[derive(Queryable, Selectable)]
#[diesel(table_name = idm_users)]
pub(crate) struct UserRecord {
    pub(crate) id: i64,
    pub(crate) source_id: String,
    external_id: String,
    locator: Option<String>,
    first_name: String,
    last_name: String,
    email: Option<String>,
    status: String,
    deactivated_by: Option<String>,
    is_admin: bool,
    password_hash: Option<String>,
    password_check: Option<String>,
    last_sync_at: Option<NaiveDateTime>,
}

impl UserRecord {
    /// The row as the planner sees it.
    pub(crate) fn into_stored(self) -> Result<StoredUser, DbError> {
        let row = RowName("idm_users", self.id);
        let deactivated_by = match self.deactivated_by.as_deref() {
            Some(by) => Some(valid(DeactivatedBy::parse(by), &row, "deactivated_by", by)?),
            None => None,
        };
        Ok(StoredUser {
            source_id: source_id(&row, &self.source_id)?,
            external_id: external_id(&row, &self.external_id)?,
            locator: self.locator,
            first_name: self.first_name,
            last_name: self.last_name,
            email: self.email,
            status: status(&row, &self.status)?,
            deactivated_by,
            admin: self.is_admin,
            password_hash: self
                .password_hash
                .map(|phc| PasswordHash::new(phc).with_check(self.password_check)),
        })
    }

    /// The row as operators see it.
    pub(crate) fn into_view(self, tenant: &Tenant) -> Result<UserView, DbError> {
        let last_sync_at = self.last_sync_at.map(|at| at.and_utc());
        let user = self.into_stored()?;
        Ok(UserView {
            tenant: tenant.to_string(),
            source_id: user.source_id.to_string(),
            external_id: user.external_id.to_string(),
            locator: user.locator,
            first_name: user.first_name,
            last_name: user.last_name,
            email: user.email,
            status: user.status,
            deactivated_by: user.deactivated_by.map(|by| by.as_str().to_string()),
            admin: user.admin,
            last_sync_at,
        })
    }
}

/// A group row as read.
#[derive(Queryable, Selectable)]
#[diesel(table_name = idm_groups)]
pub(crate) struct GroupRecord {
    pub(crate) id: i64,
    pub(crate) source_id: String,
    external_id: String,
    locator: Option<String>,
    name: String,
    status: String,
}

impl GroupRecord {
    /// The row as the planner sees it.
    pub(crate) fn into_stored(self) -> Result<StoredGroup, DbError> {
        let row = RowName("idm_groups", self.id);
        Ok(StoredGroup {
            source_id: source_id(&row, &self.source_id)?,
            external_id: external_id(&row, &self.external_id)?,
            locator: self.locator,
            name: self.name,
            status: status(&row, &self.status)?,
        })
    }
}

/// A user row to upsert, borrowing from the change set. It goes into the staging table, whose
/// columns are [`NewUser::COLUMNS`], in that order.
pub(crate) struct NewUser<'a> {
    tenant_id: i64,
    source_id: &'a str,
    external_id: &'a str,
    locator: Option<&'a str>,
    first_name: &'a str,
    last_name: &'a str,
    email: Option<&'a str>,
    status: &'static str,
    deactivated_by: Option<&'static str>,
    is_admin: bool,
    password_hash: Option<&'a str>,
    password_check: Option<&'a str>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    last_sync_at: NaiveDateTime,
}

impl<'a> NewUser<'a> {
    /// The columns written: the staging table's, merged by one `INSERT … SELECT`.
    pub(crate) const COLUMNS: &'static [&'static str] = &[
        "tenant_id",
        "source_id",
        "external_id",
        "locator",
        "first_name",
        "last_name",
        "email",
        "status",
        "deactivated_by",
        "is_admin",
        "password_hash",
        "password_check",
        "created_at",
        "updated_at",
        "last_sync_at",
    ];

    /// `user` of `tenant_id`, written by a sync at `at`.
    pub(crate) fn new(tenant_id: i64, user: &'a StoredUser, at: NaiveDateTime) -> Self {
        Self {
            tenant_id,
            source_id: user.source_id.as_str(),
            external_id: user.external_id.as_str(),
            locator: user.locator.as_deref(),
            first_name: &user.first_name,
            last_name: &user.last_name,
            email: user.email.as_deref(),
            status: user.status.as_str(),
            deactivated_by: user.deactivated_by.map(DeactivatedBy::as_str),
            is_admin: user.admin,
            password_hash: user.password_hash.as_ref().map(|h| h.as_str()),
            password_check: user.password_hash.as_ref().and_then(|h| h.check()),
            created_at: at,
            updated_at: at,
            last_sync_at: at,
        }
    }
}

/// A group row to upsert; see [`NewUser`].
pub(crate) struct NewGroup<'a> {
    tenant_id: i64,
    source_id: &'a str,
    external_id: &'a str,
    locator: Option<&'a str>,
    name: &'a str,
    status: &'static str,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    last_sync_at: NaiveDateTime,
}

impl<'a> NewGroup<'a> {
    /// The columns written; see [`NewUser::COLUMNS`].
    pub(crate) const COLUMNS: &'static [&'static str] = &[
        "tenant_id",
        "source_id",
        "external_id",
        "locator",
        "name",
        "status",
        "created_at",
        "updated_at",
        "last_sync_at",
    ];

    /// `group` of `tenant_id`, written by a sync at `at`.
    pub(crate) fn new(tenant_id: i64, group: &'a StoredGroup, at: NaiveDateTime) -> Self {
        Self {
            tenant_id,
            source_id: group.source_id.as_str(),
            external_id: group.external_id.as_str(),
            locator: group.locator.as_deref(),
            name: &group.name,
            status: group.status.as_str(),
            created_at: at,
            updated_at: at,
            last_sync_at: at,
        }
    }
}

impl Fields for NewUser<'_> {
    fn fields<'a>(&'a self, out: &mut Vec<Value<'a>>) {
        out.extend([
            Value::Int(self.tenant_id),
            Value::Text(Some(self.source_id)),
            Value::Text(Some(self.external_id)),
            Value::Text(self.locator),
            Value::Text(Some(self.first_name)),
            Value::Text(Some(self.last_name)),
            Value::Text(self.email),
            Value::Text(Some(self.status)),
            Value::Text(self.deactivated_by),
            Value::Bool(self.is_admin),
            Value::Text(self.password_hash),
            Value::Text(self.password_check),
            Value::Time(self.created_at),
            Value::Time(self.updated_at),
            Value::Time(self.last_sync_at),
        ]);
    }
}

impl Fields for NewGroup<'_> {
    fn fields<'a>(&'a self, out: &mut Vec<Value<'a>>) {
        out.extend([
            Value::Int(self.tenant_id),
            Value::Text(Some(self.source_id)),
            Value::Text(Some(self.external_id)),
            Value::Text(self.locator),
            Value::Text(Some(self.name)),
            Value::Text(Some(self.status)),
            Value::Time(self.created_at),
            Value::Time(self.updated_at),
            Value::Time(self.last_sync_at),
        ]);
    }
}

/// A document to upsert, borrowing from the change set; see [`NewUser`].
pub(crate) struct NewDocument<'a> {
    tenant_id: i64,
    document: &'a Document,
    updated_at: NaiveDateTime,
}

impl<'a> NewDocument<'a> {
    /// The columns written, keyed by [`NewDocument::KEY`]; see [`NewUser::COLUMNS`].
    pub(crate) const COLUMNS: &'static [&'static str] =
        &["tenant_id", "is_group", "source_id", "body", "updated_at"];

    /// The primary key of `idm_source_documents`, which an upsert matches on.
    pub(crate) const KEY: &'static [&'static str] = &["tenant_id", "is_group", "source_id"];

    /// `document` of `tenant_id`, written by a sync at `at`.
    pub(crate) fn new(tenant_id: i64, document: &'a Document, at: NaiveDateTime) -> Self {
        Self {
            tenant_id,
            document,
            updated_at: at,
        }
    }
}

impl Fields for NewDocument<'_> {
    fn fields<'a>(&'a self, out: &mut Vec<Value<'a>>) {
        out.extend([
            Value::Int(self.tenant_id),
            Value::Bool(self.document.group),
            Value::Text(Some(self.document.source_id.as_str())),
            Value::Text(Some(&self.document.body)),
            Value::Time(self.updated_at),
        ]);
    }
}

/// A document as read.
#[derive(Queryable, Selectable)]
#[diesel(table_name = idm_source_documents)]
pub(crate) struct DocumentRecord {
    is_group: bool,
    source_id: String,
    body: String,
}

impl DocumentRecord {
    /// The document as the domain holds it.
    pub(crate) fn into_document(self) -> Result<Document, DbError> {
        let row = format!("idm_source_documents row `{}`", self.source_id);
        Ok(Document {
            group: self.is_group,
            source_id: source_id(&row, &self.source_id)?,
            body: self.body,
        })
    }
}

/// A log line to append: line `seq` of run `run`.
pub(crate) struct NewLine {
    run: i64,
    seq: i64,
    line: LogLine,
}

impl NewLine {
    /// The columns of `idm_sync_log_lines` written, in [`Fields`] order.
    pub(crate) const COLUMNS: &'static [&'static str] = &["run_id", "seq", "event", "message"];

    /// Line `seq` of `run`.
    pub(crate) fn new(run: RunId, seq: i64, line: LogLine) -> Self {
        Self {
            run: run.0,
            seq,
            line,
        }
    }
}

impl Fields for NewLine {
    fn fields<'a>(&'a self, out: &mut Vec<Value<'a>>) {
        out.extend([
            Value::Int(self.run),
            Value::Int(self.seq),
            Value::Text(Some(self.line.event.as_str())),
            Value::Text(Some(&self.line.message)),
        ]);
    }
}

/// A run row as read, with its tenant's name.
#[derive(Queryable, Selectable)]
#[diesel(table_name = idm_sync_runs)]
pub(crate) struct RunRow {
    id: i64,
    #[diesel(select_expression = idm_tenants::name)]
    #[diesel(select_expression_type = idm_tenants::name)]
    tenant: String,
    mode: String,
    run_trigger: String,
    source: String,
    started_at: NaiveDateTime,
    finished_at: Option<NaiveDateTime>,
    outcome: String,
    reason: Option<String>,
    counts: String,
    watermark: Option<String>,
}

impl RunRow {
    /// The run as the domain records it.
    pub(crate) fn into_record(self) -> Result<RunRecord, DbError> {
        let row = format!("idm_sync_runs row {}", self.id);
        Ok(RunRecord {
            id: RunId(self.id),
            tenant: valid(Tenant::new(&self.tenant).ok(), &row, "tenant", &self.tenant)?,
            mode: valid(SyncMode::parse(&self.mode), &row, "mode", &self.mode)?,
            trigger: valid(
                Trigger::parse(&self.run_trigger),
                &row,
                "run_trigger",
                &self.run_trigger,
            )?,
            source: self.source,
            started_at: self.started_at.and_utc(),
            finished_at: self.finished_at.map(|at| at.and_utc()),
            outcome: valid(
                Outcome::parse(&self.outcome),
                &row,
                "outcome",
                &self.outcome,
            )?,
            reason: self.reason,
            counts: valid(
                serde_json::from_str::<Counts>(&self.counts).ok(),
                &row,
                "counts",
                &self.counts,
            )?,
            watermark: self.watermark.map(Watermark),
        })
    }
}

/// A log line as read: `(seq, event, message)` of run `run`.
pub(crate) fn log_line(
    run: i64,
    (seq, event, message): (i64, String, String),
) -> Result<LogLine, DbError> {
    let row = format!("idm_sync_log_lines run {run} line {seq}");
    let event = valid(EventKey::parse(&event), &row, "event", &event)?;
    Ok(LogLine::new(event, message))
}
