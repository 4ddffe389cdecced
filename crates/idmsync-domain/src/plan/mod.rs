//! The planner: a pure, set-based function from (source data, store state, options) to a change
//! set. Every lookup is a hash map keyed by stable id, external id or locator, so a plan is
//! O(n) in the number of users, groups and memberships (plus sorting the output), with no round
//! trip to anything.

use std::borrow::Cow;

use crate::change::{ChangeSet, Edge, EventKey, FieldChange, Key, LogLine};
use crate::fxhash::{self, FxHashMap};
use crate::ids::{ExternalId, SourceId};
use crate::model::{SourceGroup, SourceUser, StoreState};
use crate::options::{PlanOptions, SyncMode};
use crate::parallel;
use crate::password::PasswordHasher;

mod dedupe;
mod groups;
mod members;
mod unreadable;
mod users;

use dedupe::{renames, Identified};
use members::{Resolution, Resolver, Target};

/// What a source returned for one run: the whole directory for a full run, only the entries
/// changed since the watermark for a differential run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceData {
    /// Users, in source order (the first of two duplicates wins unless the second is known).
    pub users: Vec<SourceUser>,
    /// Groups, in source order.
    pub groups: Vec<SourceGroup>,
    /// Entries the source found but could not read.
    pub unreadable: Vec<Unreadable>,
}

/// An entry the source found but could not read, typically because the service account may not
/// see its unique id or login attribute. The run must not take its absence for a deletion: the
/// engine stops the run by default (`sync.on_unreadable`), and otherwise the planner keeps the
/// stored entry it names (by source id, else by locator) as it is, memberships included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreadable {
    /// A group rather than a user.
    pub group: bool,
    /// Where the entry is (its DN).
    pub locator: String,
    /// Its source id, when that much could be read.
    pub source_id: Option<SourceId>,
    /// Why it could not be read.
    pub reason: String,
}

/// Plans the changes that bring the store in line with the source.
///
/// Rules, each covered by a test:
/// - entries are matched by source id; a changed external id or locator is an update;
/// - a duplicate source id or external id in the source is skipped with a warning, and the
///   skipped entry is never deactivated because of it;
/// - a full run deactivates active entries missing from the source and removes every edge that
///   touches them; a differential run never deactivates (a user disabled in the source becomes
///   inactive in both);
/// - inactive users come back according to `options.reactivate`; groups always come back;
/// - a group's member list is replaced by what the source says; in a differential run members
///   may also be active stored entries the run did not return;
/// - a member reference that resolves to nothing, or to more than one entry, is skipped with a
///   warning; nesting cycles are plain edges and never followed;
/// - users named by `options.admins` (external id or locator) have the admin capability, every
///   other user loses it; a name matching nobody is a warning.
pub fn plan(
    source: SourceData,
    store: &StoreState,
    options: &PlanOptions,
    hasher: &dyn PasswordHasher,
) -> ChangeSet {
    Planner::new(store, options, hasher).run(source)
}

/// Folds identifiers for comparison according to `sync.ignore_case`.
#[derive(Clone, Copy)]
struct Fold(bool);

impl Fold {
    /// Every member reference is folded, so the common ASCII cases avoid Unicode case mapping
    /// and, when nothing changes, the allocation.
    fn key<'a>(self, s: &'a str) -> Cow<'a, str> {
        if !self.0 || (s.is_ascii() && !s.bytes().any(|b| b.is_ascii_uppercase())) {
            Cow::Borrowed(s)
        } else if s.is_ascii() {
            Cow::Owned(s.to_ascii_lowercase())
        } else {
            Cow::Owned(s.to_lowercase())
        }
    }
}

struct Planner<'a> {
    store: &'a StoreState,
    options: &'a PlanOptions,
    hasher: &'a dyn PasswordHasher,
    fold: Fold,
    full: bool,
    user_index: FxHashMap<&'a SourceId, usize>,
    group_index: FxHashMap<&'a SourceId, usize>,
    /// New external ids of stored users and groups this run renames, so that a removed edge
    /// names its member the way the rest of the log does.
    renamed_users: FxHashMap<SourceId, ExternalId>,
    renamed_groups: FxHashMap<SourceId, ExternalId>,
    /// Per stored group, the store indices of its direct members and children, sorted so that
    /// [`Planner::edges`] can merge them with what the source says.
    members_of: Vec<Vec<u32>>,
    children_of: Vec<Vec<u32>>,
    admins: FxHashMap<String, bool>,
    out: ChangeSet,
}

fn key(source_id: &SourceId, external_id: &ExternalId) -> Key {
    Key {
        source_id: source_id.clone(),
        external_id: external_id.clone(),
    }
}

/// Adds the change of `field` to `fields` when its value differs.
fn compare(
    fields: &mut Vec<FieldChange>,
    field: &'static str,
    old: Option<&str>,
    new: Option<&str>,
) {
    if old != new {
        fields.push(FieldChange::shown(field, old, new));
    }
}

