//! Differential reads from Active Directory (and Samba) by the DirSync control
//! (1.2.840.113556.1.4.841, MS-ADTS 3.1.1.3.4.1.3): a search from the naming context's root,
//! resuming from the cookie the last run stored, returns every object changed since, deleted
//! ones included (`isDeleted`, matched by objectGUID). DirSync sends only the changed
//! attributes, so the changed objects are then read again in full, by objectGUID, through the
//! configured bases and filters: one found is a changed user or group, one not found (moved out
//! of the base, changed out of the filter) or deleted has left. Group members are asked for as
//! incremental values, to keep the answers small; the groups are read in full anyway.
//!
//! DirSync needs the "Replicating Directory Changes" right on the naming context. Without it a
//! domain controller refuses (insufficient access, 50); its `OBJECT_SECURITY` flag would answer
//! but hides deleted objects, which is no better than `uSNChanged`, so idmsync falls back to that
//! with a warning (`auto`) or stops naming the right (`dirsync`).
//!
//! The watermark is `dirsync;f=<fingerprint>;c=<cookie in hex>`.
//!
//! Live sync (`sync.live`) has no open search to wait on here: [`follow`] makes the same
//! differential read every poll interval (`sync.live_interval_secs`) from the last cookie.

use std::time::Duration;

use idmsync_domain::plan::{Departed, Departures, SourceData};
use idmsync_domain::{SourceId, Watermark};
use idmsync_ports::{DynProgress, FeedEvent, NoProgress, SourceError};
use ldap3::asn1::{parse_tag, ASNTag, Integer, OctetString, Sequence, Tag, TagClass, Types, PL};
use ldap3::controls::RawControl;

use crate::client::{value_of, Connection, Endpoint, Item};
use crate::entry;
use crate::raw::{hex, unhex};
use crate::read::Reader;
use crate::server::DIRSYNC_OID as OID;
use crate::syncrepl::fingerprint;

/// What a DirSync watermark starts with.
const PREFIX: &str = "dirsync;";
/// `LDAP_DIRSYNC_INCREMENTAL_VALUES`: linked attributes (members) as added and removed values.
const INCREMENTAL_VALUES: i64 = 0x8000_0000;
/// Insufficient access: the account lacks the replication right.
const INSUFFICIENT_ACCESS: u32 = 50;
/// The server does not offer DirSync here.
const UNAVAILABLE_CRITICAL_EXTENSION: u32 = 12;
/// Changed objects read again per search, by objectGUID.
const GUIDS_PER_SEARCH: usize = 200;

/// Whether `watermark` was written by a DirSync read.
pub(crate) fn is_cookie(watermark: &Watermark) -> bool {
    watermark.0.starts_with(PREFIX)
}

/// The request control: incremental values, no attribute count limit, from `cookie`; critical,
/// so that a server without DirSync refuses rather than answers a plain search.
fn request(cookie: &[u8]) -> RawControl {
    let tag = Tag::Sequence(Sequence {
        inner: vec![
            Tag::Integer(Integer {
                inner: INCREMENTAL_VALUES,
                ..Default::default()
            }),
            Tag::Integer(Integer {
                inner: 0,
                ..Default::default()
            }),
            Tag::OctetString(OctetString {
                inner: cookie.to_vec(),
                ..Default::default()
            }),
        ],
        ..Default::default()
    });
    let mut buf = bytes::BytesMut::new();
    // Writing into memory cannot fail.
    let _ = ldap3::asn1::write::encode_into(&mut buf, tag.into_structure());
    RawControl {
        ctype: OID.to_owned(),
        crit: true,
        val: Some(buf.to_vec()),
    }
}

