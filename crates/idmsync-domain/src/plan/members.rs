//! Member resolution: the index that turns a group's member references (locators or external
//! ids) into the users and groups they name. It lives apart from the diffing because what may be
//! a member differs by mode (a differential run also resolves to stored entries it did not
//! return) and because ambiguity has to be decided once, here, for every group alike.

use std::borrow::Cow;
use std::collections::hash_map::Entry;
use std::sync::OnceLock;

use crate::change::Key;
use crate::fxhash::{self, FxHashMap, FxHashSet};
use crate::ids::{ExternalId, SourceId};
use crate::model::{MemberRef, SourceGroup, SourceUser, StoreState, UserStatus};

use super::unreadable::Kept;
use super::{key, Fold, Planner};

/// A member reference's target: a user or a group, with its index in the store's users or
/// groups when the store knows it, so that a group's edges compare as integers. It borrows its
/// ids from the run's entries (or the store's), so that building the index of a hundred
/// thousand names copies none of them.
#[derive(Clone, Copy)]
pub(super) struct Target<'r> {
    pub(super) group: bool,
    pub(super) source_id: &'r SourceId,
    external_id: &'r ExternalId,
    pub(super) stored: Option<u32>,
    /// Its position in [`Resolver::targets`], where its shared [`Key`] is made once.
    at: u32,
}

/// The same entry, wherever it was added.
impl PartialEq for Target<'_> {
    fn eq(&self, other: &Self) -> bool {
        (self.group, self.source_id, self.external_id, self.stored)
            == (
                other.group,
                other.source_id,
                other.external_id,
                other.stored,
            )
    }
}

/// A name in the resolution index: one target (its position in [`Resolver::targets`]), or
/// several (ambiguous). `weak` entries come from the store in a differential run and give way
/// to what the source says now. Eight bytes, so that the index of a million people's names is
/// a fraction of their own size (issue 17).
#[derive(Clone, Copy)]
enum Slot {
    One { target: u32, weak: bool },
    Ambiguous,
}

/// Names (folded) to targets. Keys borrow the entries' own strings unless folding changed them.
pub(super) struct Resolver<'r> {
    targets: Vec<Target<'r>>,
    /// Each target's key, made when an edge first names it and shared by every such edge.
    keys: Vec<OnceLock<Key>>,
    by_locator: FxHashMap<Cow<'r, str>, Slot>,
    users_by_ext: FxHashMap<Cow<'r, str>, Slot>,
    groups_by_ext: FxHashMap<Cow<'r, str>, Slot>,
}

pub(super) enum Resolution<'s, 'r> {
    Found(&'s Target<'r>),
    Ambiguous,
    Missing,
}

impl<'r> Resolver<'r> {
    /// An empty index sized for `users` and `groups` names.
    fn with_capacity(users: usize, groups: usize) -> Self {
        Self {
            targets: Vec::with_capacity(users + groups),
            keys: Vec::new(),
            by_locator: fxhash::map(users + groups),
            users_by_ext: fxhash::map(users),
            groups_by_ext: fxhash::map(groups),
        }
    }

