//! Differential reads by RFC 4533 content synchronisation (OpenLDAP's syncprov): one refresh per
//! subtree from the cookie the last run stored, which returns the entries added or changed and
//! names the entries that left the scope (deleted, moved out of the base, changed out of the
//! filter), or, after a present phase, the entries still there. Either way a differential run
//! sees leavers, at a cost that grows with the changes rather than the directory.
//!
//! The watermark holds the two cookies and a fingerprint of the searches they belong to:
//! `rfc4533;f=<fingerprint>;u=<users' cookie>;g=<groups' cookie>` (cookies in hex). A changed
//! base, filter or attribute list changes the fingerprint, and the next refresh starts from no
//! cookie (the whole content of the new scope, so what fell out of it is seen leaving).

use idmsync_domain::plan::{Departed, Departures, SourceData, Unreadable};
use idmsync_domain::{MemberNames, SourceGroup, SourceId, SourceUser, Watermark};
use idmsync_ports::{DynProgress, SourceError};

use crate::attributes::AttributeMap;
use crate::client::{Connection, SyncEnd, SyncMessage};
use crate::content_sync::{Left, Mode, Refresh, SyncDone};
use crate::dn;
use crate::entry::{self, Skip};
use crate::range::{self, Slice};
use crate::raw::{hex, unhex, RawEntry};
use crate::read::{Reader, Subtree};

/// What a content synchronisation watermark starts with.
const PREFIX: &str = "rfc4533;";

/// Whether `watermark` was written by a content synchronisation read.
pub(crate) fn is_cookie(watermark: &Watermark) -> bool {
    watermark.0.starts_with(PREFIX)
}

/// The cookies of the users' and the groups' searches, and which searches they belong to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Cookies {
    fingerprint: u64,
    pub(crate) users: Option<Vec<u8>>,
    pub(crate) groups: Option<Vec<u8>>,
}

impl Cookies {
    /// The cookies `since` holds for `reader`'s searches; none (a refresh of the whole content)
    /// when it has none or belongs to other searches (a changed base, filter or attribute).
    pub(crate) fn resume(reader: &Reader, since: Option<&Watermark>) -> Self {
        let fingerprint = fingerprint(reader);
        let cookies = since
            .and_then(Self::parse)
            .filter(|c| c.fingerprint == fingerprint);
        if since.is_some() && cookies.is_none() {
            tracing::info!(
                "the stored position belongs to other searches: refreshing the whole content once"
            );
        }
        cookies.unwrap_or(Self {
            fingerprint,
            users: None,
            groups: None,
        })
    }

    /// The cookie of the search of users (`group` false) or groups.
    pub(crate) fn of(&mut self, group: bool) -> &mut Option<Vec<u8>> {
        if group {
            &mut self.groups
        } else {
            &mut self.users
        }
    }

    pub(crate) fn watermark(&self) -> Watermark {
        let text = |cookie: &Option<Vec<u8>>| cookie.as_deref().map_or_else(String::new, hex);
        Watermark(format!(
            "{PREFIX}f={:016x};u={};g={}",
            self.fingerprint,
            text(&self.users),
            text(&self.groups)
        ))
    }

    /// The cookies of `watermark`; `None` when it is not one of ours or is damaged.
    fn parse(watermark: &Watermark) -> Option<Self> {
        let rest = watermark.0.strip_prefix(PREFIX)?;
        let mut parts = rest.split(';');
        let mut field = |name: &str| parts.next()?.strip_prefix(name);
        let fingerprint = u64::from_str_radix(field("f=")?, 16).ok()?;
        let cookie = |hex: &str| -> Option<Option<Vec<u8>>> {
            if hex.is_empty() {
                Some(None)
            } else {
                unhex(hex).map(Some)
            }
        };
        let users = cookie(field("u=")?)?;
        let groups = cookie(field("g=")?)?;
        Some(Self {
            fingerprint,
            users,
            groups,
        })
    }
}

