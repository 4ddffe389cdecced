//! Several sources' reads made into the one read the engine plans, without I/O.
//!
//! Rules, each covered by a test:
//! - a person is the entries of different sources with the same matching value (the e-mail,
//!   compared without case, the login, or each source's `mapping.match`, an employee number):
//!   never a guess from names;
//! - the higher source (earlier in the configuration) wins field by field where it has a value;
//!   the account is enabled when any source enables it, so one source's leaver stays while
//!   another source still provides them;
//! - a merged entry keeps the id it was given the first time (the links of earlier runs), so a
//!   person who moves between sources keeps their row;
//! - one login claimed by two different people of different sources, or a matching value shared
//!   by two entries of one source, is a conflict: those entries are held back, logged, and
//!   their stored rows kept as they are;
//! - groups with the same group id in several sources are one group whose members are every
//!   source's, each member reference rewritten to how the merged entry is known.

use std::borrow::Cow;
use std::collections::hash_map::Entry as Slot;
use std::collections::{BTreeMap, HashMap, HashSet};

use idmsync_domain::plan::SourceData;
use idmsync_domain::{
    ArcStr, Document, ExternalId, Fold, MemberRef, SourceGroup, SourceId, SourcePassword,
    SourceUser, Unreadable,
};
use serde::Deserialize;

use crate::links::Links;

/// One source's read, under the name the configuration gives it.
#[derive(Debug)]
pub struct Read {
    /// The source's name (`sources[].name`).
    pub source: String,
    /// What it returned.
    pub data: SourceData,
}

/// The declared attribute that says two sources' entries are one person (`sync.match_by`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MatchBy {
    /// The e-mail address, without regard to case or surrounding white space.
    #[default]
    Email,
    /// The login, as `sync.ignore_case` compares logins.
    Login,
    /// Each source's `mapping.match` expression (an employee number), compared as given but
    /// for surrounding white space.
    Mapping,
}

/// How reads are merged.
#[derive(Debug, Clone, Copy, Default)]
pub struct MergeOptions {
    /// What makes two entries one person.
    pub match_by: MatchBy,
    /// `sync.ignore_case`: logins and group ids compared without case.
    pub ignore_case: bool,
}

/// Merges `reads`, highest precedence first, given the links earlier runs recorded. The result
/// holds the documents of the entries whose links changed, for the run to record.
#[must_use]
pub fn merge(reads: Vec<Read>, links: &Links, options: MergeOptions) -> SourceData {
    let names: Vec<String> = reads.iter().map(|r| r.source.clone()).collect();
    let mut users = Vec::new();
    let mut groups = Vec::new();
    let mut out = SourceData::default();
    for (source, read) in reads.into_iter().enumerate() {
        users.extend(read.data.users.into_iter().map(|u| (source, u)));
        groups.extend(read.data.groups.into_iter().map(|g| (source, g)));
        for mut entry in read.data.unreadable {
            if let Some(merged) = entry
                .source_id
                .as_ref()
                .and_then(|id| links.merged(entry.group, &names[source], id))
            {
                entry.source_id = Some(merged.clone());
            }
            out.unreadable.push(entry);
        }
    }
    let fold = Fold::new(options.ignore_case);

    let mut people = entities(&users, &names, |u| match options.match_by {
        MatchBy::Email => u
            .email
            .as_deref()
            .map(|e| e.trim().to_lowercase())
            .filter(|e| !e.is_empty())
            .map(|e| ("e-mail", e)),
        MatchBy::Login => Some(("login", fold.key(u.external_id.as_str()).into_owned())),
        MatchBy::Mapping => u
            .match_value
            .as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(|v| ("mapping.match value", v.to_string())),
    });
    hold_login_conflicts(&mut people, &users, &names, fold);
    let user_ids = assign(&people, &users, &names, links);
    let groups_merged = entities(&groups, &names, |g| {
        Some(("group id", fold.key(g.external_id.as_str()).into_owned()))
    });
    let group_ids = assign(&groups_merged, &groups, &names, links);

    let mut locators = HashSet::new();
    let made_users = made(&people, &users, &mut locators);
    let made_groups = made(&groups_merged, &groups, &mut locators);
    let refs = References::new(
        names.len(),
        (&people, &users),
        (&groups_merged, &groups),
        fold,
    );

    // Groups first, while the member references borrow the users; then the users, each
    // record's fields taken rather than copied.
    for ((entity, id), made) in groups_merged.iter().zip(&group_ids).zip(&made_groups) {
        let records = own(entity, &groups);
        if held_back(entity, records[0].1, id, &mut out.unreadable) {
            continue;
        }
        let mut seen = HashSet::new();
        let (refs, made_users, made_groups) = (&refs, &made_users, &made_groups);
        let members = records
            .iter()
            .flat_map(|&(source, g)| {
                g.members
                    .iter()
                    .map(move |m| refs.rewrite(source, m, made_users, made_groups))
            })
            .filter(|m| seen.insert(m.clone()))
            .collect();
        out.groups.push(SourceGroup {
            source_id: id.clone(),
            external_id: made.external_id.clone(),
            locator: made.locator.clone(),
            name: first(records.iter().map(|(_, g)| g.name.as_str())).to_string(),
            members,
        });
        document(&mut out.documents, links, id, &names, &records);
    }
    drop(refs);
    let mut users: Vec<Option<(usize, SourceUser)>> = users.into_iter().map(Some).collect();
    for ((entity, id), made) in people.iter().zip(&user_ids).zip(made_users) {
        let records: Vec<(usize, SourceUser)> = entity
            .records
            .iter()
            .filter_map(|&r| users[r].take())
            .collect();
        let borrowed: Vec<(usize, &SourceUser)> = records.iter().map(|(s, u)| (*s, u)).collect();
        if held_back(entity, borrowed[0].1, id, &mut out.unreadable) {
            continue;
        }
        document(&mut out.documents, links, id, &names, &borrowed);
        out.users.push(merged_user(id, made, records));
    }
    out
}

