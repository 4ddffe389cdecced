//! Wiring: builds the adapters that the configuration names and hands them to the engine.
//! Swapping an adapter is a configuration change; this is the only place that knows them all.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use idmsync_auth::{
    Argon2Hasher, LoginOptions, LoginService, PasswordCheck, PasswordKey, ThrottleOptions,
};
use idmsync_domain::Tenant;
use idmsync_http::{ScimTokens, TlsFiles};
use idmsync_ldap::{BindConfigError, Deltas, LdapBindConfig, LdapBinder, LdapConfig, LdapSource};
use idmsync_ports::{
    Authenticator, ChangeFeed, IdentitySource, LoginField, SyncStore, SystemClock,
};
use idmsync_provision::PushedSource;
use idmsync_scheduler::{LiveSettings, ScheduleSettings, Schedules};
use idmsync_source_file::{FileSource, FileSourceConfig};
use idmsync_source_merge::{MergeOptions, MergedSource};
use idmsync_store_diesel::{DatabaseUrl, DieselStore, StoreOptions};
use idmsync_sync::{SyncPorts, SyncService, SyncSettings};

use crate::settings::{
    LdapSwitch, LoginKind, ScimSettings, Settings, SettingsError, SourceKind, SourceSettings,
    SyncSection,
};

/// The configured adapters.
pub struct App {
    /// The loaded configuration.
    pub settings: Settings,
    /// The tenant every command works on.
    pub tenant: Tenant,
    /// The database, with a current schema.
    pub store: Arc<DieselStore>,
    /// The migrations opening it applied, for `idmsync migrate` to report.
    pub migrated: Vec<String>,
}

/// The tenant and the database the configuration names, checked without connecting.
pub struct Database {
    /// `sync.tenant`.
    pub tenant: Tenant,
    /// `database.url`.
    pub url: DatabaseUrl,
    /// The pool and lock settings of `[database]`.
    pub options: StoreOptions,
}

impl Database {
    /// Validates `sync.tenant` and `[database]`.
    ///
    /// # Errors
    /// A [`SettingsError`] naming the key.
    pub fn of(settings: &Settings) -> Result<Self, SettingsError> {
        let tenant = Tenant::new(&settings.sync.tenant)
            .map_err(|e| SettingsError(format!("sync.tenant: {e}")))?;
        let url: DatabaseUrl = settings
            .database
            .url
            .parse()
            .map_err(|e| SettingsError(format!("database.url: {e}")))?;
        let db = &settings.database;
        if db.pool_size == 0 {
            return Err(SettingsError(
                "database.pool_size: must be at least 1".into(),
            ));
        }
        Ok(Self {
            tenant,
            url,
            options: StoreOptions {
                pool_size: db.pool_size,
                connect_timeout: Duration::from_secs(db.connect_timeout_secs),
                lock_lease: Duration::from_secs(db.lock_lease_secs),
            },
        })
    }
}

/// What opening the database may do to its schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schema {
    /// Apply pending migrations (`sync`, `serve`, `migrate`, `auth check`).
    Migrate,
    /// Require the schema to be current and change nothing (`users`, `groups`, `log`).
    Current,
}

impl App {
    /// Connects to the database and, with [`Schema::Migrate`], brings its schema up to date;
    /// with [`Schema::Current`] (the read-only commands) it refuses a SQLite file that does not
    /// exist and a schema that is behind, rather than create or upgrade a database a plain
    /// `users list` was pointed at (a mistyped path, a shared production database).
    pub fn open(settings: Settings, schema: Schema) -> anyhow::Result<Self> {
        let Database {
            tenant,
            url,
            options,
        } = Database::of(&settings)?;
        if schema == Schema::Current {
            if let Some(path) = url.sqlite_path().filter(|p| !p.exists()) {
                return Err(SettingsError(format!(
                    "database.url: {} does not exist; run `idmsync migrate` (or `idmsync sync`) \
                     to create it",
                    path.display()
                ))
                .into());
            }
        }
        let store = DieselStore::connect_with(&url, options)
            .with_context(|| format!("opening the database {url}"))?;
        let migrated = match schema {
            Schema::Migrate => {
                let applied = store
                    .migrate()
                    .with_context(|| format!("migrating the database {url}"))?;
                for name in &applied {
                    tracing::info!(migration = %name, "applied a database migration");
                }
                applied
            }
            Schema::Current => {
                let pending = store
                    .pending_migrations()
                    .with_context(|| format!("reading the schema of {url}"))?;
                if pending > 0 {
                    anyhow::bail!(
                        "the database {url} is {pending} migration(s) behind this idmsync; run \
                         `idmsync migrate` first"
                    );
                }
                Vec::new()
            }
        };
        Ok(Self {
            settings,
            tenant,
            store: Arc::new(store),
            migrated,
        })
    }

