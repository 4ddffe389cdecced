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
//! differential read returns them too (an RFC 4533 refresh with their UUID, so they count as
//! still there), and the run logs each with its reason. Search references (continuation referrals) are ignored: the
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
//! trace to search for: only a full run notices it (and deactivates the user or group), unless
//! the server offers RFC 4533 content synchronisation (`syncrepl`) or DirSync (`dirsync`),
//! which `deltas` chooses (`auto` by default): their differential reads name what left, and
//! their watermarks are cookies.
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
mod content_sync;
mod dirsync;
mod dn;
mod entry;
mod escape;
mod filter;
mod live;
mod range;
mod raw;
mod read;
mod server;
mod syncrepl;
mod watermark;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use idmsync_domain::plan::{Departed, SourceData};
use idmsync_domain::Watermark;
use idmsync_ports::{
    ChangeFeed, Clock, DynProgress, FeedEvent, IdentitySource, SourceCheck, SourceError,
    SystemClock,
};

pub use crate::bind::{BindConfigError, LdapBindConfig, LdapBinder};
pub use crate::config::{ConfigError, Deltas, LdapConfig, Secret};

use crate::client::{Connection, Endpoint};
use crate::config::Searches;
use crate::read::{Counts, Reader};
use crate::watermark::Watermarks;

/// The [`IdentitySource`] over an LDAP directory. Holds no connection between runs: each
/// operation connects, binds, reads and disconnects.
pub struct LdapSource {
    endpoint: Endpoint,
    reader: Reader,
    deltas: Deltas,
    watermarks: Watermarks,
    clock: Arc<dyn Clock>,
    poll: Duration,
}

/// How often live sync polls DirSync by default (`sync.live_interval_secs`).
pub const DEFAULT_POLL: Duration = Duration::from_secs(5);

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
        Ok(Self {
            endpoint: Endpoint::new(&config, Searches::UsersAndGroups)?,
            reader: Reader::new(&config),
            deltas: config.deltas,
            watermarks: Watermarks::new(&config)?,
            clock: Arc::new(SystemClock),
            poll: DEFAULT_POLL,
        })
    }

    /// How often live sync reads DirSync's changes (`sync.live_interval_secs`; 5 s by
    /// default). RFC 4533 needs no polling: its changes arrive as they happen.
    #[must_use]
    pub fn with_poll_interval(mut self, interval: Duration) -> Self {
        self.poll = interval;
        self
    }

    /// Replaces the clock that dates watermarks; lets tests pin "now".
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }
}

/// How a run learns what changed, once the server has been asked what it offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    Syncrepl,
    Dirsync,
    Timestamp,
}

impl LdapSource {
    /// How runs may learn what changed: with `deltas = "syncrepl"` or `"dirsync"` that (an
    /// error naming what is missing when the root DSE does not list it); with `auto` RFC 4533
    /// when the root DSE lists the Sync Request control and the unique id is what the server's
    /// UUIDs are (`entryUUID`, or `nsUniqueId` on 389 Directory Server, whose content
    /// synchronisation names entries by it), else DirSync when it lists that and the unique id
    /// is `objectGUID`, else timestamps. A server may still refuse either when asked: see [`LdapSource::position`].
    ///
    /// # Errors
    /// `Invalid` for an explicit method the server does not list; `Failed` when the root DSE
    /// cannot be read.
    async fn method(&self, conn: &mut Connection<'_>) -> Result<Method, SourceError> {
        let root_dse = server::ROOT_DSE.map(str::to_owned);
        let root = conn.read("", &root_dse).await?.unwrap_or_default();
        let unique_id = |name: &str| self.reader.attributes.unique_id.eq_ignore_ascii_case(name);
        let syncrepl = server::offers(&root, server::SYNC_REQUEST_OID);
        let dirsync = server::offers(&root, server::DIRSYNC_OID);
        let url = conn.url();
        match self.deltas {
            Deltas::Syncrepl if !syncrepl => {
                Err(syncrepl::unsupported(url, &self.reader.users.base))
            }
            Deltas::Syncrepl => Ok(Method::Syncrepl),
            Deltas::Dirsync if !dirsync => Err(dirsync::refused(url, 12)),
            Deltas::Dirsync => Ok(Method::Dirsync),
            Deltas::Auto
                if syncrepl
                    && unique_id(if server::is_389ds(&root) {
                        "nsUniqueId"
                    } else {
                        "entryUUID"
                    }) =>
            {
                Ok(Method::Syncrepl)
            }
            Deltas::Auto if dirsync && unique_id("objectGUID") => Ok(Method::Dirsync),
            Deltas::Auto | Deltas::Timestamp => Ok(Method::Timestamp),
        }
    }

