//! Builders for sources, stores and options, the shared fake hashers, an in-memory `apply`, and the
//! `check` helper every feature test goes through.

use std::collections::{HashMap, HashSet};
use std::num::NonZeroUsize;

use idmsync_domain::change::Edge;
use idmsync_domain::plan::{plan, SourceData};
use idmsync_domain::{
    ChangeSet, DeactivatedBy, ExternalId, MemberRef, PlanOptions, Reactivate, SourceGroup,
    SourceId, SourcePassword, SourceUser, StoreState, SyncMode, Tenant, UserStatus,
};

pub use idmsync_test_doubles::{BrokenHasher, CountingHasher, PlainHasher};

pub fn sid(s: &str) -> SourceId {
    SourceId::new(s).expect("valid source id")
}

pub fn ext(s: &str) -> ExternalId {
    ExternalId::new(s).expect("valid external id")
}

/// A user whose source id is `id:<login>`, no name, no e-mail, unmanaged password, enabled.
pub fn u(login: &str) -> SourceUser {
    SourceUser {
        source_id: sid(&format!("id:{login}")),
        external_id: ext(login),
        locator: None,
        first_name: String::new(),
        last_name: String::new(),
        email: None,
        password: SourcePassword::Unmanaged,
        enabled: true,
        match_value: None,
    }
}

/// A group whose source id is `id:<group id>`, named like its id. A member containing `=` is a
/// locator (a DN), anything else an external id.
pub fn g(id: &str, members: &[&str]) -> SourceGroup {
    SourceGroup {
        source_id: sid(&format!("id:{id}")),
        external_id: ext(id),
        locator: None,
        name: id.to_string(),
        members: members.iter().map(|m| member(m)).collect(),
    }
}

pub fn member(m: &str) -> MemberRef {
    if m.contains('=') {
        MemberRef::Locator(m.into())
    } else {
        MemberRef::ExternalId(m.into())
    }
}

/// Fluent changes to a source user.
pub trait UserExt {
    fn sid(self, s: &str) -> Self;
    fn login(self, s: &str) -> Self;
    fn dn(self, l: &str) -> Self;
    fn named(self, first: &str, last: &str) -> Self;
    fn mail(self, e: &str) -> Self;
    fn disabled(self) -> Self;
    fn pw(self, p: SourcePassword) -> Self;
}

impl UserExt for SourceUser {
    fn sid(mut self, s: &str) -> Self {
        self.source_id = sid(s);
        self
    }
    fn login(mut self, s: &str) -> Self {
        self.external_id = ext(s);
        self
    }
    fn dn(mut self, l: &str) -> Self {
        self.locator = Some(l.to_string());
        self
    }
    fn named(mut self, first: &str, last: &str) -> Self {
        self.first_name = first.to_string();
        self.last_name = last.to_string();
        self
    }
    fn mail(mut self, e: &str) -> Self {
        self.email = Some(e.to_string());
        self
    }
    fn disabled(mut self) -> Self {
        self.enabled = false;
        self
    }
    fn pw(mut self, p: SourcePassword) -> Self {
        self.password = p;
        self
    }
}

/// Fluent changes to a source group.
pub trait GroupExt {
    fn sid(self, s: &str) -> Self;
    fn gid(self, s: &str) -> Self;
    fn dn(self, l: &str) -> Self;
    fn name(self, n: &str) -> Self;
}

impl GroupExt for SourceGroup {
    fn sid(mut self, s: &str) -> Self {
        self.source_id = sid(s);
        self
    }
    fn gid(mut self, s: &str) -> Self {
        self.external_id = ext(s);
        self
    }
    fn dn(mut self, l: &str) -> Self {
        self.locator = Some(l.to_string());
        self
    }
    fn name(mut self, n: &str) -> Self {
        self.name = n.to_string();
        self
    }
}

pub fn src(users: Vec<SourceUser>, groups: Vec<SourceGroup>) -> SourceData {
    SourceData {
        users,
        groups,
        unreadable: Vec::new(),
        departed: Default::default(),
        documents: Vec::new(),
    }
}

/// Users only, by login.
pub fn logins(names: &[&str]) -> Vec<SourceUser> {
    names.iter().map(|n| u(n)).collect()
}

pub fn full() -> PlanOptions {
    PlanOptions {
        tenant: Tenant::new("default").expect("tenant"),
        mode: SyncMode::Full,
        reactivate: Reactivate::Sync,
        ignore_case: false,
        admins: Vec::new(),
        gone: Vec::new(),
        // More than one, so that every planner test also plans groups on several threads.
        threads: NonZeroUsize::new(2).expect("positive"),
    }
}

