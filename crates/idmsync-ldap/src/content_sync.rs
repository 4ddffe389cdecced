//! RFC 4533 content synchronisation, the protocol side that needs no connection: the Sync
//! Request control, decoders for the Sync State and Sync Done controls and the Sync Info
//! message, and [`Refresh`], which turns one refresh of one search into what changed, what is
//! still there and what left. ldap3 carries the same controls, but its parsers panic on a
//! malformed value; a directory must not be able to crash the service, so these return `None`.

use std::collections::HashSet;

use ldap3::asn1::{
    parse_tag, ASNTag, Enumerated, OctetString, Sequence, StructureTag, Tag, TagClass, Types, PL,
};
use ldap3::controls::RawControl;

use crate::raw::RawEntry;
use crate::server::SYNC_REQUEST_OID;

/// The Sync State control, on each entry of a synchronisation search.
pub(crate) const SYNC_STATE_OID: &str = "1.3.6.1.4.1.4203.1.9.1.2";
/// The Sync Done control, on the search's final result.
pub(crate) const SYNC_DONE_OID: &str = "1.3.6.1.4.1.4203.1.9.1.3";
/// The Sync Info intermediate response.
const SYNC_INFO_OID: &[u8] = b"1.3.6.1.4.1.4203.1.9.1.4";
/// `e-syncRefreshRequired`: the server cannot resume from the cookie; the client must refresh
/// from nothing.
pub(crate) const REFRESH_REQUIRED: u32 = 4096;

/// The two modes of RFC 4533.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Send what changed since the cookie, then end the search.
    RefreshOnly,
    /// As `RefreshOnly`, then keep the search open and send each change as it happens.
    RefreshAndPersist,
}

/// The Sync Request control for `mode` from `cookie`, critical so that a server without the
/// provider refuses the search (`unavailableCriticalExtension`) instead of answering it as a
/// plain search, which would read as "everything else was deleted".
pub(crate) fn request(mode: Mode, cookie: Option<&[u8]>) -> RawControl {
    let mode = match mode {
        Mode::RefreshOnly => 1,
        Mode::RefreshAndPersist => 3,
    };
    let mut inner = vec![Tag::Enumerated(Enumerated {
        inner: mode,
        ..Default::default()
    })];
    if let Some(cookie) = cookie {
        inner.push(Tag::OctetString(OctetString {
            inner: cookie.to_vec(),
            ..Default::default()
        }));
    }
    RawControl {
        ctype: SYNC_REQUEST_OID.to_owned(),
        crit: true,
        val: Some(encode(Tag::Sequence(Sequence {
            inner,
            ..Default::default()
        }))),
    }
}

fn encode(tag: Tag) -> Vec<u8> {
    let mut buf = bytes::BytesMut::new();
    // Writing into memory cannot fail.
    let _ = ldap3::asn1::write::encode_into(&mut buf, tag.into_structure());
    buf.to_vec()
}

/// What the Sync State control says of an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    /// Unchanged since the cookie, and still in the search's scope.
    Present,
    /// New in the scope (created, or moved or changed into it).
    Add,
    /// Changed.
    Modify,
    /// Gone from the scope (deleted, or moved or changed out of it).
    Delete,
}

/// The decoded Sync State control.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyncState {
    pub(crate) state: State,
    /// The entry's UUID in its text form (`8-4-4-4-12` lowercase hex).
    pub(crate) uuid: String,
    pub(crate) cookie: Option<Vec<u8>>,
}

/// The decoded Sync Done control.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyncDone {
    pub(crate) cookie: Option<Vec<u8>>,
    /// Whether the refresh ended in its delete phase (deletions were named) rather than its
    /// present phase (whatever was not named present is gone).
    pub(crate) refresh_deletes: bool,
}