/// FNV-1a over the searches' bases, filters and attributes: stable across builds and
/// platforms, unlike the standard library's hasher, because it is stored with the cookies of a
/// watermark, which belong to those searches.
pub(crate) fn fingerprint(reader: &Reader) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let attributes = reader.attributes.user_attributes();
    let group_attributes = reader.attributes.group_attributes();
    let parts = [&reader.users.base, &reader.users.filter]
        .into_iter()
        .chain(&attributes)
        .chain([&reader.groups.base, &reader.groups.filter])
        .chain(&group_attributes);
    for part in parts {
        for b in part.to_ascii_lowercase().bytes().chain([0]) {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    hash
}

/// The position to store before a read: a refresh of each search base's own entry, which
/// costs one entry and returns the server's current cookie. `None` when the server has no
/// provider for a base.
///
/// # Errors
/// `Failed` when the search fails otherwise.
pub(crate) async fn position(
    conn: &mut Connection<'_>,
    reader: &Reader,
) -> Result<Option<Watermark>, SourceError> {
    let mut cookies = Vec::with_capacity(2);
    for subtree in [&reader.users, &reader.groups] {
        let no_attributes = ["1.1".to_owned()];
        let end = conn
            .sync_search(
                (&subtree.base, true, &subtree.filter),
                &no_attributes,
                (Mode::RefreshOnly, None),
                |_| {},
            )
            .await?;
        match end {
            SyncEnd::Done(done) => cookies.push(done.cookie),
            SyncEnd::Unsupported => return Ok(None),
            SyncEnd::RefreshRequired => return Err(refresh_without_cookie(conn, subtree)),
        }
    }
    let groups = cookies.pop().flatten();
    let users = cookies.pop().flatten();
    Ok(Some(
        Cookies {
            fingerprint: fingerprint(reader),
            users,
            groups,
        }
        .watermark(),
    ))
}

fn refresh_without_cookie(conn: &Connection<'_>, subtree: &Subtree) -> SourceError {
    SourceError::Failed(format!(
        "{}: content synchronisation under {} asked for a refresh without a cookie",
        conn.url(),
        subtree.base
    ))
}

/// A search of `subtree` that ended without Sync Done: when the server no longer knows the
/// `cookie` (`e-syncRefreshRequired`), forgets it, so that the caller refreshes the whole
/// content once; anything else is the error to return.
///
/// # Errors
/// `Failed` for a refresh required without a cookie; `Invalid` when the server has no provider
/// for the base.
pub(crate) fn start_again(
    end: &SyncEnd,
    cookie: &mut Option<Vec<u8>>,
    conn: &Connection<'_>,
    subtree: &Subtree,
) -> Result<(), SourceError> {
    match end {
        SyncEnd::RefreshRequired if cookie.is_some() => {
            tracing::warn!(
                base = %subtree.base,
                "the directory no longer knows the stored position: refreshing the whole \
                 content of the {} once",
                subtree.what
            );
            *cookie = None;
            Ok(())
        }
        SyncEnd::RefreshRequired => Err(refresh_without_cookie(conn, subtree)),
        SyncEnd::Unsupported => Err(unsupported(conn.url(), &subtree.base)),
        SyncEnd::Done(_) => Ok(()),
    }
}

/// The error of content synchronisation refused under `base`.
pub(crate) fn unsupported(url: &str, base: &str) -> SourceError {
    SourceError::Invalid {
        location: "source.ldap.deltas".into(),
        message: format!(
            "\"syncrepl\": {url} does not offer RFC 4533 content synchronisation under {base}: \
             configure the syncprov overlay on the database that holds it (OpenLDAP), or use \
             deltas = \"timestamp\""
        ),
    }
}

/// The users and groups changed since `since`, and those that left. The position stored for the
/// next run is the one [`position`] took before this read: what changes during the read is sent
/// again next time, which plans to nothing.
///
/// # Errors
/// As [`Connection::sync_search`]; `Invalid` when an entry's UUID is not its unique id (the
/// departures could not be matched).
pub(crate) async fn changed(
    conn: &mut Connection<'_>,
    reader: &Reader,
    since: &Watermark,
    progress: &DynProgress,
) -> Result<SourceData, SourceError> {
    let Cookies {
        users: users_cookie,
        groups: groups_cookie,
        ..
    } = Cookies::resume(reader, Some(since));
    let map = &reader.attributes;
    let form = Form::of(reader);
    let mut unreadable = Vec::new();
    let (users, left_users) = refresh(
        conn,
        (&reader.users, form),
        &map.user_attributes(),
        users_cookie,
        progress,
        &mut unreadable,
        |e| entry::user(e, map),
        |u: &SourceUser| &u.source_id,
    )
    .await?;
    let mut names = MemberNames::default();
    let (groups, left_groups) = refresh(
        conn,
        (&reader.groups, form),
        &map.group_attributes(),
        groups_cookie,
        progress,
        &mut unreadable,
        |e| group(e, map, &mut names),
        |g: &SourceGroup| &g.source_id,
    )
    .await?;
    Ok(SourceData {
        users,
        groups,
        unreadable,
        departed: Departed {
            users: departures(left_users, form)?,
            groups: departures(left_groups, form)?,
        },
        documents: Vec::new(),
    })
}

/// How the server's UUIDs read as source ids: as they are for `entryUUID` (OpenLDAP), or in
/// `nsUniqueId`'s form for 389 Directory Server, whose content synchronisation takes its UUIDs
/// from nsUniqueId's 16 bytes (`8f1d6a0e-4f5b103d-9b1a2b1c-3a5e7d01`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Form<'r> {
    /// The unique id attribute.
    attribute: &'r str,
    ns_unique_id: bool,
}