    /// Another tenant of the same configuration over this one's database, which is opened
    /// (and migrated) once: every tenant shares `[database]`.
    ///
    /// # Errors
    /// A [`SettingsError`] naming `sync.tenant` or the `[database]` key that is wrong.
    pub fn sharing_store(&self, settings: Settings) -> Result<Self, SettingsError> {
        let tenant = Database::of(&settings)?.tenant;
        Ok(Self {
            settings,
            tenant,
            store: self.store.clone(),
            migrated: Vec::new(),
        })
    }

    /// The sync engine over the configured adapters.
    pub fn sync_service(&self) -> Result<SyncService, SettingsError> {
        let sync = &self.settings.sync;
        Ok(SyncService::new(
            SyncPorts {
                source: source(
                    &self.settings,
                    Some((self.store.clone(), self.tenant.clone())),
                )?,
                store: self.store.clone(),
                lock: self.store.clone(),
                hasher: Arc::new(sync_hasher(&self.settings)?),
                clock: Arc::new(SystemClock),
            },
            SyncSettings {
                tenant: self.tenant.clone(),
                admins: sync.admins.clone(),
                max_deactivations: sync.max_deactivations,
                reactivate: sync.reactivate,
                ignore_case: sync.ignore_case,
                on_conflict: sync.on_conflict,
                on_unreadable: sync.on_unreadable,
            },
        ))
    }

    /// The authenticator for logins (`[auth]`), shared by `auth check` and the REST API; one
    /// instance per process, so the throttle counts every login the process sees.
    ///
    /// # Errors
    /// A [`SettingsError`] naming the `[auth]` (or connection) key that is wrong.
    pub fn authenticator(&self) -> Result<Arc<dyn Authenticator>, SettingsError> {
        let (options, check) = login_policy(&self.settings)?;
        Ok(Arc::new(LoginService::new(
            self.store.clone(),
            Arc::new(Argon2Hasher::default()),
            check,
            options,
        )))
    }
}

/// The planner's hasher. A source that gives clear passwords (the file source) needs the key of
/// the password checks, or every run would verify every password with argon2; it is read from
/// `auth.password_key_file`, made there on first use; so do identity providers pushing by SCIM.
/// An LDAP source gives none, so it neither needs nor makes a key file.
///
/// # Errors
/// A [`SettingsError`] naming `auth.password_key_file` when the file cannot be read, made or
/// understood.
fn sync_hasher(settings: &Settings) -> Result<Argon2Hasher, SettingsError> {
    if settings.sources.iter().all(|s| s.kind == SourceKind::Ldap) {
        return Ok(Argon2Hasher::new());
    }
    let key = PasswordKey::load_or_create(&settings.auth.password_key_file)
        .map_err(|e| SettingsError(format!("auth.password_key_file: {e}")))?;
    Ok(Argon2Hasher::with_key(&key))
}