/// The decoded Sync Info message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SyncInfo {
    NewCookie(Vec<u8>),
    /// The end of a delete (`present = false`) or present phase; `done` ends the refresh.
    Phase {
        present: bool,
        cookie: Option<Vec<u8>>,
        done: bool,
    },
    /// Many entries at once: all deleted (`deletes`) or all present.
    IdSet {
        cookie: Option<Vec<u8>>,
        deletes: bool,
        uuids: Vec<String>,
    },
}

/// A UUID's 16 bytes in the text form of `entryUUID`.
pub(crate) fn uuid_text(bytes: &[u8]) -> Option<String> {
    use std::fmt::Write as _;
    if bytes.len() != 16 {
        return None;
    }
    let mut text = String::with_capacity(36);
    for (i, b) in bytes.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            text.push('-');
        }
        let _ = write!(text, "{b:02x}");
    }
    Some(text)
}

fn parse(bytes: &[u8]) -> Option<StructureTag> {
    match parse_tag(bytes) {
        Ok(([], tag)) => Some(tag),
        _ => None,
    }
}

fn universal(tag: &StructureTag, kind: Types) -> bool {
    tag.class == TagClass::Universal && tag.id == kind as u64
}

fn boolean(tag: StructureTag) -> Option<bool> {
    match tag.payload {
        PL::P(v) if v.len() == 1 => Some(v[0] != 0),
        _ => None,
    }
}

fn small_uint(tag: StructureTag) -> Option<u64> {
    match tag.payload {
        PL::P(v) if !v.is_empty() && v.len() <= 8 => {
            Some(v.iter().fold(0, |n, &b| (n << 8) | u64::from(b)))
        }
        _ => None,
    }
}

/// Decodes a Sync State control value: `SEQUENCE { state ENUMERATED, entryUUID OCTET STRING
/// (16 bytes), cookie OCTET STRING OPTIONAL }`.
pub(crate) fn sync_state(value: &[u8]) -> Option<SyncState> {
    let mut parts = parse(value)?.expect_constructed()?.into_iter();
    let state = parts.next().filter(|t| universal(t, Types::Enumerated))?;
    let state = match small_uint(state)? {
        0 => State::Present,
        1 => State::Add,
        2 => State::Modify,
        3 => State::Delete,
        _ => return None,
    };
    let uuid = parts.next().filter(|t| universal(t, Types::OctetString))?;
    let uuid = uuid_text(&uuid.expect_primitive()?)?;
    let cookie = match parts.next() {
        None => None,
        Some(t) if universal(&t, Types::OctetString) => Some(t.expect_primitive()?),
        Some(_) => return None,
    };
    parts.next().is_none().then_some(SyncState {
        state,
        uuid,
        cookie,
    })
}

/// Decodes a Sync Done control value: `SEQUENCE { cookie OCTET STRING OPTIONAL,
/// refreshDeletes BOOLEAN DEFAULT FALSE }`.
pub(crate) fn sync_done(value: &[u8]) -> Option<SyncDone> {
    let mut done = SyncDone {
        cookie: None,
        refresh_deletes: false,
    };
    for part in parse(value)?.expect_constructed()? {
        if universal(&part, Types::OctetString) && done.cookie.is_none() {
            done.cookie = Some(part.expect_primitive()?);
        } else if universal(&part, Types::Boolean) {
            done.refresh_deletes = boolean(part)?;
        } else {
            return None;
        }
    }
    Some(done)
}