pub fn diff() -> PlanOptions {
    PlanOptions {
        mode: SyncMode::Differential,
        ..full()
    }
}

/// A user run that asked the source for `login`.
pub fn user_run(login: &str) -> PlanOptions {
    PlanOptions {
        mode: SyncMode::User,
        gone: vec![login.to_string()],
        ..full()
    }
}

pub fn with_admins(mut o: PlanOptions, admins: &[&str]) -> PlanOptions {
    o.admins = admins.iter().map(|a| a.to_string()).collect();
    o
}

pub fn ignoring_case(mut o: PlanOptions) -> PlanOptions {
    o.ignore_case = true;
    o
}

pub fn reactivating(mut o: PlanOptions, r: Reactivate) -> PlanOptions {
    o.reactivate = r;
    o
}

/// The store after a first full sync of `source` into an empty store.
pub fn synced(source: &SourceData) -> StoreState {
    synced_with(source, &full())
}

pub fn synced_with(source: &SourceData, options: &PlanOptions) -> StoreState {
    let store = StoreState::default();
    apply(&store, &plan(source.clone(), &store, options, &PlainHasher))
}

/// Marks a stored user inactive, as an administrator (or an earlier run) would.
pub fn deactivate(state: &mut StoreState, login: &str, by: DeactivatedBy) {
    let user = state
        .users
        .iter_mut()
        .find(|u| u.external_id.as_str() == login)
        .expect("stored user");
    user.status = UserStatus::Inactive;
    user.deactivated_by = Some(by);
}