/// The source adapter named by `source.type`, built (and its settings checked) without
/// connecting; with `[[sources]]`, each of them merged in order (`sync.match_by`), the links
/// between their entries and the tenant's users read from `links` when given (a run needs
/// them; a check does not).
///
/// # Errors
/// A [`SettingsError`] naming the key.
pub fn source(
    settings: &Settings,
    links: Option<(Arc<dyn SyncStore>, Tenant)>,
) -> Result<Arc<dyn IdentitySource>, SettingsError> {
    let [only] = settings.sources.as_slice() else {
        let mut sources = Vec::with_capacity(settings.sources.len());
        for (i, source) in settings.sources.iter().enumerate() {
            let name = source.name.clone().unwrap_or_default();
            let built = one_source(source, &settings.sync)
                .map_err(|e| SettingsError(format!("sources[{i}] ({name}): {}", e.0)))?;
            sources.push((name, built));
        }
        let options = MergeOptions {
            match_by: settings.sync.match_by.unwrap_or_default(),
            ignore_case: settings.sync.ignore_case,
        };
        let merged = MergedSource::new(sources, options);
        return Ok(Arc::new(match links {
            Some((store, tenant)) => merged.with_links(store, tenant),
            None => merged,
        }));
    };
    one_source(only, &settings.sync)
}

/// One source adapter from its section.
fn one_source(
    source: &SourceSettings,
    sync: &SyncSection,
) -> Result<Arc<dyn IdentitySource>, SettingsError> {
    match source.kind {
        SourceKind::File => {
            let file = source.file.as_ref().ok_or_else(|| {
                SettingsError("source.file: missing [source.file] section (users, groups)".into())
            })?;
            Ok(Arc::new(FileSource::new(FileSourceConfig {
                users: file.users.clone(),
                groups: file.groups.clone(),
                ignore_case: sync.ignore_case,
                mapping: file.mapping.clone(),
            })))
        }
        SourceKind::Ldap => {
            let ldap = source.ldap.clone().ok_or_else(|| {
                SettingsError(
                    "source.ldap: missing [source.ldap] section (url, bind_dn, ...)".into(),
                )
            })?;
            let source = LdapSource::new(ldap).map_err(|e| SettingsError(e.to_string()))?;
            Ok(Arc::new(source))
        }
        SourceKind::Scim => Ok(Arc::new(PushedSource)),
    }
}

/// What `serve` follows with `sync.live`: the source's change feed, and how to batch it.
pub type Live = (Arc<dyn ChangeFeed>, LiveSettings);

/// The live stream of `serve` (`sync.live`, `sync.live_batch_ms`, `sync.live_interval_secs`):
/// the source's change feed and how to batch it, `None` when live sync is off. Only an LDAP
/// source whose differential runs see deletions can follow: by RFC 4533 content
/// synchronisation, changes as they happen; by DirSync (Active Directory), a read every
/// `sync.live_interval_secs`.
///
/// # Errors
/// A [`SettingsError`] naming `sync.live` (a source that cannot follow),
/// `sync.live_batch_ms` or `sync.live_interval_secs` (zero).
pub fn live(settings: &Settings) -> Result<Option<Live>, SettingsError> {
    let sync = &settings.sync;
    if !sync.live {
        return Ok(None);
    }
    if sync.live_batch_ms == 0 {
        return Err(SettingsError(
            "sync.live_batch_ms: must be at least 1 (milliseconds between live batches)".into(),
        ));
    }
    if sync.live_interval_secs == 0 {
        return Err(SettingsError(
            "sync.live_interval_secs: must be at least 1 (seconds between DirSync reads)".into(),
        ));
    }
    let cannot = |why: &str| {
        SettingsError(format!(
            "sync.live: {why}; live sync follows an LDAP directory with RFC 4533 content \
             synchronisation (OpenLDAP's syncprov overlay) or Active Directory by DirSync. Set \
             sync.live = false, or rely on sync.differential_cron"
        ))
    };
    if settings.sources.len() > 1 {
        return Err(cannot(
            "a tenant with several sources reads them all whole, to merge them",
        ));
    }
    let ldap = match (&settings.source().kind, &settings.source().ldap) {
        (SourceKind::File, _) => return Err(cannot("the file source cannot follow changes")),
        (SourceKind::Scim, _) => {
            return Err(cannot(
                "a SCIM source is pushed to, and its writes are applied as they arrive",
            ))
        }
        (SourceKind::Ldap, None) => return Err(cannot("missing [source.ldap] section")),
        (SourceKind::Ldap, Some(ldap)) => ldap,
    };
    if ldap.deltas == Deltas::Timestamp {
        return Err(cannot(
            "source.ldap.deltas = \"timestamp\" cannot follow changes",
        ));
    }
    let feed = LdapSource::new(ldap.clone())
        .map_err(|e| SettingsError(e.to_string()))?
        .with_poll_interval(Duration::from_secs(sync.live_interval_secs));
    let batching = LiveSettings {
        batch: Duration::from_millis(sync.live_batch_ms),
        ..LiveSettings::default()
    };
    Ok(Some((Arc::new(feed), batching)))
}

