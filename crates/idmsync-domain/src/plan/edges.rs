//! Edges: how each planned group's members and children differ from the store, and, in a full
//! run, the stored edges of entries the source no longer has. Memberships are by far the
//! largest part of a directory (a million edges is ordinary), so this is where the planner
//! compares store indices instead of keys and spreads the groups over threads.

use crate::change::{ChangeSet, Edge, EventKey, Key, LogLine};
use crate::fxhash::FxHashMap;
use crate::ids::{ExternalId, SourceId};
use crate::model::SourceGroup;

use super::dedupe::Identified;
use super::members::{Resolution, Resolver, Target};
use super::{key, Planner};

impl Planner<'_> {
    /// A full run removes every stored edge that touches an entry missing from the source: as a
    /// member, as a child, or as the containing group. The edges of the groups it plans were
    /// already replaced by [`Self::edges`] (a missing entry resolves to nothing there); this
    /// covers the rest, i.e. groups missing from the source and groups skipped as duplicates.
    /// The flags are per store index (see [`Self::stored`]).
    pub(super) fn edges_of_missing(
        &mut self,
        seen_users: &[bool],
        seen_groups: &[bool],
        planned_groups: &[bool],
    ) {
        let store = self.store;
        let group = |i: u32| Some((store.groups.get(i as usize)?, i as usize));
        let user = |i: u32| Some((store.users.get(i as usize)?, i as usize));
        let stale =
            |g: usize, member_seen: bool| !planned_groups[g] && (!member_seen || !seen_groups[g]);
        for &(g, u) in &store.memberships {
            let (Some((g, gi)), Some((u, ui))) = (group(g), user(u)) else {
                continue;
            };
            if stale(gi, seen_users[ui]) {
                self.out.memberships_removed.push(Edge {
                    group: key(&g.source_id, &g.external_id),
                    member: key(&u.source_id, &u.external_id),
                });
            }
        }
        for &(p, c) in &store.nesting {
            let (Some((p, pi)), Some((c, ci))) = (group(p), group(c)) else {
                continue;
            };
            if stale(pi, seen_groups[ci]) {
                self.out.nesting_removed.push(Edge {
                    group: key(&p.source_id, &p.external_id),
                    member: key(&c.source_id, &c.external_id),
                });
            }
        }
    }

    /// How a source group's direct members and children differ from the stored ones. It only
    /// reads the planner and returns indices and references, so that groups can be compared on
    /// several threads (see [`crate::parallel::map`]) without holding a copy of every new edge's keys.
    ///
    /// Both sides are compared as sorted store indices (see [`Desired`]) rather than as maps of
    /// keys: a full run with nothing changed walks every one of a million edges, and hashing
    /// and cloning a key per edge was a tenth of its time.
    pub(super) fn diff_members<'s, 'r>(
        &self,
        g: &SourceGroup,
        resolver: &'s Resolver<'r>,
    ) -> GroupDiff<'s, 'r> {
        let mut warnings = Vec::new();
        let mut missing = false;
        let mut users = Desired::default();
        let mut groups = Desired::default();
        for m in &g.members {
            let problem = match resolver.resolve(self.fold, m) {
                Resolution::Found(t) if t.group => {
                    groups.push(t);
                    continue;
                }
                Resolution::Found(t) => {
                    users.push(t);
                    continue;
                }
                Resolution::Ambiguous => {
                    warnings.push(LogLine::new(
                        EventKey::Conflict,
                        format!(
                            "{}: member {m} names more than one user or group; skipped",
                            g.describe()
                        ),
                    ));
                    continue;
                }
                Resolution::Missing => {
                    missing = true;
                    "refers to no known user or group"
                }
            };
            warnings.push(LogLine::new(
                EventKey::SkippedMember,
                format!("{}: member {m} {problem}", g.external_id),
            ));
        }
        let (current_users, current_groups) = match self.group_index.get(&g.source_id) {
            Some(&gi) => (&self.members_of[gi][..], &self.children_of[gi][..]),
            None => (&[][..], &[][..]),
        };
        let (users_added, users_removed) = users.diff(current_users);
        let (groups_added, groups_removed) = groups.diff(current_groups);
        GroupDiff {
            users_added,
            users_removed,
            groups_added,
            groups_removed,
            warnings,
            missing,
        }
    }

    /// Turns a group's [`GroupDiff`] into edges named by keys, appended to `out`. A removed
    /// index outside the store (a corrupt store) is left alone.
    pub(super) fn edges<'r>(
        &self,
        g: &SourceGroup,
        diff: GroupDiff<'_, 'r>,
        resolver: &Resolver<'r>,
        out: &mut PlannedEdges,
    ) {
        let store = self.store;
        // One key for the group, shared by all its edges.
        let this = key(&g.source_id, &g.external_id);
        let edge = |member: Key| Edge {
            group: this.clone(),
            member,
        };
        out.memberships_added
            .extend(diff.users_added.iter().map(|t| edge(resolver.key(t))));
        out.nesting_added
            .extend(diff.groups_added.iter().map(|t| edge(resolver.key(t))));
        let user = |i: u32| {
            let u = store.users.get(i as usize)?;
            Some(named(&u.source_id, &u.external_id, &self.renamed_users))
        };
        let group = |i: u32| {
            let c = store.groups.get(i as usize)?;
            Some(named(&c.source_id, &c.external_id, &self.renamed_groups))
        };
        out.memberships_removed
            .extend(diff.users_removed.into_iter().filter_map(user).map(edge));
        out.nesting_removed
            .extend(diff.groups_removed.into_iter().filter_map(group).map(edge));
        out.warnings.extend(diff.warnings);
        if diff.missing {
            out.unresolved.push(g.source_id.clone());
        }
    }
}