    /// The RFC 4533 or DirSync position before a read, or `None` for timestamps: with `auto`
    /// also when the server refuses the method (OpenLDAP without the overlay on this database;
    /// a DirSync account without the replication right, which is logged as a warning).
    ///
    /// # Errors
    /// As [`LdapSource::method`]; `Invalid` when an explicit method is refused.
    async fn position(&self) -> Result<Option<Watermark>, SourceError> {
        if self.deltas == Deltas::Timestamp {
            return Ok(None);
        }
        let mut conn = self.endpoint.connect().await?;
        let position = match self.method(&mut conn).await? {
            Method::Syncrepl => match syncrepl::position(&mut conn, &self.reader).await? {
                None if self.deltas == Deltas::Syncrepl => {
                    return Err(syncrepl::unsupported(conn.url(), &self.reader.users.base))
                }
                position => position,
            },
            Method::Dirsync => match dirsync::position(&mut conn, &self.reader).await? {
                Ok(position) => Some(position),
                Err(rc) if self.deltas == Deltas::Dirsync => {
                    return Err(dirsync::refused(conn.url(), rc))
                }
                Err(rc) => {
                    tracing::warn!(
                        "{}; differential runs use uSNChanged and see deleted objects only in \
                         full runs",
                        dirsync::refused(conn.url(), rc)
                    );
                    None
                }
            },
            Method::Timestamp => None,
        };
        conn.close().await;
        Ok(position)
    }
}

/// Live sync (`sync.live`): by RFC 4533 refreshAndPersist (see the `live` module), or, when
/// runs use DirSync (Active Directory), by a DirSync read every poll interval (see
/// [`LdapSource::with_poll_interval`] and the `dirsync` module). `deltas = "timestamp"` cannot
/// follow.
#[async_trait]
impl ChangeFeed for LdapSource {
    async fn follow(
        &self,
        since: Option<Watermark>,
        sink: &(dyn Fn(FeedEvent) + Send + Sync),
    ) -> Result<(), SourceError> {
        if self.deltas == Deltas::Timestamp {
            return Err(SourceError::Invalid {
                location: "source.ldap.deltas".into(),
                message: "\"timestamp\" cannot follow changes as they happen (sync.live): use \
                          \"auto\", \"syncrepl\" or \"dirsync\""
                    .into(),
            });
        }
        let mut conn = self.endpoint.connect().await?;
        let method = self.method(&mut conn).await?;
        conn.close().await;
        if method == Method::Dirsync {
            dirsync::follow(
                &self.endpoint,
                &self.reader,
                since.as_ref(),
                self.poll,
                sink,
            )
            .await
        } else {
            live::follow(&self.endpoint, &self.reader, since.as_ref(), sink).await
        }
    }
}

