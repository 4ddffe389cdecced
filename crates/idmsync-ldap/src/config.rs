//! The `[source.ldap]` configuration: how to reach and bind to the directory, where to search,
//! and which attributes map to which fields; with the checks that reject a dangerous or broken
//! configuration before anything connects.

use std::fmt;
use std::path::PathBuf;

use chrono::TimeDelta;
use serde::Deserialize;

pub use crate::attributes::MappingConfig;
use crate::attributes::{AttributeMap, MemberKind};
use crate::filter::{DifferentialFilter, TIME_PLACEHOLDER};

/// `[source.ldap]`. Every key has a default except the ones that say where the directory is
/// and who binds (`url`, `bind_dn`, a password, the two search bases): those default to empty
/// and [`crate::LdapSource::new`] rejects them, naming the key.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LdapConfig {
    /// `ldap://host:port` or `ldaps://host:port`.
    pub url: String,
    /// Upgrade an `ldap://` connection with StartTLS; a failed upgrade fails the run rather
    /// than continuing in clear text.
    pub starttls: bool,
    /// PEM file of the CA that signed the server's certificate, trusted on top of the system
    /// roots; for directories with a private CA.
    pub ca_file: Option<PathBuf>,
    /// Accept any server certificate and host name. For test setups only: it allows a
    /// man-in-the-middle to read the bind password. Logged as a warning.
    pub insecure_skip_verify: bool,
    /// The DN the adapter binds as; a read-only service account is enough.
    pub bind_dn: String,
    /// The bind password; or use `bind_password_file`.
    pub bind_password: Option<Secret>,
    /// A file holding the bind password (a mounted secret), read once at construction; a
    /// trailing newline is ignored.
    pub bind_password_file: Option<PathBuf>,
    /// Seconds to wait for the TCP connection and TLS handshake.
    pub connect_timeout_secs: u64,
    /// Seconds to wait for each reply of the server (the bind's result, each entry or page
    /// of a search), so a hung server fails the run instead of stalling it.
    pub timeout_secs: u64,
    /// Entries per page of a paged search (RFC 2696); keeps each reply below the server's size
    /// limit.
    pub page_size: u32,
    /// Switches every mapping default below to Active Directory's (objectGUID, sAMAccountName,
    /// uSNChanged watermarks, filters without computers and critical system objects), reads
    /// `userAccountControl` for disabled accounts and retrieves `member` in ranges. Explicit keys
    /// still win over these defaults.
    pub active_directory: bool,
    /// Where users are searched (subtree).
    pub user_search_base: String,
    /// Which entries under the base are users. Default: `(objectClass=inetOrgPerson)`; in
    /// Active Directory mode people that are not critical system objects (no computers, no
    /// Administrator, Guest or krbtgt).
    pub user_filter: Option<String>,
    /// Users changed since a watermark, for differential runs; `{0}` stands for the timestamp
    /// (or the USN). Default: `user_filter` AND-ed with `(<modify_timestamp_attribute>>={0})`.
    pub user_differential_filter: Option<String>,
    /// Where groups are searched (subtree).
    pub group_search_base: String,
    /// Which entries under the base are groups. Default: `(objectClass=groupOfNames)`; in
    /// Active Directory mode groups that are not critical system objects.
    pub group_filter: Option<String>,
    /// Groups changed since a watermark; as `user_differential_filter`.
    pub group_differential_filter: Option<String>,
    /// The stable identity of users and groups; operational, requested by name. Default
    /// `entryUUID`; `objectGUID` in Active Directory mode (always rendered as a GUID).
    pub unique_id_attribute: Option<String>,
    /// The login id. Default `uid`; `sAMAccountName` in Active Directory mode.
    pub user_id_attribute: Option<String>,
    /// The given name. Default `givenName`.
    pub first_name_attribute: Option<String>,
    /// The family name. Default `sn`.
    pub last_name_attribute: Option<String>,
    /// The e-mail address. Default `mail`.
    pub email_attribute: Option<String>,
    /// The group id. Default `cn`; `sAMAccountName` in Active Directory mode.
    pub group_id_attribute: Option<String>,
    /// The group display name. Default `cn`.
    pub group_name_attribute: Option<String>,
    /// The members of a group: DNs (`member`, `uniqueMember`) or, for `memberUid`, login ids.
    /// Default `member`.
    pub group_member_attribute: Option<String>,
    /// What differential runs compare against the watermark. Default `modifyTimestamp`;
    /// `uSNChanged` in Active Directory mode, which makes the watermark the domain
    /// controller's `highestCommittedUSN` (any other attribute is a time, such as AD's
    /// `whenChanged`).
    pub modify_timestamp_attribute: Option<String>,
    /// The attribute whose presence means the account is locked in the directory, which makes
    /// the user inactive (deactivated by the source) until it is unlocked. Default: both
    /// `pwdAccountLockedTime` (OpenLDAP's ppolicy, including the permanent `000001010000Z`) and
    /// `nsAccountLock` (389 Directory Server; a value of `false` is no lock) are read; in
    /// Active Directory mode none (`userAccountControl`'s disabled flag decides there). An empty
    /// string reads none.
    pub lock_attribute: Option<String>,
    /// Values of the member attribute asked for per read in Active Directory mode (`member;range=
    /// 0-<range_size - 1>`, then the next range until the server says `*`); a server may
    /// return fewer (AD's MaxValRange, 1,500 by default). Default 1500; only with
    /// `active_directory`.
    pub range_size: Option<u32>,
    /// Lists each group's users transitively: the users of its nested groups too, as Active
    /// Directory's `LDAP_MATCHING_RULE_IN_CHAIN` resolves them, for applications that do not
    /// follow nesting themselves. Child groups stay direct members, so nesting stays visible.
    /// Costs one search per group read, in full and differential runs. Only with
    /// `active_directory` (no other directory has the matching rule) and a DN-valued member
    /// attribute.
    pub transitive_members: bool,
    /// Seconds a differential run reaches back before the watermark, against clock skew
    /// between this host and the directory.
    pub differential_overlap_secs: u64,
    /// How differential runs learn what changed: see [`Deltas`]. Default `auto`.
    pub deltas: Deltas,
    /// `[source.ldap.mapping]`: fields computed from the entry's attributes.
    pub mapping: MappingConfig,
}

