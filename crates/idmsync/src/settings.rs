//! Configuration: a TOML file, then `IDMSYNC__SECTION__KEY` environment variables on top.
//! Unknown keys and bad values are errors that name the key, the value and what it may be
//! (see `strict`).

mod strict;

use std::fmt;
use std::path::{Path, PathBuf};

use config::{Config, ConfigError, Environment, File, FileFormat};
use idmsync_domain::{MaxDeactivations, OnConflict, OnUnreadable, Reactivate};
use serde::de::{self, MapAccess, Unexpected, Visitor};
use serde::{Deserialize, Deserializer};

/// The prefix of the environment variables that override keys (`IDMSYNC__DATABASE__URL`).
const ENV_PREFIX: &str = "IDMSYNC";

/// The configuration file as written: one tenant's `[sync]`, `[source]` and `[auth]` at the
/// top, or several tenants under `[tenants.NAME]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    #[serde(default)]
    database: DatabaseSettings,
    sync: Option<SyncSection>,
    source: Option<SourceSettings>,
    #[serde(default)]
    sources: Vec<SourceSettings>,
    auth: Option<AuthSettings>,
    #[serde(default)]
    http: HttpSettings,
    #[serde(default)]
    tenants: std::collections::BTreeMap<String, TenantSection>,
}

/// `[tenants.NAME]`: one tenant's own source, sync and login settings.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TenantSection {
    #[serde(default)]
    sync: SyncSection,
    source: Option<SourceSettings>,
    #[serde(default)]
    sources: Vec<SourceSettings>,
    #[serde(default)]
    auth: AuthSettings,
}

impl ConfigFile {
    /// The settings of one tenant: `wanted` (`--tenant`), else the only one there is.
    fn select(self, wanted: Option<&str>) -> Result<Settings, SettingsError> {
        let Self {
            database,
            sync,
            source,
            sources,
            auth,
            http,
            mut tenants,
        } = self;
        if tenants.is_empty() {
            let sync = sync.unwrap_or_default();
            if let Some(wanted) = wanted.filter(|w| *w != sync.tenant) {
                return Err(SettingsError(format!(
                    "--tenant {wanted}: no such tenant; this configuration has one, {:?}                      (sync.tenant)",
                    sync.tenant
                )));
            }
            let sources = one_or_several(source, sources, "", &sync)?;
            let auth = auth.unwrap_or_default();
            return Ok(Settings {
                database,
                sync,
                sources,
                auth,
                http,
            });
        }
        for (key, present) in [
            ("sync", sync.is_some()),
            ("source", source.is_some()),
            ("sources", !sources.is_empty()),
            ("auth", auth.is_some()),
        ] {
            if present {
                return Err(SettingsError(format!(
                    "{key}: with [tenants.*] each tenant has its own; move [{key}] under                      [tenants.NAME.{key}]"
                )));
            }
        }
        let names = || {
            tenants
                .keys()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        };
        let name = match wanted {
            Some(wanted) if tenants.contains_key(wanted) => wanted.to_string(),
            Some(wanted) => {
                return Err(SettingsError(format!(
                    "--tenant {wanted}: no such tenant; the configuration has {}",
                    names()
                )))
            }
            None if tenants.len() == 1 => tenants.keys().next().cloned().unwrap_or_default(),
            None => {
                return Err(SettingsError(format!(
                    "this configuration has several tenants ({}): choose one with --tenant NAME",
                    names()
                )))
            }
        };
        let Some(TenantSection {
            mut sync,
            source,
            sources,
            auth,
        }) = tenants.remove(&name)
        else {
            return Err(SettingsError(format!("--tenant {name}: no such tenant")));
        };
        if sync.tenant != SyncSection::default().tenant && sync.tenant != name {
            return Err(SettingsError(format!(
                "tenants.{name}.sync.tenant: the tenant is named by its table ({name}); leave                  sync.tenant out"
            )));
        }
        let sources = one_or_several(source, sources, &format!("tenants.{name}."), &sync)?;
        sync.tenant = name;
        Ok(Settings {
            database,
            sync,
            sources,
            auth,
            http,
        })
    }

    /// The names of the tenants under `[tenants]`; none for a one-tenant file.
    fn tenant_names(&self) -> Vec<String> {
        self.tenants.keys().cloned().collect()
    }
}

