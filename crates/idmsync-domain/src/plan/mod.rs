//! The planner: a pure, set-based function from (source data, store state, options) to a change
//! set. Every lookup is a hash map keyed by stable id, external id or locator, so a plan is
//! O(n) in the number of users, groups and memberships (plus sorting the output), with no round
//! trip to anything.
//!
//! One `Planner` carries the state of a run; each concern it has is a submodule with its own
//! `impl` block, so that a change to, say, how passwords are kept is made in one short file:
//! `dedupe` settles duplicate and clashing ids, `unreadable` keeps what the source could not
//! read, `members` resolves member references, `users` and `groups` plan the rows, and `edges`
//! plans memberships and nesting. This file holds the entry point and the order of the steps.

use crate::change::{ChangeSet, Edge, EventKey, FieldChange, Key, LogLine};
use crate::fxhash::{self, FxHashMap};
use crate::ids::{ExternalId, Fold, SourceId};
use crate::model::{Document, SourceGroup, SourcePassword, SourceUser, StoreState};
use crate::options::{PlanOptions, SyncMode};
use crate::parallel;
use crate::password::PasswordHasher;

mod batch;
mod dedupe;
mod departed;
mod edges;
mod groups;
mod members;
mod unreadable;
mod users;

use dedupe::renames;
use departed::Gone;
pub use departed::{Departed, Departures};
use edges::{edge_index, PlannedEdges};

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
    /// Entries a differential read saw leave the source; a full run ignores it (what it did not
    /// return is gone).
    pub departed: Departed,
    /// The source's documents of its entries, passed through to [`ChangeSet::documents`]
    /// unchanged; sources with nothing beyond the rows' columns leave it empty.
    pub documents: Vec<Document>,
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
    /// Why it could not be read, or, with `conflict`, why it is held back.
    pub reason: String,
    /// The entry was read, but several sources of a tenant contradict each other about it (one
    /// login claimed by two people): it is held back like an unreadable entry, kept as stored and
    /// logged as a `source-conflict`, whatever `sync.on_unreadable` says, because neither side is
    /// wrong data a person must fix before the other users may sync.
    pub conflict: bool,
}

/// Plans the changes that bring the store in line with the source.
///
/// Rules, each covered by a test:
/// - entries are matched by source id; a changed external id or locator is an update;
/// - a duplicate source id or external id in the source is skipped with a warning, and the
///   skipped entry is never deactivated because of it;
/// - a full run deactivates active entries missing from the source and removes every edge that
///   touches them; a differential run does the same to the entries the source reports gone
///   ([`Departed`]) and to no other (a user disabled in the source becomes inactive in both);
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
    Key::new(source_id.clone(), external_id.clone())
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
        let fold = Fold::new(options.ignore_case);
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
        self.out.documents = source.documents;

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
        // Which stored entries are still in the source: in a full run those it returned, in a
        // differential run every one but those it reports gone.
        let (gone_users, gone_groups) = (
            Gone::new(&source.departed.users),
            Gone::new(&source.departed.groups),
        );
        let departures = self.full || !(gone_users.is_nothing() && gone_groups.is_nothing());
        let present_users = self.present(&seen_users, &gone_users, |i| &store.users[i].source_id);
        let present_groups =
            self.present(&seen_groups, &gone_groups, |i| &store.groups[i].source_id);

        let resolver = self.resolver(&users, &groups, &kept, &present_users, &present_groups);
        self.renamed_users = renames(&users, &self.user_index, |i| {
            &self.store.users[i].external_id
        });
        self.renamed_groups = renames(&groups, &self.group_index, |i| {
            &self.store.groups[i].external_id
        });
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
            self.edges(g, diff, &resolver, &mut edges);
        }
        drop(resolver);
        let mut hashed = self.clear_passwords(&users).into_iter();
        for u in users {
            let clear = matches!(u.password, SourcePassword::Clear(_));
            let ready = if clear { hashed.next() } else { None };
            self.user(u, ready);
        }
        self.unseen_users(&seen_users, &present_users);
        for g in &groups {
            self.group(g);
        }
        self.out.absorb(edges);
        if departures {
            self.unseen_groups(&present_groups);
            self.edges_of_missing(&present_users, &present_groups, &planned_groups);
        }
        self.unmatched_admins();
        self.finish()
    }

    /// Flags, per stored entry, whether it is still in the source: `seen` by this run, or, in a
    /// differential run, not among the `gone` (the entry `sid` of a store index names).
    fn present<'s>(
        &self,
        seen: &[bool],
        gone: &Gone<'_>,
        sid: impl Fn(usize) -> &'s SourceId,
    ) -> Vec<bool> {
        if self.full || gone.is_nothing() {
            return if self.full {
                seen.to_vec()
            } else {
                vec![true; seen.len()]
            };
        }
        seen.iter()
            .enumerate()
            .map(|(i, &seen)| seen || !gone.contains(sid(i)))
            .collect()
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

/// Position by source id; of two stored entries with one source id (which the store's keys
/// rule out), the last wins.
fn index<'a>(sids: impl ExactSizeIterator<Item = &'a SourceId>) -> FxHashMap<&'a SourceId, usize> {
    let mut index = fxhash::map(sids.len());
    index.extend(sids.enumerate().map(|(i, sid)| (sid, i)));
    index
}
