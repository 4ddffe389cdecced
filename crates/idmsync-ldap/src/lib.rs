//! The LDAP adapter, the only crate of idmsync that knows ldap3: the source (users, groups and
//! memberships read from OpenLDAP or, in Active Directory mode (`active_directory = true`),
//! from AD) and the login bind (`LdapBinder`, the `DirectoryBind` port). Both share one
//! connection layer (URL, TLS, timeouts, service bind) and one attribute mapping.
//!
//! # How LDAP maps to the domain
//! Users are the entries under `user_search_base` (subtree) matching `user_filter`; groups the
//! entries under `group_search_base` matching `group_filter`. Only the mapped attributes are
//! requested, the unique id attribute by name because `entryUUID` is operational.
//!
//! | domain | LDAP (OpenLDAP defaults) |
//! |---|---|
//! | `source_id` | `entryUUID` as text (a binary value, such as AD's objectGUID, in hex) |
//! | `external_id` | `uid` for users, `cn` for groups |
//! | `locator` | the entry's DN, normalised (below) |
//! | `first_name`, `last_name`, `email` | first value of `givenName`, `sn`, `mail`; absent → empty / none |
//! | group `name` | first value of `cn` |
//! | group `members` | each `member` value as `MemberRef::Locator(normalised DN)`; with `memberUid` each value as `MemberRef::ExternalId` |
//! | `password` | `Unmanaged`: users authenticate against the directory |
//! | `enabled` | always `true` (OpenLDAP has no standard disabled flag) |
//!
//! Active Directory mode changes the defaults (`objectGUID` in Windows' GUID text form,
//! `sAMAccountName`, filters without computers and critical system objects), makes `enabled`
//! the negation of `userAccountControl`'s ACCOUNTDISABLE bit, and asks for `member` in ranges
//! of `range_size` values. A group whose members come back as `member;range=0-N` (from AD in
//! any mode) is completed with base reads of the next ranges after the search, until the
//! server says `*`; anything else fails the run (see the `range` module).
//!
//! Member DNs and entry DNs are normalised the same way (RFC 4514 parsing; lowercase types and
//! values, canonical escapes, no optional spaces, sorted multi-valued RDNs), so
//! `UID=JLennon, OU=People,...` in a group matches the user's locator. Configured names
//! (`sync.admins`) that are DNs are normalised alike by `canonical_name`.
//! The adapter never looks members up: a member outside the search bases, or naming no entry,
//! stays a reference the planner reports as `skipped-member`. Nested groups are members like any
//! other; cycles are harmless because nothing follows them.
//!
//! With `transitive_members = true` (AD mode only) each group read, in full and differential
//! runs alike, is followed by one paged search under `user_search_base` for
//! `(&<user_filter>(memberOf:1.2.840.113556.1.4.1941:=<group DN>))`: the domain controller
//! resolves nesting (`LDAP_MATCHING_RULE_IN_CHAIN`) and the users found join the group's direct
//! members. Child groups stay members, so nesting stays visible. The cost is one search per
//! group. A differential run reads only groups whose own entry changed: a user added to a
//! nested group reaches the parent groups' lists at the next full run (or the next change of
//! the parent).
//!
//! # What is skipped
//! An entry without the unique id attribute or without the user / group id attribute (most
//! often one the service account may not read) cannot be identified. A full read returns it as
//! [`Unreadable`], with its DN and the reason, and the engine decides: by default the run stops,
//! since the entry's absence would otherwise deactivate its user (`sync.on_unreadable`). A
//! differential read, which deactivates nobody, returns them too, and the run logs each with
//! its reason. Search references (continuation referrals) are ignored: the
//! adapter reads one server and never follows them; a search that ends in a referral result
//! fails. Blank member values are dropped.
//!
//! # Watermarks
//! OpenLDAP's root DSE publishes no current time, so the watermark is this host's clock, in
//! GeneralizedTime (`20240131235959Z`), taken before reading. A differential run searches with
//! `(&<filter>(modifyTimestamp>=<watermark - differential_overlap_secs>))`, or with the
//! configured differential filter where `{0}` stands for that time. The overlap covers clock
//! skew between this host and the server and writes in the watermark's second; entries read
//! twice plan to nothing. A renamed or moved entry gets a new `modifyTimestamp`, keeps its
//! `entryUUID` and so its row, and comes back with its new locator. A deleted entry leaves no
//! trace to search for: only a full run notices it (and deactivates the user or group).
//!
//! With `modify_timestamp_attribute = "uSNChanged"` (AD mode's default) the watermark is
//! instead `<invocationId>:<highestCommittedUSN>` of the domain controller that answers, read
//! from its root DSE and NTDS Settings object, and a differential run searches from the next
//! USN. A watermark of another DC means nothing here, so such a run reads everything.
//!
//! # Failures
//! Each operation opens one connection (TLS or StartTLS as configured, never falling back to
//! clear text), binds as `bind_dn`, runs paged searches (RFC 2696, `page_size` entries a page)
//! and unbinds. Any failure returns an error and no data: `Unavailable` when the server cannot
//! be reached or refuses the bind, `Failed` when a search breaks off (a result other than
//! success such as `sizeLimitExceeded`, a timeout, a dropped connection). Messages name the URL,
//! the operation, the base and filter, and the LDAP result code and text; the bind password
//! appears in no message, `Debug` output or log line.
#![deny(missing_docs)]