/// The changes of an entry's external id and locator, stored then read.
fn identity_changes(
    (old_id, old_locator): (&ExternalId, Option<&str>),
    (new_id, new_locator): (&ExternalId, Option<&str>),
) -> Vec<FieldChange> {
    let mut fields = Vec::new();
    compare(
        &mut fields,
        "external_id",
        Some(old_id.as_str()),
        Some(new_id.as_str()),
    );
    compare(&mut fields, "locator", old_locator, new_locator);
    fields
}

impl<'a> Planner<'a> {
    fn new(
        store: &'a StoreState,
        options: &'a PlanOptions,
        hasher: &'a dyn PasswordHasher,
    ) -> Self {
        let fold = Fold(options.ignore_case);
        Self {
            store,
            options,
            hasher,
            fold,
            full: options.mode == SyncMode::Full,
            user_index: index(store.users.iter().map(|u| &u.source_id)),
            group_index: index(store.groups.iter().map(|g| &g.source_id)),
            members_of: edge_index(store.groups.len(), &store.memberships),
            children_of: edge_index(store.groups.len(), &store.nesting),
            renamed_users: FxHashMap::default(),
            renamed_groups: FxHashMap::default(),
            admins: options
                .admins
                .iter()
                .map(|a| (fold.key(a).into_owned(), false))
                .collect(),
            out: ChangeSet::default(),
        }
    }

    fn warn(&mut self, event: EventKey, message: String) {
        self.out.warnings.push(LogLine::new(event, message));
    }

    fn run(mut self, source: SourceData) -> ChangeSet {
        let (users, protected_users) = self.dedupe(source.users, false);
        let (groups, protected_groups) = self.dedupe(source.groups, true);
        let users = self.drop_external_id_clashes(users, true);
        let groups = self.drop_external_id_clashes(groups, false);
        let kept = self.unreadable(&source.unreadable);
        let resolver = self.resolver(&users, &groups, &kept);
        self.renamed_users = renames(&users, &self.user_index, |i| {
            &self.store.users[i].external_id
        });
        self.renamed_groups = renames(&groups, &self.group_index, |i| {
            &self.store.groups[i].external_id
        });

        // Which stored entries the source returned, by store index.
        let store = self.store;
        let planned_groups = self.stored(
            store.groups.len(),
            &self.group_index,
            groups.iter().map(|g| &g.source_id),
        );
        let mut seen_users = self.stored(
            store.users.len(),
            &self.user_index,
            users.iter().map(|u| &u.source_id),
        );
        let mut seen_groups = planned_groups.clone();
        self.mark(&mut seen_users, &self.user_index, &protected_users);
        self.mark(&mut seen_groups, &self.group_index, &protected_groups);
        for &i in &kept.users {
            seen_users[i] = true;
        }
        for &i in &kept.groups {
            seen_groups[i] = true;
        }
        // Edges first, while the member index can borrow the users' names; the users are then
        // moved into their rows, and the edges' log lines still come after the users' ones.
        let planner = &self;
        let diffs = parallel::map(
            &groups,
            self.options.threads,
            |g| g.members.len(),
            |g| planner.diff_members(g, &resolver),
        );
        let mut edges = PlannedEdges::for_diffs(&diffs);
        for (g, diff) in groups.iter().zip(diffs) {
            self.edges(g, diff, &mut edges);
        }
        drop(resolver);
        for u in users {
            self.user(u);
        }
        self.unseen_users(&seen_users);
        for g in &groups {
            self.group(g);
        }
        self.out.absorb(edges);
        if self.full {
            self.unseen_groups(&seen_groups);
            self.edges_of_missing(&seen_users, &seen_groups, &planned_groups);
        }
        self.unmatched_admins();
        self.finish()
    }

