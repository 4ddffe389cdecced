//! Entries the source found but could not read. Their absence must not read as a deletion, so
//! this finds the stored entries they name before anything else is planned: the run then counts
//! those as seen and, in a full run, keeps them as members of the groups that still name them.

use std::borrow::Cow;

use crate::change::EventKey;
use crate::fxhash::FxHashMap;

use super::{Planner, Unreadable};

/// Store indices of the users and groups that unreadable source entries name.
#[derive(Default)]
pub(super) struct Kept {
    pub(super) users: Vec<usize>,
    pub(super) groups: Vec<usize>,
}

impl<'a> Planner<'a> {
    /// The stored entries that `unreadable` names (by source id, else by locator), which the
    /// run keeps as they are; each unreadable entry gets a log line.
    pub(super) fn unreadable(&mut self, unreadable: &[Unreadable]) -> Kept {
        let mut kept = Kept::default();
        if unreadable.is_empty() {
            return kept;
        }
        let store = self.store;
        let fold = self.fold;
        let locators = |located: &mut dyn Iterator<Item = Option<&'a str>>| {
            let mut map: FxHashMap<Cow<'a, str>, usize> = FxHashMap::default();
            for (i, l) in located.enumerate() {
                if let Some(l) = l {
                    map.insert(fold.key(l), i);
                }
            }
            map
        };
        let user_locators = locators(&mut store.users.iter().map(|u| u.locator.as_deref()));
        let group_locators = locators(&mut store.groups.iter().map(|g| g.locator.as_deref()));
        for u in unreadable {
            let (index, by_locator, out, event) = if u.group {
                let event = EventKey::SkippedGroup;
                (&self.group_index, &group_locators, &mut kept.groups, event)
            } else {
                let event = EventKey::SkippedUser;
                (&self.user_index, &user_locators, &mut kept.users, event)
            };
            let event = if u.conflict {
                EventKey::SourceConflict
            } else {
                event
            };
            let found = u
                .source_id
                .as_ref()
                .and_then(|sid| index.get(sid))
                .or_else(|| by_locator.get(fold.key(&u.locator).as_ref()));
            let outcome = match found {
                Some(&i) => {
                    out.push(i);
                    "the stored entry is kept as it is"
                }
                None => "not stored yet",
            };
            let message = if u.conflict {
                format!("{}: {}; {outcome}", u.locator, u.reason)
            } else {
                format!("{}: could not be read ({}); {outcome}", u.locator, u.reason)
            };
            self.warn(event, message);
        }
        kept
    }
}