/// How differential runs learn what changed, and so whether they see deletions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Deltas {
    /// RFC 4533 content synchronisation where the root DSE offers it and the unique id is what
    /// the server's UUIDs are (`entryUUID` on OpenLDAP, `nsUniqueId` on 389 Directory Server),
    /// DirSync where it offers that and the sync account may use it (and the unique id is
    /// `objectGUID`), timestamps otherwise.
    #[default]
    Auto,
    /// RFC 4533 content synchronisation (OpenLDAP's syncprov overlay), or an error naming what
    /// the server lacks: deletions, moves out of the base and changes out of the filter are
    /// seen by every differential run.
    Syncrepl,
    /// Active Directory's DirSync control, or an error naming what the account lacks (the
    /// "Replicating Directory Changes" right): deleted objects, moves out of the base and
    /// changes out of the filter are seen by every differential run.
    Dirsync,
    /// `modify_timestamp_attribute` against the watermark, as the original: deletions are seen
    /// by full runs only.
    Timestamp,
}

impl Default for LdapConfig {
    fn default() -> Self {
        Self {
            url: String::new(),
            starttls: false,
            ca_file: None,
            insecure_skip_verify: false,
            bind_dn: String::new(),
            bind_password: None,
            bind_password_file: None,
            connect_timeout_secs: 10,
            timeout_secs: 60,
            page_size: 500,
            active_directory: false,
            user_search_base: String::new(),
            user_filter: None,
            user_differential_filter: None,
            group_search_base: String::new(),
            group_filter: None,
            group_differential_filter: None,
            unique_id_attribute: None,
            user_id_attribute: None,
            first_name_attribute: None,
            last_name_attribute: None,
            email_attribute: None,
            group_id_attribute: None,
            group_name_attribute: None,
            group_member_attribute: None,
            modify_timestamp_attribute: None,
            lock_attribute: None,
            range_size: None,
            transitive_members: false,
            differential_overlap_secs: 300,
            deltas: Deltas::Auto,
            mapping: MappingConfig::default(),
        }
    }
}

/// A secret from the configuration. `Debug` prints `***`, so neither a logged configuration
/// nor an error message can show it.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The clear value, for the bind.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// A configuration the adapter refuses, naming the key (`source.ldap.page_size: ...`) so the
/// operator knows which line to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("source.ldap.{key}: {message}")]
pub struct ConfigError {
    key: &'static str,
    message: String,
}

impl ConfigError {
    /// An error about `key` (without the `source.ldap.` prefix).
    pub(crate) fn new(key: &'static str, message: impl Into<String>) -> Self {
        Self {
            key,
            message: message.into(),
        }
    }

    /// The key, without the `source.ldap.` prefix.
    pub fn key(&self) -> &'static str {
        self.key
    }
}

/// Whether the connection is encrypted, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transport {
    /// `ldap://` without StartTLS.
    Clear,
    /// `ldap://` upgraded with StartTLS.
    StartTls,
    /// `ldaps://`.
    Ldaps,
}