/// Decodes an IntermediateResponse (`[APPLICATION 25] { responseName [0], responseValue [1] }`)
/// as a Sync Info message; `None` for another intermediate response or a malformed one.
pub(crate) fn sync_info(message: StructureTag) -> Option<SyncInfo> {
    let parts = message.match_id(25)?.expect_constructed()?;
    let mut name = None;
    let mut value = None;
    for part in parts {
        match (part.class, part.id) {
            (TagClass::Context, 0) => name = Some(part.expect_primitive()?),
            (TagClass::Context, 1) => value = Some(part.expect_primitive()?),
            _ => return None,
        }
    }
    if name.as_deref() != Some(SYNC_INFO_OID) {
        return None;
    }
    let choice = parse(&value?)?;
    if choice.class != TagClass::Context {
        return None;
    }
    match choice.id {
        0 => Some(SyncInfo::NewCookie(choice.expect_primitive()?)),
        1 | 2 => {
            let present = choice.id == 2;
            let mut cookie = None;
            let mut done = true;
            for part in choice.expect_constructed()? {
                if universal(&part, Types::OctetString) && cookie.is_none() {
                    cookie = Some(part.expect_primitive()?);
                } else if universal(&part, Types::Boolean) {
                    done = boolean(part)?;
                } else {
                    return None;
                }
            }
            Some(SyncInfo::Phase {
                present,
                cookie,
                done,
            })
        }
        3 => {
            let mut cookie = None;
            let mut deletes = false;
            let mut uuids = None;
            for part in choice.expect_constructed()? {
                if universal(&part, Types::OctetString) && cookie.is_none() {
                    cookie = Some(part.expect_primitive()?);
                } else if universal(&part, Types::Boolean) {
                    deletes = boolean(part)?;
                } else if universal(&part, Types::Set) {
                    let set = part.expect_constructed()?;
                    let texts = set
                        .into_iter()
                        .map(|u| uuid_text(&u.expect_primitive()?))
                        .collect::<Option<Vec<_>>>()?;
                    uuids = Some(texts);
                } else {
                    return None;
                }
            }
            Some(SyncInfo::IdSet {
                cookie,
                deletes,
                uuids: uuids?,
            })
        }
        _ => None,
    }
}

/// One refresh of one search, as its messages arrive: the entries added or changed, the UUIDs
/// named present or deleted, whether a present phase took place, and the latest cookie.
#[derive(Debug, Default)]
pub(crate) struct Refresh {
    /// Entries sent with their attributes (added or changed), with their UUID.
    pub(crate) changed: Vec<(String, RawEntry)>,
    present: HashSet<String>,
    deleted: Vec<String>,
    /// Whether the server named what is present (so the rest is gone) rather than what left.
    present_phase: bool,
    pub(crate) cookie: Option<Vec<u8>>,
}

/// What left the scope of one search after a refresh.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Left {
    /// These UUIDs left; nothing else did.
    Listed(Vec<String>),
    /// Everything left except these UUIDs (and the changed entries).
    AllBut(Vec<String>),
}

impl Refresh {
    /// A refresh resuming from `cookie` (which stays the position if the server sends none).
    /// Without a cookie the server sends the whole content, so whatever it does not send left,
    /// however it ends the refresh (OpenLDAP ends it as if in the delete phase).
    pub(crate) fn from(cookie: Option<Vec<u8>>) -> Self {
        Self {
            present_phase: cookie.is_none(),
            cookie,
            ..Self::default()
        }
    }

    /// One change sent while persisting: what it names as deleted is all that left.
    pub(crate) fn persisting() -> Self {
        Self::default()
    }

    fn keep(&mut self, cookie: Option<Vec<u8>>) {
        if cookie.is_some() {
            self.cookie = cookie;
        }
    }

    /// An entry with its Sync State.
    pub(crate) fn entry(&mut self, state: SyncState, entry: RawEntry) {
        self.keep(state.cookie);
        match state.state {
            State::Present => {
                self.present_phase = true;
                self.present.insert(state.uuid);
            }
            State::Add | State::Modify => self.changed.push((state.uuid, entry)),
            State::Delete => self.deleted.push(state.uuid),
        }
    }