/// Decodes the response control: `SEQUENCE { moreResults INTEGER, unused INTEGER, cookie
/// OCTET STRING }`, as whether more changes wait and the new cookie; `None` when malformed.
fn response(value: &[u8]) -> Option<(bool, Vec<u8>)> {
    let (rest, tag) = parse_tag(value).ok()?;
    if !rest.is_empty() {
        return None;
    }
    let mut parts = tag.expect_constructed()?.into_iter();
    let mut integer = || {
        let part = parts.next()?;
        (part.class == TagClass::Universal && part.id == Types::Integer as u64).then_some(())?;
        match part.payload {
            PL::P(bytes) => Some(bytes.iter().any(|&b| b != 0)),
            PL::C(_) => None,
        }
    };
    let more = integer()?;
    integer()?;
    let cookie = parts.next()?;
    if cookie.class != TagClass::Universal || cookie.id != Types::OctetString as u64 {
        return None;
    }
    let cookie = cookie.expect_primitive()?;
    parts.next().is_none().then_some((more, cookie))
}

/// What a DirSync search from a cookie found.
struct Changes {
    /// objectGUIDs of the objects changed and still there.
    changed: Vec<[u8; 16]>,
    /// objectGUIDs of the objects deleted.
    deleted: Vec<[u8; 16]>,
    /// Where the search ended.
    cookie: Vec<u8>,
}

/// How DirSync answered.
enum Answer<T> {
    Read(T),
    /// The account lacks the replication right, or the server has no DirSync.
    Refused(u32),
}

/// Every DirSync page from `cookie` under `nc` with `filter`, until the server has no more.
///
/// # Errors
/// `Failed` when a search fails, or an answer has no or a malformed DirSync control or an
/// object without a 16-byte objectGUID.
async fn changes(
    conn: &mut Connection<'_>,
    nc: &str,
    filter: &str,
    mut cookie: Vec<u8>,
    progress: &DynProgress,
) -> Result<Answer<Changes>, SourceError> {
    let mut changed = Vec::new();
    let mut deleted = Vec::new();
    let url = conn.url().to_owned();
    let malformed = |what: &str| {
        SourceError::Failed(format!(
            "{url}: DirSync under {nc}: the server sent a malformed {what}"
        ))
    };
    loop {
        let ended = conn
            .controlled_search(
                "DirSync",
                (nc, false, filter),
                &[],
                (request(&cookie), true),
                &[INSUFFICIENT_ACCESS, UNAVAILABLE_CRITICAL_EXTENSION],
                |item| {
                    let Item::Entry(entry, _) = item else {
                        return Ok(());
                    };
                    progress.advance(1);
                    let guid: [u8; 16] = entry
                        .values("objectGUID")
                        .first()
                        .and_then(|v| v.as_slice().try_into().ok())
                        .ok_or_else(|| {
                            malformed(&format!("entry without objectGUID ({})", entry.dn))
                        })?;
                    let is_deleted = entry
                        .first_text("isDeleted")
                        .is_some_and(|v| v.eq_ignore_ascii_case("TRUE"));
                    if is_deleted {
                        deleted.push(guid);
                    } else {
                        changed.push(guid);
                    }
                    Ok(())
                },
            )
            .await?;
        if ended.rc != 0 {
            return Ok(Answer::Refused(ended.rc));
        }
        let (more, next) = value_of(&ended.controls, OID)
            .and_then(response)
            .ok_or_else(|| malformed("or missing DirSync control"))?;
        cookie = next;
        if !more {
            break;
        }
    }
    Ok(Answer::Read(Changes {
        changed,
        deleted,
        cookie,
    }))
}

/// The naming context DirSync must search from, from the root DSE.
///
/// # Errors
/// `Failed` when the root DSE has no `defaultNamingContext`.
async fn naming_context(conn: &mut Connection<'_>) -> Result<String, SourceError> {
    let root = conn
        .read("", &["defaultNamingContext".to_owned()])
        .await?
        .unwrap_or_default();
    root.first_text("defaultNamingContext").ok_or_else(|| {
        SourceError::Failed(format!(
            "{}: the root DSE names no defaultNamingContext for DirSync to search",
            conn.url()
        ))
    })
}