mod attributes;
mod bind;
mod client;
mod config;
mod dn;
mod entry;
mod escape;
mod filter;
mod range;
mod raw;
mod server;

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::TimeDelta;
use idmsync_domain::plan::{SourceData, Unreadable};
use idmsync_domain::{MemberRef, SourceGroup, SourceUser, Watermark};
use idmsync_ports::{
    Clock, DynProgress, IdentitySource, NoProgress, SourceCheck, SourceError, SystemClock,
};

pub use crate::bind::{BindConfigError, LdapBindConfig, LdapBinder};
pub use crate::config::{ConfigError, LdapConfig, Secret};

use crate::attributes::{AttributeMap, MemberKind};
use crate::client::{Connection, Endpoint};
use crate::config::Searches;
use crate::entry::Skip;
use crate::filter::{DifferentialFilter, UsnWatermark};
use crate::range::Slice;
use crate::raw::RawEntry;

/// The [`IdentitySource`] over an LDAP directory. Holds no connection between runs: each
/// operation connects, binds, reads and disconnects.
pub struct LdapSource {
    endpoint: Endpoint,
    users: Subtree,
    groups: Subtree,
    attributes: AttributeMap,
    watermarks: Watermarks,
    /// Whether groups list the users of their nested groups too (`transitive_members`).
    transitive_members: bool,
    clock: Arc<dyn Clock>,
}

/// How the source marks its position and finds what changed since.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Watermarks {
    /// This host's clock in GeneralizedTime; differential searches reach back by `overlap`.
    /// With `active_directory`, filter times take AD's form (`20240101000000.0Z`).
    Clock {
        overlap: TimeDelta,
        active_directory: bool,
    },
    /// Active Directory's update sequence numbers (`uSNChanged`), per domain controller.
    Usn,
}

/// A group whose member attribute came back in ranges and is not complete yet.
struct Partial {
    entry: RawEntry,
    values: Vec<Vec<u8>>,
    next: u32,
}

/// One kind of entry: where it lives and how it is selected.
struct Subtree {
    /// `users` or `groups`, for progress stages and log lines.
    what: &'static str,
    /// Whether its entries are groups.
    group: bool,
    base: String,
    filter: String,
    differential: DifferentialFilter,
}

impl LdapSource {
    /// Validates `config`, reads the password file and the CA file, and builds the source
    /// (without connecting, so a down directory does not stop the service from starting).
    ///
    /// # Errors
    /// A [`ConfigError`] naming the key, for: a URL that is not `ldap://` or `ldaps://`,
    /// StartTLS with `ldaps://`, an empty `bind_dn` or password, both or neither of
    /// `bind_password` and `bind_password_file`, an unreadable password or CA file,
    /// `page_size` 0, an empty search base or attribute name, an invalid filter,
    /// `transitive_members` without `active_directory` or with login-id members.
    pub fn new(config: LdapConfig) -> Result<Self, ConfigError> {
        let endpoint = Endpoint::new(&config, Searches::UsersAndGroups)?;
        let watermarks = if config.modify_timestamp().eq_ignore_ascii_case("uSNChanged") {
            Watermarks::Usn
        } else {
            Watermarks::Clock {
                overlap: config.overlap()?,
                active_directory: config.active_directory,
            }
        };
        Ok(Self {
            endpoint,
            users: Subtree {
                what: "users",
                group: false,
                base: config.user_search_base.clone(),
                filter: config.user_filter().to_owned(),
                differential: config.user_differential(),
            },
            groups: Subtree {
                what: "groups",
                group: true,
                base: config.group_search_base.clone(),
                filter: config.group_filter().to_owned(),
                differential: config.group_differential(),
            },
            attributes: config.attribute_map(),
            watermarks,
            transitive_members: config.transitive_members,
            clock: Arc::new(SystemClock),
        })
    }