/// What a configuration is checked for, which decides the search bases it must name: the
/// source reads users and groups, the binder only looks users up, so a connection for logins
/// alone (`[auth.ldap]` beside a file source) need not name a group base.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Searches {
    /// The source's reads.
    UsersAndGroups,
    /// The binder's user lookup.
    Users,
}

/// The values a valid configuration yields beyond its plain fields, for the endpoint.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Checked {
    /// Clear, StartTLS or LDAPS.
    pub(crate) transport: Transport,
    /// The bind password, from the configuration or its file.
    pub(crate) password: Secret,
    /// `page_size` as the protocol's integer.
    pub(crate) page_size: i32,
}

impl LdapConfig {
    /// Checks everything that can be checked without a server and derives the values the
    /// endpoint needs; `valid_filter` is the LDAP filter parser. Every use checks the same keys
    /// (so a binder refuses what the source would), except the group base the binder never
    /// searches.
    pub(crate) fn check(
        &self,
        valid_filter: impl Fn(&str) -> bool,
        searches: Searches,
    ) -> Result<Checked, ConfigError> {
        let transport = self.transport()?;
        non_empty("bind_dn", &self.bind_dn)?;
        let password = self.password()?;
        non_empty("user_search_base", &self.user_search_base)?;
        if searches == Searches::UsersAndGroups {
            non_empty("group_search_base", &self.group_search_base)?;
        }
        let page_size = i32::try_from(self.page_size)
            .ok()
            .filter(|&n| n > 0)
            .ok_or_else(|| {
                ConfigError::new("page_size", format!("must be between 1 and {}", i32::MAX))
            })?;
        self.overlap()?;
        for (key, secs) in [
            ("connect_timeout_secs", self.connect_timeout_secs),
            ("timeout_secs", self.timeout_secs),
        ] {
            if secs == 0 {
                return Err(ConfigError::new(key, "must be at least 1"));
            }
        }
        let map = self.attribute_map();
        for (key, name) in [
            ("unique_id_attribute", &map.unique_id),
            ("user_id_attribute", &map.user_id),
            ("first_name_attribute", &map.first_name),
            ("last_name_attribute", &map.last_name),
            ("email_attribute", &map.email),
            ("group_id_attribute", &map.group_id),
            ("group_name_attribute", &map.group_name),
            ("group_member_attribute", &map.group_member),
            ("modify_timestamp_attribute", &self.modify_timestamp()),
        ] {
            non_empty(key, name)?;
        }
        self.check_active_directory()?;
        for (deltas, name, ids) in [
            (
                Deltas::Syncrepl,
                "syncrepl",
                &["entryUUID", "nsUniqueId"][..],
            ),
            (Deltas::Dirsync, "dirsync", &["objectGUID"][..]),
        ] {
            if self.deltas == deltas && !ids.iter().any(|id| map.unique_id.eq_ignore_ascii_case(id))
            {
                return Err(ConfigError::new(
                    "deltas",
                    format!(
                        "\"{name}\" identifies entries by their {}, but unique_id_attribute \
                         is \"{}\": use {} or deltas = \"timestamp\"",
                        ids.join(" or "),
                        map.unique_id,
                        ids.iter()
                            .map(|id| format!("\"{id}\""))
                            .collect::<Vec<_>>()
                            .join(" or ")
                    ),
                ));
            }
        }
        self.check_filters(valid_filter)?;
        self.warn_about_tls(transport);
        Ok(Checked {
            transport,
            password,
            page_size,
        })
    }

    /// `differential_overlap_secs` as the duration differential searches reach back by.
    ///
    /// # Errors
    /// More seconds than a duration holds.
    pub(crate) fn overlap(&self) -> Result<TimeDelta, ConfigError> {
        i64::try_from(self.differential_overlap_secs)
            .ok()
            .and_then(TimeDelta::try_seconds)
            .ok_or_else(|| ConfigError::new("differential_overlap_secs", "too large"))
    }

    fn check_filters(&self, valid_filter: impl Fn(&str) -> bool) -> Result<(), ConfigError> {
        let sample_time = "20000101000000Z";
        for (key, filter) in [
            ("user_filter", self.user_filter().to_owned()),
            ("group_filter", self.group_filter().to_owned()),
            (
                "user_differential_filter",
                self.user_differential().at(sample_time),
            ),
            (
                "group_differential_filter",
                self.group_differential().at(sample_time),
            ),
        ] {
            if !valid_filter(&filter) {
                return Err(ConfigError::new(
                    key,
                    format!("'{filter}' is not an LDAP search filter (RFC 4515)"),
                ));
            }
        }
        for (key, filter) in [
            ("user_differential_filter", &self.user_differential_filter),
            ("group_differential_filter", &self.group_differential_filter),
        ] {
            if filter
                .as_ref()
                .is_some_and(|f| !f.contains(TIME_PLACEHOLDER))
            {
                tracing::warn!(
                    "source.ldap.{key} has no {TIME_PLACEHOLDER}: every differential run reads \
                     the same entries"
                );
            }
        }
        Ok(())
    }

