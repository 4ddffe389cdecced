//! The source port: the extension point for plugging in a directory.
//!
//! It mirrors the hook points of the original's external IDM source: a full snapshot of users
//! and groups, the users changed since a watermark, the groups changed since a watermark, the
//! tenant administrators, and a name for the run log. A new source implements this trait and
//! nothing else: the engine does all comparing, guarding, writing and logging. See
//! `docs/custom-source.md`.

use async_trait::async_trait;
use idmsync_domain::plan::SourceData;
use idmsync_domain::{MemberRef, SourceGroup, Watermark};

use crate::progress::{DynProgress, NoProgress};

/// What `idmsync config check` (and `serve` as it starts) learns from a source: that it answers
/// with the configured credentials, what kind of server it is, and how much the configured
/// filters select, so an operator sees a wrong base or filter before the first run does.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceCheck {
    /// The server's kind and version where it says (`OpenLDAP`, `389 Directory Server 2.3`).
    pub server: Option<String>,
    /// What the server supports that idmsync can use (`paged results`, `DirSync`, ...).
    pub features: Vec<String>,
    /// Users the configuration selects.
    pub users: u64,
    /// Groups the configuration selects.
    pub groups: u64,
    /// Selected entries that cannot be read as a user or group (no login, no id).
    pub unreadable: u64,
    /// How differential runs would learn what changed, where the source has a choice
    /// (`RFC 4533 content synchronisation, which sees deletions`).
    pub differential: Option<String>,
    /// Whether `serve` could follow its changes as they happen (`sync.live`) now.
    pub follows: bool,
    /// Whether the source is pushed to (SCIM) rather than read: it has nothing to count.
    pub pushed: bool,
}

/// Why a source could not deliver. Any error fails the run with zero changes to the store, so a
/// source must never return partial data as success.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    /// The data is malformed; `location` names the place (`config/users.txt:7`, a DN).
    #[error("{location}: {message}")]
    Invalid {
        /// File and line, DN, or attribute.
        location: String,
        /// What is wrong there.
        message: String,
    },
    /// The source could not be reached or refused the credentials; retrying later may work.
    #[error("source unavailable: {0}")]
    Unavailable(String),
    /// The source failed while answering (a search that failed, a dropped connection, a size
    /// limit): the data read so far is incomplete and is discarded.
    #[error("source failed: {0}")]
    Failed(String),
}

/// A directory of users and groups that idmsync synchronises from.
///
/// # Contract
/// - Every method either returns complete data or an error; a truncated read MUST be an error.
/// - Group members are returned as [`idmsync_domain::MemberRef`]s; the engine resolves them
///   against the snapshot and the store, so a differential read need not return unchanged members.
/// - `changed_since` MAY return entries that did not change (an overlap is safe: unchanged
///   entries plan to nothing) but MUST NOT miss one changed after the watermark.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait IdentitySource: Send + Sync {
    /// The name recorded with each run (`file`, `ldap://dc1.example.com`).
    fn name(&self) -> String;

    /// Extra tenant administrators the source designates (external ids or locators), on top of
    /// `sync.admins`. Most sources designate none.
    fn admins(&self) -> Vec<String> {
        Vec::new()
    }

    /// The form in which a configured name (from `sync.admins`) can match this source's
    /// external ids or locators: an LDAP source normalises a DN as it normalises its members'.
    /// Names that are not locators come back unchanged, which is the default.
    fn canonical_name(&self, name: &str) -> String {
        name.to_string()
    }

    /// Connects, reads what the source offers and counts what the configuration selects,
    /// changing nothing. The default reads a whole snapshot and counts it, which suits small
    /// sources; a directory should count without fetching attributes.
    ///
    /// # Errors
    /// As [`IdentitySource::snapshot`]: the error a run would meet.
    async fn check(&self) -> Result<SourceCheck, SourceError> {
        let data = self.snapshot(&NoProgress).await?;
        let count = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
        Ok(SourceCheck {
            server: None,
            features: Vec::new(),
            users: count(data.users.len()),
            groups: count(data.groups.len()),
            unreadable: count(data.unreadable.len()),
            differential: None,
            follows: false,
            pushed: false,
        })
    }

    /// For a user run (`sync --user`): the user whose external id is `login` (none when the
    /// source no longer has them), and, with their complete member lists, every group that has
    /// that user as a direct member and every group whose external id is in `groups` (the
    /// groups the store has the user in, so that a group the user left is read too). An entry
    /// among these that cannot be read goes to `unreadable`.
    ///
    /// The default reads the whole snapshot and keeps those entries, which suits small sources;
    /// a directory should search for them.
    ///
    /// # Errors
    /// As [`IdentitySource::snapshot`].
    async fn user(&self, login: &str, groups: &[String]) -> Result<SourceData, SourceError> {
        let mut data = self.snapshot(&NoProgress).await?;
        data.users.retain(|u| u.external_id.as_str() == login);
        let locators: Vec<&str> = data
            .users
            .iter()
            .filter_map(|u| u.locator.as_deref())
            .collect();
        let has_user = |g: &SourceGroup| {
            g.members.iter().any(|m| match m {
                MemberRef::ExternalId(id) => id == login,
                MemberRef::Locator(l) => locators.contains(&l.as_str()),
            })
        };
        data.groups
            .retain(|g| has_user(g) || groups.iter().any(|id| id == g.external_id.as_str()));
        Ok(data)
    }

    /// The source's current position, taken before reading so that nothing changed during the
    /// read is missed next time. Stored with a successful run and handed back to
    /// `changed_since` by the next differential run.
    ///
    /// # Errors
    /// `Unavailable` when the source cannot be reached.
    async fn watermark(&self) -> Result<Watermark, SourceError>;

    /// Every user and group, for a full run.
    ///
    /// # Errors
    /// `Invalid` for malformed data (naming the place), `Unavailable` or `Failed` otherwise.
    async fn snapshot(&self, progress: &DynProgress) -> Result<SourceData, SourceError>;

    /// What a differential run reads: the users and the groups (with their complete member
    /// lists) created or changed since `since`, and the changed entries that could not be read,
    /// which the run logs with their reason.
    ///
    /// # Errors
    /// As [`IdentitySource::snapshot`].
    async fn changed_since(
        &self,
        since: &Watermark,
        progress: &DynProgress,
    ) -> Result<SourceData, SourceError>;
}