    /// A Sync Info message.
    pub(crate) fn info(&mut self, info: SyncInfo) {
        match info {
            SyncInfo::NewCookie(cookie) => self.keep(Some(cookie)),
            SyncInfo::Phase {
                present, cookie, ..
            } => {
                self.present_phase |= present;
                self.keep(cookie);
            }
            SyncInfo::IdSet {
                cookie,
                deletes,
                uuids,
            } => {
                self.keep(cookie);
                if deletes {
                    self.deleted.extend(uuids);
                } else {
                    self.present_phase = true;
                    self.present.extend(uuids);
                }
            }
        }
    }

    /// The end of the refresh: what left the scope. After a present phase (a refresh from no
    /// cookie, or one that named an entry present) everything not named present or sent left,
    /// less what was named deleted on top; otherwise exactly what was named deleted.
    ///
    /// The Sync Done's `refreshDeletes` is not trusted to tell the phases apart: 389-ds sends
    /// FALSE after naming deletions, which read by the letter would deactivate every entry not
    /// sent. A present phase that names nothing present (every remaining entry changed, or
    /// none remains) therefore names no departure; the next full run sees those.
    pub(crate) fn finish(&mut self, done: &SyncDone) -> Left {
        self.keep(done.cookie.clone());
        if self.present_phase {
            let deleted: HashSet<&String> = self.deleted.iter().collect();
            let mut kept: Vec<String> = self
                .present
                .drain()
                .filter(|u| !deleted.contains(u))
                .collect();
            kept.sort();
            Left::AllBut(kept)
        } else {
            Left::Listed(std::mem::take(&mut self.deleted))
        }
    }
}

#[cfg(test)]
mod tests {
    use ldap3::asn1::{Boolean, Set};

    use super::*;

    const UUID: [u8; 16] = [
        0x8f, 0x1d, 0x6a, 0x0e, 0x4f, 0x5b, 0x10, 0x3d, 0x9b, 0x1a, 0x2b, 0x1c, 0x3a, 0x5e, 0x7d,
        0x01,
    ];
    const UUID_TEXT: &str = "8f1d6a0e-4f5b-103d-9b1a-2b1c3a5e7d01";

    fn octets(bytes: &[u8]) -> Tag {
        Tag::OctetString(OctetString {
            inner: bytes.to_vec(),
            ..Default::default()
        })
    }

    fn sequence(inner: Vec<Tag>) -> Tag {
        Tag::Sequence(Sequence {
            inner,
            ..Default::default()
        })
    }

    fn state_value(state: i64, uuid: &[u8], cookie: Option<&[u8]>) -> Vec<u8> {
        let mut inner = vec![
            Tag::Enumerated(Enumerated {
                inner: state,
                ..Default::default()
            }),
            octets(uuid),
        ];
        inner.extend(cookie.map(octets));
        encode(sequence(inner))
    }

    /// An IntermediateResponse carrying `value` as a Sync Info.
    fn info_message(oid: &[u8], value: Tag) -> StructureTag {
        StructureTag {
            class: TagClass::Application,
            id: 25,
            payload: PL::C(vec![
                StructureTag {
                    class: TagClass::Context,
                    id: 0,
                    payload: PL::P(oid.to_vec()),
                },
                StructureTag {
                    class: TagClass::Context,
                    id: 1,
                    payload: PL::P(encode(value)),
                },
            ]),
        }
    }

    fn context(id: u64, inner: Vec<Tag>) -> Tag {
        Tag::Sequence(Sequence {
            id,
            class: TagClass::Context,
            inner,
        })
    }

    #[test]
    fn the_request_is_critical_and_carries_mode_and_cookie() {
        let control = request(Mode::RefreshAndPersist, Some(b"rid=000,csn=1"));
        assert!(control.crit);
        assert_eq!(control.ctype, SYNC_REQUEST_OID);
        let value = control.val.expect("a value");
        let parts = parse(&value)
            .and_then(StructureTag::expect_constructed)
            .expect("a sequence");
        assert_eq!(parts.len(), 2);
        assert_eq!(small_uint(parts[0].clone()), Some(3));
        assert_eq!(
            parts[1].clone().expect_primitive().as_deref(),
            Some(&b"rid=000,csn=1"[..])
        );
        let fresh = request(Mode::RefreshOnly, None).val.expect("a value");
        let parts = parse(&fresh)
            .and_then(StructureTag::expect_constructed)
            .expect("a sequence");
        assert_eq!(parts.len(), 1);
    }

