//! The change set a plan produces, its counts, and the run-log lines it reads as.
//!
//! A change set holds complete desired rows rather than field patches: the store applies every
//! write the same way (an upsert keyed by source id), which keeps the write path one code path and
//! the log lines derivable from the set alone.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::ids::{ExternalId, SourceId};
use crate::model::{DeactivatedBy, Document, StoredGroup, StoredUser};

/// An entry named by a change: its identity and the id people recognise in the log, read
/// through the fields of [`KeyIds`]. One pointer, shared by every change that names the entry:
/// a first sync of a million people adds ten million memberships, two keys each (issue 17).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key(Arc<KeyIds>);

/// The ids of a [`Key`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyIds {
    /// Stable identity the store matches rows on.
    pub source_id: SourceId,
    /// Human-readable id for log lines.
    pub external_id: ExternalId,
}

impl Key {
    /// The key of the entry `source_id`, known as `external_id`.
    pub fn new(source_id: SourceId, external_id: ExternalId) -> Self {
        Self(Arc::new(KeyIds {
            source_id,
            external_id,
        }))
    }
}

impl std::ops::Deref for Key {
    type Target = KeyIds;

    fn deref(&self) -> &KeyIds {
        &self.0
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("source_id", &self.source_id)
            .field("external_id", &self.external_id)
            .finish()
    }
}

/// Why a user or group row is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// New row.
    Created,
    /// The listed fields changed.
    Updated(Vec<FieldChange>),
    /// Inactive row made active again; the listed fields changed too.
    Reactivated(Vec<FieldChange>),
    /// Active row made inactive, by the sync (missing from the source) or by the source
    /// (disabled there).
    Deactivated(DeactivatedBy),
    /// Only the admin capability changed; the log line comes from the capability lists.
    Capability,
    /// Nothing a reader of the run log would call a change: an unchanged password gained its
    /// check or was hashed again with current parameters. The row is written so that the next
    /// run finds the password cheaply; it has no log line and no count.
    Silent,
}

/// One field of a row that a run changes, with the values the run log shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldChange {
    /// The field's name (`last_name`, `locator`).
    pub field: &'static str,
    /// The stored value and the new one; `None` for a secret (the password), whose values
    /// the log never shows.
    pub values: Option<(Option<String>, Option<String>)>,
}

impl FieldChange {
    /// A change of a value the log may show; `None` is no value (no e-mail address).
    pub fn shown(field: &'static str, old: Option<&str>, new: Option<&str>) -> Self {
        Self {
            field,
            values: Some((old.map(str::to_owned), new.map(str::to_owned))),
        }
    }

    /// A change of a secret: the log says only that it changed.
    pub fn secret(field: &'static str) -> Self {
        Self {
            field,
            values: None,
        }
    }
}

impl fmt::Display for FieldChange {
    /// `last_name "Wood" → "Wood-Stone"`, `email none → "b@example.com"`, `password changed`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let value = |v: &Option<String>| {
            v.as_ref()
                .map_or_else(|| "none".to_owned(), |v| format!("{v:?}"))
        };
        match &self.values {
            Some((old, new)) => write!(f, "{} {} → {}", self.field, value(old), value(new)),
            None => write!(f, "{} changed", self.field),
        }
    }
}

/// The changes of a row for its log line, `; `-separated.
fn changes_text(changes: &[FieldChange]) -> String {
    changes
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// A user row to write, complete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserWrite {
    /// Why it is written.
    pub event: Event,
    /// The row as it must be after the run.
    pub row: StoredUser,
}

/// A group row to write, complete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupWrite {
    /// Why it is written.
    pub event: Event,
    /// The row as it must be after the run.
    pub row: StoredGroup,
}

/// A direct membership edge: a user in a group, or a child group in a parent group.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Edge {
    /// The group that contains.
    pub group: Key,
    /// The user or child group contained.
    pub member: Key,
}

