//! The original's JSON shapes, as Alfresco Process Services' clients read them: its time form,
//! its sync log entry types, camelCase counts and the `ResultListDataRepresentation` envelope
//! of paged lists. A leaf module of pure helpers: it knows serde and chrono, no handler.

use chrono::{DateTime, Utc};
use idmsync_domain::{Counts, SyncMode};
use idmsync_ports::Page;
use serde::ser::{Error as _, SerializeMap};
use serde::{Serialize, Serializer};
use serde_json::Value;

/// A time as the original's REST API prints it (Jackson's `yyyy-MM-dd'T'HH:mm:ss.SSSZ`):
/// milliseconds and a `+0000` offset, one fixed width for scripts.
pub(crate) fn time_stamp(time: DateTime<Utc>) -> String {
    time.format("%Y-%m-%dT%H:%M:%S%.3f%z").to_string()
}

/// The source kinds the original names in its sync types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SourceKind {
    /// An LDAP directory (`ldap://` or `ldaps://`).
    Ldap,
    /// `users.txt` / `groups.txt`.
    File,
}

impl SourceKind {
    /// The kind of a run's recorded source name (`ldaps://dc1`, `file:/etc/idmsync/users.txt`).
    /// A name of no known kind (none is written today) counts as LDAP, the original's only
    /// source, so that its clients still see a type they know.
    pub(crate) fn of(source: &str) -> Self {
        if source.starts_with("file:") || source == "file" {
            SourceKind::File
        } else {
            SourceKind::Ldap
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            SourceKind::Ldap => "ldap",
            SourceKind::File => "file",
        }
    }
}

/// A run's `type` in the original's words: `initial-`, `full-` or `differential-` (or `user-`
/// for a run of one user and `live-` for a live batch, which the original has not), then the source kind, then `-sync`
/// (`initial-ldap-sync`, `differential-file-sync`). `initial` marks a
/// full run up to and including the tenant's first successful one: the original's first sync
/// and any failed attempt at it.
pub(crate) fn sync_type(mode: SyncMode, initial: bool, source: SourceKind) -> String {
    let mode = match mode {
        SyncMode::Full if initial => "initial",
        SyncMode::Full => "full",
        SyncMode::Differential => "differential",
        SyncMode::User => "user",
        SyncMode::Live => "live",
        SyncMode::Scim => "scim",
    };
    format!("{mode}-{}-sync", source.as_str())
}

/// [`Counts`] under camelCase keys, like every other key of the API. Renamed from the domain
/// type's own serialisation rather than listed again, so that a count added there shows here.
#[derive(Debug)]
pub(crate) struct CountsBody(pub(crate) Counts);

impl Serialize for CountsBody {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let Value::Object(fields) = serde_json::to_value(self.0).map_err(S::Error::custom)? else {
            return Err(S::Error::custom("counts are not a JSON object"));
        };
        let mut map = serializer.serialize_map(Some(fields.len()))?;
        for (key, value) in &fields {
            map.serialize_entry(&camel_case(key), value)?;
        }
        map.end()
    }
}

/// `users_created` → `usersCreated`.
fn camel_case(snake: &str) -> String {
    let mut words = snake.split('_');
    let mut camel = words.next().unwrap_or_default().to_string();
    for word in words {
        let mut chars = word.chars();
        camel.extend(chars.next().map(|c| c.to_ascii_uppercase()));
        camel.push_str(chars.as_str());
    }
    camel
}

/// A page of a list, as the original's `ResultListDataRepresentation`: `size` rows in `data`
/// from row `start` of `total`. `total` is `None` (JSON `null`) when it cannot be known without
/// reading every row (a text filter over a page that does not reach the end).
#[derive(Debug, Serialize)]
pub(crate) struct ResultList<T> {
    size: usize,
    total: Option<u64>,
    start: u64,
    data: Vec<T>,
}

impl<T> ResultList<T> {
    /// The page `data` read at `page.start`, of `total` rows.
    pub(crate) fn new(page: Page, total: Option<u64>, data: Vec<T>) -> Self {
        Self {
            size: data.len(),
            total,
            start: page.start,
            data,
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn times_have_milliseconds_and_a_plus_0000_offset() {
        let at = Utc
            .with_ymd_and_hms(2026, 11, 28, 10, 15, 0)
            .single()
            .expect("valid time");
        assert_eq!(time_stamp(at), "2026-11-28T10:15:00.000+0000");
    }

    #[test]
    fn types_follow_the_originals_words() {
        use SourceKind::{File, Ldap};
        use SyncMode::{Differential, Full};
        for (mode, initial, source, expected) in [
            (Full, true, Ldap, "initial-ldap-sync"),
            (Full, false, Ldap, "full-ldap-sync"),
            (Differential, false, Ldap, "differential-ldap-sync"),
            (Differential, true, Ldap, "differential-ldap-sync"),
            (Full, true, File, "initial-file-sync"),
            (Full, false, File, "full-file-sync"),
            (Differential, false, File, "differential-file-sync"),
        ] {
            assert_eq!(sync_type(mode, initial, source), expected);
        }
    }

    #[test]
    fn counts_keys_are_camel_case() {
        let counts = Counts {
            users_created: 2,
            nesting_removed: 1,
            ..Counts::default()
        };
        let json = serde_json::to_value(CountsBody(counts)).expect("counts");
        assert_eq!(json["usersCreated"], 2);
        assert_eq!(json["nestingRemoved"], 1);
        assert_eq!(json["warnings"], 0);
        let keys = json.as_object().expect("object").keys();
        assert!(keys.clone().all(|k| !k.contains('_')), "{json}");
        assert_eq!(keys.count(), 15);
    }

    #[test]
    fn source_kinds_come_from_the_recorded_source_name() {
        for (source, kind) in [
            ("ldap://dc1.example.com", SourceKind::Ldap),
            ("ldaps://dc1.example.com:636", SourceKind::Ldap),
            ("file:/etc/idmsync/users.txt", SourceKind::File),
            ("file", SourceKind::File),
        ] {
            assert_eq!(SourceKind::of(source), kind, "{source}");
        }
    }
}
