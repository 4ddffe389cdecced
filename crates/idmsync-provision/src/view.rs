//! The tenant as SCIM shows it: every user and group resource by id, the names that must stay
//! unique, and the draft of the batch being built on top of it.
//!
//! Reads answer from the committed view; a batch applies its writes, in order, to a draft that
//! shadows the entries they touch, so that a write sees the writes before it (two PATCHes of
//! one group's members both count) and a refused write leaves the draft as it was. Only when
//! the batch is committed does the draft become the view.

use std::collections::{BTreeMap, HashMap};

use idmsync_domain::{DeactivatedBy, Document, SourceId, StoreState};
use idmsync_scim::ResourceType;
use serde_json::Value;

use crate::resource;

/// A resource and whether it was deleted (its row stays, inactive, and SCIM no longer finds it).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Entry {
    pub(crate) resource: Value,
    pub(crate) deleted: bool,
}

/// One kind of resource: entries by id (in a stable order, for paging) and the lower-cased
/// unique name (`userName`, a group's `displayName`) of each, deleted ones included.
#[derive(Debug, Default, Clone)]
pub(crate) struct Resources {
    pub(crate) entries: BTreeMap<String, Entry>,
    names: HashMap<String, String>,
    /// Entries neither deleted nor `active: false`, kept as entries change: the guard asks
    /// for every batch, and counting a large tenant each time showed in the latency.
    active: u64,
}

impl Entry {
    fn active(&self) -> bool {
        !self.deleted && self.resource.get("active") != Some(&Value::Bool(false))
    }
}

impl Resources {
    fn name_of(kind: ResourceType, resource: &Value) -> Option<String> {
        match kind {
            ResourceType::User => resource::user_name(resource),
            ResourceType::Group => resource::display_name(resource),
        }
        .map(str::to_lowercase)
    }

    fn put(&mut self, kind: ResourceType, id: String, entry: Entry) {
        if let Some(old) = self.entries.get(&id) {
            if let Some(name) = Self::name_of(kind, &old.resource) {
                if self.names.get(&name) == Some(&id) {
                    self.names.remove(&name);
                }
            }
            self.active -= u64::from(old.active());
        }
        if let Some(name) = Self::name_of(kind, &entry.resource) {
            self.names.insert(name, id.clone());
        }
        self.active += u64::from(entry.active());
        self.entries.insert(id, entry);
    }
}

/// The committed view of a pushed tenant.
#[derive(Debug, Default, Clone)]
pub(crate) struct View {
    pub(crate) users: Resources,
    pub(crate) groups: Resources,
}

impl View {
    /// The view of what the store holds. Users and groups a sync removed from the source
    /// (deactivated by `sync`) are deleted; others inactive are shown with `active: false`.
    ///
    /// `documents` are what the service stored of each entry beyond its row
    /// ([`resource::with_document`]).
    pub(crate) fn from_state(state: &StoreState, documents: &[Document]) -> Self {
        let documents: HashMap<(bool, &str), &str> = documents
            .iter()
            .map(|d| ((d.group, d.source_id.as_str()), d.body.as_str()))
            .collect();
        let document = |group: bool, id: &SourceId| documents.get(&(group, id.as_str())).copied();
        let mut view = View::default();
        for u in &state.users {
            let deleted = u.deactivated_by == Some(DeactivatedBy::Sync);
            let entry = Entry {
                resource: resource::with_document(
                    resource::user_from_stored(u),
                    document(false, &u.source_id),
                ),
                deleted,
            };
            view.users
                .put(ResourceType::User, u.source_id.to_string(), entry);
        }
        let mut members: Vec<Vec<(String, bool)>> = vec![Vec::new(); state.groups.len()];
        for &(g, u) in &state.memberships {
            if let (Some(list), Some(user)) =
                (members.get_mut(g as usize), state.users.get(u as usize))
            {
                list.push((user.source_id.to_string(), false));
            }
        }
        for &(parent, child) in &state.nesting {
            if let (Some(child), true) = (
                state.groups.get(child as usize),
                (parent as usize) < members.len(),
            ) {
                members[parent as usize].push((child.source_id.to_string(), true));
            }
        }
        for (g, list) in state.groups.iter().zip(&members) {
            let entry = Entry {
                resource: resource::with_document(
                    resource::group_from_stored(g, list),
                    document(true, &g.source_id),
                ),
                deleted: g.status == idmsync_domain::UserStatus::Inactive,
            };
            view.groups
                .put(ResourceType::Group, g.source_id.to_string(), entry);
        }
        view
    }

    /// Users neither deleted nor `active: false`: what the guard's share is of.
    pub(crate) fn active_users(&self) -> u64 {
        self.users.active
    }

    pub(crate) fn of(&self, kind: ResourceType) -> &Resources {
        match kind {
            ResourceType::User => &self.users,
            ResourceType::Group => &self.groups,
        }
    }

    fn of_mut(&mut self, kind: ResourceType) -> &mut Resources {
        match kind {
            ResourceType::User => &mut self.users,
            ResourceType::Group => &mut self.groups,
        }
    }

    /// Makes a committed draft the view.
    pub(crate) fn commit(&mut self, draft: Draft) {
        for ((kind, id), entry) in draft.changed {
            self.of_mut(kind).put(kind, id, entry);
        }
    }
}

/// The entries a batch has written so far, shadowing the view.
#[derive(Debug, Default)]
pub(crate) struct Draft {
    changed: BTreeMap<(ResourceType, String), Entry>,
}

impl Draft {
    /// The entry `id` as the batch sees it.
    pub(crate) fn get<'a>(
        &'a self,
        view: &'a View,
        kind: ResourceType,
        id: &str,
    ) -> Option<&'a Entry> {
        self.changed
            .get(&(kind, id.to_string()))
            .or_else(|| view.of(kind).entries.get(id))
    }

    /// The id holding the unique `name` (compared without case), as the batch sees it.
    pub(crate) fn holder(&self, view: &View, kind: ResourceType, name: &str) -> Option<String> {
        let name = name.to_lowercase();
        let named = |e: &Entry| Resources::name_of(kind, &e.resource).as_deref() == Some(&name);
        // A name the batch gave or took away decides; otherwise the view's holder, unless the
        // batch renamed it.
        if let Some(((_, id), _)) = self
            .changed
            .iter()
            .find(|((k, _), e)| *k == kind && named(e))
        {
            return Some(id.clone());
        }
        let id = view.of(kind).names.get(&name)?;
        match self.changed.get(&(kind, id.clone())) {
            Some(e) if !named(e) => None,
            _ => Some(id.clone()),
        }
    }

    /// Records the batch's version of an entry.
    pub(crate) fn put(&mut self, kind: ResourceType, id: String, entry: Entry) {
        self.changed.insert((kind, id), entry);
    }

    /// The entries the batch wrote, in a stable order.
    pub(crate) fn changed(&self) -> impl Iterator<Item = (&(ResourceType, String), &Entry)> {
        self.changed.iter()
    }

    /// The groups, as the batch sees them, that have `id` as a member.
    pub(crate) fn groups_with(&self, view: &View, id: &str) -> Vec<String> {
        let mut ids: Vec<String> = view
            .groups
            .entries
            .keys()
            .chain(
                self.changed
                    .keys()
                    .filter(|(k, _)| *k == ResourceType::Group)
                    .map(|(_, id)| id),
            )
            .filter(|g| {
                self.get(view, ResourceType::Group, g)
                    .is_some_and(|e| !e.deleted && resource::member_ids(&e.resource).contains(&id))
            })
            .cloned()
            .collect();
        ids.sort();
        ids.dedup();
        ids
    }
}
