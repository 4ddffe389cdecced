//! Users, groups and memberships as a source presents them and as the store holds them.

use arcstr::ArcStr;
use serde::{Deserialize, Serialize};

use crate::change::{ChangeSet, Edge};
use crate::fxhash::{self, FxHashMap, FxHashSet};

use crate::ids::{ExternalId, SourceId};
use crate::password::{Password, PasswordHash};

/// Whether a user or group may be used. Rows are never deleted (other tables point at them);
/// an entry missing from the source becomes `Inactive`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UserStatus {
    /// Present in the source and allowed to log in.
    Active,
    /// Missing from the source, disabled there, or deactivated by an administrator.
    Inactive,
}

impl UserStatus {
    /// The stored and printed form.
    pub fn as_str(self) -> &'static str {
        match self {
            UserStatus::Active => "active",
            UserStatus::Inactive => "inactive",
        }
    }

    /// Parses the stored form; `None` for anything else so that adapters report corrupt rows.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "active" => Some(UserStatus::Active),
            "inactive" => Some(UserStatus::Inactive),
            _ => None,
        }
    }
}

/// Who made a user inactive; decides whether a sync may bring it back (`sync.reactivate`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeactivatedBy {
    /// A full run did not find the user in the source.
    Sync,
    /// An administrator of the application; a sync leaves such a user alone by default.
    Admin,
    /// The source itself marks the account disabled (Active Directory's ACCOUNTDISABLE).
    Source,
}

impl DeactivatedBy {
    /// The stored and printed form.
    pub fn as_str(self) -> &'static str {
        match self {
            DeactivatedBy::Sync => "sync",
            DeactivatedBy::Admin => "admin",
            DeactivatedBy::Source => "source",
        }
    }

    /// Parses the stored form; `None` for anything else.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "sync" => Some(DeactivatedBy::Sync),
            "admin" => Some(DeactivatedBy::Admin),
            "source" => Some(DeactivatedBy::Source),
            _ => None,
        }
    }
}

/// What a source says about a user's local (database) password.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum SourcePassword {
    /// The source does not manage local passwords (LDAP: users bind against the directory);
    /// whatever hash the store holds is kept.
    #[default]
    Unmanaged,
    /// The source says the user has no local password; a stored hash is removed.
    Absent,
    /// The source gives the password; it is stored only as a hash.
    Clear(Password),
}

/// How a group refers to one of its members. Sources refer to members the way their format
/// does (a DN, a login id); the planner resolves references against the snapshot and the store,
/// so that a source never needs to look anything up itself.
///
/// The name is an [`ArcStr`], one pointer wide: a directory of a million people has ten million
/// references to a million names, so a source should give every reference to one name the same
/// string ([`MemberNames`]) rather than a copy each (issue 17: the copies were a third of a run's
/// memory).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MemberRef {
    /// The member's locator (for LDAP, its normalised DN), matching [`SourceUser::locator`] or
    /// [`SourceGroup::locator`].
    Locator(ArcStr),
    /// The member's external id (a login id for a user, a group id for a group), as in the file
    /// source and LDAP `memberUid`.
    ExternalId(ArcStr),
}

impl MemberRef {
    /// The name the reference gives, whichever its kind.
    pub fn name(&self) -> &ArcStr {
        let (MemberRef::Locator(name) | MemberRef::ExternalId(name)) = self;
        name
    }
}

/// The member names of one read, each kept once: the same name asked for again comes back as
/// the same shared string.
#[derive(Debug, Default)]
pub struct MemberNames(FxHashSet<ArcStr>);

impl MemberNames {
    /// The shared copy of `name`.
    pub fn intern(&mut self, name: &str) -> ArcStr {
        if let Some(known) = self.0.get(name) {
            return known.clone();
        }
        let shared = ArcStr::from(name);
        self.0.insert(shared.clone());
        shared
    }
}

impl std::fmt::Display for MemberRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MemberRef::Locator(l) => f.write_str(l),
            MemberRef::ExternalId(e) => f.write_str(e),
        }
    }
}

/// A user as the source presents it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceUser {
    /// Stable identity (entryUUID, objectGUID); for the file source, the login id.
    pub source_id: SourceId,
    /// Login id.
    pub external_id: ExternalId,
    /// How group members refer to this user when not by external id (an LDAP DN, normalised).
    pub locator: Option<String>,
    /// Given name; empty when the source has none.
    pub first_name: String,
    /// Family name; empty when the source has none.
    pub last_name: String,
    /// E-mail address, if the source has one.
    pub email: Option<String>,
    /// The local password, if the source manages it.
    pub password: SourcePassword,
    /// `false` when the source marks the account disabled; the user becomes inactive.
    pub enabled: bool,
    /// What a tenant of several sources matches people by when `sync.match_by = "mapping"`:
    /// the value of the source's `mapping.match` expression (an employee number); `None`
    /// without one. Never stored: it only joins one source's entry to another's.
    pub match_value: Option<String>,
}