/// A tenant's `[source]`, or its `[[sources]]` in order of precedence, checked: one of the
/// two; several sources each named, once, and none pushed to (SCIM); `sync.match_by` only with
/// several. `prefix` is where the tenant's keys are (`tenants.acme.`).
fn one_or_several(
    source: Option<SourceSettings>,
    sources: Vec<SourceSettings>,
    prefix: &str,
    sync: &SyncSection,
) -> Result<Vec<SourceSettings>, SettingsError> {
    let sources = match (source, sources.len()) {
        (Some(_), 1..) => {
            return Err(SettingsError(format!(
                "{prefix}sources: a tenant has [{prefix}source] or [[{prefix}sources]], not \
                 both; move the [source] into the list where its precedence belongs"
            )))
        }
        (Some(source), _) => {
            if source.name.is_some() {
                return Err(SettingsError(format!(
                    "{prefix}source.name: only the entries of [[{prefix}sources]] are named; \
                     remove it"
                )));
            }
            vec![source]
        }
        (None, 0) => {
            return Err(SettingsError(format!(
                "{prefix}source: missing; add [{prefix}source] with its type (file, ldap, scim), \
                 or [[{prefix}sources]] for several merged in order of precedence{}",
                if prefix.is_empty() {
                    ", or [tenants.NAME.source] for each tenant"
                } else {
                    ""
                }
            )))
        }
        (None, _) => sources,
    };
    if sources.len() == 1 {
        if sync.match_by.is_some() {
            return Err(SettingsError(format!(
                "{prefix}sync.match_by: only applies to a tenant with several sources; remove it"
            )));
        }
        if let Some(table) = sources[0]
            .match_mapping()
            .filter(|(_, set)| *set)
            .map(|(t, _)| t)
        {
            return Err(SettingsError(format!(
                "{prefix}source.{table}.mapping.match: only applies to a tenant with several \
                 sources; remove it"
            )));
        }
        return Ok(sources);
    }
    let mut names = std::collections::HashSet::new();
    for (i, source) in sources.iter().enumerate() {
        let key = format!("{prefix}sources[{i}]");
        let Some(name) = source.name.as_deref() else {
            return Err(SettingsError(format!(
                "{key}.name: missing; each of several sources is named (\"employees\"), for the \
                 run log and for the links between its entries and the tenant's users"
            )));
        };
        let word = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
        if name.is_empty() || name.len() > 64 || !name.chars().all(word) {
            return Err(SettingsError(format!(
                "{key}.name: {name:?} is not a name; use letters, digits, '-' and '_' (at most \
                 64)"
            )));
        }
        if !names.insert(name) {
            return Err(SettingsError(format!(
                "{key}.name: {name:?} names two sources; each needs its own name"
            )));
        }
        if source.kind == SourceKind::Scim {
            return Err(SettingsError(format!(
                "{key}.type: a SCIM source is pushed to by an identity provider and cannot be \
                 merged with others; give it a tenant of its own"
            )));
        }
        let by_mapping = sync.match_by == Some(idmsync_source_merge::MatchBy::Mapping);
        match source.match_mapping() {
            Some((table, false)) if by_mapping => {
                return Err(SettingsError(format!(
                    "{key}.{table}.mapping.match: missing; with sync.match_by = \"mapping\" \
                     every source says what people are matched by (an employee number: \
                     match = \"employeeNumber\")"
                )))
            }
            Some((table, true)) if !by_mapping => {
                return Err(SettingsError(format!(
                    "{key}.{table}.mapping.match: only used with sync.match_by = \"mapping\"; \
                     set that, or remove this key"
                )))
            }
            _ => {}
        }
    }
    Ok(sources)
}

/// One tenant's configuration: the shared `[database]` and `[http]`, and the tenant's
/// `[sync]`, `[source]` (or `[[sources]]`) and `[auth]`.
#[derive(Debug)]
pub struct Settings {
    /// `[database]`; the embedded default when absent.
    pub database: DatabaseSettings,
    /// `[sync]`
    pub sync: SyncSection,
    /// `[source]`, or `[[sources]]` highest precedence first: never empty.
    pub sources: Vec<SourceSettings>,
    /// `[auth]`
    pub auth: AuthSettings,
    /// `[http]`, for `idmsync serve`.
    pub http: HttpSettings,
}

