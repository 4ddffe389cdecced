//! Configuration: a TOML file, then `IDMSYNC__SECTION__KEY` environment variables on top.
//! Unknown keys and bad values are errors that name the key.

use std::path::{Path, PathBuf};

use config::{Config, Environment, File, FileFormat, Value, ValueKind};
use idmsync_domain::{MaxDeactivations, Reactivate};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer};

/// The whole configuration.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// `[database]`
    pub database: DatabaseSettings,
    /// `[sync]`
    #[serde(default)]
    pub sync: SyncSection,
    /// `[source]`
    pub source: SourceSettings,
    /// `[auth]`
    #[serde(default)]
    pub auth: AuthSettings,
    /// `[http]`, for `idmsync serve`.
    #[serde(default)]
    pub http: HttpSettings,
}

/// `[http]`: where `idmsync serve` listens.
#[derive(Debug, Deserialize)]
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
    /// Seconds a running sync may take to finish after SIGTERM before the process exits (its
    /// transaction then rolls back).
    pub shutdown_grace_secs: u64,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            metrics_listen: None,
            tls_cert: None,
            tls_key: None,
            shutdown_grace_secs: 30,
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
        let value = Value::deserialize(deserializer)?;
        if matches!(value.kind, ValueKind::Table(_)) {
            value
                .try_deserialize()
                .map(|c| Self::Connection(Box::new(c)))
                .map_err(D::Error::custom)
        } else {
            value.into_bool().map(Self::Flag).map_err(|_| {
                D::Error::custom("expected true, false or a table of [source.ldap] keys")
            })
        }
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
    /// The guard's limit: a count (`500`) or a share of active users (`"10%"`).
    pub max_deactivations: MaxDeactivations,
    /// `sync`, `any` or `none`.
    pub reactivate: Reactivate,
    /// Compare ids without regard to case.
    pub ignore_case: bool,
    /// When `serve` runs a full sync: six-field cron with seconds; `""` disables it.
    pub full_cron: String,
    /// When `serve` runs a differential sync; `""` disables it.
    pub differential_cron: String,
    /// IANA time zone of the schedules; UTC when empty.
    pub timezone: String,
}

impl Default for SyncSection {
    fn default() -> Self {
        Self {
            tenant: "default".into(),
            admins: Vec::new(),
            max_deactivations: MaxDeactivations::default(),
            reactivate: Reactivate::default(),
            ignore_case: false,
            full_cron: idmsync_scheduler::DEFAULT_FULL_CRON.into(),
            differential_cron: idmsync_scheduler::DEFAULT_DIFFERENTIAL_CRON.into(),
            timezone: String::new(),
        }
    }
}

/// `[source]`: which adapter, and its own section.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceSettings {
    /// The adapter.
    #[serde(rename = "type")]
    pub kind: SourceKind,
    /// `[source.file]`, for `type = "file"`.
    pub file: Option<FileSettings>,
    /// `[source.ldap]`, for `type = "ldap"`; the adapter owns the keys and their defaults.
    pub ldap: Option<idmsync_ldap::LdapConfig>,
}

/// Source adapters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    /// users.txt / groups.txt.
    File,
    /// An LDAP directory (OpenLDAP, 389-ds).
    Ldap,
}

/// `[source.file]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSettings {
    /// Path of users.txt.
    pub users: PathBuf,
    /// Path of groups.txt.
    pub groups: PathBuf,
}

/// A configuration problem; the binary exits with status 2.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct SettingsError(pub String);

impl Settings {
    /// Loads `path`, then the environment overrides.
    pub fn load(path: &Path) -> Result<Self, SettingsError> {
        Self::load_with(path, Environment::with_prefix("IDMSYNC"))
    }

    fn load_with(path: &Path, env: Environment) -> Result<Self, SettingsError> {
        if !path.is_file() {
            return Err(SettingsError(format!(
                "{} not found (use --config FILE or IDMSYNC_CONFIG)",
                path.display()
            )));
        }
        let config = Config::builder()
            .add_source(File::from(path).format(FileFormat::Toml))
            .add_source(
                env.prefix_separator("__")
                    .separator("__")
                    .try_parsing(true)
                    .list_separator(",")
                    .with_list_parse_key("sync.admins"),
            )
            .build()
            .and_then(merge_auth_ldap)
            .map_err(|e| SettingsError(e.to_string()))?;
        config
            .try_deserialize::<Settings>()
            .map_err(|e| SettingsError(format!("{e} (in {} or the environment)", path.display())))
    }
}