/// One merged entry: the indices of its records (highest source first) and, when it is held
/// back, why.
#[derive(Debug)]
struct Entity {
    records: Vec<usize>,
    held: Option<String>,
}

/// How a merged entry is known once merged.
struct Made {
    locator: Option<String>,
    external_id: ExternalId,
    held: bool,
}

/// What merging asks of a user and of a group alike.
trait Entry {
    /// A group rather than a user.
    const GROUP: bool;
    fn source_id(&self) -> &SourceId;
    fn external_id(&self) -> &ExternalId;
    fn locator(&self) -> Option<&String>;
}

/// Users and groups have the same three fields.
macro_rules! entry {
    ($kind:ty, $group:literal) => {
        impl Entry for $kind {
            const GROUP: bool = $group;
            fn source_id(&self) -> &SourceId {
                &self.source_id
            }
            fn external_id(&self) -> &ExternalId {
                &self.external_id
            }
            fn locator(&self) -> Option<&String> {
                self.locator.as_ref()
            }
        }
    };
}

entry!(SourceUser, false);
entry!(SourceGroup, true);

/// How each entity is known once merged: its highest record's login or group id, and the
/// first of its records' locators that no earlier entity took (a locator names one entry of
/// the merged read, or member references to it would be ambiguous).
fn made<T: Entry>(
    entities: &[Entity],
    records: &[(usize, T)],
    taken: &mut HashSet<String>,
) -> Vec<Made> {
    entities
        .iter()
        .map(|entity| {
            let mut own = entity.records.iter().map(|&r| &records[r].1);
            let first = own.clone().next().expect("an entity has a record");
            let locator = own.find_map(|e| e.locator().filter(|l| !taken.contains(*l)).cloned());
            if let Some(locator) = &locator {
                taken.insert(locator.clone());
            }
            Made {
                locator,
                external_id: first.external_id().clone(),
                held: entity.held.is_some(),
            }
        })
        .collect()
}

/// The entity's records, each with its source.
fn own<'a, T>(entity: &Entity, records: &'a [(usize, T)]) -> Vec<(usize, &'a T)> {
    entity
        .records
        .iter()
        .map(|&r| (records[r].0, &records[r].1))
        .collect()
}

/// Whether the entity is held back; if so it is noted in `held` as the planner keeps it:
/// found by its merged id, else by the locator (or id) of its `first` record.
fn held_back<T: Entry>(
    entity: &Entity,
    first: &T,
    id: &SourceId,
    held: &mut Vec<Unreadable>,
) -> bool {
    let Some(reason) = &entity.held else {
        return false;
    };
    held.push(Unreadable {
        group: T::GROUP,
        locator: first
            .locator()
            .map_or_else(|| first.external_id().to_string(), Clone::clone),
        source_id: Some(id.clone()),
        reason: reason.clone(),
        conflict: true,
    });
    true
}