/// `[http]`: where `idmsync serve` listens. `Clone` because every tenant's settings carry the
/// configuration's one `[http]`, which a several-tenant `serve` takes once for them all.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpSettings {
    /// Address of the REST API (and of health and metrics unless `metrics_listen` is set).
    pub listen: String,
    /// Separate address for `/health/*` and `/metrics`, so they can stay internal.
    pub metrics_listen: Option<String>,
    /// PEM certificate chain; with `tls_key`, the API speaks HTTPS.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key.
    pub tls_key: Option<PathBuf>,
    /// Seconds a client has for its TLS handshake and each request's headers.
    pub header_timeout_secs: u64,
    /// Connections each listener serves at once.
    pub max_connections: u32,
    /// Seconds a running sync may take to finish after SIGTERM before the process exits (its
    /// transaction then rolls back).
    pub shutdown_grace_secs: u64,
    /// Serve the operator's console at `/` on `listen`.
    pub console: bool,
    /// Minutes without a request after which a console session ends.
    pub console_idle_mins: u64,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            metrics_listen: None,
            tls_cert: None,
            tls_key: None,
            header_timeout_secs: 10,
            max_connections: 512,
            shutdown_grace_secs: 30,
            console: true,
            console_idle_mins: 30,
        }
    }
}

/// `[auth]`: how logins are checked (REST API Basic auth, `idmsync auth check`). See
/// `docs/security.md` for what each key defends against.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthSettings {
    /// Whether passwords are checked by binding to the directory; unset means yes with an LDAP
    /// source, no otherwise (the local database password is then the method).
    pub ldap: Option<LdapSwitch>,
    /// The user's DN with `{0}` for the login; empty to search for the user instead.
    pub dn_pattern: String,
    /// Bind as `login@domain` (Active Directory's userPrincipalName); empty for a DN.
    pub active_directory_domain: String,
    /// With `ldap`, also accept the local database password of users that have one.
    pub database_fallback: bool,
    /// What people type as their login.
    pub login: LoginKind,
    /// Whether logins differing only in case are different.
    pub case_sensitive: bool,
    /// Failures of one login, each within `lockout_secs` of the previous, that lock it; 0
    /// turns throttling off.
    pub max_failures: u32,
    /// How long a locked login is refused.
    pub lockout_secs: u64,
    /// The key of the password checks beside the stored hashes, kept out of the database so
    /// that a stolen database gives nothing fast to guess against; made on first use by a sync
    /// whose source gives passwords (the file source).
    pub password_key_file: PathBuf,
}

impl Default for AuthSettings {
    fn default() -> Self {
        let throttle = idmsync_auth::ThrottleOptions::default();
        Self {
            ldap: None,
            dn_pattern: String::new(),
            active_directory_domain: String::new(),
            database_fallback: false,
            login: LoginKind::ExternalId,
            case_sensitive: true,
            max_failures: throttle.max_failures,
            lockout_secs: throttle.lockout.as_secs(),
            password_key_file: "data/password.key".into(),
        }
    }
}

/// `auth.ldap`: in TOML a key cannot be both a flag and a section, so it is either
/// `ldap = true | false`, or an `[auth.ldap]` table of `[source.ldap]` keys, which turns the
/// directory check on and overrides the source's connection settings for logins (already
/// merged over `[source.ldap]` when loaded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LdapSwitch {
    /// `ldap = true | false`: bind with the `[source.ldap]` connection, or not at all.
    Flag(bool),
    /// `[auth.ldap]`: bind with these settings.
    Connection(Box<idmsync_ldap::LdapConfig>),
}

impl<'de> Deserialize<'de> for LdapSwitch {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(LdapSwitchVisitor)
    }
}

/// Reads `auth.ldap` by what was written: a flag (`true` in TOML, or the text of an
/// environment variable) or a table.
struct LdapSwitchVisitor;