fn watermark(fingerprint: u64, cookie: &[u8]) -> Watermark {
    Watermark(format!("{PREFIX}f={fingerprint:016x};c={}", hex(cookie)))
}

/// The cookie of `watermark` if it belongs to the searches `fingerprint` names.
fn cookie(watermark: &Watermark, fingerprint: u64) -> Option<Vec<u8>> {
    let rest = watermark.0.strip_prefix(PREFIX)?;
    let (f, c) = rest.split_once(';')?;
    let f = u64::from_str_radix(f.strip_prefix("f=")?, 16).ok()?;
    (f == fingerprint).then_some(())?;
    unhex(c.strip_prefix("c=")?)
}

/// A filter no object matches: no object has an empty objectGUID.
const NOTHING: &str = "(objectGUID=\\00)";

/// What DirSync is asked for: every user and group, changed or deleted.
const USERS_AND_GROUPS: &str = "(|(objectClass=user)(objectClass=group))";

/// The current cookie: a DirSync search from no cookie with a filter that matches nothing,
/// which costs no entry. `Err` with the result code when the server refuses DirSync to this
/// account.
///
/// # Errors
/// `Failed` when the search fails otherwise.
async fn current(conn: &mut Connection<'_>, nc: &str) -> Result<Result<Vec<u8>, u32>, SourceError> {
    Ok(
        match changes(conn, nc, NOTHING, Vec::new(), &NoProgress).await? {
            Answer::Read(read) => Ok(read.cookie),
            Answer::Refused(rc) => Err(rc),
        },
    )
}

/// The position to store before a read (see [`current`]). `None` when the server refuses
/// DirSync to this account (the result code says why).
///
/// # Errors
/// `Failed` when the search fails otherwise.
pub(crate) async fn position(
    conn: &mut Connection<'_>,
    reader: &Reader,
) -> Result<Result<Watermark, u32>, SourceError> {
    let nc = naming_context(conn).await?;
    Ok(current(conn, &nc)
        .await?
        .map(|cookie| watermark(fingerprint(reader), &cookie)))
}

/// Every user and group, with every stored entry not found counted as left: what a read from a
/// watermark of other searches (or none) returns.
///
/// # Errors
/// As [`Reader::users`].
async fn everything(
    conn: &mut Connection<'_>,
    reader: &Reader,
    progress: &DynProgress,
) -> Result<SourceData, SourceError> {
    let mut unreadable = Vec::new();
    let users = reader
        .users(conn, &reader.users.filter, progress, &mut unreadable)
        .await?;
    let groups = reader
        .groups(conn, &reader.groups.filter, progress, &mut unreadable)
        .await?;
    let all = |sids: Vec<SourceId>| Departures::AllBut(sids);
    let departed = Departed {
        users: all(users.iter().map(|u| u.source_id.clone()).collect()),
        groups: all(groups.iter().map(|g| g.source_id.clone()).collect()),
    };
    Ok(SourceData {
        users,
        groups,
        unreadable,
        departed,
        documents: Vec::new(),
    })
}

/// The users and groups changed since `since`, and those that left. A watermark of other
/// searches (or none of ours) reads everything once, as a full run would, with every stored
/// entry not found counted as left.
///
/// # Errors
/// As [`changes`]; `Invalid` when DirSync is refused.
pub(crate) async fn changed(
    conn: &mut Connection<'_>,
    reader: &Reader,
    since: &Watermark,
    progress: &DynProgress,
) -> Result<SourceData, SourceError> {
    let Some(cookie) = cookie(since, fingerprint(reader)) else {
        tracing::info!("the stored position belongs to other searches: reading everything once");
        return everything(conn, reader, progress).await;
    };
    let nc = naming_context(conn).await?;
    progress.stage("reading changes (DirSync)", None);
    Ok(read_from(conn, reader, &nc, cookie, progress).await?.0)
}