/// Puts `[source.ldap]` under an `[auth.ldap]` table, key by key, so that the table
/// deserialises to the complete connection settings for logins. A flag `auth.ldap` (or none)
/// is left alone.
fn merge_auth_ldap(config: Config) -> Result<Config, config::ConfigError> {
    let Ok(overrides) = config.get_table("auth.ldap") else {
        return Ok(config);
    };
    let mut merged = config.get_table("source.ldap").unwrap_or_default();
    merged.extend(overrides);
    Config::builder()
        .add_source(config)
        .set_override("auth.ldap", merged)?
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn load(toml: &str, env: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("c.toml");
        std::fs::write(&path, toml).expect("write");
        let vars: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::load_with(
            &path,
            Environment::with_prefix("IDMSYNC").source(Some(vars)),
        )
    }

    const BASE: &str = r#"
        [database]
        url = "sqlite://x.db"
        [source]
        type = "file"
        [source.file]
        users = "u.txt"
        groups = "g.txt"
    "#;

    #[test]
    fn the_shipped_default_loads() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/default.toml");
        let s = Settings::load_with(
            &path,
            Environment::with_prefix("IDMSYNC").source(Some(HashMap::new())),
        )
        .expect("default config");
        assert_eq!(s.source.kind, SourceKind::File);
        assert_eq!(s.sync.admins, vec!["jlennon".to_string()]);
    }

    #[test]
    fn environment_overrides_any_key() {
        let s = load(
            BASE,
            &[
                ("IDMSYNC__DATABASE__URL", "sqlite://other.db"),
                ("IDMSYNC__SYNC__MAX_DEACTIVATIONS", "25%"),
                ("IDMSYNC__SYNC__ADMINS", "a,b"),
                ("IDMSYNC__SYNC__IGNORE_CASE", "true"),
            ],
        )
        .expect("settings");
        assert_eq!(s.database.url, "sqlite://other.db");
        assert_eq!(s.sync.max_deactivations, MaxDeactivations::Percent(25.0));
        assert_eq!(s.sync.admins, vec!["a".to_string(), "b".to_string()]);
        assert!(s.sync.ignore_case);
    }

    #[test]
    fn unknown_keys_are_named() {
        let err =
            load(&format!("{BASE}\n[sync]\nmax_deactivation = 3\n"), &[]).expect_err("unknown key");
        assert!(err.0.contains("max_deactivation"), "{err}");
    }

    #[test]
    fn bad_values_are_named() {
        let err = load(
            &format!("{BASE}\n[sync]\nmax_deactivations = \"lots\"\n"),
            &[],
        )
        .expect_err("bad value");
        assert!(err.0.contains("max_deactivations"), "{err}");
        let err = load(
            &format!("{BASE}\n[sync]\nreactivate = \"sometimes\"\n"),
            &[],
        )
        .expect_err("bad value");
        assert!(err.0.contains("reactivate"), "{err}");
    }

    const LDAP: &str = r#"
        [database]
        url = "sqlite://x.db"
        [source]
        type = "ldap"
        [source.ldap]
        url = "ldap://dir:389"
        bind_dn = "cn=sync,dc=example,dc=com"
        bind_password = "sync-secret"
        user_search_base = "ou=people,dc=example,dc=com"
        group_search_base = "ou=groups,dc=example,dc=com"
    "#;

    #[test]
    fn auth_defaults_leave_the_method_to_the_source() {
        let s = load(BASE, &[]).expect("settings");
        assert_eq!(s.auth.ldap, None);
        assert!(!s.auth.database_fallback);
        assert!(s.auth.case_sensitive);
        assert_eq!((s.auth.max_failures, s.auth.lockout_secs), (5, 300));
        assert_eq!(s.auth.dn_pattern, "");
    }

    #[test]
    fn auth_ldap_is_a_flag_or_a_table_merged_over_the_source_connection() {
        let s = load(&format!("{LDAP}\n[auth]\nldap = false\n"), &[]).expect("flag");
        assert_eq!(s.auth.ldap, Some(LdapSwitch::Flag(false)));

        let s = load(
            &format!("{LDAP}\n[auth.ldap]\nurl = \"ldaps://dc:636\"\ntimeout_secs = 5\n"),
            &[],
        )
        .expect("table");
        let Some(LdapSwitch::Connection(c)) = s.auth.ldap else {
            panic!("expected a connection, got {:?}", s.auth.ldap);
        };
        assert_eq!(c.url, "ldaps://dc:636");
        assert_eq!(c.timeout_secs, 5);
        assert_eq!(c.bind_dn, "cn=sync,dc=example,dc=com", "from [source.ldap]");
        assert_eq!(c.user_search_base, "ou=people,dc=example,dc=com");
        let source = s.source.ldap.expect("source");
        assert_eq!(source.url, "ldap://dir:389", "the source keeps its own");

        let s = load(
            &format!("{LDAP}\n[auth.ldap]\nurl = \"ldaps://dc:636\"\n"),
            &[("IDMSYNC__AUTH__LDAP", "false")],
        )
        .expect("env flag");
        assert_eq!(s.auth.ldap, Some(LdapSwitch::Flag(false)));
    }

    #[test]
    fn bad_auth_values_are_named() {
        let err = load(&format!("{BASE}\n[auth]\nldap = \"maybe\"\n"), &[]).expect_err("bad");
        assert!(err.0.contains("auth.ldap"), "{err}");
        let err = load(&format!("{LDAP}\n[auth.ldap]\nurll = \"x\"\n"), &[]).expect_err("bad");
        assert!(err.0.contains("urll"), "{err}");
        let err = load(&format!("{BASE}\n[auth]\nmax_failures = -1\n"), &[]).expect_err("bad");
        assert!(err.0.contains("max_failures"), "{err}");
        let err = load(&format!("{BASE}\n[auth]\nfallback = true\n"), &[]).expect_err("bad");
        assert!(err.0.contains("fallback"), "{err}");
    }

    #[test]
    fn a_missing_file_is_a_clear_error() {
        let err = Settings::load(Path::new("/nonexistent/idmsync.toml")).expect_err("missing");
        assert!(err.0.contains("/nonexistent/idmsync.toml"), "{err}");
    }
}
