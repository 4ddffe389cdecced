//! The safety guard: a full run that would deactivate too many users stops before writing.
//!
//! Directories fail in ways that look like mass deletions (a wrong search base, an expired
//! service account that sees nothing, a truncated file). The guard turns those into an aborted
//! run instead of a locked-out company.

use crate::change::ChangeSet;
use crate::model::{StoreState, UserStatus};
use crate::options::{MaxDeactivations, SyncMode};

/// Why the guard stopped a run; the message is recorded with the run and printed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GuardStop {
    /// The source returned no users while the store has active ones.
    #[error(
        "the source returned no users while {active} users are active; refusing to deactivate \
         them all (check the source, or run again with --force)"
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
}

/// Checks a planned change set. Differential runs never deactivate and always pass.
/// `source_users` is the number of users the source returned (before deduplication).
pub fn check(
    mode: SyncMode,
    changes: &ChangeSet,
    store: &StoreState,
    source_users: usize,
    max: MaxDeactivations,
) -> Result<(), GuardStop> {
    if mode == SyncMode::Differential {
        return Ok(());
    }
    let active = store
        .users
        .iter()
        .filter(|u| u.status == UserStatus::Active)
        .count() as u64;
    if source_users == 0 && active > 0 {
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