    #[test]
    fn sync_states_decode() {
        assert_eq!(uuid_text(&UUID).as_deref(), Some(UUID_TEXT));
        let state = sync_state(&state_value(3, &UUID, Some(b"c"))).expect("valid");
        assert_eq!(
            state,
            SyncState {
                state: State::Delete,
                uuid: UUID_TEXT.into(),
                cookie: Some(b"c".to_vec()),
            }
        );
        let present = sync_state(&state_value(0, &UUID, None)).expect("valid");
        assert_eq!((present.state, present.cookie), (State::Present, None));
    }

    #[test]
    fn malformed_controls_and_messages_are_refused_without_panicking() {
        // Unknown state, short UUID, truncated BER, trailing bytes, wrong types, empty.
        assert_eq!(sync_state(&state_value(7, &UUID, None)), None);
        assert_eq!(sync_state(&state_value(1, &UUID[..15], None)), None);
        let good = state_value(1, &UUID, Some(b"cookie"));
        for cut in 0..good.len() {
            assert_eq!(sync_state(&good[..cut]), None, "cut at {cut}");
        }
        let mut trailing = good.clone();
        trailing.push(0);
        assert_eq!(sync_state(&trailing), None);
        assert_eq!(sync_state(&encode(sequence(vec![octets(&UUID)]))), None);
        assert_eq!(sync_state(&[]), None);
        assert_eq!(sync_done(&[0x30, 0x03, 0x01, 0x01]), None);
        assert_eq!(
            sync_done(&encode(sequence(vec![Tag::Integer(
                ldap3::asn1::Integer {
                    inner: 1,
                    ..Default::default()
                }
            )]))),
            None
        );
        assert_eq!(
            sync_info(info_message(b"1.2.3", context(0, vec![]))),
            None,
            "another intermediate response"
        );
        let bad_uuid = context(
            3,
            vec![Tag::Set(Set {
                inner: vec![octets(b"short")],
                ..Default::default()
            })],
        );
        assert_eq!(sync_info(info_message(SYNC_INFO_OID, bad_uuid)), None);
        let no_set = context(3, vec![octets(b"cookie")]);
        assert_eq!(sync_info(info_message(SYNC_INFO_OID, no_set)), None);
        let unknown_choice = context(9, vec![]);
        assert_eq!(sync_info(info_message(SYNC_INFO_OID, unknown_choice)), None);
    }

    #[test]
    fn sync_done_and_sync_info_decode() {
        let done = sync_done(&encode(sequence(vec![
            octets(b"c"),
            Tag::Boolean(Boolean {
                inner: true,
                ..Default::default()
            }),
        ])))
        .expect("valid");
        assert_eq!(
            done,
            SyncDone {
                cookie: Some(b"c".to_vec()),
                refresh_deletes: true
            }
        );
        assert_eq!(
            sync_done(&encode(sequence(vec![]))),
            Some(SyncDone {
                cookie: None,
                refresh_deletes: false
            })
        );
        let cookie = Tag::OctetString(OctetString {
            id: 0,
            class: TagClass::Context,
            inner: b"n".to_vec(),
        });
        assert_eq!(
            sync_info(info_message(SYNC_INFO_OID, cookie)),
            Some(SyncInfo::NewCookie(b"n".to_vec()))
        );
        let present_done = context(2, vec![octets(b"p")]);
        assert_eq!(
            sync_info(info_message(SYNC_INFO_OID, present_done)),
            Some(SyncInfo::Phase {
                present: true,
                cookie: Some(b"p".to_vec()),
                done: true
            })
        );
        let id_set = context(
            3,
            vec![
                Tag::Boolean(Boolean {
                    inner: true,
                    ..Default::default()
                }),
                Tag::Set(Set {
                    inner: vec![octets(&UUID)],
                    ..Default::default()
                }),
            ],
        );
        assert_eq!(
            sync_info(info_message(SYNC_INFO_OID, id_set)),
            Some(SyncInfo::IdSet {
                cookie: None,
                deletes: true,
                uuids: vec![UUID_TEXT.into()]
            })
        );
    }