/// One differential read: the DirSync search from `cookie`, then the changed objects read
/// again by objectGUID through the configured searches; what DirSync named and they did not
/// find has left. Returns the changes and the cookie after them.
///
/// # Errors
/// As [`changes`]; `Invalid` when DirSync is refused.
async fn read_from(
    conn: &mut Connection<'_>,
    reader: &Reader,
    nc: &str,
    cookie: Vec<u8>,
    progress: &DynProgress,
) -> Result<(SourceData, Vec<u8>), SourceError> {
    let found = match changes(conn, nc, USERS_AND_GROUPS, cookie, progress).await? {
        Answer::Read(found) => found,
        Answer::Refused(rc) => return Err(refused(conn.url(), rc)),
    };
    let mut unreadable = Vec::new();
    let mut users = Vec::new();
    let mut groups = Vec::new();
    for chunk in found.changed.chunks(GUIDS_PER_SEARCH) {
        let any: String = chunk.iter().map(guid_assertion).collect();
        let users_filter = format!("(&{}(|{any}))", reader.users.filter);
        users.extend(
            reader
                .users(conn, &users_filter, progress, &mut unreadable)
                .await?,
        );
        let groups_filter = format!("(&{}(|{any}))", reader.groups.filter);
        groups.extend(
            reader
                .groups(conn, &groups_filter, progress, &mut unreadable)
                .await?,
        );
    }
    let found_ids: std::collections::HashSet<&str> = users
        .iter()
        .map(|u| u.source_id.as_str())
        .chain(groups.iter().map(|g| g.source_id.as_str()))
        .collect();
    let left: Vec<SourceId> = found
        .changed
        .iter()
        .chain(&found.deleted)
        .map(entry::guid_text)
        .filter(|id| !found_ids.contains(id.as_str()))
        .filter_map(|id| SourceId::new(&id).ok())
        .collect();
    tracing::debug!(
        changed = found.changed.len(),
        deleted = found.deleted.len(),
        left = left.len(),
        "read the changes by DirSync"
    );
    let data = SourceData {
        users,
        groups,
        unreadable,
        departed: Departed {
            users: Departures::Listed(left.clone()),
            groups: Departures::Listed(left),
        },
        documents: Vec::new(),
    };
    Ok((data, found.cookie))
}

/// Live sync by polling (`sync.live` on Active Directory): from `since` (everything first when
/// it is no DirSync position of these searches), then one differential read every `interval`,
/// each that found something sent with the cookie after it. A read that finds nothing moves
/// the cookie on but sends nothing (the feed has no position-only event; resuming from the
/// last position sent reads those empty changes again, harmlessly). Each read connects anew,
/// so that a long interval outlasts no idle timeout.
///
/// # Errors
/// As [`read_from`]; `Invalid` naming the replication right when DirSync is refused.
pub(crate) async fn follow(
    endpoint: &Endpoint,
    reader: &Reader,
    since: Option<&Watermark>,
    interval: Duration,
    sink: &(dyn Fn(FeedEvent) + Send + Sync),
) -> Result<(), SourceError> {
    let fingerprint = fingerprint(reader);
    let event = |data, cookie: &[u8]| FeedEvent::Changes {
        data,
        position: watermark(fingerprint, cookie),
    };
    let mut conn = endpoint.connect().await?;
    let nc = naming_context(&mut conn).await?;
    let (data, mut cookie) = match since.and_then(|w| cookie(w, fingerprint)) {
        Some(cookie) => read_from(&mut conn, reader, &nc, cookie, &NoProgress).await?,
        None => {
            tracing::info!(
                "live sync: no DirSync position of these searches: reading everything once"
            );
            let start = current(&mut conn, &nc)
                .await?
                .map_err(|rc| refused(conn.url(), rc))?;
            (everything(&mut conn, reader, &NoProgress).await?, start)
        }
    };
    conn.close().await;
    sink(event(data, &cookie));
    tracing::info!(
        ?interval,
        "live sync: following the changes by DirSync polls"
    );
    sink(FeedEvent::Following);
    loop {
        tokio::time::sleep(interval).await;
        let mut conn = endpoint.connect().await?;
        let (data, next) = read_from(&mut conn, reader, &nc, cookie, &NoProgress).await?;
        conn.close().await;
        cookie = next;
        if says_anything(&data) {
            sink(event(data, &cookie));
        }
    }
}