/// Everything one run changes, plus the warnings it raised. Produced by [`crate::plan::plan`],
/// inspected by [`crate::guard::check`], applied by the store in one transaction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChangeSet {
    /// User rows to insert or update, sorted by external id.
    pub users: Vec<UserWrite>,
    /// Group rows to insert or update, sorted by external id.
    pub groups: Vec<GroupWrite>,
    /// User memberships to add.
    pub memberships_added: Vec<Edge>,
    /// User memberships to remove.
    pub memberships_removed: Vec<Edge>,
    /// Group nesting edges to add.
    pub nesting_added: Vec<Edge>,
    /// Group nesting edges to remove.
    pub nesting_removed: Vec<Edge>,
    /// Users granted the tenant admin capability.
    pub admins_granted: Vec<Key>,
    /// Users that lost it.
    pub admins_revoked: Vec<Key>,
    /// Entries and references skipped because the source data was bad; never applied.
    pub warnings: Vec<LogLine>,
    /// Groups with a member reference that resolved to nothing (a `skipped-member` line
    /// each); not a change. A live batch plans them again with the next one, in case the
    /// member arrives just after its group.
    pub unresolved: Vec<SourceId>,
    /// The source's documents, as it gave them: the store upserts each by `(tenant, group,
    /// source id)` in the transaction of the rows, a later one of a key replacing an earlier.
    /// No count and no log line: a document is what the source says, not a change it planned.
    pub documents: Vec<Document>,
}

impl ChangeSet {
    /// Whether applying the set would change any row (warnings alone change nothing). A
    /// document is a row too: a batch that changes only a document must still be applied.
    pub fn is_empty(&self) -> bool {
        self.documents.is_empty()
            && self.users.is_empty()
            && self.groups.is_empty()
            && self.memberships_added.is_empty()
            && self.memberships_removed.is_empty()
            && self.nesting_added.is_empty()
            && self.nesting_removed.is_empty()
    }

    /// How many users this set deactivates; what the guard limits.
    pub fn user_deactivations(&self) -> u64 {
        self.users
            .iter()
            .filter(|w| matches!(w.event, Event::Deactivated(_)))
            .count() as u64
    }

    /// The counts recorded with the run.
    pub fn counts(&self) -> Counts {
        let mut c = Counts::default();
        for w in &self.users {
            match w.event {
                Event::Created => c.users_created += 1,
                Event::Updated(_) => c.users_updated += 1,
                Event::Reactivated(_) => c.users_reactivated += 1,
                Event::Deactivated(_) => c.users_deactivated += 1,
                Event::Capability | Event::Silent => {}
            }
        }
        for w in &self.groups {
            match w.event {
                Event::Created => c.groups_created += 1,
                Event::Updated(_) => c.groups_updated += 1,
                Event::Reactivated(_) => c.groups_reactivated += 1,
                Event::Deactivated(_) => c.groups_deactivated += 1,
                Event::Capability | Event::Silent => {}
            }
        }
        c.memberships_added = self.memberships_added.len() as u64;
        c.memberships_removed = self.memberships_removed.len() as u64;
        c.nesting_added = self.nesting_added.len() as u64;
        c.nesting_removed = self.nesting_removed.len() as u64;
        c.admins_granted = self.admins_granted.len() as u64;
        c.admins_revoked = self.admins_revoked.len() as u64;
        c.warnings = self.warnings.len() as u64;
        c
    }

    /// How many rows and run-log lines applying the change set writes: what a progress bar
    /// counts to. Edges removed and documents count as rows.
    pub fn writes(&self) -> u64 {
        let logged = |e: &Event| !matches!(e, Event::Capability | Event::Silent);
        let rows = self.users.len()
            + self.groups.len()
            + self.documents.len()
            + self.memberships_added.len()
            + self.memberships_removed.len()
            + self.nesting_added.len()
            + self.nesting_removed.len();
        let lines = self.users.iter().filter(|w| logged(&w.event)).count()
            + self.groups.iter().filter(|w| logged(&w.event)).count()
            + self.memberships_added.len()
            + self.memberships_removed.len()
            + self.nesting_added.len()
            + self.nesting_removed.len()
            + self.admins_granted.len()
            + self.admins_revoked.len()
            + self.warnings.len();
        (rows + lines) as u64
    }