impl<'de> Visitor<'de> for LdapSwitchVisitor {
    type Value = LdapSwitch;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("true, false or a table of [source.ldap] keys")
    }

    fn visit_bool<E: de::Error>(self, flag: bool) -> Result<LdapSwitch, E> {
        Ok(LdapSwitch::Flag(flag))
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<LdapSwitch, E> {
        match text.trim() {
            t if t.eq_ignore_ascii_case("true") => Ok(LdapSwitch::Flag(true)),
            t if t.eq_ignore_ascii_case("false") => Ok(LdapSwitch::Flag(false)),
            _ => Err(E::invalid_value(Unexpected::Str(text), &self)),
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<LdapSwitch, A::Error> {
        let connection =
            idmsync_ldap::LdapConfig::deserialize(de::value::MapAccessDeserializer::new(map))?;
        Ok(LdapSwitch::Connection(Box::new(connection)))
    }
}

/// `auth.login`
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoginKind {
    /// The user's external id (`jlennon`).
    ExternalId,
    /// The user's e-mail address.
    Email,
}

/// `[database]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    /// `sqlite://path` (relative to the working directory), `sqlite:///absolute/path`,
    /// `postgres://user:password@host:port/database` or `mysql://user:password@host:port/database`.
    #[serde(default = "default_database_url")]
    pub url: String,
    /// Connections the pool keeps at most.
    #[serde(default = "default_pool_size")]
    pub pool_size: u32,
    /// Seconds to wait for a connection.
    #[serde(default = "default_connect_timeout_secs")]
    pub connect_timeout_secs: u64,
    /// Seconds a SQLite run lock stays valid without a heartbeat (a dead holder frees it after
    /// this long); PostgreSQL and MariaDB locks end with their session.
    #[serde(default = "default_lock_lease_secs")]
    pub lock_lease_secs: u64,
}

impl Default for DatabaseSettings {
    /// The embedded SQLite file of docs/configuration.md, relative to the working directory.
    fn default() -> Self {
        Self {
            url: default_database_url(),
            pool_size: default_pool_size(),
            connect_timeout_secs: default_connect_timeout_secs(),
            lock_lease_secs: default_lock_lease_secs(),
        }
    }
}

fn default_database_url() -> String {
    "sqlite://data/idmsync.db".into()
}

fn default_pool_size() -> u32 {
    4
}

fn default_connect_timeout_secs() -> u64 {
    10
}

fn default_lock_lease_secs() -> u64 {
    60
}

/// `[sync]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SyncSection {
    /// The tenant synchronised.
    pub tenant: String,
    /// Tenant administrators (external ids, or DNs for LDAP).
    pub admins: Vec<String>,
    /// Tenant managers (logins of this tenant, the original's `tenantManagerDn`): they may use
    /// the REST API of every tenant `serve` serves, signing in with this tenant's password.
    pub managers: Vec<String>,
    /// The guard's limit: a count (`500`) or a share of active users (`"10%"`).
    pub max_deactivations: MaxDeactivations,
    /// `sync`, `any` or `none`.
    pub reactivate: Reactivate,
    /// Compare ids without regard to case.
    pub ignore_case: bool,
    /// `fail` or `skip`: two source entries claiming one identity.
    pub on_conflict: OnConflict,
    /// `fail` or `keep`: entries a full read could not read.
    pub on_unreadable: OnUnreadable,
    /// When `serve` runs a full sync: six-field cron with seconds; `""` disables it.
    pub full_cron: String,
    /// When `serve` runs a differential sync; `""` disables it.
    pub differential_cron: String,
    /// IANA time zone of the schedules; UTC when empty.
    pub timezone: String,
    /// `serve` follows the source's changes as they happen (RFC 4533 refreshAndPersist, or
    /// DirSync polls on Active Directory) and applies them in batches, beside the schedules.
    pub live: bool,
    /// At most one live batch per this many milliseconds.
    pub live_batch_ms: u64,
    /// Live sync by DirSync reads the changes every this many seconds.
    pub live_interval_secs: u64,
    /// With several sources: what makes two sources' entries one person (`email`, `login`).
    pub match_by: Option<idmsync_source_merge::MatchBy>,
}

impl Default for SyncSection {
    fn default() -> Self {
        Self {
            tenant: "default".into(),
            admins: Vec::new(),
            managers: Vec::new(),
            max_deactivations: MaxDeactivations::default(),
            reactivate: Reactivate::default(),
            ignore_case: false,
            on_conflict: OnConflict::default(),
            on_unreadable: OnUnreadable::default(),
            full_cron: idmsync_scheduler::DEFAULT_FULL_CRON.into(),
            differential_cron: idmsync_scheduler::DEFAULT_DIFFERENTIAL_CRON.into(),
            timezone: String::new(),
            live: false,
            live_batch_ms: 500,
            live_interval_secs: idmsync_ldap::DEFAULT_POLL.as_secs(),
            match_by: None,
        }
    }
}