impl<'r> Form<'r> {
    pub(crate) fn of(reader: &'r Reader) -> Self {
        let attribute = reader.attributes.unique_id.as_str();
        Self {
            attribute,
            ns_unique_id: attribute.eq_ignore_ascii_case("nsUniqueId"),
        }
    }

    fn id(self, uuid: String) -> String {
        if !self.ns_unique_id {
            return uuid;
        }
        let hex: String = uuid.chars().filter(|c| *c != '-').collect();
        hex.as_bytes()
            .chunks(8)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect::<Vec<_>>()
            .join("-")
    }
}

/// A group entry as content synchronisation sends it: whole, never in ranges.
pub(crate) fn group(
    e: &mut RawEntry,
    map: &AttributeMap,
    names: &mut MemberNames,
) -> Result<SourceGroup, Skip> {
    let member = &map.group_member;
    match range::take(e, member, 0) {
        Ok(Slice { values, next: None }) => {
            range::put(e, member, values);
            entry::group(e, map, names)
        }
        // Only Active Directory sends ranges, and it has no content synchronisation.
        _ => Err(Skip::Missing(format!("{member} (sent in ranges)"))),
    }
}

/// UUIDs as source ids.
pub(crate) fn departures(left: Left, form: Form<'_>) -> Result<Departures, SourceError> {
    let ids = |uuids: Vec<String>| {
        uuids
            .into_iter()
            .map(|u| {
                let u = form.id(u);
                SourceId::new(&u).map_err(|e| SourceError::Invalid {
                    location: format!("entry UUID {u}"),
                    message: e.to_string(),
                })
            })
            .collect::<Result<Vec<_>, _>>()
    };
    Ok(match left {
        Left::Listed(uuids) => Departures::Listed(ids(uuids)?),
        Left::AllBut(uuids) => Departures::AllBut(ids(uuids)?),
    })
}