    fn insert(
        map: &mut FxHashMap<Cow<'r, str>, Slot>,
        targets: &[Target<'r>],
        name: Cow<'r, str>,
        target: u32,
        weak: bool,
    ) {
        match map.entry(name) {
            Entry::Vacant(v) => {
                v.insert(Slot::One { target, weak });
            }
            Entry::Occupied(mut o) => {
                let same = |t: u32| targets[t as usize] == targets[target as usize];
                let next = match *o.get() {
                    Slot::One { weak: true, .. } if !weak => Slot::One { target, weak },
                    Slot::One { target: t, .. } if same(t) => return,
                    Slot::One { weak: false, .. } if weak => return,
                    _ => Slot::Ambiguous,
                };
                o.insert(next);
            }
        }
    }

    fn add(&mut self, fold: Fold, mut target: Target<'r>, locator: Option<&'r str>, weak: bool) {
        let Ok(at) = u32::try_from(self.targets.len()) else {
            // Four thousand million names: more than any directory, and than memory allows.
            return;
        };
        target.at = at;
        let group = target.group;
        let external_id = target.external_id.as_str();
        self.targets.push(target);
        if let Some(l) = locator {
            Self::insert(&mut self.by_locator, &self.targets, fold.key(l), at, weak);
        }
        let map = if group {
            &mut self.groups_by_ext
        } else {
            &mut self.users_by_ext
        };
        Self::insert(map, &self.targets, fold.key(external_id), at, weak);
    }

    /// Ready to make keys: one empty cell per target.
    fn finish(mut self) -> Self {
        self.keys = std::iter::repeat_with(OnceLock::new)
            .take(self.targets.len())
            .collect();
        self
    }

    /// The shared key of a target this index returned.
    pub(super) fn key(&self, t: &Target<'r>) -> Key {
        self.keys[t.at as usize]
            .get_or_init(|| key(t.source_id, t.external_id))
            .clone()
    }

    pub(super) fn resolve(&self, fold: Fold, r: &MemberRef) -> Resolution<'_, 'r> {
        let one = |slot: Option<&Slot>| match slot {
            None => Resolution::Missing,
            Some(Slot::Ambiguous) => Resolution::Ambiguous,
            Some(&Slot::One { target, .. }) => Resolution::Found(&self.targets[target as usize]),
        };
        match r {
            MemberRef::Locator(l) => one(self.by_locator.get(fold.key(l).as_ref())),
            MemberRef::ExternalId(e) => {
                let key = fold.key(e);
                match (
                    one(self.users_by_ext.get(key.as_ref())),
                    one(self.groups_by_ext.get(key.as_ref())),
                ) {
                    (Resolution::Found(_), Resolution::Found(_)) => Resolution::Ambiguous,
                    (Resolution::Missing, other) | (other, Resolution::Missing) => other,
                    _ => Resolution::Ambiguous,
                }
            }
        }
    }
}

impl<'a> Planner<'a> {
    /// The index member references resolve against: the run's own entries and, in a
    /// differential run, the active stored entries the run does not return (their stored names
    /// are current). Stored names of returned entries are stale and left out, as in a full run.
    pub(super) fn resolver<'r>(
        &self,
        users: &'r [SourceUser],
        groups: &'r [SourceGroup],
        kept: &Kept,
        present_users: &[bool],
        present_groups: &[bool],
    ) -> Resolver<'r>
    where
        'a: 'r,
    {
        let store: &'r StoreState = self.store;
        let mut r = if self.full {
            Resolver::with_capacity(users.len(), groups.len())
        } else {
            Resolver::with_capacity(store.users.len(), store.groups.len())
        };
        let target = |group: bool, source_id: &'r SourceId, external_id: &'r ExternalId| {
            let index = if group {
                &self.group_index
            } else {
                &self.user_index
            };
            Target {
                group,
                source_id,
                external_id,
                stored: index.get(source_id).and_then(|&i| u32::try_from(i).ok()),
                at: 0,
            }
        };
        if self.full {
            // Kept unreadable entries stay members of the groups that still name them.
            for &i in &kept.users {
                let u = &store.users[i];
                let t = target(false, &u.source_id, &u.external_id);
                r.add(self.fold, t, u.locator.as_deref(), true);
            }
            for &i in &kept.groups {
                let g = &store.groups[i];
                let t = target(true, &g.source_id, &g.external_id);
                r.add(self.fold, t, g.locator.as_deref(), true);
            }
        } else {
            let returned: FxHashSet<&SourceId> = users
                .iter()
                .map(|u| &u.source_id)
                .chain(groups.iter().map(|g| &g.source_id))
                .collect();
            let unchanged = |sid: &SourceId, status: UserStatus| {
                status == UserStatus::Active && !returned.contains(sid)
            };
            // A user that a user run found gone, or an entry the source reports gone, is no
            // member of anything any more, even of a group that still names it.
            for (u, _) in store
                .users
                .iter()
                .zip(present_users)
                .filter(|(u, &present)| {
                    present && unchanged(&u.source_id, u.status) && !self.gone(&u.external_id)
                })
            {
                let t = target(false, &u.source_id, &u.external_id);
                r.add(self.fold, t, u.locator.as_deref(), true);
            }
            for (g, _) in store
                .groups
                .iter()
                .zip(present_groups)
                .filter(|(g, &present)| present && unchanged(&g.source_id, g.status))
            {
                let t = target(true, &g.source_id, &g.external_id);
                r.add(self.fold, t, g.locator.as_deref(), true);
            }
        }
        for u in users {
            let t = target(false, &u.source_id, &u.external_id);
            r.add(self.fold, t, u.locator.as_deref(), false);
        }
        for g in groups {
            let t = target(true, &g.source_id, &g.external_id);
            r.add(self.fold, t, g.locator.as_deref(), false);
        }
        r.finish()
    }
}