/// The log lines, one per line, as `event-key: message`.
pub fn lines(changes: &ChangeSet) -> String {
    changes
        .log_lines()
        .map(|l| l.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

/// `expected` as written in a test: one line each, indentation and blank lines ignored.
pub fn trim(expected: &str) -> String {
    expected
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Plans `source` against `store` and asserts the log lines; returns the change set for more
/// assertions.
#[track_caller]
pub fn check(
    store: &StoreState,
    source: &SourceData,
    options: &PlanOptions,
    expected: &str,
) -> ChangeSet {
    let changes = plan(source.clone(), store, options, &PlainHasher);
    assert_eq!(lines(&changes), trim(expected), "\n{changes:#?}");
    changes
}

/// One run of a multi-run story: plan, assert the lines, apply to `store`, then check that the
/// same source planned again changes nothing.
#[track_caller]
pub fn step(store: &mut StoreState, source: &SourceData, options: &PlanOptions, expected: &str) {
    let changes = check(store, source, options, expected);
    *store = apply(store, &changes);
    assert_idempotent(store, source, options);
}

/// Planning `source` again against `store` writes nothing and logs only warnings.
#[track_caller]
pub fn assert_idempotent(store: &StoreState, source: &SourceData, options: &PlanOptions) {
    let again = plan(source.clone(), store, options, &PlainHasher);
    assert!(again.is_empty(), "second run not empty:\n{}", lines(&again));
    assert!(
        again.admins_granted.is_empty() && again.admins_revoked.is_empty(),
        "second run changes capabilities:\n{}",
        lines(&again)
    );
    assert_eq!(
        again.log_lines().count(),
        again.warnings.len(),
        "second run logs changes:\n{}",
        lines(&again)
    );
}

type EdgeIds = (SourceId, SourceId);

fn position<'a>(ids: impl Iterator<Item = &'a SourceId>) -> HashMap<SourceId, u32> {
    let index: HashMap<SourceId, u32> = ids
        .enumerate()
        .map(|(i, s)| (s.clone(), i as u32))
        .collect();
    index
}

fn edge_ids(e: &Edge) -> EdgeIds {
    (e.group.source_id.clone(), e.member.source_id.clone())
}

/// Applies a change set the way the store does: rows upserted by source id, edges added and
/// removed by source id. Strict: panics on an edge added twice, removed while absent, or naming
/// a row that does not exist, and on capability lists that disagree with the rows written.
#[track_caller]
pub fn apply(state: &StoreState, changes: &ChangeSet) -> StoreState {
    let mut next = state.clone();
    let before: HashMap<SourceId, bool> = state
        .users
        .iter()
        .map(|u| (u.source_id.clone(), u.admin))
        .collect();
    let (mut granted, mut revoked) = (HashSet::new(), HashSet::new());
    let mut users = position(next.users.iter().map(|u| &u.source_id));
    for w in &changes.users {
        let sid = &w.row.source_id;
        let was = before.get(sid).copied().unwrap_or(false);
        if was != w.row.admin {
            if w.row.admin {
                &mut granted
            } else {
                &mut revoked
            }
            .insert(sid.clone());
        }
        match users.get(sid) {
            Some(&i) => next.users[i as usize] = w.row.clone(),
            None => {
                users.insert(sid.clone(), next.users.len() as u32);
                next.users.push(w.row.clone());
            }
        }
    }
    let keys = |list: &[idmsync_domain::change::Key]| -> HashSet<SourceId> {
        list.iter().map(|k| k.source_id.clone()).collect()
    };
    assert_eq!(
        keys(&changes.admins_granted),
        granted,
        "granted list vs rows"
    );
    assert_eq!(
        keys(&changes.admins_revoked),
        revoked,
        "revoked list vs rows"
    );
    let mut groups = position(next.groups.iter().map(|g| &g.source_id));
    for w in &changes.groups {
        let sid = &w.row.source_id;
        match groups.get(sid) {
            Some(&i) => next.groups[i as usize] = w.row.clone(),
            None => {
                groups.insert(sid.clone(), next.groups.len() as u32);
                next.groups.push(w.row.clone());
            }
        }
    }
    next.memberships = edit(
        &state.memberships,
        (&groups, &users),
        &changes.memberships_added,
        &changes.memberships_removed,
        |s: &StoreState, (g, m)| (s.groups[g].source_id.clone(), s.users[m].source_id.clone()),
        state,
    );
    next.nesting = edit(
        &state.nesting,
        (&groups, &groups),
        &changes.nesting_added,
        &changes.nesting_removed,
        |s: &StoreState, (g, m)| (s.groups[g].source_id.clone(), s.groups[m].source_id.clone()),
        state,
    );
    next
}

#[track_caller]
fn edit(
    pairs: &[(u32, u32)],
    index: (&HashMap<SourceId, u32>, &HashMap<SourceId, u32>),
    added: &[Edge],
    removed: &[Edge],
    ids_of: impl Fn(&StoreState, (usize, usize)) -> EdgeIds,
    old: &StoreState,
) -> Vec<(u32, u32)> {
    let mut set: Vec<EdgeIds> = pairs
        .iter()
        .map(|&(g, m)| ids_of(old, (g as usize, m as usize)))
        .collect();
    let mut seen: HashSet<EdgeIds> = set.iter().cloned().collect();
    assert_eq!(seen.len(), set.len(), "the store holds a duplicate edge");
    for e in removed {
        let id = edge_ids(e);
        assert!(seen.remove(&id), "removing an absent edge {e:?}");
    }
    set.retain(|id| seen.contains(id));
    for e in added {
        let id = edge_ids(e);
        assert!(seen.insert(id.clone()), "adding a present edge {e:?}");
        set.push(id);
    }
    set.into_iter()
        .map(|(g, m)| {
            let gi = *index.0.get(&g).expect("edge names an existing group");
            let mi = *index.1.get(&m).expect("edge names an existing member");
            (gi, mi)
        })
        .collect()
}

/// The direct memberships of the store as `group: member, member` lines, sorted; for asserting
/// the state a story ends in.
pub fn edges_of(state: &StoreState) -> String {
    let mut out: Vec<String> = state
        .memberships
        .iter()
        .map(|&(g, m)| {
            format!(
                "{} > {}",
                state.groups[g as usize].external_id, state.users[m as usize].external_id
            )
        })
        .chain(state.nesting.iter().map(|&(g, c)| {
            format!(
                "{} >> {}",
                state.groups[g as usize].external_id, state.groups[c as usize].external_id
            )
        }))
        .collect();
    out.sort();
    out.join("\n")
}

/// The status of each stored user as `login: status[/by][ admin]`, sorted.
pub fn users_of(state: &StoreState) -> String {
    let mut out: Vec<String> = state
        .users
        .iter()
        .map(|u| {
            let by = u.deactivated_by.map(|b| format!("/{}", b.as_str()));
            let admin = if u.admin { " admin" } else { "" };
            format!(
                "{}: {}{}{admin}",
                u.external_id,
                u.status.as_str(),
                by.unwrap_or_default()
            )
        })
        .collect();
    out.sort();
    out.join("\n")
}