/// How logins are checked (`[auth]`): the options and the password check, built and checked
/// without connecting.
///
/// # Errors
/// A [`SettingsError`] naming the `[auth]` (or connection) key that is wrong.
pub fn login_policy(settings: &Settings) -> Result<(LoginOptions, PasswordCheck), SettingsError> {
    let auth = &settings.auth;
    if auth.max_failures > 0 && auth.lockout_secs == 0 {
        return Err(SettingsError(
            "auth.lockout_secs: must be at least 1 (set auth.max_failures = 0 to turn \
                 throttling off)"
                .into(),
        ));
    }
    let options = LoginOptions {
        field: match auth.login {
            LoginKind::ExternalId => LoginField::ExternalId,
            LoginKind::Email => LoginField::Email,
        },
        case_sensitive: auth.case_sensitive,
        throttle: ThrottleOptions {
            max_failures: auth.max_failures,
            lockout: Duration::from_secs(auth.lockout_secs),
        },
    };
    let check = match directory_connection(settings)? {
        Some(connection) => {
            let binder = LdapBinder::new(LdapBindConfig {
                connection,
                dn_pattern: auth.dn_pattern.clone(),
                active_directory_domain: auth.active_directory_domain.clone(),
            })
            .map_err(|e| match e {
                BindConfigError::Connection(e)
                    if matches!(auth.ldap, Some(LdapSwitch::Connection(_))) =>
                {
                    SettingsError(format!("{e} (or its [auth.ldap] override)"))
                }
                e => SettingsError(e.to_string()),
            })?;
            PasswordCheck::Directory {
                bind: Arc::new(binder),
                database_fallback: auth.database_fallback,
            }
        }
        None => {
            for (key, set) in [
                ("dn_pattern", !auth.dn_pattern.is_empty()),
                (
                    "active_directory_domain",
                    !auth.active_directory_domain.is_empty(),
                ),
                ("database_fallback", auth.database_fallback),
            ] {
                if set {
                    return Err(SettingsError(format!(
                        "auth.{key}: only applies when logins bind to the directory \
                         (auth.ldap = true, or an LDAP source)"
                    )));
                }
            }
            PasswordCheck::Database
        }
    };
    Ok((options, check))
}

/// The connection logins bind with, or `None` when the local database password is the
/// method (`auth.ldap`; by default, bind exactly when the source is LDAP).
fn directory_connection(settings: &Settings) -> Result<Option<LdapConfig>, SettingsError> {
    let first_ldap = settings.sources.iter().find_map(|s| s.ldap.clone());
    let source = || {
        first_ldap.clone().ok_or_else(|| {
            SettingsError(
                "auth.ldap: binding to the directory needs [source.ldap] or an [auth.ldap] \
                 table of connection settings"
                    .into(),
            )
        })
    };
    match &settings.auth.ldap {
        Some(LdapSwitch::Flag(false)) => Ok(None),
        Some(LdapSwitch::Flag(true)) => source().map(Some),
        Some(LdapSwitch::Connection(connection)) => Ok(Some(connection.as_ref().clone())),
        None if settings.sources.iter().any(|s| s.kind == SourceKind::Ldap) => source().map(Some),
        None => Ok(None),
    }
}

