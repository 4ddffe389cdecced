//! The LDAP source: users, groups and memberships read from OpenLDAP (Active Directory will be
//! a mode of this adapter), and the only crate of idmsync that knows ldap3.
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
//! Member DNs and entry DNs are normalised the same way (RFC 4514 parsing; lowercase types and
//! values, canonical escapes, no optional spaces, sorted multi-valued RDNs), so
//! `UID=JLennon, OU=People,...` in a group matches the user's locator. Configured names
//! (`sync.admins`) that are DNs are normalised alike by `canonical_name`.
//! The adapter never looks members up: a member outside the search bases, or naming no entry,
//! stays a reference the planner reports as `skipped-member`. Nested groups are members like any
//! other; cycles are harmless because nothing follows them.
//!
//! # What is skipped
//! An entry without the unique id attribute or without the user / group id attribute cannot be
//! identified, and the domain has no channel for such entries, so the adapter leaves it out and
//! logs a warning naming its DN. Search references (continuation referrals) are ignored: the
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
mod client;
mod config;
mod dn;
mod entry;
mod filter;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::TimeDelta;
use idmsync_domain::plan::SourceData;
use idmsync_domain::{SourceGroup, SourceUser, Watermark};
use idmsync_ports::{Clock, DynProgress, IdentitySource, SourceError, SystemClock};

pub use crate::config::{ConfigError, LdapConfig, Secret};

use crate::attributes::AttributeMap;
use crate::client::{Connection, Endpoint};
use crate::config::Transport;
use crate::entry::{RawEntry, Skip};
use crate::filter::DifferentialFilter;

/// The [`IdentitySource`] over an LDAP directory. Holds no connection between runs: each
/// operation connects, binds, reads and disconnects.
pub struct LdapSource {
    endpoint: Endpoint,
    users: Subtree,
    groups: Subtree,
    attributes: AttributeMap,
    overlap: TimeDelta,
    clock: Arc<dyn Clock>,
}

/// One kind of entry: where it lives and how it is selected.
struct Subtree {
    /// `users` or `groups`, for progress stages and log lines.
    what: &'static str,
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
    /// `page_size` 0, an empty search base or attribute name, an invalid filter.
    pub fn new(config: LdapConfig) -> Result<Self, ConfigError> {
        let checked = config.check(client::is_valid_filter)?;
        let tls = match checked.transport {
            Transport::Clear => None,
            Transport::StartTls | Transport::Ldaps => Some(
                client::tls_connector(config.ca_file.as_deref(), config.insecure_skip_verify)
                    .map_err(|message| ConfigError::new("ca_file", message))?,
            ),
        };
        Ok(Self {
            users: Subtree {
                what: "users",
                base: config.user_search_base.clone(),
                filter: config.user_filter.clone(),
                differential: config.user_differential(),
            },
            groups: Subtree {
                what: "groups",
                base: config.group_search_base.clone(),
                filter: config.group_filter.clone(),
                differential: config.group_differential(),
            },
            attributes: config.attribute_map(),
            overlap: checked.overlap,
            clock: Arc::new(SystemClock),
            endpoint: Endpoint {
                url: config.url,
                transport: checked.transport,
                tls,
                bind_dn: config.bind_dn,
                password: checked.password,
                connect_timeout: Duration::from_secs(config.connect_timeout_secs),
                timeout: Duration::from_secs(config.timeout_secs),
                page_size: checked.page_size,
            },
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
    ) -> Result<Vec<SourceUser>, SourceError> {
        let attributes = self.attributes.user_attributes();
        let map = |e: &RawEntry| entry::user(e, &self.attributes);
        read(conn, &self.users, filter, &attributes, map, progress).await
    }

    /// Reads every group matching `filter`, mapping each entry as it arrives.
    async fn groups(
        &self,
        conn: &mut Connection<'_>,
        filter: &str,
        progress: &DynProgress,
    ) -> Result<Vec<SourceGroup>, SourceError> {
        let attributes = self.attributes.group_attributes();
        let map = |e: &RawEntry| entry::group(e, &self.attributes);
        read(conn, &self.groups, filter, &attributes, map, progress).await
    }

    /// The GeneralizedTime a differential search starts at: the watermark minus the overlap.
    fn search_from(&self, since: &Watermark) -> Result<String, SourceError> {
        let time =
            filter::parse_generalized_time(&since.0).ok_or_else(|| SourceError::Invalid {
                location: "watermark".to_owned(),
                message: format!(
                    "'{since}' is not a GeneralizedTime (YYYYMMDDHHMMSSZ); was it written by \
                     another source?"
                ),
            })?;
        Ok(filter::generalized_time(filter::search_from(
            time,
            self.overlap,
        )))
    }
}

/// Searches one subtree and maps its entries one by one, so the raw result set is never held
/// beside the mapped one. Entries that cannot be identified are skipped with a warning.
async fn read<T>(
    conn: &mut Connection<'_>,
    subtree: &Subtree,
    filter: &str,
    attributes: &[String],
    map: impl Fn(&RawEntry) -> Result<T, Skip> + Sync,
    progress: &DynProgress,
) -> Result<Vec<T>, SourceError>
where
    T: Send,
{
    progress.stage(&format!("reading {}", subtree.what), None);
    let mut out = Vec::new();
    conn.search(&subtree.base, filter, attributes, |entry| {
        progress.advance(1);
        match map(&entry) {
            Ok(value) => out.push(value),
            Err(skip) => tracing::warn!(
                dn = %entry.dn,
                "skipped an entry of the {} search: {skip}",
                subtree.what
            ),
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

    async fn watermark(&self) -> Result<Watermark, SourceError> {
        Ok(Watermark(filter::generalized_time(self.clock.now())))
    }

    async fn snapshot(&self, progress: &DynProgress) -> Result<SourceData, SourceError> {
        let mut conn = self.endpoint.connect().await?;
        let users = self.users(&mut conn, &self.users.filter, progress).await?;
        let groups = self
            .groups(&mut conn, &self.groups.filter, progress)
            .await?;
        conn.close().await;
        Ok(SourceData { users, groups })
    }

    async fn users_changed_since(
        &self,
        since: &Watermark,
        progress: &DynProgress,
    ) -> Result<Vec<SourceUser>, SourceError> {
        let filter = self.users.differential.at(&self.search_from(since)?);
        let mut conn = self.endpoint.connect().await?;
        let users = self.users(&mut conn, &filter, progress).await?;
        conn.close().await;
        Ok(users)
    }

    async fn groups_changed_since(
        &self,
        since: &Watermark,
        progress: &DynProgress,
    ) -> Result<Vec<SourceGroup>, SourceError> {
        let filter = self.groups.differential.at(&self.search_from(since)?);
        let mut conn = self.endpoint.connect().await?;
        let groups = self.groups(&mut conn, &filter, progress).await?;
        conn.close().await;
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
        assert_eq!(
            source.search_from(&Watermark("20240506070809Z".into())),
            Ok("20240506070309Z".into())
        );
    }

    #[test]
    fn foreign_watermarks_are_invalid() {
        let source = LdapSource::new(config()).expect("valid configuration");
        let error = source
            .search_from(&Watermark("2024-05-06".into()))
            .expect_err("not ours");
        assert!(
            matches!(&error, SourceError::Invalid { location, .. } if location == "watermark"),
            "{error:?}"
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