/// A group as the source presents it, with its direct members (users and groups) unresolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceGroup {
    /// Stable identity.
    pub source_id: SourceId,
    /// The group id used by the application and in member references.
    pub external_id: ExternalId,
    /// How other groups refer to this one when not by external id.
    pub locator: Option<String>,
    /// Display name.
    pub name: String,
    /// Direct members: users or groups, resolved by the planner. Cycles are allowed.
    pub members: Vec<MemberRef>,
}

/// What a source knows of an entry beyond the columns of its row, as an opaque JSON text the
/// store keeps beside the row and hands back unchanged. A pushed (SCIM) source is the only
/// copy of attributes such as a user's `externalId`, `displayName` or `meta.lastModified`, which
/// the users and groups tables have no column for; without a document they would not survive a
/// restart. The domain never parses the body: what it holds is the source's business, and the
/// planner passes it through so that it is committed in the same transaction as the rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// A group's document rather than a user's.
    pub group: bool,
    /// The entry it belongs to; with `group`, its key in the store.
    pub source_id: SourceId,
    /// The JSON text.
    pub body: String,
}

/// A user as the store holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredUser {
    /// Stable identity, unique per tenant.
    pub source_id: SourceId,
    /// Login id.
    pub external_id: ExternalId,
    /// Locator last seen in the source.
    pub locator: Option<String>,
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// E-mail address.
    pub email: Option<String>,
    /// Active or not.
    pub status: UserStatus,
    /// Who deactivated it, when inactive.
    pub deactivated_by: Option<DeactivatedBy>,
    /// Tenant administrator capability.
    pub admin: bool,
    /// Local password hash, used by the database-password login.
    pub password_hash: Option<PasswordHash>,
}

/// A group as the store holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredGroup {
    /// Stable identity, unique per tenant.
    pub source_id: SourceId,
    /// Group id.
    pub external_id: ExternalId,
    /// Locator last seen in the source.
    pub locator: Option<String>,
    /// Display name.
    pub name: String,
    /// Active or not.
    pub status: UserStatus,
}

/// Everything the planner needs to know about the store for one tenant, loaded in a few
/// streaming queries. Memberships are index pairs into `users` and `groups`, which keeps a
/// million memberships at 8 bytes each.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreState {
    /// All users of the tenant, active or not.
    pub users: Vec<StoredUser>,
    /// All groups of the tenant, active or not.
    pub groups: Vec<StoredGroup>,
    /// `(group index, user index)`: direct user memberships.
    pub memberships: Vec<(u32, u32)>,
    /// `(parent group index, child group index)`: direct group nesting.
    pub nesting: Vec<(u32, u32)>,
}

impl StoreState {
    /// The external ids of the groups that have the user `login` as a direct member, whatever
    /// their status: what a user run reads again besides the groups the source says the user
    /// is in, so that a group the user left is seen.
    pub fn groups_of_user(&self, login: &str, ignore_case: bool) -> Vec<String> {
        let matches = |id: &str| {
            if ignore_case {
                id.to_lowercase() == login.to_lowercase()
            } else {
                id == login
            }
        };
        let users: Vec<u32> = (0..)
            .zip(&self.users)
            .filter(|(_, u)| matches(u.external_id.as_str()))
            .map(|(i, _)| i)
            .collect();
        let mut groups: Vec<String> = self
            .memberships
            .iter()
            .filter(|(_, user)| users.contains(user))
            .filter_map(|&(group, _)| self.groups.get(group as usize))
            .map(|g| g.external_id.as_str().to_owned())
            .collect();
        groups.sort_unstable();
        groups.dedup();
        groups
    }

    /// The state once `changes` are applied, as the store applies them: rows upserted by
    /// source id, edges removed then added. Why in memory: a pushed source (SCIM, a live
    /// stream) sends small batches often, and reloading a large tenant for each cost more than
    /// the batch itself (docs/benchmarks.md, issue 18); the engine keeps the state a push left
    /// and brings it forward with each change set it applied.
    ///
    /// An edge naming an entry neither stored nor written is ignored: the store would have
    /// refused the whole set, and a caller only applies sets the store took.
    pub fn apply(&mut self, changes: &ChangeSet) {
        let users = upsert(&mut self.users, changes.users.iter().map(|w| &w.row), |u| {
            &u.source_id
        });
        let groups = upsert(
            &mut self.groups,
            changes.groups.iter().map(|w| &w.row),
            |g| &g.source_id,
        );
        edit_edges(
            &mut self.memberships,
            (&changes.memberships_added, &changes.memberships_removed),
            (&groups, &users),
        );
        edit_edges(
            &mut self.nesting,
            (&changes.nesting_added, &changes.nesting_removed),
            (&groups, &groups),
        );
    }
}