    /// Replaces the clock that dates watermarks; lets tests pin "now".
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Reads every user matching `filter`, mapping each entry as it arrives.
    async fn users(
        &self,
        conn: &mut Connection<'_>,
        filter: &str,
        progress: &DynProgress,
        unreadable: &mut Vec<Unreadable>,
    ) -> Result<Vec<SourceUser>, SourceError> {
        let attributes = self.attributes.user_attributes();
        let map = |e: &mut RawEntry| entry::user(e, &self.attributes).map(Some);
        let subtree = &self.users;
        read(
            conn,
            subtree,
            filter,
            &attributes,
            map,
            progress,
            unreadable,
        )
        .await
    }

    /// Reads every group matching `filter`, mapping each entry as it arrives, except groups
    /// whose members came back in ranges: those are completed with further reads once the
    /// search is over, then mapped. With `transitive_members`, the users of nested groups are
    /// added last, by the group's DN as the server wrote it.
    async fn groups(
        &self,
        conn: &mut Connection<'_>,
        filter: &str,
        progress: &DynProgress,
        unreadable: &mut Vec<Unreadable>,
    ) -> Result<Vec<SourceGroup>, SourceError> {
        let attributes = self.attributes.group_attributes();
        let member = &self.attributes.group_member;
        let mut partial = Vec::new();
        let mut broken = None;
        let map = |e: &mut RawEntry| match range::take(e, member, 0) {
            Ok(Slice { values, next: None }) => {
                range::put(e, member, values);
                entry::group(e, &self.attributes).map(|g| Some((e.dn.clone(), g)))
            }
            Ok(Slice {
                values,
                next: Some(next),
            }) => {
                let entry = std::mem::take(e);
                partial.push(Partial {
                    entry,
                    values,
                    next,
                });
                Ok(None)
            }
            Err(error) => {
                broken.get_or_insert_with(|| range_failure(&self.endpoint.url, &e.dn, &error));
                Ok(None)
            }
        };
        let subtree = &self.groups;
        let mut groups = read(
            conn,
            subtree,
            filter,
            &attributes,
            map,
            progress,
            unreadable,
        )
        .await?;
        if let Some(error) = broken {
            return Err(error);
        }
        for group in partial {
            let mut entry = self.complete(conn, group).await?;
            match entry::group(&mut entry, &self.attributes) {
                Ok(group) => groups.push((entry.dn, group)),
                Err(skip) => unreadable.push(self.groups.unreadable(&entry.dn, &skip)),
            }
        }
        if self.transitive_members {
            self.add_transitive_users(conn, &mut groups, progress)
                .await?;
        }
        Ok(groups.into_iter().map(|(_, group)| group).collect())
    }

    /// Adds to each group (with its DN) the users that are members through nested groups, with
    /// one search per group for the users whose `memberOf` reaches it through any chain. The
    /// direct members stay: a direct user is found again and kept once, a child group stays an
    /// edge, and a member the user filter leaves out stays a reference the planner reports.
    ///
    /// # Errors
    /// `Failed` when a search fails: the group's member list would be partial.
    async fn add_transitive_users(
        &self,
        conn: &mut Connection<'_>,
        groups: &mut [(String, SourceGroup)],
        progress: &DynProgress,
    ) -> Result<(), SourceError> {
        progress.stage(
            "reading transitive group members",
            u64::try_from(groups.len()).ok(),
        );
        // RFC 4511's "no attributes": the DN is all a member reference needs.
        let no_attributes = ["1.1".to_owned()];
        for (dn, group) in groups.iter_mut() {
            let filter = filter::in_chain(&self.users.filter, dn);
            let mut known: HashSet<MemberRef> = group.members.iter().cloned().collect();
            let mut found = 0_usize;
            conn.search(&self.users.base, &filter, &no_attributes, |user| {
                found += 1;
                let member = MemberRef::Locator(dn::normalize_or_keep(&user.dn));
                if known.insert(member.clone()) {
                    group.members.push(member);
                }
            })
            .await?;
            tracing::debug!(dn = %dn, found, "read transitive user members");
            progress.advance(1);
        }
        Ok(())
    }