    /// Warns about TLS settings that weaken or do nothing.
    fn warn_about_tls(&self, transport: Transport) {
        if transport == Transport::Clear {
            if self.ca_file.is_some() || self.insecure_skip_verify {
                tracing::warn!(
                    url = %self.url,
                    "source.ldap.ca_file and insecure_skip_verify have no effect without \
                     ldaps:// or starttls"
                );
            }
        } else if self.insecure_skip_verify {
            tracing::warn!(
                url = %self.url,
                "source.ldap.insecure_skip_verify is on: the directory's certificate is not \
                 checked, so anyone in the network path can read the bind password"
            );
        }
    }

    /// The transport the URL and `starttls` ask for.
    /// A URL with credentials (`ldap://user:pw@host`) is refused without being quoted: the
    /// URL is the source's name in the run log.
    fn transport(&self) -> Result<Transport, ConfigError> {
        let (scheme, rest) = self.url.split_once("://").unzip();
        if rest.is_some_and(|rest| rest.split('/').next().is_some_and(|a| a.contains('@'))) {
            return Err(ConfigError::new(
                "url",
                "must not contain credentials; use bind_dn and bind_password",
            ));
        }
        match (
            scheme.map(str::to_ascii_lowercase).as_deref(),
            self.starttls,
        ) {
            (Some("ldap"), false) => Ok(Transport::Clear),
            (Some("ldap"), true) => Ok(Transport::StartTls),
            (Some("ldaps"), false) => Ok(Transport::Ldaps),
            (Some("ldaps"), true) => Err(ConfigError::new(
                "starttls",
                "cannot be combined with an ldaps:// URL, which is already encrypted",
            )),
            _ => Err(ConfigError::new(
                "url",
                format!("'{}' must start with ldap:// or ldaps://", self.url),
            )),
        }
    }

    /// The bind password from `bind_password` or `bind_password_file`; exactly one must be
    /// set, and it must not be empty: an empty password is an unauthenticated bind, which many
    /// servers accept and answer with an empty, "successful" search.
    fn password(&self) -> Result<Secret, ConfigError> {
        let password = match (&self.bind_password, &self.bind_password_file) {
            (Some(secret), None) => secret.clone(),
            (None, Some(path)) => {
                let text = read_secret_file(path).map_err(|e| {
                    ConfigError::new(
                        "bind_password_file",
                        format!("cannot read {}: {e}", path.display()),
                    )
                })?;
                Secret::new(text.trim_end_matches(['\n', '\r']))
            }
            (Some(_), Some(_)) => {
                return Err(ConfigError::new(
                    "bind_password",
                    "set bind_password or bind_password_file, not both",
                ))
            }
            (None, None) => {
                return Err(ConfigError::new(
                    "bind_password",
                    "required (or bind_password_file): anonymous binds are not supported",
                ))
            }
        };
        if password.expose().is_empty() {
            let key = if self.bind_password.is_some() {
                "bind_password"
            } else {
                "bind_password_file"
            };
            return Err(ConfigError::new(
                key,
                "must not be empty: an empty password is an unauthenticated bind",
            ));
        }
        Ok(password)
    }

    /// The checks of the Active Directory keys: a range size and transitive members only where
    /// AD answers them, transitive members only where members are DNs (the in-chain rule
    /// follows DN links), and a page size AD would cap anyway is worth a warning, not a failure.
    fn check_active_directory(&self) -> Result<(), ConfigError> {
        match (self.active_directory, self.range_size) {
            (false, Some(_)) => {
                return Err(ConfigError::new(
                    "range_size",
                    "applies only with active_directory = true",
                ))
            }
            (true, Some(0)) => return Err(ConfigError::new("range_size", "must be at least 1")),
            _ => {}
        }
        if self.transitive_members {
            if !self.active_directory {
                return Err(ConfigError::new(
                    "transitive_members",
                    "applies only with active_directory = true: it needs Active Directory's \
                     LDAP_MATCHING_RULE_IN_CHAIN",
                ));
            }
            if self.attribute_map().member_kind() != MemberKind::Dn {
                return Err(ConfigError::new(
                    "transitive_members",
                    "needs a group_member_attribute that holds DNs, not login ids",
                ));
            }
        }
        if self.active_directory && self.page_size > AD_MAX_PAGE_SIZE {
            tracing::warn!(
                page_size = self.page_size,
                "source.ldap.page_size is above Active Directory's default MaxPageSize \
                 ({AD_MAX_PAGE_SIZE}): the server returns smaller pages"
            );
        }
        Ok(())
    }