    /// Flags, per stored entry (`len` of them, indexed by `index`), whether `sids` names it.
    fn stored<'s>(
        &self,
        len: usize,
        index: &FxHashMap<&SourceId, usize>,
        sids: impl Iterator<Item = &'s SourceId>,
    ) -> Vec<bool> {
        let mut flags = vec![false; len];
        for sid in sids {
            if let Some(&i) = index.get(sid) {
                flags[i] = true;
            }
        }
        flags
    }

    /// Sets the flags of the stored entries among `sids`.
    fn mark(&self, flags: &mut [bool], index: &FxHashMap<&SourceId, usize>, sids: &[SourceId]) {
        for sid in sids {
            if let Some(&i) = index.get(sid) {
                flags[i] = true;
            }
        }
    }

    /// A full run removes every stored edge that touches an entry missing from the source: as a
    /// member, as a child, or as the containing group. The edges of the groups it plans were
    /// already replaced by [`Self::edges`] (a missing entry resolves to nothing there); this
    /// covers the rest, i.e. groups missing from the source and groups skipped as duplicates.
    /// The flags are per store index (see [`Self::stored`]).
    fn edges_of_missing(
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
    /// several threads (see [`parallel::map`]) without holding a copy of every new edge's keys.
    ///
    /// Both sides are compared as sorted store indices (see [`Desired`]) rather than as maps of
    /// keys: a full run with nothing changed walks every one of a million edges, and hashing
    /// and cloning a key per edge was a tenth of its time.
    fn diff_members<'s, 'r>(
        &self,
        g: &SourceGroup,
        resolver: &'s Resolver<'r>,
    ) -> GroupDiff<'s, 'r> {
        let mut warnings = Vec::new();
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
                Resolution::Missing => "refers to no known user or group",
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
        }
    }

    /// Turns a group's [`GroupDiff`] into edges named by keys, appended to `out`. A removed
    /// index outside the store (a corrupt store) is left alone.
    fn edges(&self, g: &SourceGroup, diff: GroupDiff<'_, '_>, out: &mut PlannedEdges) {
        let store = self.store;
        let edge = |member: Key| Edge {
            group: key(&g.source_id, &g.external_id),
            member,
        };
        out.memberships_added
            .extend(diff.users_added.iter().map(|t| edge(t.key())));
        out.nesting_added
            .extend(diff.groups_added.iter().map(|t| edge(t.key())));
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
    }

    fn finish(mut self) -> ChangeSet {
        let out = &mut self.out;
        out.users.sort_by(|a, b| {
            (&a.row.external_id, &a.row.source_id).cmp(&(&b.row.external_id, &b.row.source_id))
        });
        out.groups.sort_by(|a, b| {
            (&a.row.external_id, &a.row.source_id).cmp(&(&b.row.external_id, &b.row.source_id))
        });
        for edges in [
            &mut out.memberships_added,
            &mut out.memberships_removed,
            &mut out.nesting_added,
            &mut out.nesting_removed,
        ] {
            edges.sort_by(|a, b| edge_order(a).cmp(&edge_order(b)));
        }
        for keys in [&mut out.admins_granted, &mut out.admins_revoked] {
            keys.sort_by(|a, b| {
                (&a.external_id, &a.source_id).cmp(&(&b.external_id, &b.source_id))
            });
        }
        self.out
    }
}

/// Log order of edges: by the ids people read, then by stable id so that the order never
/// depends on hashing.
fn edge_order(e: &Edge) -> (&ExternalId, &ExternalId, &SourceId, &SourceId) {
    let (g, m) = (&e.group, &e.member);
    (&g.external_id, &m.external_id, &g.source_id, &m.source_id)
}

/// Direct edges per group index, sorted and without duplicates; out-of-range pairs (a corrupt
/// store) are ignored.
fn edge_index(groups: usize, pairs: &[(u32, u32)]) -> Vec<Vec<u32>> {
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

/// Position by source id; of two stored entries with one source id (which the store's keys
/// rule out), the last wins.
fn index<'a>(sids: impl ExactSizeIterator<Item = &'a SourceId>) -> FxHashMap<&'a SourceId, usize> {
    let mut index = fxhash::map(sids.len());
    index.extend(sids.enumerate().map(|(i, sid)| (sid, i)));
    index
}

/// A stored entry's key under the external id this run gives it.
fn named(sid: &SourceId, ext: &ExternalId, renamed: &FxHashMap<SourceId, ExternalId>) -> Key {
    key(sid, renamed.get(sid).unwrap_or(ext))
}

/// How one group's members and children differ from the store: targets to add (borrowed
/// from the member index) and store indices to remove, plus warnings about its members.
struct GroupDiff<'s, 'r> {
    users_added: Vec<&'s Target<'r>>,
    users_removed: Vec<u32>,
    groups_added: Vec<&'s Target<'r>>,
    groups_removed: Vec<u32>,
    warnings: Vec<LogLine>,
}

/// The edge changes of every planned group and the warnings about their members, in group
/// order, kept apart until the users are planned so that the log keeps its order.
#[derive(Default)]
struct PlannedEdges {
    memberships_added: Vec<Edge>,
    memberships_removed: Vec<Edge>,
    nesting_added: Vec<Edge>,
    nesting_removed: Vec<Edge>,
    warnings: Vec<LogLine>,
}

impl PlannedEdges {
    /// Room for the edges of `diffs`, reserved at once rather than by doubling: in a first
    /// sync there are a million of them.
    fn for_diffs(diffs: &[GroupDiff<'_, '_>]) -> Self {
        let total = |len: fn(&GroupDiff<'_, '_>) -> usize| diffs.iter().map(len).sum();
        Self {
            memberships_added: Vec::with_capacity(total(|d| d.users_added.len())),
            memberships_removed: Vec::with_capacity(total(|d| d.users_removed.len())),
            nesting_added: Vec::with_capacity(total(|d| d.groups_added.len())),
            nesting_removed: Vec::with_capacity(total(|d| d.groups_removed.len())),
            warnings: Vec::new(),
        }
    }
}

impl ChangeSet {
    /// Appends the planned groups' edges and warnings.
    fn absorb(&mut self, edges: PlannedEdges) {
        append(&mut self.memberships_added, edges.memberships_added);
        append(&mut self.memberships_removed, edges.memberships_removed);
        append(&mut self.nesting_added, edges.nesting_added);
        append(&mut self.nesting_removed, edges.nesting_removed);
        append(&mut self.warnings, edges.warnings);
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