/// The sync schedules (`sync.full_cron`, `sync.differential_cron`, `sync.timezone`), parsed.
///
/// # Errors
/// A [`SettingsError`] naming the key whose cron expression or time zone is wrong.
pub fn schedules(settings: &Settings) -> Result<Schedules, SettingsError> {
    let sync = &settings.sync;
    // A SCIM source has nothing to read: its runs are the providers' writes. The schedules'
    // defaults are off for it, and one set on purpose is a mistake worth saying.
    if settings.source().kind == SourceKind::Scim {
        let defaults = SyncSection::default();
        for (key, value, default) in [
            ("sync.full_cron", &sync.full_cron, &defaults.full_cron),
            (
                "sync.differential_cron",
                &sync.differential_cron,
                &defaults.differential_cron,
            ),
        ] {
            if !value.trim().is_empty() && value != default {
                return Err(SettingsError(format!(
                    "{key}: a SCIM source has nothing to read on a schedule (identity providers \
                     push to /scim/v2); remove it"
                )));
            }
        }
        return ScheduleSettings {
            full_cron: None,
            differential_cron: None,
            timezone: None,
        }
        .validate()
        .map_err(|e| SettingsError(e.to_string()));
    }
    let non_empty = |s: &str| (!s.trim().is_empty()).then(|| s.to_string());
    ScheduleSettings {
        full_cron: non_empty(&sync.full_cron),
        differential_cron: non_empty(&sync.differential_cron),
        timezone: non_empty(&sync.timezone),
    }
    .validate()
    .map_err(|e| SettingsError(e.to_string()))
}

/// What `serve` needs to answer `/scim/v2` for a tenant whose source is SCIM.
pub struct Scim {
    /// The bearer tokens providers present.
    pub tokens: ScimTokens,
    /// How long a batch collects requests.
    pub batch: Duration,
    /// `source.scim.base_url`, when set.
    pub base_url: Option<String>,
    /// The most resources one list answers.
    pub max_results: usize,
    /// The guard's window.
    pub guard_window: Duration,
}

/// `[source.scim]`, for a SCIM source (`None` for any other): the tokens from `tokens` and
/// `token_file` (one per line; blank lines and `#` comments skipped).
///
/// # Errors
/// A [`SettingsError`] naming the key: no token at all, an unreadable token file, a zero
/// `batch_ms` or `max_results`, a `base_url` that is not an http(s) URL.
pub fn scim(settings: &Settings) -> Result<Option<Scim>, SettingsError> {
    if settings.source().kind != SourceKind::Scim {
        return Ok(None);
    }
    let defaults = ScimSettings::default();
    let scim = settings.source().scim.as_ref().unwrap_or(&defaults);
    let mut tokens: Vec<String> = scim.tokens.iter().map(|t| t.trim().to_string()).collect();
    if let Some(path) = &scim.token_file {
        let text = std::fs::read_to_string(path).map_err(|e| {
            SettingsError(format!(
                "source.scim.token_file: cannot read {}: {e}",
                path.display()
            ))
        })?;
        tokens.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_string),
        );
    }
    tokens.retain(|t| !t.is_empty());
    if tokens.is_empty() {
        return Err(SettingsError(
            "source.scim: no bearer token; set source.scim.token_file (one token per line) or \
             source.scim.tokens, and give the identity provider the same token"
                .into(),
        ));
    }
    if scim.batch_ms == 0 {
        return Err(SettingsError(
            "source.scim.batch_ms: must be at least 1 (milliseconds a batch collects requests)"
                .into(),
        ));
    }
    if scim.guard_window_secs == 0 {
        return Err(SettingsError(
            "source.scim.guard_window_secs: must be at least 1 (seconds over which SCIM \
             deactivations are counted)"
                .into(),
        ));
    }
    if scim.max_results == 0 {
        return Err(SettingsError(
            "source.scim.max_results: must be at least 1".into(),
        ));
    }
    if let Some(url) = &scim.base_url {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(SettingsError(format!(
                "source.scim.base_url: `{url}` is not an http:// or https:// address"
            )));
        }
    }
    Ok(Some(Scim {
        tokens: ScimTokens::new(tokens),
        batch: Duration::from_millis(scim.batch_ms),
        base_url: scim
            .base_url
            .as_ref()
            .map(|u| u.trim_end_matches('/').to_string()),
        max_results: scim.max_results,
        guard_window: Duration::from_secs(scim.guard_window_secs),
    }))
}