/// Whether a differential read found any entry, or any that left.
fn says_anything(data: &SourceData) -> bool {
    !data.users.is_empty()
        || !data.groups.is_empty()
        || !data.unreadable.is_empty()
        || data.departed.may_name_any()
}

/// `(objectGUID=\xx…)` for the 16 bytes of `guid`.
fn guid_assertion(guid: &[u8; 16]) -> String {
    use std::fmt::Write as _;
    let mut text = String::from("(objectGUID=");
    for b in guid {
        let _ = write!(text, "\\{b:02x}");
    }
    text.push(')');
    text
}

/// DirSync refused with result `rc`, in the operator's words.
pub(crate) fn refused(url: &str, rc: u32) -> SourceError {
    let why = if rc == INSUFFICIENT_ACCESS {
        "the sync account lacks the \"Replicating Directory Changes\" right on the domain \
         (grant it, e.g. `dsacl set --objectdn=<domain DN> --trusteedn=<sync account> --action \
         allow --sddl=\"(OA;;CR;1131f6aa-9c07-11d1-f79f-00c04fc2dcd2;;<account SID>)\"` with \
         samba-tool, or Delegate Control in AD)"
    } else {
        "the server does not offer DirSync for this naming context"
    };
    SourceError::Invalid {
        location: "source.ldap.deltas".into(),
        message: format!(
            "\"dirsync\": {url} refused DirSync ({rc}): {why}; differential runs can do without it \
             (deltas = \"timestamp\"), live sync cannot"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_is_critical_with_incremental_values() {
        let control = request(b"cookie");
        assert!(control.crit);
        let value = control.val.expect("a value");
        let (_, tag) = parse_tag(&value).expect("BER");
        let parts = tag.expect_constructed().expect("a sequence");
        assert_eq!(parts.len(), 3);
        assert_eq!(
            parts[2].clone().expect_primitive().as_deref(),
            Some(&b"cookie"[..])
        );
    }

    #[test]
    fn responses_decode_and_malformed_ones_are_refused() {
        // moreResults 1, unused 0, cookie "c", as Samba sends it.
        let good = [
            0x30, 0x09, 0x02, 0x01, 0x01, 0x02, 0x01, 0x00, 0x04, 0x01, b'c',
        ];
        assert_eq!(response(&good), Some((true, b"c".to_vec())));
        let done = [
            0x30, 0x09, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00, 0x04, 0x01, b'c',
        ];
        assert_eq!(response(&done), Some((false, b"c".to_vec())));
        for cut in 0..good.len() {
            assert_eq!(response(&good[..cut]), None, "cut at {cut}");
        }
        let no_cookie = [0x30, 0x06, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00];
        assert_eq!(response(&no_cookie), None);
        let cookie_first = [
            0x30, 0x09, 0x04, 0x01, b'c', 0x02, 0x01, 0x00, 0x02, 0x01, 0x00,
        ];
        assert_eq!(response(&cookie_first), None);
    }

    #[test]
    fn the_watermark_keeps_the_cookie_for_the_same_searches_only() {
        let w = watermark(7, &[0x4d, 0x53, 0x00]);
        assert_eq!(w.0, "dirsync;f=0000000000000007;c=4d5300");
        assert!(is_cookie(&w));
        assert_eq!(cookie(&w, 7), Some(vec![0x4d, 0x53, 0x00]));
        assert_eq!(cookie(&w, 8), None);
        assert_eq!(cookie(&Watermark("dirsync;f=7;c=4".into()), 7), None);
        assert_eq!(
            guid_assertion(&[0xab; 16]),
            format!("(objectGUID={})", "\\ab".repeat(16))
        );
    }
}
