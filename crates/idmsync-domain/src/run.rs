//! Sync runs as recorded in the run log (the original's `IDM_SYNC_LOG`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::change::Counts;
use crate::ids::{Tenant, Watermark};
use crate::options::SyncMode;

/// The store's id of a run, shown by `log list` and used by `log show ID`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RunId(pub i64);

impl std::fmt::Display for RunId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// What started a run; operators read it to tell scheduled runs from manual ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Trigger {
    /// `idmsync sync` on the command line.
    Manual,
    /// The first full run when the service starts.
    Boot,
    /// A cron schedule.
    Schedule,
    /// The REST API.
    Api,
    /// An operator's button in the console (`idmsync serve`'s web pages).
    Console,
    /// The live stream (`sync.live`) of `serve`.
    Live,
    /// An identity provider's writes to `/scim/v2`.
    Scim,
}

impl Trigger {
    /// The stored and printed form.
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Manual => "manual",
            Trigger::Boot => "boot",
            Trigger::Schedule => "schedule",
            Trigger::Api => "api",
            Trigger::Console => "console",
            Trigger::Live => "live",
            Trigger::Scim => "scim",
        }
    }

    /// Parses the stored form.
    pub fn parse(value: &str) -> Option<Self> {
        [
            Trigger::Manual,
            Trigger::Boot,
            Trigger::Schedule,
            Trigger::Api,
            Trigger::Console,
            Trigger::Live,
            Trigger::Scim,
        ]
        .into_iter()
        .find(|t| t.as_str() == value)
    }
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Started and not finished; a run still `running` after its process died is shown as
    /// `interrupted` once the next run starts.
    Running,
    /// The change set was applied (possibly empty).
    Succeeded,
    /// The source or the store failed; nothing was applied.
    Failed,
    /// The guard stopped it before writing; nothing was applied.
    Aborted,
    /// Another run held the tenant's lock; nothing was done.
    SkippedLocked,
    /// The process died while it ran; its transaction was rolled back.
    Interrupted,
}

impl Outcome {
    /// The stored and printed form.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Running => "running",
            Outcome::Succeeded => "succeeded",
            Outcome::Failed => "failed",
            Outcome::Aborted => "aborted",
            Outcome::SkippedLocked => "skipped-locked",
            Outcome::Interrupted => "interrupted",
        }
    }

    /// Parses the stored form.
    pub fn parse(value: &str) -> Option<Self> {
        [
            Outcome::Running,
            Outcome::Succeeded,
            Outcome::Failed,
            Outcome::Aborted,
            Outcome::SkippedLocked,
            Outcome::Interrupted,
        ]
        .into_iter()
        .find(|o| o.as_str() == value)
    }
}

/// A recorded run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// Its id.
    pub id: RunId,
    /// The tenant it synchronised.
    pub tenant: Tenant,
    /// Full or differential.
    pub mode: SyncMode,
    /// What started it.
    pub trigger: Trigger,
    /// The source's name (`file`, `ldap://host`).
    pub source: String,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When it ended, if it has.
    pub finished_at: Option<DateTime<Utc>>,
    /// How it ended.
    pub outcome: Outcome,
    /// Why it failed or was aborted.
    pub reason: Option<String>,
    /// What it changed.
    pub counts: Counts,
    /// Where the next differential run starts; set only by successful runs.
    pub watermark: Option<Watermark>,
}

/// How a run ends, as written to the run log.
#[derive(Debug, Clone, PartialEq)]
pub struct RunResult {
    /// Outcome.
    pub outcome: Outcome,
    /// Why, for failed and aborted runs.
    pub reason: Option<String>,
    /// What it changed (or would have, for an aborted run).
    pub counts: Counts,
    /// The source position to record; only successful runs advance it.
    pub watermark: Option<Watermark>,
    /// When it ended.
    pub finished_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_forms_round_trip() {
        for o in [
            Outcome::Running,
            Outcome::SkippedLocked,
            Outcome::Interrupted,
        ] {
            assert_eq!(Outcome::parse(o.as_str()), Some(o));
        }
        for t in [
            Trigger::Manual,
            Trigger::Boot,
            Trigger::Schedule,
            Trigger::Api,
            Trigger::Live,
            Trigger::Scim,
        ] {
            assert_eq!(Trigger::parse(t.as_str()), Some(t));
        }
    }
}