    fn state(state: State, uuid: &str) -> SyncState {
        SyncState {
            state,
            uuid: uuid.into(),
            cookie: None,
        }
    }

    fn done(refresh_deletes: bool) -> SyncDone {
        SyncDone {
            cookie: Some(b"end".to_vec()),
            refresh_deletes,
        }
    }

    #[test]
    fn a_delete_phase_names_what_left() {
        let mut refresh = Refresh::from(Some(b"start".to_vec()));
        refresh.entry(state(State::Modify, "a"), RawEntry::default());
        refresh.entry(state(State::Delete, "b"), RawEntry::default());
        refresh.info(SyncInfo::IdSet {
            cookie: Some(b"mid".to_vec()),
            deletes: true,
            uuids: vec!["c".into()],
        });
        assert_eq!(refresh.cookie.as_deref(), Some(&b"mid"[..]));
        assert_eq!(
            refresh.finish(&done(true)),
            Left::Listed(vec!["b".into(), "c".into()])
        );
        assert_eq!(refresh.changed.len(), 1);
        assert_eq!(refresh.cookie.as_deref(), Some(&b"end"[..]));
    }

    #[test]
    fn a_present_phase_names_what_stays() {
        let mut refresh = Refresh::from(Some(b"start".to_vec()));
        refresh.entry(state(State::Present, "a"), RawEntry::default());
        refresh.info(SyncInfo::IdSet {
            cookie: None,
            deletes: false,
            uuids: vec!["b".into(), "c".into()],
        });
        refresh.info(SyncInfo::IdSet {
            cookie: None,
            deletes: true,
            uuids: vec!["c".into()],
        });
        refresh.entry(state(State::Add, "d"), RawEntry::default());
        assert_eq!(
            refresh.finish(&done(true)),
            Left::AllBut(vec!["a".into(), "b".into()])
        );
    }

    #[test]
    fn a_delete_phase_ended_as_389_ds_ends_it_names_only_what_left() {
        // 389-ds names deletions in a syncIdSet, then ends with refreshDeletes FALSE.
        let mut refresh = Refresh::from(Some(b"start".to_vec()));
        refresh.info(SyncInfo::IdSet {
            cookie: None,
            deletes: true,
            uuids: vec!["b".into()],
        });
        refresh.entry(state(State::Add, "a"), RawEntry::default());
        assert_eq!(refresh.finish(&done(false)), Left::Listed(vec!["b".into()]));
        let mut changes_only = Refresh::from(Some(b"start".to_vec()));
        changes_only.entry(state(State::Modify, "a"), RawEntry::default());
        assert_eq!(changes_only.finish(&done(false)), Left::Listed(vec![]));
    }

    #[test]
    fn a_refresh_from_nothing_is_the_whole_content() {
        for refresh_deletes in [false, true] {
            let mut refresh = Refresh::from(None);
            refresh.entry(state(State::Add, "a"), RawEntry::default());
            assert_eq!(refresh.finish(&done(refresh_deletes)), Left::AllBut(vec![]));
            assert_eq!(refresh.changed.len(), 1);
        }
        // Nothing changed since the cookie: OpenLDAP ends in the delete phase, naming nobody.
        let mut unchanged = Refresh::from(Some(b"start".to_vec()));
        assert_eq!(unchanged.finish(&done(true)), Left::Listed(vec![]));
    }
}