    /// The defaults of the configured kind of directory.
    fn defaults(&self) -> &'static Defaults {
        if self.active_directory {
            &ACTIVE_DIRECTORY
        } else {
            &OPENLDAP
        }
    }

    /// `user_filter`, or the directory's default.
    pub(crate) fn user_filter(&self) -> &str {
        or_default(&self.user_filter, self.defaults().user_filter)
    }

    /// `group_filter`, or the directory's default.
    pub(crate) fn group_filter(&self) -> &str {
        or_default(&self.group_filter, self.defaults().group_filter)
    }

    /// `modify_timestamp_attribute`, or the directory's default.
    pub(crate) fn modify_timestamp(&self) -> String {
        or_default(
            &self.modify_timestamp_attribute,
            self.defaults().modify_timestamp,
        )
        .to_owned()
    }

    /// The attribute mapping, each key given or defaulted.
    pub(crate) fn attribute_map(&self) -> AttributeMap {
        let d = self.defaults();
        let pick = |key: &Option<String>, default: &str| or_default(key, default).to_owned();
        AttributeMap {
            unique_id: pick(&self.unique_id_attribute, d.unique_id),
            user_id: pick(&self.user_id_attribute, d.user_id),
            first_name: pick(&self.first_name_attribute, d.first_name),
            last_name: pick(&self.last_name_attribute, d.last_name),
            email: pick(&self.email_attribute, d.email),
            group_id: pick(&self.group_id_attribute, d.group_id),
            group_name: pick(&self.group_name_attribute, d.group_name),
            group_member: pick(&self.group_member_attribute, d.group_member),
            account_control: self
                .active_directory
                .then(|| USER_ACCOUNT_CONTROL.to_owned()),
            locks: match (&self.lock_attribute, self.active_directory) {
                (Some(name), _) if name.trim().is_empty() => Vec::new(),
                (Some(name), _) => vec![name.trim().to_owned()],
                (None, true) => Vec::new(),
                (None, false) => LOCK_ATTRIBUTES.map(str::to_owned).to_vec(),
            },
            range_size: self
                .active_directory
                .then_some(self.range_size.unwrap_or(AD_MAX_VAL_RANGE)),
            computed: self.mapping.clone(),
        }
    }

    /// How differential runs select users.
    pub(crate) fn user_differential(&self) -> DifferentialFilter {
        self.differential(self.user_filter(), &self.user_differential_filter)
    }

    /// How differential runs select groups.
    pub(crate) fn group_differential(&self) -> DifferentialFilter {
        self.differential(self.group_filter(), &self.group_differential_filter)
    }

    fn differential(&self, filter: &str, explicit: &Option<String>) -> DifferentialFilter {
        match explicit {
            Some(template) => DifferentialFilter::Explicit(template.clone()),
            None => DifferentialFilter::Derived {
                filter: filter.to_owned(),
                attribute: self.modify_timestamp(),
            },
        }
    }
}

/// The lock attributes read outside Active Directory mode unless `lock_attribute` names one:
/// OpenLDAP's ppolicy and 389 Directory Server's; a directory without one simply has neither.
const LOCK_ATTRIBUTES: [&str; 2] = ["pwdAccountLockedTime", "nsAccountLock"];

/// Active Directory's default MaxPageSize: the most entries it returns per page.
const AD_MAX_PAGE_SIZE: u32 = 1000;
/// Active Directory's default MaxValRange: the most values of one attribute it returns per read.
const AD_MAX_VAL_RANGE: u32 = 1500;
/// The attribute whose ACCOUNTDISABLE bit (2) marks a disabled AD account.
const USER_ACCOUNT_CONTROL: &str = "userAccountControl";

/// The mapping defaults of one kind of directory: what an absent key means.
struct Defaults {
    user_filter: &'static str,
    group_filter: &'static str,
    unique_id: &'static str,
    user_id: &'static str,
    first_name: &'static str,
    last_name: &'static str,
    email: &'static str,
    group_id: &'static str,
    group_name: &'static str,
    group_member: &'static str,
    modify_timestamp: &'static str,
}

/// OpenLDAP (and 389-ds): inetOrgPerson users in groupOfNames, RFC 4530 entryUUID.
const OPENLDAP: Defaults = Defaults {
    user_filter: "(objectClass=inetOrgPerson)",
    group_filter: "(objectClass=groupOfNames)",
    unique_id: "entryUUID",
    user_id: "uid",
    first_name: "givenName",
    last_name: "sn",
    email: "mail",
    group_id: "cn",
    group_name: "cn",
    group_member: "member",
    modify_timestamp: "modifyTimestamp",
};