    /// The run-log lines, one per change, in a stable order: users, groups, memberships,
    /// nesting, capabilities, then warnings. Lazy, because a first sync of a large directory has
    /// millions of them and the store writes them in batches.
    pub fn log_lines(&self) -> impl Iterator<Item = LogLine> + '_ {
        let users = self.users.iter().filter_map(|w| {
            entry_line(&w.event, &w.row.external_id, EntryKind::User, || {
                user_description(&w.row)
            })
        });
        let groups = self.groups.iter().filter_map(|w| {
            entry_line(&w.event, &w.row.external_id, EntryKind::Group, || {
                // A name equal to the id says nothing new.
                if w.row.name == w.row.external_id.as_str() {
                    String::new()
                } else {
                    w.row.name.clone()
                }
            })
        });
        users
            .chain(groups)
            .chain(edge_lines(
                EventKey::AddedUserToGroup,
                "to",
                &self.memberships_added,
            ))
            .chain(edge_lines(
                EventKey::RemovedUserFromGroup,
                "from",
                &self.memberships_removed,
            ))
            .chain(edge_lines(
                EventKey::AddedGroupToGroup,
                "to",
                &self.nesting_added,
            ))
            .chain(edge_lines(
                EventKey::RemovedGroupFromGroup,
                "from",
                &self.nesting_removed,
            ))
            .chain(capability_lines(
                EventKey::AddedCapability,
                "to",
                &self.admins_granted,
            ))
            .chain(capability_lines(
                EventKey::RemovedCapability,
                "from",
                &self.admins_revoked,
            ))
            .chain(self.warnings.iter().cloned())
    }
}

#[derive(Clone, Copy)]
enum EntryKind {
    User,
    Group,
}

fn entry_line(
    event: &Event,
    id: &ExternalId,
    kind: EntryKind,
    describe: impl FnOnce() -> String,
) -> Option<LogLine> {
    use EntryKind::{Group, User};
    let (key, message) = match (event, kind) {
        (Event::Created, User) => (EventKey::CreatedUser, with_detail(id, &describe())),
        (Event::Created, Group) => (EventKey::CreatedGroup, with_detail(id, &describe())),
        (Event::Updated(f), User) => (EventKey::UpdatedUser, with_detail(id, &changes_text(f))),
        (Event::Updated(f), Group) => (EventKey::UpdatedGroup, with_detail(id, &changes_text(f))),
        (Event::Reactivated(f), User) => {
            (EventKey::ReactivatedUser, with_detail(id, &changes_text(f)))
        }
        (Event::Reactivated(f), Group) => (
            EventKey::ReactivatedGroup,
            with_detail(id, &changes_text(f)),
        ),
        (Event::Deactivated(by), k) => {
            let key = match k {
                User => EventKey::DeactivatedUser,
                Group => EventKey::DeactivatedGroup,
            };
            let why = match by {
                DeactivatedBy::Source => "disabled in the source",
                DeactivatedBy::Sync | DeactivatedBy::Admin => "missing from the source",
            };
            (key, format!("{id} ({why})"))
        }
        (Event::Capability | Event::Silent, _) => return None,
    };
    Some(LogLine::new(key, message))
}

fn edge_lines<'a>(
    key: EventKey,
    word: &'static str,
    list: &'a [Edge],
) -> impl Iterator<Item = LogLine> + 'a {
    list.iter().map(move |e| {
        LogLine::new(
            key,
            format!("{} {word} {}", e.member.external_id, e.group.external_id),
        )
    })
}

fn capability_lines<'a>(
    key: EventKey,
    word: &'static str,
    list: &'a [Key],
) -> impl Iterator<Item = LogLine> + 'a {
    list.iter()
        .map(move |k| LogLine::new(key, format!("tenant-admin {word} {}", k.external_id)))
}

/// `id (detail)`, or just `id` when there is nothing to add.
fn with_detail(id: &ExternalId, detail: &str) -> String {
    if detail.is_empty() {
        id.to_string()
    } else {
        format!("{id} ({detail})")
    }
}

/// `First Last, mail`, leaving out whatever the source did not give.
fn user_description(u: &StoredUser) -> String {
    let name = format!("{} {}", u.first_name, u.last_name);
    [name.trim(), u.email.as_deref().unwrap_or("").trim()]
        .into_iter()
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(", ")
}

/// How many of each change a run made; recorded with the run and shown by `log list`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[allow(missing_docs)]
pub struct Counts {
    pub users_created: u64,
    pub users_updated: u64,
    pub users_deactivated: u64,
    pub users_reactivated: u64,
    pub groups_created: u64,
    pub groups_updated: u64,
    pub groups_deactivated: u64,
    pub groups_reactivated: u64,
    pub memberships_added: u64,
    pub memberships_removed: u64,
    pub nesting_added: u64,
    pub nesting_removed: u64,
    pub admins_granted: u64,
    pub admins_revoked: u64,
    pub warnings: u64,
}