    /// Reads the further ranges of a group's members until the server says `*`.
    ///
    /// # Errors
    /// `Failed` when a read fails, the group is gone, or an answer does not continue the
    /// range: the group's member list would be partial.
    async fn complete(
        &self,
        conn: &mut Connection<'_>,
        partial: Partial,
    ) -> Result<RawEntry, SourceError> {
        let Partial {
            mut entry,
            mut values,
            mut next,
        } = partial;
        let member = &self.attributes.group_member;
        let mut reads = 1;
        loop {
            let wanted = [range::request(member, next, self.attributes.range_size)];
            let mut answer = conn.read(&entry.dn, &wanted).await?.unwrap_or_default();
            let slice = range::take(&mut answer, member, next)
                .map_err(|e| range_failure(conn.url(), &entry.dn, &e))?;
            values.extend(slice.values);
            reads += 1;
            match slice.next {
                Some(after) => next = after,
                None => break,
            }
        }
        tracing::debug!(dn = %entry.dn, reads, count = values.len(), "read members in ranges");
        range::put(&mut entry, member, values);
        Ok(entry)
    }

    /// The filter of a differential search of `subtree` after `since`; with USN watermarks the
    /// full filter when `since` was written by another domain controller, whose USNs mean
    /// nothing here (reading everything as changed is safe: a differential run never
    /// deactivates).
    ///
    /// # Errors
    /// `Invalid` for a watermark of the other kind (the mode changed: run `sync --full`);
    /// `Failed` when the position of the domain controller cannot be read.
    async fn changed_filter(
        &self,
        conn: &mut Connection<'_>,
        subtree: &Subtree,
        since: &Watermark,
    ) -> Result<String, SourceError> {
        match self.watermarks {
            Watermarks::Clock {
                overlap,
                active_directory,
            } => {
                let from = search_from(since, overlap)?;
                let text = if active_directory {
                    filter::ad_generalized_time(from)
                } else {
                    filter::generalized_time(from)
                };
                Ok(subtree.differential.at(&text))
            }
            Watermarks::Usn => {
                let then = UsnWatermark::parse(&since.0).ok_or_else(|| {
                    foreign_watermark(since, "<invocationId>:<highestCommittedUSN>")
                })?;
                let now = usn_position(conn).await?;
                if then.dc != now.dc {
                    tracing::warn!(
                        watermark = %since,
                        dc = %now.dc,
                        "the watermark is another domain controller's: reading all {}",
                        subtree.what
                    );
                    return Ok(subtree.filter.clone());
                }
                Ok(subtree
                    .differential
                    .at(&then.usn.saturating_add(1).to_string()))
            }
        }
    }
}

/// The time a clock watermark's differential search starts at: the watermark minus `overlap`.
fn search_from(
    since: &Watermark,
    overlap: TimeDelta,
) -> Result<chrono::DateTime<chrono::Utc>, SourceError> {
    let time = filter::parse_generalized_time(&since.0)
        .ok_or_else(|| foreign_watermark(since, "a GeneralizedTime (YYYYMMDDHHMMSSZ)"))?;
    Ok(filter::search_from(time, overlap))
}

/// A watermark this source did not write in its current mode.
fn foreign_watermark(since: &Watermark, expected: &str) -> SourceError {
    SourceError::Invalid {
        location: "watermark".to_owned(),
        message: format!(
            "'{since}' is not {expected}; was it written by another source or mode? \
             Run `idmsync sync --full` once."
        ),
    }
}