/// One refresh of `subtree` from `cookie` (again from none when the server no longer knows
/// it), mapping the entries sent with `map`. An entry that cannot be read goes to `unreadable`
/// with its UUID, and counts as still there.
///
/// # Errors
/// As [`Connection::sync_search`]; `Invalid` when an entry's mapped source id (`sid`) is not
/// the UUID the server gave it.
#[allow(clippy::too_many_arguments)]
async fn refresh<T: Send>(
    conn: &mut Connection<'_>,
    (subtree, form): (&Subtree, Form<'_>),
    attributes: &[String],
    mut cookie: Option<Vec<u8>>,
    progress: &DynProgress,
    unreadable: &mut Vec<Unreadable>,
    map: impl FnMut(&mut RawEntry) -> Result<T, Skip> + Send,
    sid: impl Fn(&T) -> &SourceId,
) -> Result<(Vec<T>, Left), SourceError> {
    progress.stage(&format!("reading changed {}", subtree.what), None);
    let (mut refresh, done) = loop {
        let mut refresh = Refresh::from(cookie.clone());
        let end = conn
            .sync_search(
                (&subtree.base, false, &subtree.filter),
                attributes,
                (Mode::RefreshOnly, cookie.as_deref()),
                |message| {
                    progress.advance(1);
                    match message {
                        SyncMessage::Entry(state, entry) => refresh.entry(state, entry),
                        SyncMessage::Info(info) => refresh.info(info),
                    }
                },
            )
            .await?;
        match end {
            SyncEnd::Done(done) => break (refresh, done),
            other => start_again(&other, &mut cookie, conn, subtree)?,
        }
    };
    settle(&mut refresh, &done, (subtree, form), unreadable, map, sid)
}

/// The end of a refresh (or of one change sent while persisting): the entries it sent mapped
/// with `map`, and what left. An entry that cannot be read goes to `unreadable` with its UUID,
/// and counts as still there.
///
/// # Errors
/// `Invalid` when an entry's mapped source id (`sid`) is not the UUID the server gave it.
pub(crate) fn settle<T>(
    refresh: &mut Refresh,
    done: &SyncDone,
    (subtree, form): (&Subtree, Form<'_>),
    unreadable: &mut Vec<Unreadable>,
    mut map: impl FnMut(&mut RawEntry) -> Result<T, Skip>,
    sid: impl Fn(&T) -> &SourceId,
) -> Result<(Vec<T>, Left), SourceError> {
    let mut left = refresh.finish(done);
    let mut out = Vec::with_capacity(refresh.changed.len());
    let unique_id = form.attribute;
    for (uuid, mut raw) in std::mem::take(&mut refresh.changed) {
        let uuid = form.id(uuid);
        // 389-ds leaves the operational nsUniqueId out of the entries it sends; the UUID the
        // server gave the entry is that value.
        if raw.values(unique_id).is_empty() {
            raw.attributes
                .push((unique_id.to_owned(), vec![uuid.clone().into_bytes()]));
        }
        match map(&mut raw) {
            Ok(value) if sid(&value).as_str() == uuid => out.push(value),
            Ok(value) => {
                return Err(SourceError::Invalid {
                    location: raw.dn,
                    message: format!(
                        "content synchronisation names this entry {uuid} but its unique id is \
                         {}: set source.ldap.unique_id_attribute to the server's UUID \
                         (\"entryUUID\"; \"nsUniqueId\" on 389-ds), or \
                         source.ldap.deltas = \"timestamp\"",
                        sid(&value).as_str()
                    ),
                })
            }
            Err(skip) => {
                if let Left::AllBut(kept) = &mut left {
                    kept.push(uuid.clone());
                }
                unreadable.push(Unreadable {
                    group: subtree.group,
                    locator: dn::normalize_or_keep(&raw.dn),
                    source_id: SourceId::new(&uuid).ok(),
                    reason: skip.to_string(),
                    conflict: false,
                });
            }
        }
    }
    tracing::debug!(
        base = %subtree.base,
        changed = out.len(),
        "refreshed the {}",
        subtree.what
    );
    Ok((out, left))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_read_as_entry_uuids_or_in_ns_unique_id_form() {
        let uuid = || "8f1d6a0e-4f5b-103d-9b1a-2b1c3a5e7d01".to_owned();
        let entry_uuid = Form {
            attribute: "entryUUID",
            ns_unique_id: false,
        };
        assert_eq!(entry_uuid.id(uuid()), uuid());
        let ns = Form {
            attribute: "nsUniqueId",
            ns_unique_id: true,
        };
        assert_eq!(ns.id(uuid()), "8f1d6a0e-4f5b103d-9b1a2b1c-3a5e7d01");
        assert_eq!(ns.id(ns.id(uuid())), ns.id(uuid()), "idempotent");
    }

    #[test]
    fn cookies_round_trip_through_the_watermark() {
        let cookies = Cookies {
            fingerprint: 0x0123_4567_89ab_cdef,
            users: Some(b"rid=000,csn=20240101000000.000000Z#000000#000#000000".to_vec()),
            groups: None,
        };
        let watermark = cookies.watermark();
        assert!(is_cookie(&watermark));
        assert!(watermark
            .0
            .starts_with("rfc4533;f=0123456789abcdef;u=7269643d"));
        assert!(watermark.0.ends_with(";g="));
        assert_eq!(Cookies::parse(&watermark), Some(cookies));
        for damaged in [
            "20240101000000Z",
            "rfc4533;f=zz;u=;g=",
            "rfc4533;f=1;u=abc;g=",
            "rfc4533;f=1;u=;",
            "rfc4533;f=1;g=;u=",
        ] {
            assert_eq!(
                Cookies::parse(&Watermark(damaged.into())),
                None,
                "{damaged}"
            );
        }
    }
}