/// Direct edges per group index, sorted and without duplicates; out-of-range pairs (a corrupt
/// store) are ignored.
pub(super) fn edge_index(groups: usize, pairs: &[(u32, u32)]) -> Vec<Vec<u32>> {
    let mut by_group = vec![Vec::new(); groups];
    for &(g, m) in pairs {
        if let Some(list) = by_group.get_mut(g as usize) {
            list.push(m);
        }
    }
    for list in &mut by_group {
        list.sort_unstable();
        list.dedup();
    }
    by_group
}

/// A stored entry's key under the external id this run gives it.
fn named(sid: &SourceId, ext: &ExternalId, renamed: &FxHashMap<SourceId, ExternalId>) -> Key {
    key(sid, renamed.get(sid).unwrap_or(ext))
}

/// How one group's members and children differ from the store: targets to add (borrowed
/// from the member index) and store indices to remove, plus warnings about its members.
pub(super) struct GroupDiff<'s, 'r> {
    users_added: Vec<&'s Target<'r>>,
    users_removed: Vec<u32>,
    groups_added: Vec<&'s Target<'r>>,
    groups_removed: Vec<u32>,
    warnings: Vec<LogLine>,
    /// Whether a member reference resolved to nothing.
    missing: bool,
}

/// The edge changes of every planned group and the warnings about their members, in group
/// order, kept apart until the users are planned so that the log keeps its order.
#[derive(Default)]
pub(super) struct PlannedEdges {
    memberships_added: Vec<Edge>,
    memberships_removed: Vec<Edge>,
    nesting_added: Vec<Edge>,
    nesting_removed: Vec<Edge>,
    warnings: Vec<LogLine>,
    unresolved: Vec<SourceId>,
}

impl PlannedEdges {
    /// Room for the edges of `diffs`, reserved at once rather than by doubling: in a first
    /// sync there are a million of them.
    pub(super) fn for_diffs(diffs: &[GroupDiff<'_, '_>]) -> Self {
        let total = |len: fn(&GroupDiff<'_, '_>) -> usize| diffs.iter().map(len).sum();
        Self {
            memberships_added: Vec::with_capacity(total(|d| d.users_added.len())),
            memberships_removed: Vec::with_capacity(total(|d| d.users_removed.len())),
            nesting_added: Vec::with_capacity(total(|d| d.groups_added.len())),
            nesting_removed: Vec::with_capacity(total(|d| d.groups_removed.len())),
            warnings: Vec::new(),
            unresolved: Vec::new(),
        }
    }
}

impl ChangeSet {
    /// Appends the planned groups' edges and warnings.
    pub(super) fn absorb(&mut self, edges: PlannedEdges) {
        append(&mut self.memberships_added, edges.memberships_added);
        append(&mut self.memberships_removed, edges.memberships_removed);
        append(&mut self.nesting_added, edges.nesting_added);
        append(&mut self.nesting_removed, edges.nesting_removed);
        append(&mut self.warnings, edges.warnings);
        append(&mut self.unresolved, edges.unresolved);
    }
}

/// `to.extend(items)`, but taking `items`' buffer when `to` is empty: a first sync's million
/// edges would otherwise be copied into a second buffer of a hundred megabytes.
fn append<T>(to: &mut Vec<T>, items: Vec<T>) {
    if to.is_empty() {
        *to = items;
    } else {
        to.extend(items);
    }
}

/// What the source says one group's members (or children) are: targets the store knows, by
/// store index, and targets it does not know yet, which are always added.
#[derive(Default)]
struct Desired<'s, 'r> {
    stored: Vec<(u32, &'s Target<'r>)>,
    new: Vec<&'s Target<'r>>,
}

impl<'s, 'r> Desired<'s, 'r> {
    fn push(&mut self, target: &'s Target<'r>) {
        match target.stored {
            Some(i) => self.stored.push((i, target)),
            None => self.new.push(target),
        }
    }

    /// The targets to add and the store indices to remove so that a group's `current` edges
    /// (sorted store indices) become these.
    fn diff(mut self, current: &[u32]) -> (Vec<&'s Target<'r>>, Vec<u32>) {
        // A member listed twice is one edge.
        self.stored.sort_unstable_by_key(|&(i, _)| i);
        self.stored.dedup_by_key(|&mut (i, _)| i);
        self.new
            .sort_unstable_by(|a, b| a.source_id.cmp(b.source_id));
        self.new.dedup_by(|a, b| a.source_id == b.source_id);
        let mut added = self.new;
        let mut removed = Vec::new();
        let (mut desired, mut current) = (self.stored.iter().peekable(), current.iter().peekable());
        loop {
            match (desired.peek(), current.peek()) {
                (Some(&&(d, _)), Some(&&c)) if d == c => {
                    desired.next();
                    current.next();
                }
                (Some(&&(d, t)), Some(&&c)) if d < c => {
                    added.push(t);
                    desired.next();
                }
                (Some(&&(_, t)), None) => {
                    added.push(t);
                    desired.next();
                }
                (_, Some(&&c)) => {
                    removed.push(c);
                    current.next();
                }
                (None, None) => break,
            }
        }
        (added, removed)
    }
}