/// The domain controller answering on `conn` and its current USN, from the root DSE and the
/// DC's NTDS Settings object (whose `invocationId` identifies the DC's database).
///
/// # Errors
/// `Failed` when a read fails or the server publishes no USN or invocationId (not Active
/// Directory).
async fn usn_position(conn: &mut Connection<'_>) -> Result<UsnWatermark, SourceError> {
    let url = conn.url().to_owned();
    let missing = |what: &str| {
        SourceError::Failed(format!(
            "{url}: the directory publishes no {what}; uSNChanged watermarks need Active \
             Directory (set modify_timestamp_attribute to a time attribute otherwise)"
        ))
    };
    let wanted = ["dsServiceName".to_owned(), "highestCommittedUSN".to_owned()];
    let root = conn.read("", &wanted).await?.unwrap_or_default();
    let usn = root
        .first_text("highestCommittedUSN")
        .and_then(|text| text.trim().parse().ok())
        .ok_or_else(|| missing("highestCommittedUSN"))?;
    let service = root
        .first_text("dsServiceName")
        .ok_or_else(|| missing("dsServiceName"))?;
    let ntds = conn
        .read(&service, &["invocationId".to_owned()])
        .await?
        .unwrap_or_default();
    let dc = ntds
        .values("invocationId")
        .first()
        .and_then(|v| <&[u8; 16]>::try_from(v.as_slice()).ok())
        .map(entry::guid_text)
        .ok_or_else(|| missing("invocationId"))?;
    Ok(UsnWatermark { dc, usn })
}

/// A member range that cannot be completed, as the run's error.
fn range_failure(url: &str, dn: &str, error: &range::RangeError) -> SourceError {
    SourceError::Failed(format!(
        "{url}: reading the members of {dn} in ranges: {error}"
    ))
}

impl Subtree {
    /// An entry of this subtree that cannot be identified, for the engine to decide about.
    fn unreadable(&self, dn: &str, skip: &Skip) -> Unreadable {
        Unreadable {
            group: self.group,
            locator: dn::normalize_or_keep(dn),
            source_id: None,
            reason: skip.to_string(),
        }
    }
}

/// Logs the entries a differential read could not identify: such a run deactivates nobody,
/// so they cost nothing but the changes they may hide, which the next full run decides about.
fn warn_unreadable(unreadable: Vec<Unreadable>) {
    for u in unreadable {
        tracing::warn!(dn = %u.locator, "skipped an entry that could not be read: {}", u.reason);
    }
}

/// Searches one subtree and maps its entries one by one, so the raw result set is never held
/// beside the mapped one. Entries that cannot be identified go to `unreadable`; `map` may also
/// keep an entry for later (`Ok(None)`).
async fn read<T>(
    conn: &mut Connection<'_>,
    subtree: &Subtree,
    filter: &str,
    attributes: &[String],
    mut map: impl FnMut(&mut RawEntry) -> Result<Option<T>, Skip> + Send,
    progress: &DynProgress,
    unreadable: &mut Vec<Unreadable>,
) -> Result<Vec<T>, SourceError>
where
    T: Send,
{
    progress.stage(&format!("reading {}", subtree.what), None);
    let mut out = Vec::new();
    conn.search(&subtree.base, filter, attributes, |mut entry| {
        progress.advance(1);
        match map(&mut entry) {
            Ok(value) => out.extend(value),
            Err(skip) => unreadable.push(subtree.unreadable(&entry.dn, &skip)),
        }
    })
    .await?;
    tracing::debug!(base = %subtree.base, filter, count = out.len(), "read {}", subtree.what);
    Ok(out)
}