/// What joins entries into one entity: the attribute's name, for the log, and its value.
type Key = (&'static str, String);

/// The entities of `records` (each with its source's index), joined by `key`: entries of
/// different sources with the same key are one; entries of one source never join each other
/// (the planner judges a source's own duplicates), and a key shared inside one source and
/// found in another is a conflict, since which entry is the other source's person is a guess.
fn entities<T>(
    records: &[(usize, T)],
    names: &[String],
    key: impl Fn(&T) -> Option<Key>,
) -> Vec<Entity> {
    let mut by_key: HashMap<String, usize> = HashMap::new();
    // Each entity's records, and the attribute that joined them (its value stays in `by_key`).
    let mut keyed: Vec<(Vec<usize>, Option<&'static str>)> = Vec::new();
    for (r, (_, entry)) in records.iter().enumerate() {
        match key(entry) {
            Some((what, value)) => match by_key.get(&value) {
                Some(&e) => keyed[e].0.push(r),
                None => {
                    by_key.insert(value, keyed.len());
                    keyed.push((vec![r], Some(what)));
                }
            },
            None => keyed.push((vec![r], None)),
        }
    }
    drop(by_key);
    let mut out = Vec::with_capacity(keyed.len());
    for (members, what) in keyed {
        if members.len() == 1 {
            out.push(Entity {
                records: members,
                held: None,
            });
            continue;
        }
        let mut per_source: BTreeMap<usize, usize> = BTreeMap::new();
        for &r in &members {
            *per_source.entry(records[r].0).or_default() += 1;
        }
        if per_source.len() == 1 {
            out.extend(members.into_iter().map(|r| Entity {
                records: vec![r],
                held: None,
            }));
            continue;
        }
        let held =
            per_source
                .iter()
                .find(|(_, &n)| n > 1)
                .zip(what)
                .map(|((&source, &n), what)| {
                    let value = key(&records[members[0]].1)
                        .map(|(_, v)| v)
                        .unwrap_or_default();
                    format!(
                    "{what} {value:?} is on {n} entries of {} and also in {}: which one is the \
                     same person is not for idmsync to guess; neither is changed",
                    names[source],
                    others(&per_source, source, names)
                )
                });
        out.push(Entity {
            records: members,
            held,
        });
    }
    out
}

/// The names of the sources in `per_source` other than `but`.
fn others(per_source: &BTreeMap<usize, usize>, but: usize, names: &[String]) -> String {
    per_source
        .keys()
        .filter(|&&s| s != but)
        .map(|&s| names[s].as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Holds back every person claiming a login that a different person of another source claims
/// too: neither is changed, both are logged.
fn hold_login_conflicts(
    people: &mut [Entity],
    users: &[(usize, SourceUser)],
    names: &[String],
    fold: Fold,
) {
    // The first claimant of each login, and the claimants of the logins claimed again.
    let mut first: HashMap<Cow<'_, str>, usize> = HashMap::with_capacity(people.len());
    let mut again: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (e, entity) in people.iter().enumerate() {
        let login = fold.key(users[entity.records[0]].1.external_id.as_str());
        match first.entry(login) {
            Slot::Occupied(claimed) => again
                .entry(*claimed.get())
                .or_insert_with(|| vec![*claimed.get()])
                .push(e),
            Slot::Vacant(free) => {
                free.insert(e);
            }
        }
    }
    drop(first);
    for claimants in again.into_values() {
        let mut sources: Vec<usize> = claimants
            .iter()
            .flat_map(|&e| people[e].records.iter().map(|&r| users[r].0))
            .collect();
        sources.sort_unstable();
        sources.dedup();
        if sources.len() < 2 {
            continue;
        }
        let login = users[people[claimants[0]].records[0]]
            .1
            .external_id
            .as_str();
        let reason = format!(
            "the login {login:?} is claimed by {} different people, in {}; neither is changed",
            claimants.len(),
            sources
                .iter()
                .map(|&s| names[s].as_str())
                .collect::<Vec<_>>()
                .join(" and ")
        );
        for e in claimants {
            people[e].held.get_or_insert_with(|| reason.clone());
        }
    }
}

/// Each entity's merged id: the link of its highest record that earlier runs recorded and no
/// other entity took first; else the first of its records' own ids that no stored link gives to
/// another entry; else its first record's id under its source's name.
fn assign<T: Entry>(
    entities: &[Entity],
    records: &[(usize, T)],
    names: &[String],
    links: &Links,
) -> Vec<SourceId> {
    let group = T::GROUP;
    let mut used: HashSet<SourceId> = HashSet::new();
    let mut ids = Vec::with_capacity(entities.len());
    for entity in entities {
        let own = || {
            entity
                .records
                .iter()
                .map(|&r| (records[r].0, records[r].1.source_id()))
        };
        let id = own()
            .filter_map(|(s, id)| links.merged(group, &names[s], id))
            .find(|m| !used.contains(*m))
            .cloned()
            .or_else(|| {
                own()
                    .map(|(_, id)| id)
                    .find(|id| !used.contains(*id) && !links.is_merged(group, id))
                    .cloned()
            })
            .unwrap_or_else(|| {
                let (s, id) = own().next().expect("an entity has a record");
                SourceId::new(format!("{}:{id}", names[s])).expect("not blank")
            });
        used.insert(id.clone());
        ids.push(id);
    }
    ids
}

/// The first non-empty value, or the empty string.
fn first<'a>(mut values: impl Iterator<Item = &'a str>) -> &'a str {
    values.find(|v| !v.is_empty()).unwrap_or("")
}

/// One person from their records, highest source first.
fn merged_user(id: &SourceId, made: Made, records: Vec<(usize, SourceUser)>) -> SourceUser {
    let mut merged = SourceUser {
        source_id: id.clone(),
        external_id: made.external_id,
        locator: made.locator,
        first_name: String::new(),
        last_name: String::new(),
        email: None,
        password: SourcePassword::Unmanaged,
        enabled: false,
        match_value: None,
    };
    for (_, u) in records {
        if merged.first_name.is_empty() {
            merged.first_name = u.first_name;
        }
        if merged.last_name.is_empty() {
            merged.last_name = u.last_name;
        }
        if merged.email.is_none() {
            merged.email = u.email.filter(|e| !e.is_empty());
        }
        if matches!(merged.password, SourcePassword::Unmanaged) {
            merged.password = u.password;
        }
        merged.enabled |= u.enabled;
        merged.match_value = merged.match_value.or(u.match_value);
    }
    merged
}

/// Records the entity's links when they differ from what earlier runs recorded.
fn document<T: Entry>(
    documents: &mut Vec<Document>,
    links: &Links,
    id: &SourceId,
    names: &[String],
    records: &[(usize, &T)],
) {
    let now: BTreeMap<&str, &SourceId> = records
        .iter()
        .map(|&(s, entry)| (names[s].as_str(), entry.source_id()))
        .collect();
    documents.extend(links.changed(T::GROUP, id, &now));
}

/// Where each source's member references point: the entities its users and groups became.
/// Keys borrow the records' own strings: a directory of a million people would otherwise be
/// copied once more here.
struct References<'a> {
    user_locators: Vec<HashMap<&'a str, usize>>,
    user_ids: Vec<HashMap<Cow<'a, str>, usize>>,
    group_locators: Vec<HashMap<&'a str, usize>>,
    group_ids: Vec<HashMap<Cow<'a, str>, usize>>,
    fold: Fold,
}

impl<'a> References<'a> {
    fn new(
        sources: usize,
        (people, users): (&[Entity], &'a [(usize, SourceUser)]),
        (groups_merged, groups): (&[Entity], &'a [(usize, SourceGroup)]),
        fold: Fold,
    ) -> Self {
        let mut refs = Self {
            user_locators: vec![HashMap::new(); sources],
            user_ids: vec![HashMap::new(); sources],
            group_locators: vec![HashMap::new(); sources],
            group_ids: vec![HashMap::new(); sources],
            fold,
        };
        for (e, entity) in people.iter().enumerate() {
            for &r in &entity.records {
                let (s, u) = &users[r];
                if let Some(l) = &u.locator {
                    refs.user_locators[*s].insert(l, e);
                }
                refs.user_ids[*s].insert(fold.key(u.external_id.as_str()), e);
            }
        }
        for (e, entity) in groups_merged.iter().enumerate() {
            for &r in &entity.records {
                let (s, g) = &groups[r];
                if let Some(l) = &g.locator {
                    refs.group_locators[*s].insert(l, e);
                }
                refs.group_ids[*s].insert(fold.key(g.external_id.as_str()), e);
            }
        }
        refs
    }

    /// `member`, as source `source` wrote it, rewritten to name the merged entry it became;
    /// unchanged when it names nothing of that source, something held back, or both a user
    /// and a group.
    fn rewrite(
        &self,
        source: usize,
        member: &MemberRef,
        users: &[Made],
        groups: &[Made],
    ) -> MemberRef {
        let (user, group) = match member {
            MemberRef::Locator(l) => (
                self.user_locators[source].get(l.as_str()),
                self.group_locators[source].get(l.as_str()),
            ),
            MemberRef::ExternalId(id) => {
                let key = self.fold.key(id);
                (
                    self.user_ids[source].get(&key),
                    self.group_ids[source].get(&key),
                )
            }
        };
        let made = match (user, group) {
            (Some(&u), None) => &users[u],
            (None, Some(&g)) => &groups[g],
            _ => return member.clone(),
        };
        if made.held {
            return member.clone();
        }
        match (member, &made.locator) {
            (MemberRef::Locator(l), Some(now)) if l.as_str() == now => member.clone(),
            (MemberRef::ExternalId(id), _) if id.as_str() == made.external_id.as_str() => {
                member.clone()
            }
            (_, Some(now)) => MemberRef::Locator(ArcStr::from(now.as_str())),
            (_, None) => MemberRef::ExternalId(ArcStr::from(made.external_id.as_str())),
        }
    }
}