/// Active Directory. Computers are `objectClass=user` too, hence `objectCategory=person`;
/// Administrator, Guest, krbtgt and the built-in groups are critical system objects, which
/// an application has no business importing.
const ACTIVE_DIRECTORY: Defaults = Defaults {
    user_filter: "(&(objectCategory=person)(objectClass=user)(!(isCriticalSystemObject=TRUE)))",
    group_filter: "(&(objectClass=group)(!(isCriticalSystemObject=TRUE)))",
    unique_id: "objectGUID",
    user_id: "sAMAccountName",
    first_name: "givenName",
    last_name: "sn",
    email: "mail",
    group_id: "sAMAccountName",
    group_name: "cn",
    group_member: "member",
    modify_timestamp: "uSNChanged",
};

/// The configured value, or `default` when the key is absent.
fn or_default<'a>(key: &'a Option<String>, default: &'a str) -> &'a str {
    key.as_deref().unwrap_or(default)
}

fn non_empty(key: &'static str, value: &str) -> Result<(), ConfigError> {
    if value.trim().is_empty() {
        Err(ConfigError::new(key, "must not be empty"))
    } else {
        Ok(())
    }
}

/// Bytes a secret file may hold: a password, a token, never more.
const SECRET_FILE_MAX: u64 = 64 * 1024;

/// Reads a file that holds a secret, refusing what is not a regular file (a FIFO would hang
/// the start-up, `/dev/zero` would fill the memory) and what is larger than
/// [`SECRET_FILE_MAX`]. The error never quotes the content.
fn read_secret_file(path: &std::path::Path) -> std::io::Result<String> {
    use std::io::{Error, ErrorKind, Read};
    // Asked before opening: opening a FIFO blocks until something writes to it.
    if !std::fs::metadata(path)?.is_file() {
        return Err(Error::new(ErrorKind::InvalidInput, "not a regular file"));
    }
    let file = std::fs::File::open(path)?;
    let mut text = String::new();
    file.take(SECRET_FILE_MAX + 1).read_to_string(&mut text)?;
    if text.len() as u64 > SECRET_FILE_MAX {
        return Err(Error::new(
            ErrorKind::InvalidData,
            format!("larger than {} KiB: not a password", SECRET_FILE_MAX / 1024),
        ));
    }
    Ok(text)
}

#[cfg(test)]
pub(crate) mod tests {
    use std::io::Write as _;

    use super::*;

    /// A configuration that passes validation.
    pub(crate) fn valid() -> LdapConfig {
        LdapConfig {
            url: "ldap://localhost:389".into(),
            bind_dn: "cn=sync,dc=example,dc=com".into(),
            bind_password: Some(Secret::new("s3cret-pw")),
            user_search_base: "ou=people,dc=example,dc=com".into(),
            group_search_base: "ou=groups,dc=example,dc=com".into(),
            ..LdapConfig::default()
        }
    }

    /// A stand-in for the filter parser: balanced parentheses around the whole text.
    fn parenthesised(filter: &str) -> bool {
        filter.starts_with('(') && filter.ends_with(')')
    }

    fn check_key(config: LdapConfig, key: &str) {
        let error = config
            .check(parenthesised, Searches::UsersAndGroups)
            .expect_err("invalid configuration");
        assert_eq!(error.key(), key, "{error}");
        assert!(
            error
                .to_string()
                .starts_with(&format!("source.ldap.{key}: ")),
            "{error}"
        );
    }