/// `rows` with each of `written` in place of the row of its source id, or appended; returns
/// every row's index by source id.
fn upsert<'a, T: Clone + 'a>(
    rows: &mut Vec<T>,
    written: impl Iterator<Item = &'a T>,
    id: impl Fn(&T) -> &SourceId,
) -> FxHashMap<SourceId, u32> {
    let mut index: FxHashMap<SourceId, u32> = fxhash::map(rows.len());
    index.extend((0..).zip(rows.iter()).map(|(i, r)| (id(r).clone(), i)));
    for row in written {
        match index.get(id(row)) {
            Some(&i) => rows[i as usize] = row.clone(),
            None => {
                index.insert(id(row).clone(), rows.len() as u32);
                rows.push(row.clone());
            }
        }
    }
    index
}

/// `edges` with `removed` taken out and `added` put in, each edge as the index pair of its
/// group in `groups` and its member in `members`.
fn edit_edges(
    edges: &mut Vec<(u32, u32)>,
    (added, removed): (&[Edge], &[Edge]),
    (groups, members): (&FxHashMap<SourceId, u32>, &FxHashMap<SourceId, u32>),
) {
    let pair = |e: &Edge| {
        Some((
            *groups.get(&e.group.source_id)?,
            *members.get(&e.member.source_id)?,
        ))
    };
    if !removed.is_empty() {
        let gone: FxHashSet<(u32, u32)> = removed.iter().filter_map(pair).collect();
        edges.retain(|e| !gone.contains(e));
    }
    edges.extend(added.iter().filter_map(pair));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::change::{Event, GroupWrite, Key, UserWrite};

    fn stored_user(id: &str, first_name: &str) -> StoredUser {
        StoredUser {
            source_id: SourceId::new(id).expect("id"),
            external_id: ExternalId::new(id).expect("id"),
            locator: None,
            first_name: first_name.into(),
            last_name: id.into(),
            email: None,
            status: UserStatus::Active,
            deactivated_by: None,
            admin: false,
            password_hash: None,
        }
    }

    fn stored_group(id: &str) -> StoredGroup {
        StoredGroup {
            source_id: SourceId::new(id).expect("id"),
            external_id: ExternalId::new(id).expect("id"),
            locator: None,
            name: id.into(),
            status: UserStatus::Active,
        }
    }

    fn key(id: &str) -> Key {
        Key::new(
            SourceId::new(id).expect("id"),
            ExternalId::new(id).expect("id"),
        )
    }

    fn edge(group: &str, member: &str) -> Edge {
        Edge {
            group: key(group),
            member: key(member),
        }
    }

    /// `parent>child` names of each edge list, sorted.
    fn edges(state: &StoreState) -> (Vec<String>, Vec<String>) {
        let name = |pairs: &[(u32, u32)], members: &dyn Fn(u32) -> String| {
            let mut out: Vec<String> = pairs
                .iter()
                .map(|&(g, m)| format!("{}>{}", state.groups[g as usize].source_id, members(m)))
                .collect();
            out.sort();
            out
        };
        (
            name(&state.memberships, &|u| {
                state.users[u as usize].source_id.to_string()
            }),
            name(&state.nesting, &|g| {
                state.groups[g as usize].source_id.to_string()
            }),
        )
    }

    #[test]
    fn a_change_set_applied_in_memory_upserts_rows_and_edits_edges() {
        let mut state = StoreState {
            users: vec![stored_user("a", "Ann"), stored_user("b", "Bob")],
            groups: vec![stored_group("g")],
            memberships: vec![(0, 0), (0, 1)],
            nesting: vec![],
        };
        let changes = ChangeSet {
            users: vec![
                UserWrite {
                    event: Event::Updated(vec![]),
                    row: stored_user("b", "Robert"),
                },
                UserWrite {
                    event: Event::Created,
                    row: stored_user("c", "Cy"),
                },
            ],
            groups: vec![GroupWrite {
                event: Event::Created,
                row: stored_group("parent"),
            }],
            memberships_added: vec![edge("g", "c"), edge("parent", "a")],
            memberships_removed: vec![edge("g", "a")],
            nesting_added: vec![edge("parent", "g")],
            ..ChangeSet::default()
        };
        state.apply(&changes);
        let names: Vec<String> = state
            .users
            .iter()
            .map(|u| format!("{} {}", u.source_id, u.first_name))
            .collect();
        assert_eq!(names, ["a Ann", "b Robert", "c Cy"]);
        assert_eq!(state.groups.len(), 2);
        let (memberships, nesting) = edges(&state);
        assert_eq!(memberships, ["g>b", "g>c", "parent>a"]);
        assert_eq!(nesting, ["parent>g"]);
    }

    #[test]
    fn one_name_is_one_string() {
        let mut names = MemberNames::default();
        let first = names.intern("uid=jlennon,ou=people,dc=example");
        let again = names.intern(&String::from("uid=jlennon,ou=people,dc=example"));
        let other = names.intern("uid=pmccartney,ou=people,dc=example");
        assert!(ArcStr::ptr_eq(&first, &again));
        assert!(!ArcStr::ptr_eq(&first, &other));
        assert_eq!(
            MemberRef::Locator(again).name(),
            "uid=jlennon,ou=people,dc=example"
        );
    }
}