impl fmt::Display for Counts {
    /// The one-line summary: non-zero counts only, each noun agreeing with its number ("1 user
    /// updated, 2 warnings"), or "no changes".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts = [
            (self.users_created, "user", " created"),
            (self.users_updated, "user", " updated"),
            (self.users_deactivated, "user", " deactivated"),
            (self.users_reactivated, "user", " reactivated"),
            (self.groups_created, "group", " created"),
            (self.groups_updated, "group", " updated"),
            (self.groups_deactivated, "group", " deactivated"),
            (self.groups_reactivated, "group", " reactivated"),
            (self.memberships_added, "membership", " added"),
            (self.memberships_removed, "membership", " removed"),
            (self.nesting_added, "nesting", " added"),
            (self.nesting_removed, "nesting", " removed"),
            (self.admins_granted, "admin", " granted"),
            (self.admins_revoked, "admin", " revoked"),
            (self.warnings, "warning", ""),
        ];
        let text: Vec<String> = parts
            .iter()
            .filter(|(n, ..)| *n > 0)
            .map(|(n, noun, verb)| {
                let plural = if *n == 1 { "" } else { "s" };
                format!("{n} {noun}{plural}{verb}")
            })
            .collect();
        if text.is_empty() {
            f.write_str("no changes")
        } else {
            f.write_str(&text.join(", "))
        }
    }
}

/// The kind of a run-log line, printed as the original's `event-key`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum EventKey {
    CreatedUser,
    UpdatedUser,
    DeactivatedUser,
    ReactivatedUser,
    CreatedGroup,
    UpdatedGroup,
    DeactivatedGroup,
    ReactivatedGroup,
    AddedUserToGroup,
    RemovedUserFromGroup,
    AddedGroupToGroup,
    RemovedGroupFromGroup,
    AddedCapability,
    RemovedCapability,
    SkippedUser,
    SkippedGroup,
    SkippedMember,
    SkippedCapability,
    SkippedPassword,
    /// Two entries of the source claim one identity (a source id, a login or group id as
    /// `sync.ignore_case` compares them), or a member reference names more than one entry: the
    /// run stops unless `sync.on_conflict = "skip"`.
    Conflict,
    /// Two sources of a tenant contradict each other about an entry (one login claimed by two
    /// people): the entry is held back and its stored row kept as it is; the run goes on.
    SourceConflict,
    /// The guard stopped the run; the message says why.
    Aborted,
    /// The run failed (source or store error); the message says why.
    Failed,
    /// An administrator let the SCIM guard's refused deactivations through for one window
    /// (a run of mode `scim` that changes nothing and records who and until when).
    GuardReleased,
}

const EVENT_KEYS: [(EventKey, &str); 24] = [
    (EventKey::CreatedUser, "created-user"),
    (EventKey::UpdatedUser, "updated-user"),
    (EventKey::DeactivatedUser, "deactivated-user"),
    (EventKey::ReactivatedUser, "reactivated-user"),
    (EventKey::CreatedGroup, "created-group"),
    (EventKey::UpdatedGroup, "updated-group"),
    (EventKey::DeactivatedGroup, "deactivated-group"),
    (EventKey::ReactivatedGroup, "reactivated-group"),
    (EventKey::AddedUserToGroup, "added-user-to-group"),
    (EventKey::RemovedUserFromGroup, "removed-user-from-group"),
    (EventKey::AddedGroupToGroup, "added-group-to-group"),
    (EventKey::RemovedGroupFromGroup, "removed-group-from-group"),
    (EventKey::AddedCapability, "added-capability"),
    (EventKey::RemovedCapability, "removed-capability"),
    (EventKey::SkippedUser, "skipped-user"),
    (EventKey::SkippedGroup, "skipped-group"),
    (EventKey::SkippedMember, "skipped-member"),
    (EventKey::SkippedCapability, "skipped-capability"),
    (EventKey::SkippedPassword, "skipped-password"),
    (EventKey::Conflict, "conflict"),
    (EventKey::SourceConflict, "source-conflict"),
    (EventKey::Aborted, "aborted"),
    (EventKey::Failed, "failed"),
    (EventKey::GuardReleased, "guard-released"),
];

impl EventKey {
    /// The stored and printed form (`created-user`).
    pub fn as_str(self) -> &'static str {
        EVENT_KEYS
            .iter()
            .find(|(k, _)| *k == self)
            .map_or("unknown", |(_, s)| s)
    }

    /// Parses the stored form.
    pub fn parse(value: &str) -> Option<Self> {
        EVENT_KEYS
            .iter()
            .find(|(_, s)| *s == value)
            .map(|(k, _)| *k)
    }
}