    #[test]
    fn defaults_are_those_of_openldap() {
        let c: LdapConfig = serde_json::from_str(
            r#"{"url": "ldaps://dir:636", "bind_dn": "cn=sync", "bind_password": "pw",
                "user_search_base": "ou=people", "group_search_base": "ou=groups"}"#,
        )
        .expect("valid json");
        assert_eq!(
            c,
            LdapConfig {
                url: "ldaps://dir:636".into(),
                bind_dn: "cn=sync".into(),
                bind_password: Some(Secret::new("pw")),
                user_search_base: "ou=people".into(),
                group_search_base: "ou=groups".into(),
                ..LdapConfig::default()
            }
        );
        assert_eq!(
            (c.page_size, c.timeout_secs, c.connect_timeout_secs),
            (500, 60, 10)
        );
        assert_eq!(c.attribute_map().unique_id, "entryUUID");
        assert_eq!(c.transport(), Ok(Transport::Ldaps));
    }

    #[test]
    fn a_mapping_that_does_not_parse_is_refused_as_it_is_read_naming_the_place() {
        // The key is named by the reader of the whole configuration (the binary's settings).
        let read = |mapping: &str| {
            serde_json::from_str::<LdapConfig>(&format!(r#"{{"mapping": {mapping}}}"#))
        };
        let error = read(r#"{"login": "lowr(uid)"}"#).expect_err("an unknown function");
        assert!(error.to_string().contains("at character 1"), "{error}");
        let error =
            read(r#"{"email": "regex_replace(mail, \"(\", \"\")"}"#).expect_err("a broken regex");
        assert!(error.to_string().contains("at character 21"), "{error}");
        let good = LdapConfig {
            mapping: read(r#"{"login": "lower(uid)"}"#).expect("valid").mapping,
            ..valid()
        };
        assert!(good.check(parenthesised, Searches::UsersAndGroups).is_ok());
        assert!(good.attribute_map().computed.login.is_some());
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let e =
            serde_json::from_str::<LdapConfig>(r#"{"page_sise": 10}"#).expect_err("unknown key");
        assert!(e.to_string().contains("page_sise"), "{e}");
    }

    #[test]
    fn a_valid_configuration_passes() {
        assert_eq!(
            valid().check(parenthesised, Searches::UsersAndGroups),
            Ok(Checked {
                transport: Transport::Clear,
                password: Secret::new("s3cret-pw"),
                page_size: 500,
            })
        );
        assert_eq!(valid().overlap(), Ok(TimeDelta::seconds(300)));
        let starttls = LdapConfig {
            starttls: true,
            ..valid()
        };
        assert_eq!(starttls.transport(), Ok(Transport::StartTls));
    }

    #[test]
    fn invalid_configurations_name_their_key() {
        check_key(
            LdapConfig {
                url: "http://dir".into(),
                ..valid()
            },
            "url",
        );
        check_key(
            LdapConfig {
                url: String::new(),
                ..valid()
            },
            "url",
        );
        let with_credentials = LdapConfig {
            url: "ldap://admin:hunter2@dir:389/".into(),
            ..valid()
        };
        let error = with_credentials
            .check(parenthesised, Searches::UsersAndGroups)
            .expect_err("credentials");
        assert!(!error.to_string().contains("hunter2"), "{error}");
        check_key(with_credentials, "url");
        check_key(
            LdapConfig {
                url: "ldaps://dir".into(),
                starttls: true,
                ..valid()
            },
            "starttls",
        );
        check_key(
            LdapConfig {
                bind_dn: " ".into(),
                ..valid()
            },
            "bind_dn",
        );
        check_key(
            LdapConfig {
                bind_password: None,
                ..valid()
            },
            "bind_password",
        );
        check_key(
            LdapConfig {
                bind_password: Some(Secret::new("")),
                ..valid()
            },
            "bind_password",
        );
        check_key(
            LdapConfig {
                bind_password_file: Some("/etc/hostname".into()),
                ..valid()
            },
            "bind_password",
        );
        check_key(
            LdapConfig {
                bind_password: None,
                bind_password_file: Some("/nonexistent/pw".into()),
                ..valid()
            },
            "bind_password_file",
        );
        check_key(
            LdapConfig {
                page_size: 0,
                ..valid()
            },
            "page_size",
        );
        check_key(
            LdapConfig {
                page_size: u32::MAX,
                ..valid()
            },
            "page_size",
        );
        check_key(
            LdapConfig {
                differential_overlap_secs: u64::MAX,
                ..valid()
            },
            "differential_overlap_secs",
        );
        check_key(
            LdapConfig {
                timeout_secs: 0,
                ..valid()
            },
            "timeout_secs",
        );
        check_key(
            LdapConfig {
                connect_timeout_secs: 0,
                ..valid()
            },
            "connect_timeout_secs",
        );
        check_key(
            LdapConfig {
                user_search_base: String::new(),
                ..valid()
            },
            "user_search_base",
        );
        check_key(
            LdapConfig {
                group_search_base: String::new(),
                ..valid()
            },
            "group_search_base",
        );
        check_key(
            LdapConfig {
                user_id_attribute: Some(String::new()),
                ..valid()
            },
            "user_id_attribute",
        );
        check_key(
            LdapConfig {
                user_filter: Some("objectClass=person".into()),
                ..valid()
            },
            "user_filter",
        );
        check_key(
            LdapConfig {
                group_differential_filter: Some("x={0}".into()),
                ..valid()
            },
            "group_differential_filter",
        );
    }

    #[test]
    fn only_the_source_needs_a_group_base() {
        let logins_only = LdapConfig {
            group_search_base: String::new(),
            ..valid()
        };
        assert!(logins_only.check(parenthesised, Searches::Users).is_ok());
        let error = LdapConfig {
            user_search_base: String::new(),
            ..logins_only
        }
        .check(parenthesised, Searches::Users)
        .expect_err("no user base");
        assert_eq!(error.key(), "user_search_base");
    }

    #[test]
    fn transitive_members_need_active_directory_and_dn_members() {
        check_key(
            LdapConfig {
                transitive_members: true,
                ..valid()
            },
            "transitive_members",
        );
        check_key(
            LdapConfig {
                active_directory: true,
                transitive_members: true,
                group_member_attribute: Some("memberUid".into()),
                ..valid()
            },
            "transitive_members",
        );
        let ad = LdapConfig {
            active_directory: true,
            transitive_members: true,
            ..valid()
        };
        assert!(ad.check(parenthesised, Searches::UsersAndGroups).is_ok());
        let parsed: LdapConfig =
            serde_json::from_str(r#"{"transitive_members": true}"#).expect("valid json");
        assert!(parsed.transitive_members);
        assert!(!LdapConfig::default().transitive_members);
    }

    #[test]
    fn password_file_is_read_without_its_trailing_newline() {
        let mut file = tempfile::NamedTempFile::new().expect("temporary file");
        file.write_all(b"from file \r\n").expect("write");
        let c = LdapConfig {
            bind_password: None,
            bind_password_file: Some(file.path().to_owned()),
            ..valid()
        };
        assert_eq!(
            c.password().map(|p| p.expose().to_owned()),
            Ok("from file ".into())
        );

        let mut empty = tempfile::NamedTempFile::new().expect("temporary file");
        empty.write_all(b"\n").expect("write");
        check_key(
            LdapConfig {
                bind_password: None,
                bind_password_file: Some(empty.path().to_owned()),
                ..valid()
            },
            "bind_password_file",
        );
    }

    #[test]
    fn a_password_file_that_is_no_regular_file_or_too_large_is_refused_at_once() {
        // /dev/zero was once read until the memory ran out (23 GB); a FIFO hung the start-up.
        let dir = tempfile::tempdir().expect("temporary directory");
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .expect("mkfifo runs");
        assert!(made.success(), "mkfifo failed");
        let big = dir.path().join("big");
        std::fs::write(&big, vec![b'x'; 65 * 1024]).expect("write");
        for (path, reason) in [
            ("/dev/zero".into(), "not a regular file"),
            (fifo, "not a regular file"),
            (big, "larger than 64 KiB: not a password"),
        ] {
            let c = LdapConfig {
                bind_password: None,
                bind_password_file: Some(path),
                ..valid()
            };
            let err = c.password().expect_err("refused");
            assert_eq!(err.key, "bind_password_file");
            assert!(err.to_string().contains(reason), "{err}");
        }
    }

    #[test]
    fn secrets_never_print() {
        let c = valid();
        let printed = format!("{c:?}");
        assert!(!printed.contains("s3cret-pw"), "{printed}");
        assert!(printed.contains("***"), "{printed}");
        assert_eq!(format!("{:?}", Secret::new("x")), "***");
    }

    #[test]
    fn differential_filters_default_to_the_full_filter_and_the_timestamp() {
        let c = valid();
        assert_eq!(
            c.user_differential().at("20240101000000Z"),
            "(&(objectClass=inetOrgPerson)(modifyTimestamp>=20240101000000Z))"
        );
        let explicit = LdapConfig {
            group_differential_filter: Some(
                "(&(objectClass=posixGroup)(modifyTimestamp>={0}))".into(),
            ),
            modify_timestamp_attribute: Some("whenChanged".into()),
            ..valid()
        };
        assert_eq!(
            explicit.group_differential().at("20240101000000Z"),
            "(&(objectClass=posixGroup)(modifyTimestamp>=20240101000000Z))"
        );
        assert_eq!(
            explicit.user_differential().at("20240101000000Z"),
            "(&(objectClass=inetOrgPerson)(whenChanged>=20240101000000Z))"
        );
    }

    #[test]
    fn lock_attributes_default_per_directory_and_can_be_named_or_turned_off() {
        let locks = |lock_attribute: Option<&str>, active_directory: bool| {
            LdapConfig {
                lock_attribute: lock_attribute.map(str::to_owned),
                active_directory,
                ..valid()
            }
            .attribute_map()
            .locks
        };
        assert_eq!(
            locks(None, false),
            ["pwdAccountLockedTime", "nsAccountLock"]
        );
        assert!(
            locks(None, true).is_empty(),
            "AD's disabled flag decides there"
        );
        assert_eq!(locks(Some("nsAccountLock"), false), ["nsAccountLock"]);
        assert_eq!(locks(Some("lockedOut"), true), ["lockedOut"]);
        assert!(locks(Some(""), false).is_empty());
    }
}