impl fmt::Debug for LdapSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LdapSource")
            .field("url", &self.endpoint.url)
            .field("bind_dn", &self.endpoint.bind_dn)
            .field("password", &self.endpoint.password)
            .field("user_search_base", &self.reader.users.base)
            .field("group_search_base", &self.reader.groups.base)
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

    /// Binds, reads the root DSE and the two search bases, counts the entries the filters
    /// select (and those that could not be read) without fetching members, and says how
    /// differential runs would read (taking a position as a run would).
    async fn check(&self) -> Result<SourceCheck, SourceError> {
        let mut conn = self.endpoint.connect().await?;
        let root_dse = server::ROOT_DSE.map(str::to_owned);
        let root = conn.read("", &root_dse).await?.unwrap_or_default();
        let (server, features) = server::describe(&root);
        let Counts {
            users,
            groups,
            unreadable,
        } = self.reader.count(&mut conn).await?;
        conn.close().await;
        let position = self.position().await?;
        let differential = match &position {
            Some(w) if syncrepl::is_cookie(w) => {
                "RFC 4533 content synchronisation, which sees deletions"
            }
            Some(_) => "DirSync, which sees deletions",
            None => "timestamps, so deletions wait for a full run",
        };
        let count = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
        Ok(SourceCheck {
            server: Some(server),
            features,
            users: count(users),
            groups: count(groups),
            unreadable: count(unreadable),
            differential: Some(differential.to_owned()),
            follows: position.is_some(),
            pushed: false,
        })
    }

    async fn user(&self, login: &str, groups: &[String]) -> Result<SourceData, SourceError> {
        let mut conn = self.endpoint.connect().await?;
        let data = self.reader.login(&mut conn, login, groups).await?;
        conn.close().await;
        Ok(data)
    }

    /// An RFC 4533 or DirSync cookie where one is used (see [`LdapSource::position`]), else
    /// the clock's time or the domain controller's USN.
    async fn watermark(&self) -> Result<Watermark, SourceError> {
        match self.position().await? {
            Some(position) => Ok(position),
            None => self.watermarks.now(&self.endpoint, &*self.clock).await,
        }
    }

    async fn snapshot(&self, progress: &DynProgress) -> Result<SourceData, SourceError> {
        let reader = &self.reader;
        let mut conn = self.endpoint.connect().await?;
        let mut unreadable = Vec::new();
        let users = reader
            .users(&mut conn, &reader.users.filter, progress, &mut unreadable)
            .await?;
        let groups = reader
            .groups(&mut conn, &reader.groups.filter, progress, &mut unreadable)
            .await?;
        conn.close().await;
        Ok(SourceData {
            users,
            groups,
            unreadable,
            departed: Departed::default(),
            documents: Vec::new(),
        })
    }

    /// One connection for both reads; the entries neither could identify go to the run log.
    /// From an RFC 4533 or DirSync cookie (or always, with `deltas = "syncrepl"` or
    /// `"dirsync"`), a read that also names the entries that left.
    async fn changed_since(
        &self,
        since: &Watermark,
        progress: &DynProgress,
    ) -> Result<SourceData, SourceError> {
        let reader = &self.reader;
        let mut conn = self.endpoint.connect().await?;
        let syncrepl = self.deltas == Deltas::Syncrepl
            || (self.deltas == Deltas::Auto && syncrepl::is_cookie(since));
        let dirsync = self.deltas == Deltas::Dirsync
            || (self.deltas == Deltas::Auto && dirsync::is_cookie(since));
        if syncrepl || dirsync {
            let data = if syncrepl {
                syncrepl::changed(&mut conn, reader, since, progress).await?
            } else {
                dirsync::changed(&mut conn, reader, since, progress).await?
            };
            conn.close().await;
            return Ok(data);
        }
        if syncrepl::is_cookie(since) || dirsync::is_cookie(since) {
            return Err(SourceError::Invalid {
                location: "source.ldap.deltas".into(),
                message: "the last run stored an RFC 4533 or DirSync cookie, which \"timestamp\" \
                          cannot resume from: run `idmsync sync --full` once"
                    .into(),
            });
        }
        let mut unreadable = Vec::new();
        let filter = self
            .watermarks
            .changed_filter(&mut conn, &reader.users, since)
            .await?;
        let users = reader
            .users(&mut conn, &filter, progress, &mut unreadable)
            .await?;
        let filter = self
            .watermarks
            .changed_filter(&mut conn, &reader.groups, since)
            .await?;
        let groups = reader
            .groups(&mut conn, &filter, progress, &mut unreadable)
            .await?;
        conn.close().await;
        Ok(SourceData {
            users,
            groups,
            unreadable,
            departed: Departed::default(),
            documents: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use idmsync_test_doubles::FixedClock;

    use super::*;
    use crate::config::tests::valid;

    fn config() -> LdapConfig {
        LdapConfig {
            url: "ldap://127.0.0.1:1".into(),
            bind_password: Some(Secret::new("hunter2-pw")),
            ..valid()
        }
    }

    #[tokio::test]
    async fn with_timestamps_the_watermark_is_the_clock_in_generalized_time() {
        let now = Utc
            .with_ymd_and_hms(2024, 5, 6, 7, 8, 9)
            .single()
            .expect("valid time");
        let timestamps = LdapConfig {
            deltas: Deltas::Timestamp,
            ..config()
        };
        let source = LdapSource::new(timestamps)
            .expect("valid configuration")
            .with_clock(Arc::new(FixedClock(now)));
        assert_eq!(
            source.watermark().await,
            Ok(Watermark("20240506070809Z".into()))
        );
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