/// `[source]`: which adapter, and its own section.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceSettings {
    /// Its name, in a tenant's `[[sources]]`.
    pub name: Option<String>,
    /// The adapter.
    #[serde(rename = "type")]
    pub kind: SourceKind,
    /// `[source.file]`, for `type = "file"`.
    pub file: Option<FileSettings>,
    /// `[source.ldap]`, for `type = "ldap"`; the adapter owns the keys and their defaults.
    pub ldap: Option<idmsync_ldap::LdapConfig>,
    /// `[source.scim]`, for `type = "scim"`.
    pub scim: Option<ScimSettings>,
}

impl SourceSettings {
    /// The adapter's table and whether its mapping has a `match` expression; `None` for a
    /// source without a mapping (SCIM) or without its table.
    fn match_mapping(&self) -> Option<(&'static str, bool)> {
        match self.kind {
            SourceKind::Ldap => self
                .ldap
                .as_ref()
                .map(|l| ("ldap", l.mapping.match_value.is_some())),
            SourceKind::File => self
                .file
                .as_ref()
                .map(|f| ("file", f.mapping.match_value.is_some())),
            SourceKind::Scim => None,
        }
    }
}

/// `[source.scim]`: how identity providers push to `idmsync serve` (see docs/scim.md).
#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScimSettings {
    /// Bearer tokens the providers present; prefer `token_file`, which keeps them out of the
    /// configuration file.
    pub tokens: Vec<String>,
    /// A file with one token per line (blank lines and `#` comments ignored).
    pub token_file: Option<PathBuf>,
    /// Milliseconds a batch collects requests after its first: requests within it share one
    /// transaction and one run.
    pub batch_ms: u64,
    /// The endpoints' public address (`https://idm.example.com/scim/v2`), for `meta.location`
    /// behind a proxy; `http://` + `http.listen` + `/scim/v2` when unset.
    pub base_url: Option<String>,
    /// The most resources one list answers (`filter.maxResults`).
    pub max_results: usize,
    /// Seconds over which the guard counts SCIM deactivations against
    /// `sync.max_deactivations`.
    pub guard_window_secs: u64,
}

impl Default for ScimSettings {
    fn default() -> Self {
        Self {
            tokens: Vec::new(),
            token_file: None,
            batch_ms: 20,
            base_url: None,
            max_results: 1000,
            guard_window_secs: 3600,
        }
    }
}

/// Tokens are secrets: only how many there are is shown.
impl fmt::Debug for ScimSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScimSettings")
            .field("tokens", &format_args!("{} token(s)", self.tokens.len()))
            .field("token_file", &self.token_file)
            .field("batch_ms", &self.batch_ms)
            .field("base_url", &self.base_url)
            .field("max_results", &self.max_results)
            .field("guard_window_secs", &self.guard_window_secs)
            .finish()
    }
}

/// Source adapters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    /// users.txt / groups.txt.
    File,
    /// An LDAP directory (OpenLDAP, 389-ds).
    Ldap,
    /// Identity providers push users and groups to `idmsync serve` (SCIM 2.0).
    Scim,
}

/// `[source.file]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSettings {
    /// Path of users.txt.
    pub users: PathBuf,
    /// Path of groups.txt.
    pub groups: PathBuf,
    /// `[source.file.mapping]`: fields computed from a line's columns.
    #[serde(default)]
    pub mapping: idmsync_source_file::FileMapping,
}

/// A configuration problem; the binary exits with status 2.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct SettingsError(pub String);

impl Settings {
    /// The tenant's source: the only one, or the one of highest precedence.
    pub fn source(&self) -> &SourceSettings {
        &self.sources[0]
    }

    /// Loads `path`, then the environment overrides, and selects the tenant `tenant`
    /// (`--tenant`), or the only one the file has.
    pub fn load(path: &Path, tenant: Option<&str>) -> Result<Self, SettingsError> {
        Self::load_with(path, Environment::with_prefix(ENV_PREFIX))?.select(tenant)
    }

