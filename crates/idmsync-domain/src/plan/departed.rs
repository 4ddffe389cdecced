//! Entries that left the source, as a differential read reports them. A timestamp search cannot
//! see a deletion, but RFC 4533 content synchronisation and Active Directory's DirSync can: they
//! name the deleted entries (and those moved out of the search base or the filter), or, after
//! RFC 4533's present phase, name every entry that is still there. Either way a differential run
//! can then deactivate leavers without reading the whole directory.

use crate::fxhash::{self, FxHashSet};
use crate::ids::SourceId;

/// What a read knows about the entries of one kind (users or groups) that left the source.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Departures {
    /// Nothing: the read cannot see deletions (timestamps), so a stored entry it did not return
    /// is unchanged.
    #[default]
    Unknown,
    /// These entries left the source; every other one it did not return is unchanged.
    Listed(Vec<SourceId>),
    /// Every entry left the source except these and those the read returned (RFC 4533's present
    /// phase: the server names what is still there, not what went).
    AllBut(Vec<SourceId>),
}

/// Departures of users and of groups: a directory reads them in separate searches, each of which
/// may learn them its own way.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Departed {
    /// Users that left.
    pub users: Departures,
    /// Groups that left.
    pub groups: Departures,
}

impl Departed {
    /// Whether some stored entry may have left: not when the read knows nothing of departures
    /// or names none, in which case a differential run needs the stored edges of the groups it
    /// returned only, not of every entry.
    #[must_use]
    pub fn may_name_any(&self) -> bool {
        let may = |d: &Departures| match d {
            Departures::Unknown => false,
            Departures::Listed(ids) => !ids.is_empty(),
            Departures::AllBut(_) => true,
        };
        may(&self.users) || may(&self.groups)
    }

    /// The users and groups named gone, when the read names them; `None` after a present phase,
    /// when any stored entry not named present may have left.
    #[must_use]
    pub fn named(&self) -> Option<Vec<SourceId>> {
        let mut named = Vec::new();
        for departures in [&self.users, &self.groups] {
            match departures {
                Departures::Unknown => {}
                Departures::Listed(ids) => named.extend(ids.iter().cloned()),
                Departures::AllBut(_) => return None,
            }
        }
        Some(named)
    }
}

/// [`Departures`] indexed for the planner's one question per stored entry.
pub(super) enum Gone<'a> {
    Nothing,
    Listed(FxHashSet<&'a SourceId>),
    AllBut(FxHashSet<&'a SourceId>),
}

impl<'a> Gone<'a> {
    pub(super) fn new(departures: &'a Departures) -> Self {
        let set = |ids: &'a [SourceId]| {
            let mut set = fxhash::set(ids.len());
            set.extend(ids.iter());
            set
        };
        match departures {
            Departures::Unknown => Self::Nothing,
            Departures::Listed(ids) => Self::Listed(set(ids)),
            Departures::AllBut(ids) => Self::AllBut(set(ids)),
        }
    }

    /// Whether the stored entry `sid`, which the read did not return, left the source.
    pub(super) fn contains(&self, sid: &SourceId) -> bool {
        match self {
            Self::Nothing => false,
            Self::Listed(set) => set.contains(sid),
            Self::AllBut(set) => !set.contains(sid),
        }
    }

    pub(super) fn is_nothing(&self) -> bool {
        matches!(self, Self::Nothing)
    }
}
