//! Deduplication: the source may return two entries with one source id or one external id,
//! and a differential run may return an entry whose external id an untouched stored entry
//! holds. Each of these is settled here, before anything is planned, so that the rest of the
//! planner may take every source id and external id as unique. Renames are found here too:
//! like the clashes, they weigh a source entry's external id against what the store holds.

use std::borrow::Cow;
use std::collections::hash_map::Entry;

use crate::change::{EventKey, LogLine};
use crate::fxhash::{self, FxHashMap, FxHashSet};
use crate::ids::{ExternalId, SourceId};
use crate::model::{SourceGroup, SourceUser, UserStatus};

use super::Planner;

/// Something with a stable id and an external id, so users and groups share deduplication.
pub(super) trait Identified {
    fn ids(&self) -> (&SourceId, &ExternalId);
    fn locator(&self) -> Option<&str>;

    /// The entry as a conflict names it: its id and where it is (`JLennon`, or
    /// `jlennon (uid=jlennon,ou=people,…)`), so that both sides can be found in the source.
    fn describe(&self) -> String {
        let (sid, ext) = self.ids();
        match self.locator() {
            Some(locator) => format!("{ext} ({locator})"),
            None if sid.as_str() != ext.as_str() => format!("{ext} (source id {sid})"),
            None => ext.to_string(),
        }
    }
}

impl Identified for SourceUser {
    fn ids(&self) -> (&SourceId, &ExternalId) {
        (&self.source_id, &self.external_id)
    }

    fn locator(&self) -> Option<&str> {
        self.locator.as_deref()
    }
}

impl Identified for SourceGroup {
    fn ids(&self) -> (&SourceId, &ExternalId) {
        (&self.source_id, &self.external_id)
    }

    fn locator(&self) -> Option<&str> {
        self.locator.as_deref()
    }
}

impl Planner<'_> {
    /// Keeps one entry per source id and per (folded) external id. Of two entries with the same
    /// external id, the one the store already knows wins (in the first one's place), else the
    /// first; the loser's source id is returned so that a full run does not deactivate it.
    ///
    /// The indexes borrow the entries' ids and point at positions, so that a hundred thousand
    /// entries are checked without copying an id.
    pub(super) fn dedupe<T: Identified>(
        &mut self,
        items: Vec<T>,
        group: bool,
    ) -> (Vec<T>, Vec<SourceId>) {
        let (index, what) = if group {
            (&self.group_index, "group")
        } else {
            (&self.user_index, "user")
        };
        let fold = self.fold;
        // Per entry, the place it takes in the result; `None` for the skipped.
        let mut place: Vec<Option<usize>> = vec![None; items.len()];
        let mut places = 0;
        let mut protected = Vec::new();
        let mut warnings = Vec::new();
        {
            // Source id to the position of the first entry that has it.
            let mut sids: FxHashMap<&SourceId, usize> = fxhash::map(items.len());
            // Folded external id to the position of the entry that holds it now.
            let mut by_ext: FxHashMap<Cow<str>, usize> = fxhash::map(items.len());
            for (i, item) in items.iter().enumerate() {
                let (sid, ext) = item.ids();
                if let Some(&first) = sids.get(sid) {
                    warnings.push(LogLine::new(
                        EventKey::Conflict,
                        format!(
                            "{what} source id {sid} is claimed by {} and by {}; the second is \
                             skipped",
                            items[first].describe(),
                            item.describe()
                        ),
                    ));
                    continue;
                }
                sids.insert(sid, i);
                match by_ext.entry(fold.key(ext.as_str())) {
                    Entry::Vacant(v) => {
                        v.insert(i);
                        place[i] = Some(places);
                        places += 1;
                    }
                    Entry::Occupied(mut o) => {
                        let kept = *o.get();
                        let loser = if !index.contains_key(items[kept].ids().0)
                            && index.contains_key(sid)
                        {
                            place[i] = place[kept].take();
                            o.insert(i);
                            kept
                        } else {
                            i
                        };
                        let winner = if loser == i { kept } else { i };
                        warnings.push(LogLine::new(
                            EventKey::Conflict,
                            format!(
                                "{what} id {} is claimed by {} and by {}; the second is skipped",
                                items[winner].ids().1,
                                items[winner].describe(),
                                items[loser].describe(),
                            ),
                        ));
                        protected.push(items[loser].ids().0.clone());
                    }
                }
            }
        }
        self.out.warnings.extend(warnings);
        if places == items.len() {
            // Nothing skipped, hence nothing replaced: every entry keeps its place.
            return (items, protected);
        }
        let mut slots: Vec<Option<T>> = std::iter::repeat_with(|| None).take(places).collect();
        for (item, place) in items.into_iter().zip(place) {
            if let Some(p) = place {
                slots[p] = Some(item);
            }
        }
        (slots.into_iter().flatten().collect(), protected)
    }

    /// In a differential run, an entry whose external id is taken by another active stored
    /// entry that this run does not touch would create two active entries with one login: skip
    /// it until a full run sees both.
    pub(super) fn drop_external_id_clashes<T: Identified>(
        &mut self,
        items: Vec<T>,
        users: bool,
    ) -> Vec<T> {
        if self.full {
            return items;
        }
        let fold = self.fold;
        let touched: FxHashSet<&SourceId> = items.iter().map(|i| i.ids().0).collect();
        let taken: FxHashMap<Cow<str>, &SourceId> = if users {
            self.store
                .users
                .iter()
                .filter(|u| u.status == UserStatus::Active && !touched.contains(&u.source_id))
                .map(|u| (fold.key(u.external_id.as_str()), &u.source_id))
                .collect()
        } else {
            self.store
                .groups
                .iter()
                .filter(|g| g.status == UserStatus::Active && !touched.contains(&g.source_id))
                .map(|g| (fold.key(g.external_id.as_str()), &g.source_id))
                .collect()
        };
        let (event, what) = if users {
            (EventKey::SkippedUser, "user")
        } else {
            (EventKey::SkippedGroup, "group")
        };
        let mut kept = Vec::with_capacity(items.len());
        let mut warnings = Vec::new();
        for item in items {
            let (sid, ext) = item.ids();
            match taken.get(fold.key(ext.as_str()).as_ref()) {
                Some(other) if *other != sid => warnings.push(LogLine::new(
                    event,
                    format!(
                        "{ext}: {what} id already used by source id {other}; skipped until a \
                         full run"
                    ),
                )),
                _ => kept.push(item),
            }
        }
        drop(taken);
        self.out.warnings.extend(warnings);
        kept
    }
}

/// The entries of `items` the store knows under another external id, with their new one.
pub(super) fn renames<'s, T: Identified>(
    items: &[T],
    index: &FxHashMap<&SourceId, usize>,
    stored_name: impl Fn(usize) -> &'s ExternalId,
) -> FxHashMap<SourceId, ExternalId> {
    items
        .iter()
        .filter_map(|item| {
            let (sid, ext) = item.ids();
            let &i = index.get(sid)?;
            (stored_name(i) != ext).then(|| (sid.clone(), ext.clone()))
        })
        .collect()
}