    /// The tenants `path` configures under `[tenants]`, by name; none for a one-tenant file.
    pub fn tenant_names(path: &Path) -> Result<Vec<String>, SettingsError> {
        Ok(Self::load_with(path, Environment::with_prefix(ENV_PREFIX))?.tenant_names())
    }

    /// `toml` as a configuration file with exactly the environment variables `env`, for the
    /// tests of the settings and of the checks that follow them.
    #[cfg(test)]
    pub(crate) fn from_text(toml: &str, env: &[(&str, &str)]) -> Result<Self, SettingsError> {
        Self::tenant_from_text(toml, env, None)
    }

    /// As [`Settings::from_text`], selecting `tenant`.
    #[cfg(test)]
    pub(crate) fn tenant_from_text(
        toml: &str,
        env: &[(&str, &str)],
        tenant: Option<&str>,
    ) -> Result<Self, SettingsError> {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("c.toml");
        std::fs::write(&path, toml).expect("write");
        let vars: std::collections::HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Self::load_with(
            &path,
            Environment::with_prefix("IDMSYNC").source(Some(vars)),
        )?
        .select(tenant)
    }

    /// Environment variables are read as text (no `try_parsing`): the key's type decides
    /// whether `007` is a number or a password, and a list's commas are split by the strict
    /// reader, which also trims the items.
    fn load_with(path: &Path, env: Environment) -> Result<ConfigFile, SettingsError> {
        if !path.is_file() {
            return Err(SettingsError(format!(
                "{} not found (use --config FILE or IDMSYNC_CONFIG)",
                path.display()
            )));
        }
        let config = Config::builder()
            .add_source(File::from(path).format(FileFormat::Toml))
            .add_source(env.prefix_separator("__").separator("__"))
            .build()
            .and_then(merge_auth_ldap)
            .map_err(unreadable)?;
        strict::from_config(config)
            .map_err(|e| SettingsError(format!("{e} ({})", e.place(path, ENV_PREFIX))))
    }
}

/// A file that cannot be read as TOML, said without the excerpt of the file that the toml
/// crate prints under its message: the broken line is typically a value missing its closing
/// quote, which may be a password, and error output ends up in logs.
fn unreadable(error: ConfigError) -> SettingsError {
    let ConfigError::FileParse { uri, cause } = error else {
        return SettingsError(error.to_string());
    };
    let excerpt = |line: &&str| {
        line.trim_start_matches(|c: char| c.is_ascii_digit() || c == ' ')
            .starts_with('|')
    };
    let text = cause.to_string();
    let message: Vec<&str> = text
        .lines()
        .filter(|line| !line.trim().is_empty() && !excerpt(line))
        .map(str::trim)
        .collect();
    let file = uri.unwrap_or_else(|| "the configuration file".into());
    SettingsError(format!("{file}: {}", message.join(": ")))
}

/// Puts `[source.ldap]` (or the first LDAP source's) under an `[auth.ldap]` table, key by key, so that the table
/// deserialises to the complete connection settings for logins. A flag `auth.ldap` (or none)
/// is left alone.
/// The same for each `[tenants.NAME]`.
fn merge_auth_ldap(config: Config) -> Result<Config, ConfigError> {
    let tenants = config.get_table("tenants").unwrap_or_default();
    let prefixes =
        std::iter::once(String::new()).chain(tenants.keys().map(|name| format!("tenants.{name}.")));
    let mut builder = Config::builder().add_source(config.clone());
    let mut changed = false;
    for prefix in prefixes {
        let Ok(overrides) = config.get_table(&format!("{prefix}auth.ldap")) else {
            continue;
        };
        // With several sources, the first LDAP one is the directory logins bind to.
        let first_ldap = || {
            config
                .get_array(&format!("{prefix}sources"))
                .unwrap_or_default()
                .into_iter()
                .filter_map(|s| s.into_table().ok())
                .find_map(|mut s| s.remove("ldap").and_then(|l| l.into_table().ok()))
        };
        let mut merged = config
            .get_table(&format!("{prefix}source.ldap"))
            .ok()
            .or_else(first_ldap)
            .unwrap_or_default();
        merged.extend(overrides);
        builder = builder.set_override(format!("{prefix}auth.ldap"), merged)?;
        changed = true;
    }
    if changed {
        builder.build()
    } else {
        Ok(config)
    }
}

#[cfg(test)]
mod tests;
