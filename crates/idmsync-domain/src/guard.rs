//! The safety guard: a full run that would deactivate too many users stops before writing.
//!
//! Directories fail in ways that look like mass deletions (a wrong search base, an expired
//! service account that sees nothing, a truncated file). The guard turns those into an aborted
//! run instead of a locked-out company.

use std::collections::HashSet;

use crate::change::ChangeSet;
use crate::ids::SourceId;
use crate::model::{StoreState, StoredUser, UserStatus};
use crate::options::{MaxDeactivations, SyncMode};

/// Why the guard stopped a run; the message is recorded with the run and printed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GuardStop {
    /// The source returned no users while the store has active ones.
    #[error(
        "the source returned no users while {active} users are active; refusing to deactivate \
         them all (check the search bases, the user filter and the sync account's rights to read \
         the users, e.g. 389-ds ACIs, with `idmsync config check`; or run again with --force)"
    )]
    EmptySource {
        /// Active users in the store.
        active: u64,
    },
    /// More deactivations than `sync.max_deactivations` allows.
    #[error(
        "the run would deactivate {would} of {active} active users, over the limit of {limit} \
         (sync.max_deactivations = {setting}); run again with --force if this is intended"
    )]
    TooManyDeactivations {
        /// Deactivations planned.
        would: u64,
        /// Active users in the store.
        active: u64,
        /// The limit computed from the setting.
        limit: u64,
        /// The setting as configured.
        setting: String,
    },
    /// The tenant has an active administrator now and would have none after the run: nobody
    /// could use the API any more, not even to undo it.
    #[error(
        "the run would leave the tenant without an active administrator (now: {now}); check \
         sync.admins and the source, or run again with --force if this is intended"
    )]
    NoAdministrator {
        /// The active administrators now, by login, the first few.
        now: String,
    },
}

/// Checks a planned change set: no run may take the tenant's last active administrator away
/// (a changed `sync.admins`, an administrator disabled in the source), and neither a full nor a
/// differential run may deactivate more users than `max` (a differential run deactivates the
/// users the source disabled; a user run, one user at most, is not limited). `source_users` is
/// the number of users the source returned (before deduplication).
pub fn check(
    mode: SyncMode,
    changes: &ChangeSet,
    store: &StoreState,
    source_users: usize,
    max: MaxDeactivations,
) -> Result<(), GuardStop> {
    last_administrator(changes, store)?;
    // A user run deactivates one user at most, the one it was asked about.
    if mode == SyncMode::User {
        return Ok(());
    }
    let active = store
        .users
        .iter()
        .filter(|u| u.status == UserStatus::Active)
        .count() as u64;
    // Only a full run reads everything: a differential one that finds nothing changed is normal.
    if mode == SyncMode::Full && source_users == 0 && active > 0 {
        return Err(GuardStop::EmptySource { active });
    }
    let would = changes.user_deactivations();
    let limit = max.limit(active);
    if would > limit {
        return Err(GuardStop::TooManyDeactivations {
            would,
            active,
            limit,
            setting: max.to_string(),
        });
    }
    Ok(())
}

/// Fails when the store has an active administrator and none would be left once `changes`
/// (complete rows) are applied.
fn last_administrator(changes: &ChangeSet, store: &StoreState) -> Result<(), GuardStop> {
    let admin = |u: &StoredUser| u.admin && u.status == UserStatus::Active;
    let now: Vec<&StoredUser> = store.users.iter().filter(|u| admin(u)).collect();
    if now.is_empty() || changes.users.iter().any(|w| admin(&w.row)) {
        return Ok(());
    }
    let written: HashSet<&SourceId> = changes.users.iter().map(|w| &w.row.source_id).collect();
    if now.iter().any(|u| !written.contains(&u.source_id)) {
        return Ok(());
    }
    let mut names: Vec<&str> = now.iter().map(|u| u.external_id.as_str()).take(3).collect();
    if now.len() > names.len() {
        names.push("…");
    }
    Err(GuardStop::NoAdministrator {
        now: names.join(", "),
    })
}