/// One line of a run's log: `event-key: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// What happened.
    pub event: EventKey,
    /// To what, in words; never contains a password.
    pub message: String,
}

impl LogLine {
    /// A line with the given key and message.
    pub fn new(event: EventKey, message: impl Into<String>) -> Self {
        Self {
            event,
            message: message.into(),
        }
    }

    /// Whether the message names the entry `id` as a whole word (`jdoe (…)`, `jdoe to staff`,
    /// `tenant-admin to jdoe`), not as part of another id (`jdoe2`, `ex-jdoe`). Log lines carry
    /// no entry column, so an entry's history is found by its name in the messages; a word ends
    /// where the messages of [`ChangeSet::log_lines`] put a separator ([`WORD_BOUNDARIES`]) or
    /// where the message does. An id may itself hold spaces or other separators: only its two
    /// ends are checked.
    pub fn names(&self, id: &str) -> bool {
        let message = self.message.as_str();
        let boundary = |c: Option<char>| c.is_none_or(|c| WORD_BOUNDARIES.contains(&c));
        !id.is_empty()
            && message.char_indices().any(|(at, _)| {
                message[at..].starts_with(id)
                    && boundary(message[..at].chars().next_back())
                    && boundary(message[at + id.len()..].chars().next())
            })
    }
}

/// The characters that end a word in a log line's message: the separators of `id (detail)`,
/// `member to group` and `field: "old" → "new"`, and of the details' lists.
const WORD_BOUNDARIES: [char; 5] = [' ', '(', ')', ',', ':'];

impl fmt::Display for LogLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.event.as_str(), self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_key_round_trips() {
        for (key, text) in EVENT_KEYS {
            assert_eq!(key.as_str(), text);
            assert_eq!(EventKey::parse(text), Some(key));
        }
        assert_eq!(EventKey::parse("nonsense"), None);
    }

    #[test]
    fn a_line_names_an_entry_only_as_a_whole_word() {
        #[track_caller]
        fn check(message: &str, id: &str, expected: bool) {
            let line = LogLine::new(EventKey::UpdatedUser, message);
            assert_eq!(line.names(id), expected, "{message:?} names {id:?}");
        }
        check("jdoe (First Last, jdoe@example.com)", "jdoe", true);
        check("jdoe (missing from the source)", "jdoe", true);
        check("jdoe to staff", "jdoe", true);
        check("jdoe from staff", "staff", true);
        check("tenant-admin to jdoe", "jdoe", true);
        check("jdoe (first name: \"A\" → \"B\")", "jdoe", true);
        check("jdoe", "jdoe", true);
        check("a,jdoe:b", "jdoe", true);
        check("(jdoe)", "jdoe", true);
        check("jdoe2 to staff", "jdoe", false);
        check("xjdoe to staff", "jdoe", false);
        check("ex-jdoe to staff", "jdoe", false);
        check("jdoe.x to staff", "jdoe", false);
        check("mjane (e-mail: \"jdoe@a\" → \"b\")", "jdoe", false);
        check("jdoe2 to jdoe", "jdoe", true);
        check("JDOE to staff", "jdoe", false);
        check("jdoe to staff", "", false);
        check("", "jdoe", false);
        // Ids that hold spaces, separators or what a pattern language would read.
        check("John Doe to staff", "John Doe", true);
        check("John Doer to staff", "John Doe", false);
        check("a_b% (First, mail)", "a_b%", true);
        check("axb% (First, mail)", "a_b%", false);
        check("j.doe (First, mail)", "j*doe", false);
        check("j.doe to [staff]", "[staff]", true);
        check("a(b to staff", "a(b", true);
        check("ab ab ab", "ab ab", true);
        check("zab ab ab", "ab ab", true);
        check("zab abz", "ab ab", false);
        check("é to staff", "é", true);
        check("xé to staff", "é", false);
    }

    #[test]
    fn counts_summary_lists_only_non_zero() {
        let c = Counts {
            users_created: 2,
            warnings: 1,
            ..Counts::default()
        };
        assert_eq!(c.to_string(), "2 users created, 1 warning");
        assert_eq!(Counts::default().to_string(), "no changes");
    }
}
