//! Batches of a live stream: the changes a source sent one after another, folded into one
//! [`SourceData`] as if one differential read had returned them all, so that a batch is planned
//! and applied like a differential run.

use crate::fxhash::{self, FxHashSet};
use crate::ids::SourceId;
use crate::model::{SourceGroup, SourceUser};

use super::{Departures, SourceData};

impl SourceData {
    /// Folds `later`, read after `self`, into `self`: an entry sent again replaces its earlier
    /// version, an entry that left after it changed is left (and no longer sent), one that came
    /// back after it left is back. When `later` names what is still there
    /// ([`Departures::AllBut`]), that is the whole truth: whatever it neither keeps nor sends
    /// left, including what `self` sent. A document sent again replaces its earlier version.
    pub fn absorb(&mut self, later: SourceData) {
        let SourceData {
            users,
            groups,
            unreadable,
            departed,
            documents,
        } = later;
        let named: FxHashSet<SourceId> = users
            .iter()
            .map(|u| u.source_id.clone())
            .chain(groups.iter().map(|g| g.source_id.clone()))
            .chain(unreadable.iter().filter_map(|u| u.source_id.clone()))
            .collect();
        fold(
            &mut self.users,
            &mut self.departed.users,
            users,
            departed.users,
            |u: &SourceUser| &u.source_id,
        );
        fold(
            &mut self.groups,
            &mut self.departed.groups,
            groups,
            departed.groups,
            |g: &SourceGroup| &g.source_id,
        );
        self.unreadable
            .retain(|u| u.source_id.as_ref().is_none_or(|id| !named.contains(id)));
        self.unreadable.extend(unreadable);
        let resent: FxHashSet<(bool, &SourceId)> =
            documents.iter().map(|d| (d.group, &d.source_id)).collect();
        self.documents
            .retain(|d| !resent.contains(&(d.group, &d.source_id)));
        self.documents.extend(documents);
    }
}

/// Folds one kind's later entries and departures into the earlier ones.
fn fold<T>(
    entries: &mut Vec<T>,
    departures: &mut Departures,
    later: Vec<T>,
    later_departures: Departures,
    sid: impl Fn(&T) -> &SourceId,
) {
    let sent: FxHashSet<SourceId> = later.iter().map(|e| sid(e).clone()).collect();
    match later_departures {
        Departures::Unknown => {}
        Departures::Listed(left) => {
            let left_set = set(&left);
            entries.retain(|e| !left_set.contains(sid(e)));
            match departures {
                Departures::Unknown => *departures = Departures::Listed(left),
                Departures::Listed(ids) => {
                    ids.retain(|id| !left_set.contains(id));
                    ids.extend(left);
                }
                Departures::AllBut(kept) => kept.retain(|id| !left_set.contains(id)),
            }
        }
        Departures::AllBut(kept) => {
            let kept_set = set(&kept);
            entries.retain(|e| kept_set.contains(sid(e)));
            *departures = Departures::AllBut(kept);
        }
    }
    entries.retain(|e| !sent.contains(sid(e)));
    if let Departures::Listed(ids) = departures {
        ids.retain(|id| !sent.contains(id));
    }
    entries.extend(later);
}

fn set(ids: &[SourceId]) -> FxHashSet<SourceId> {
    let mut set = fxhash::set(ids.len());
    set.extend(ids.iter().cloned());
    set
}