impl fmt::Debug for LdapSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LdapSource")
            .field("url", &self.endpoint.url)
            .field("bind_dn", &self.endpoint.bind_dn)
            .field("password", &self.endpoint.password)
            .field("user_search_base", &self.users.base)
            .field("group_search_base", &self.groups.base)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl IdentitySource for LdapSource {
    fn name(&self) -> String {
        self.endpoint.url.clone()
    }

    /// DNs (in `sync.admins`) compare in their normalised form; other names as given.
    fn canonical_name(&self, name: &str) -> String {
        dn::normalize_or_keep(name)
    }

    /// Binds, reads the root DSE and the two search bases, and counts the entries the filters
    /// select (and those that could not be read) without fetching members.
    async fn check(&self) -> Result<SourceCheck, SourceError> {
        let mut conn = self.endpoint.connect().await?;
        let root_dse = server::ROOT_DSE.map(str::to_owned);
        let root = conn.read("", &root_dse).await?.unwrap_or_default();
        let (server, features) = server::describe(&root);
        for (key, subtree) in [
            ("user_search_base", &self.users),
            ("group_search_base", &self.groups),
        ] {
            if let Err(error) = conn.read(&subtree.base, &["1.1".to_owned()]).await {
                return Err(SourceError::Invalid {
                    location: format!("source.ldap.{key} '{}'", subtree.base),
                    message: format!("cannot be read: {error}"),
                });
            }
        }
        let mut unreadable = Vec::new();
        let map = &self.attributes;
        // A `Vec<()>` holds its count and nothing else: no entry is kept.
        let mut counts = Vec::with_capacity(2);
        for (subtree, attributes) in [
            (&self.users, map.user_attributes()),
            (&self.groups, map.group_identity_attributes()),
        ] {
            let identify = |e: &mut RawEntry| {
                if subtree.group {
                    entry::group(e, map).map(|_| Some(()))
                } else {
                    entry::user(e, map).map(|_| Some(()))
                }
            };
            let read = read(
                &mut conn,
                subtree,
                &subtree.filter,
                &attributes,
                identify,
                &NoProgress,
                &mut unreadable,
            );
            counts.push(read.await?.len());
        }
        conn.close().await;
        let count = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
        Ok(SourceCheck {
            server: Some(server),
            features,
            users: count(counts[0]),
            groups: count(counts[1]),
            unreadable: count(unreadable.len()),
        })
    }

    /// Two searches: the user by login under the user filter, then the groups under the group
    /// filter that have the user as a member (by the DN the server returned, or the login for
    /// `memberUid`) or are named in `groups`.
    async fn user(&self, login: &str, groups: &[String]) -> Result<SourceData, SourceError> {
        let map = &self.attributes;
        let mut conn = self.endpoint.connect().await?;
        let mut unreadable = Vec::new();
        let by_login = format!(
            "(&{}({}={}))",
            self.users.filter,
            map.user_id,
            escape::filter_value(login)
        );
        let users = self
            .users(&mut conn, &by_login, &NoProgress, &mut unreadable)
            .await?;
        let assertion =
            |attribute: &str, value: &str| format!("({attribute}={})", escape::filter_value(value));
        let mut wanted: Vec<String> = groups
            .iter()
            .map(|id| assertion(&map.group_id, id))
            .collect();
        match map.member_kind() {
            MemberKind::Dn => wanted.extend(
                users
                    .iter()
                    .filter_map(|u| u.locator.as_deref())
                    .map(|dn| assertion(&map.group_member, dn)),
            ),
            MemberKind::UserId if !users.is_empty() => {
                wanted.push(assertion(&map.group_member, login));
            }
            MemberKind::UserId => {}
        }
        let groups = if wanted.is_empty() {
            Vec::new()
        } else {
            let filter = format!("(&{}(|{}))", self.groups.filter, wanted.concat());
            self.groups(&mut conn, &filter, &NoProgress, &mut unreadable)
                .await?
        };
        conn.close().await;
        Ok(SourceData {
            users,
            groups,
            unreadable,
        })
    }

    async fn watermark(&self) -> Result<Watermark, SourceError> {
        match self.watermarks {
            Watermarks::Clock { .. } => Ok(Watermark(filter::generalized_time(self.clock.now()))),
            Watermarks::Usn => {
                let mut conn = self.endpoint.connect().await?;
                let position = usn_position(&mut conn).await?;
                conn.close().await;
                Ok(Watermark(position.to_string()))
            }
        }
    }

    async fn snapshot(&self, progress: &DynProgress) -> Result<SourceData, SourceError> {
        let mut conn = self.endpoint.connect().await?;
        let mut unreadable = Vec::new();
        let users = self
            .users(&mut conn, &self.users.filter, progress, &mut unreadable)
            .await?;
        let groups = self
            .groups(&mut conn, &self.groups.filter, progress, &mut unreadable)
            .await?;
        conn.close().await;
        Ok(SourceData {
            users,
            groups,
            unreadable,
        })
    }

    /// One connection for both reads; the entries neither could identify go to the run log.
    async fn changed_since(
        &self,
        since: &Watermark,
        progress: &DynProgress,
    ) -> Result<SourceData, SourceError> {
        let mut conn = self.endpoint.connect().await?;
        let mut unreadable = Vec::new();
        let filter = self.changed_filter(&mut conn, &self.users, since).await?;
        let users = self
            .users(&mut conn, &filter, progress, &mut unreadable)
            .await?;
        let filter = self.changed_filter(&mut conn, &self.groups, since).await?;
        let groups = self
            .groups(&mut conn, &filter, progress, &mut unreadable)
            .await?;
        conn.close().await;
        Ok(SourceData {
            users,
            groups,
            unreadable,
        })
    }

    async fn users_changed_since(
        &self,
        since: &Watermark,
        progress: &DynProgress,
    ) -> Result<Vec<SourceUser>, SourceError> {
        let mut conn = self.endpoint.connect().await?;
        let filter = self.changed_filter(&mut conn, &self.users, since).await?;
        let mut unreadable = Vec::new();
        let users = self
            .users(&mut conn, &filter, progress, &mut unreadable)
            .await?;
        conn.close().await;
        warn_unreadable(unreadable);
        Ok(users)
    }

    async fn groups_changed_since(
        &self,
        since: &Watermark,
        progress: &DynProgress,
    ) -> Result<Vec<SourceGroup>, SourceError> {
        let mut conn = self.endpoint.connect().await?;
        let filter = self.changed_filter(&mut conn, &self.groups, since).await?;
        let mut unreadable = Vec::new();
        let groups = self
            .groups(&mut conn, &filter, progress, &mut unreadable)
            .await?;
        conn.close().await;
        warn_unreadable(unreadable);
        Ok(groups)
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, TimeZone, Utc};

    use super::*;

    struct FixedClock(DateTime<Utc>);

    impl Clock for FixedClock {
        fn now(&self) -> DateTime<Utc> {
            self.0
        }
    }

    fn config() -> LdapConfig {
        LdapConfig {
            url: "ldap://127.0.0.1:1".into(),
            bind_dn: "cn=sync,dc=example,dc=com".into(),
            bind_password: Some(Secret::new("hunter2-pw")),
            user_search_base: "ou=people,dc=example,dc=com".into(),
            group_search_base: "ou=groups,dc=example,dc=com".into(),
            ..LdapConfig::default()
        }
    }

    #[tokio::test]
    async fn watermark_is_the_clock_in_generalized_time() {
        let now = Utc
            .with_ymd_and_hms(2024, 5, 6, 7, 8, 9)
            .single()
            .expect("valid time");
        let source = LdapSource::new(config())
            .expect("valid configuration")
            .with_clock(Arc::new(FixedClock(now)));
        assert_eq!(
            source.watermark().await,
            Ok(Watermark("20240506070809Z".into()))
        );
        let from = search_from(&Watermark("20240506070809Z".into()), TimeDelta::minutes(5));
        assert_eq!(
            from.map(filter::generalized_time),
            Ok("20240506070309Z".into())
        );
    }

    #[test]
    fn foreign_watermarks_are_invalid() {
        let error =
            search_from(&Watermark("2024-05-06".into()), TimeDelta::zero()).expect_err("not ours");
        assert!(
            matches!(&error, SourceError::Invalid { location, .. } if location == "watermark"),
            "{error:?}"
        );
    }

    #[test]
    fn active_directory_mode_counts_usns_unless_told_otherwise() {
        let ad = LdapConfig {
            active_directory: true,
            ..config()
        };
        let source = LdapSource::new(ad.clone()).expect("valid configuration");
        assert_eq!(source.watermarks, Watermarks::Usn);
        let by_time = LdapSource::new(LdapConfig {
            modify_timestamp_attribute: Some("whenChanged".into()),
            ..ad
        })
        .expect("valid configuration");
        assert_eq!(
            by_time.watermarks,
            Watermarks::Clock {
                overlap: TimeDelta::minutes(5),
                active_directory: true
            }
        );
        let openldap = LdapSource::new(config()).expect("valid configuration");
        assert!(matches!(
            openldap.watermarks,
            Watermarks::Clock {
                active_directory: false,
                ..
            }
        ));
    }

    #[test]
    fn name_and_debug_show_no_password() {
        let source = LdapSource::new(config()).expect("valid configuration");
        assert_eq!(source.name(), "ldap://127.0.0.1:1");
        let printed = format!("{source:?}");
        assert!(!printed.contains("hunter2-pw"), "{printed}");
    }

    #[test]
    fn canonical_names_normalise_dns_only() {
        let source = LdapSource::new(config()).expect("valid configuration");
        assert_eq!(
            source.canonical_name("UID=Admin, OU=People,DC=example,DC=com"),
            "uid=admin,ou=people,dc=example,dc=com"
        );
        assert_eq!(source.canonical_name("Admin"), "Admin");
    }

    #[test]
    fn an_unreadable_ca_file_names_its_key() {
        let error = LdapSource::new(LdapConfig {
            url: "ldaps://127.0.0.1:1".into(),
            ca_file: Some("/nonexistent/ca.pem".into()),
            ..config()
        })
        .expect_err("no CA file");
        assert_eq!(error.key(), "ca_file");
    }
}