/// The certificate and key of an HTTPS listener, or `None` for plain HTTP.
///
/// # Errors
/// A [`SettingsError`] when only one of `http.tls_cert` and `http.tls_key` is set.
pub fn tls_files(settings: &Settings) -> Result<Option<TlsFiles>, SettingsError> {
    let http = &settings.http;
    match (&http.tls_cert, &http.tls_key) {
        (Some(cert), Some(key)) => Ok(Some(TlsFiles {
            cert: cert.clone(),
            key: key.clone(),
        })),
        (None, None) => Ok(None),
        _ => Err(SettingsError(
            "http.tls_cert and http.tls_key: give both for HTTPS, or neither".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE_SOURCE: &str = "[source]\ntype = \"file\"\n[source.file]\nusers = \"u.txt\"\n\
                               groups = \"g.txt\"\n";

    fn settings(extra: &str) -> Settings {
        Settings::from_text(&format!("{FILE_SOURCE}{extra}"), &[]).expect("loads")
    }

    /// The message of a check's error, which must start with the key it is about.
    #[track_caller]
    fn names(result: Result<impl Sized, SettingsError>, key: &str) -> String {
        match result {
            Ok(_) => panic!("{key}: accepted"),
            Err(SettingsError(message)) => {
                assert!(message.starts_with(key), "{key}: {message}");
                message
            }
        }
    }

    #[test]
    fn a_valid_configuration_passes_every_check() {
        let s = settings("[database]\npool_size = 2\n");
        assert_eq!(
            s.database.url, "sqlite://data/idmsync.db",
            "the documented default"
        );
        Database::of(&s).expect("database");
        source(&s, None).expect("source");
        login_policy(&s).expect("logins");
        schedules(&s).expect("schedules");
        assert_eq!(tls_files(&s).expect("tls"), None);
    }

    #[test]
    fn database_and_tenant_mistakes_name_their_key() {
        names(
            Database::of(&settings(
                "[database]\nurl = \"sqlite://x.db\"\npool_size = 0\n",
            )),
            "database.pool_size",
        );
        names(
            Database::of(&settings("[database]\nurl = \"oracle://x\"\n")),
            "database.url",
        );
        names(
            Database::of(&settings("[sync]\ntenant = \"\"\n")),
            "sync.tenant",
        );
    }

    #[test]
    fn a_source_without_its_section_names_it() {
        let ldap = Settings::from_text("[source]\ntype = \"ldap\"\n", &[]).expect("loads");
        names(source(&ldap, None), "source.ldap");
        let file = Settings::from_text("[source]\ntype = \"file\"\n", &[]).expect("loads");
        names(source(&file, None), "source.file");
    }

    /// Employees from a directory over contractors from files, in one tenant.
    const SEVERAL: &str = "[sync]\nlive = true\n\
        [[sources]]\nname = \"employees\"\ntype = \"ldap\"\n[sources.ldap]\n\
        url = \"ldap://dir:389\"\nbind_dn = \"cn=sync,dc=example,dc=com\"\n\
        bind_password = \"s\"\nuser_search_base = \"ou=people,dc=example,dc=com\"\n\
        group_search_base = \"ou=groups,dc=example,dc=com\"\n\
        [[sources]]\nname = \"contractors\"\ntype = \"file\"\n[sources.file]\n\
        users = \"u.txt\"\ngroups = \"g.txt\"\n";

    #[test]
    fn several_sources_merge_bind_logins_to_the_directory_and_cannot_follow_live() {
        let s = Settings::from_text(SEVERAL, &[]).expect("loads");
        let merged = source(&s, None).expect("source");
        assert_eq!(
            merged.name(),
            "employees=ldap://dir:389 + contractors=file:u.txt"
        );
        let (_, check) = login_policy(&s).expect("logins");
        assert!(
            matches!(check, PasswordCheck::Directory { .. }),
            "logins bind to the employees' directory"
        );
        let message = names(live(&s), "sync.live");
        assert!(message.contains("several sources"), "{message}");
        let broken = SEVERAL.replace(
            "[sources.file]\nusers = \"u.txt\"\ngroups = \"g.txt\"\n",
            "",
        );
        let message = names(
            source(&Settings::from_text(&broken, &[]).expect("loads"), None),
            "sources[1] (contractors): source.file",
        );
        assert!(message.contains("missing [source.file]"), "{message}");
    }

    #[test]
    fn the_password_key_file_is_made_for_a_file_source_only_and_named_when_bad() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let key = dir.path().join("keys/password.key");
        let auth = format!(
            "[auth]\npassword_key_file = {:?}\n",
            key.display().to_string()
        );
        let ldap =
            Settings::from_text(&format!("[source]\ntype = \"ldap\"\n{auth}"), &[]).expect("loads");
        sync_hasher(&ldap).expect("no key needed");
        assert!(!key.exists(), "an LDAP source makes no key file");
        sync_hasher(&settings(&auth)).expect("a key made");
        assert!(key.exists());
        sync_hasher(&settings(&auth)).expect("the same key read");
        std::fs::write(&key, "not a key").expect("write");
        let message = names(sync_hasher(&settings(&auth)), "auth.password_key_file");
        assert!(message.contains(&key.display().to_string()), "{message}");
    }

    #[test]
    fn login_settings_that_cannot_apply_name_their_key() {
        let message = names(
            login_policy(&settings("[auth]\nmax_failures = 3\nlockout_secs = 0\n")),
            "auth.lockout_secs",
        );
        assert!(message.contains("auth.max_failures = 0"), "{message}");
        names(
            login_policy(&settings("[auth]\ndn_pattern = \"uid={0},ou=x\"\n")),
            "auth.dn_pattern",
        );
        names(
            login_policy(&settings("[auth]\nldap = true\n")),
            "auth.ldap",
        );
    }

    #[test]
    fn live_sync_mistakes_name_their_key() {
        assert!(live(&settings("")).expect("off").is_none());
        names(live(&settings("[sync]\nlive = true\n")), "sync.live");
        names(
            live(&settings("[sync]\nlive = true\nlive_batch_ms = 0\n")),
            "sync.live_batch_ms",
        );
        names(
            live(&settings("[sync]\nlive = true\nlive_interval_secs = 0\n")),
            "sync.live_interval_secs",
        );
    }

    #[test]
    fn active_directory_follows_by_dirsync_unless_deltas_are_timestamps() {
        let ad = |extra: &str| {
            let text = format!(
                "[sync]\nlive = true\nlive_interval_secs = 2\n[source]\ntype = \"ldap\"\n\
                 [source.ldap]\nurl = \"ldap://dc:389\"\nbind_dn = \"sync@example.com\"\n\
                 bind_password = \"pw\"\nuser_search_base = \"dc=example,dc=com\"\n\
                 group_search_base = \"dc=example,dc=com\"\nactive_directory = true\n{extra}"
            );
            Settings::from_text(&text, &[]).expect("loads")
        };
        assert!(live(&ad("")).expect("auto").is_some());
        assert!(live(&ad("deltas = \"dirsync\"\n"))
            .expect("dirsync")
            .is_some());
        let message = names(live(&ad("deltas = \"timestamp\"\n")), "sync.live");
        assert!(message.contains("timestamp"), "{message}");
    }

    #[test]
    fn schedule_and_tls_mistakes_name_their_key() {
        names(
            schedules(&settings("[sync]\nfull_cron = \"often\"\n")),
            "sync.full_cron",
        );
        names(
            schedules(&settings("[sync]\ntimezone = \"Mars/Olympus\"\n")),
            "sync.timezone",
        );
        names(
            tls_files(&settings("[http]\ntls_cert = \"c.pem\"\n")),
            "http.tls_cert",
        );
        let both = settings("[http]\ntls_cert = \"c.pem\"\ntls_key = \"k.pem\"\n");
        assert!(tls_files(&both).expect("both").is_some());
    }
}
