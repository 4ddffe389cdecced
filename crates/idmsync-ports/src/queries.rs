//! The read side: what the CLI and the REST API show. Served from the local database only,
//! never with a round trip to the directory.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use idmsync_domain::{LogLine, RunId, RunRecord, Tenant, UserStatus};

use crate::store::StoreError;

/// A window into a long list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// Rows to skip.
    pub start: u64,
    /// Rows to return at most.
    pub size: u64,
}

/// Which users or groups to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserFilter {
    /// Only this status.
    pub status: Option<UserStatus>,
    /// Only this external id (exact).
    pub external_id: Option<String>,
    /// Only entries whose external id or name (for users also e-mail) contains this text
    /// (case-insensitive).
    pub text: Option<String>,
}

/// A user as shown to operators and scripts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserView {
    /// Tenant name.
    pub tenant: String,
    /// The source's stable id (entryUUID, objectGUID, ...): the row's identity.
    pub source_id: String,
    /// Login id.
    pub external_id: String,
    /// Where the source keeps the user (an LDAP DN), if it says.
    pub locator: Option<String>,
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// E-mail, if any.
    pub email: Option<String>,
    /// Active or inactive.
    pub status: UserStatus,
    /// Who deactivated it.
    pub deactivated_by: Option<String>,
    /// Tenant admin.
    pub admin: bool,
    /// When a sync last wrote the row.
    pub last_sync_at: Option<DateTime<Utc>>,
}

/// A group as shown, with its direct active members and child groups (sorted external ids).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupView {
    /// Tenant name.
    pub tenant: String,
    /// Group id.
    pub external_id: String,
    /// Display name.
    pub name: String,
    /// Active or inactive.
    pub status: UserStatus,
    /// Direct active user members.
    pub members: Vec<String>,
    /// Direct active child groups.
    pub child_groups: Vec<String>,
}

/// One user's page in the console: the user and its groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserDetail {
    /// The user.
    pub user: UserView,
    /// The groups it is a direct member of, active or not (sorted external ids).
    pub groups: Vec<String>,
    /// The active groups it is in only through nesting (a group of one of its groups, and so
    /// on; sorted external ids, none of `groups`). Cycles are followed once.
    pub inherited: Vec<String>,
    /// The source's document of the user, as it gave it (see `SyncStore::documents`), if it
    /// keeps one: for a tenant of several sources, which of their entries make this user.
    pub document: Option<String>,
}

/// One group's page in the console: the group and the groups it is in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupDetail {
    /// The group, with its direct active members and child groups.
    pub group: GroupView,
    /// The groups it is a direct child of, active or not (sorted external ids).
    pub parents: Vec<String>,
}

/// A run-log line about one entry, with the run it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryLine {
    /// The run that wrote it.
    pub run: RunId,
    /// When that run started.
    pub started_at: DateTime<Utc>,
    /// The line.
    pub line: LogLine,
}

/// How many users and groups a tenant has, by status; for metrics, without listing them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// Active users.
    pub users_active: u64,
    /// Inactive users.
    pub users_inactive: u64,
    /// Active groups.
    pub groups_active: u64,
    /// Inactive groups.
    pub groups_inactive: u64,
}

/// Lists users and groups, sorted by external id.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait DirectoryReader: Send + Sync {
    /// Users of the tenant matching `filter`.
    ///
    /// # Errors
    /// `Unavailable` or `Failed`.
    async fn users(
        &self,
        tenant: &Tenant,
        filter: &UserFilter,
        page: Option<Page>,
    ) -> Result<Vec<UserView>, StoreError>;

    /// Counts of users and groups by status, in a couple of aggregate queries.
    ///
    /// # Errors
    /// `Unavailable` or `Failed`.
    async fn totals(&self, tenant: &Tenant) -> Result<Totals, StoreError>;

    /// The user whose external id is `external_id` (exactly), with its direct and inherited
    /// groups; `None` when the tenant has no such user.
    ///
    /// # Errors
    /// `Unavailable` or `Failed`.
    async fn user(
        &self,
        tenant: &Tenant,
        external_id: &str,
    ) -> Result<Option<UserDetail>, StoreError>;

    /// The group whose external id is `external_id` (exactly), with its members, child groups
    /// and parent groups; `None` when the tenant has no such group.
    ///
    /// # Errors
    /// `Unavailable` or `Failed`.
    async fn group(
        &self,
        tenant: &Tenant,
        external_id: &str,
    ) -> Result<Option<GroupDetail>, StoreError>;

    /// Groups of the tenant matching `filter`, with members.
    ///
    /// # Errors
    /// `Unavailable` or `Failed`.
    async fn groups(
        &self,
        tenant: &Tenant,
        filter: &UserFilter,
        page: Option<Page>,
    ) -> Result<Vec<GroupView>, StoreError>;
}

/// Reads the run log.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait RunLogReader: Send + Sync {
    /// Runs of the tenant, newest first.
    ///
    /// # Errors
    /// `Unavailable` or `Failed`.
    async fn runs(&self, tenant: &Tenant, page: Option<Page>)
        -> Result<Vec<RunRecord>, StoreError>;

    /// One run, or `None` if there is no such run.
    ///
    /// # Errors
    /// `Unavailable` or `Failed`.
    async fn run(&self, id: RunId) -> Result<Option<RunRecord>, StoreError>;

    /// A run's log lines in the order they were written.
    ///
    /// # Errors
    /// `Unavailable` or `Failed`.
    async fn lines(&self, id: RunId) -> Result<Vec<LogLine>, StoreError>;

    /// The tenant's run-log lines about the user or group `external_id`, newest run first and
    /// in written order within a run, at most `limit` (the newest ones): the lines whose message
    /// names it as a whole word (`jdoe (…)`, `jdoe to staff`, `tenant-admin to jdoe`), not those
    /// where it is only part of another id (`jdoe2`).
    ///
    /// # Errors
    /// `Unavailable` or `Failed`.
    async fn history(
        &self,
        tenant: &Tenant,
        external_id: &str,
        limit: u64,
    ) -> Result<Vec<HistoryLine>, StoreError>;
}
