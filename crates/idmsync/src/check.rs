//! `idmsync config check`: everything a run and the service need, checked before either is
//! trusted with it. The configuration is validated key by key without connecting; then the
//! source is read (bind, root DSE, bases, what the filters select) and the database asked for
//! its version, schema and contents, changing nothing in either. `serve` runs the source and
//! TLS checks too before it says it is listening.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use idmsync_ports::{DirectoryReader, IdentitySource, SourceCheck};
use idmsync_store_diesel::DieselStore;
use serde_json::json;

use crate::app::{self, Database};
use crate::console;
use crate::settings::Settings;
use crate::text::count;

/// Exit status when something is wrong: a configuration problem, as for every other command.
const EXIT_PROBLEM: u8 = 2;

/// What was checked and what was found.
#[derive(Debug)]
struct Finding {
    /// `configuration`, `source` or `database`.
    part: &'static str,
    /// Whether it is usable.
    ok: bool,
    /// What was found, or what is wrong and where.
    says: String,
}

impl Finding {
    fn ok(part: &'static str, says: String) -> Self {
        Self {
            part,
            ok: true,
            says,
        }
    }

    fn problem(part: &'static str, says: String) -> Self {
        Self {
            part,
            ok: false,
            says,
        }
    }
}

/// Runs every check and prints one line (or JSON object) per finding; exit 0 when all pass,
/// 2 otherwise. Without `tenant`, a configuration of several tenants has each checked, its
/// findings prefixed with the tenant's name.
pub async fn run(config: &Path, tenant: Option<&str>, as_json: bool) -> anyhow::Result<ExitCode> {
    let every = match tenant {
        Some(_) => Vec::new(),
        None => Settings::tenant_names(config).unwrap_or_default(),
    };
    let findings = if every.len() > 1 {
        let mut findings = Vec::new();
        for name in &every {
            for mut finding in check_tenant(config, Some(name)).await {
                finding.says = format!("tenant {name}: {}", finding.says);
                findings.push(finding);
            }
        }
        findings
    } else {
        check_tenant(config, tenant).await
    };
    let ok = findings.iter().all(|f| f.ok);
    if as_json {
        let checks: Vec<_> = findings
            .iter()
            .map(|f| json!({"part": f.part, "ok": f.ok, "message": f.says}))
            .collect();
        console::line(&json!({"ok": ok, "checks": checks}).to_string())?;
    } else {
        let mut text = String::new();
        for f in &findings {
            let status = if f.ok { "ok" } else { "FAILED" };
            text.push_str(&format!("{status:<6}  {:<13}  {}\n", f.part, f.says));
        }
        console::print(&text)?;
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_PROBLEM)
    })
}

/// The findings of one tenant's settings, or why they do not load.
async fn check_tenant(config: &Path, tenant: Option<&str>) -> Vec<Finding> {
    match Settings::load(config, tenant) {
        Ok(settings) => check(config, &settings).await,
        Err(e) => vec![Finding::problem("configuration", e.0)],
    }
}

/// Every finding for loaded settings: the configuration's, then the source's and the
/// database's where the configuration allows them to be checked.
async fn check(config: &Path, settings: &Settings) -> Vec<Finding> {
    let mut problems = Vec::new();
    let database = Database::of(settings).map_err(|e| problems.push(e.0)).ok();
    let source = app::source(settings, None)
        .map_err(|e| problems.push(e.0))
        .ok();
    if let Err(e) = app::login_policy(settings) {
        problems.push(e.0);
    }
    let schedules = app::schedules(settings)
        .map_err(|e| problems.push(e.0))
        .ok();
    if let Err(e) = app::live(settings) {
        problems.push(e.0);
    }
    match app::tls_files(settings) {
        Ok(Some(files)) => {
            if let Err(e) = idmsync_http::check_tls_files(&files).await {
                problems.push(format!("http.tls_cert / http.tls_key: {e}"));
            }
        }
        Ok(None) => {}
        Err(e) => problems.push(e.0),
    }
    let mut findings: Vec<Finding> = problems
        .into_iter()
        .map(|p| Finding::problem("configuration", p))
        .collect();
    if findings.is_empty() {
        let schedules = schedules.map(|s| s.to_string()).unwrap_or_default();
        findings.push(Finding::ok(
            "configuration",
            format!("{}: every key is valid ({schedules})", config.display()),
        ));
    }
    if let Some(source) = source {
        findings.push(source_finding(source.as_ref(), settings.sync.live).await);
    }
    if let Some(database) = database {
        findings.push(database_finding(&database).await);
    }
    findings
}

/// What the source says about itself, or why it cannot be read (`Err`, with the likely
/// causes when it answers but no user matches): the source's line of `config check`, and what
/// `serve` logs as it starts.
pub async fn check_source(source: &dyn IdentitySource, live: bool) -> Result<String, String> {
    match source.check().await {
        Ok(check) if check.pushed => Ok(format!(
            "{}: {}; identity providers push users and groups to it",
            source.name(),
            check.server.as_deref().unwrap_or("pushed to")
        )),
        // `serve` would start, and its live stream fail and retry forever.
        Ok(check) if live && !check.follows => Err(format!(
            "{}: {}; sync.live needs RFC 4533 content synchronisation or DirSync, which this \
             server does not offer the sync account (docs/configuration.md, Deltas: syncprov, \
             389-ds's Content Synchronization plugin, AD's \"Replicating Directory Changes\" \
             right)",
            source.name(),
            describe(&check)
        )),
        // A first sync of it would stop at the guard ("the source returned no users").
        Ok(check) if check.users == 0 => Err(format!(
            "{}: {}; the search bases, the user filter, or the sync account's rights to \
             read the entries (389-ds ACIs, OpenLDAP access rules) are wrong",
            source.name(),
            describe(&check)
        )),
        Ok(check) => Ok(format!("{}: {}", source.name(), describe(&check))),
        Err(e) => Err(e.to_string()),
    }
}

async fn source_finding(source: &dyn IdentitySource, live: bool) -> Finding {
    match check_source(source, live).await {
        Ok(says) => Finding::ok("source", says),
        Err(says) => Finding::problem("source", says),
    }
}

/// `OpenLDAP (paged results, StartTLS); 12 users and 3 groups match the configuration`.
fn describe(check: &SourceCheck) -> String {
    let mut says = String::new();
    if let Some(server) = &check.server {
        says.push_str(server);
        if !check.features.is_empty() {
            says.push_str(&format!(" ({})", check.features.join(", ")));
        }
        says.push_str("; ");
    }
    says.push_str(&format!(
        "{} and {} match the configuration",
        count(check.users, "user", "users"),
        count(check.groups, "group", "groups"),
    ));
    if let Some(differential) = &check.differential {
        says.push_str(&format!("; differential runs use {differential}"));
    }
    if check.unreadable > 0 {
        says.push_str(&format!(
            "; {} cannot be read (no id or login; `idmsync sync --dry-run` names them; on \
             389-ds, entries older than its entryuuid plugin need `dsconf <instance> plugin \
             entryuuid fixup <suffix>`)",
            count(check.unreadable, "entry", "entries")
        ));
    }
    says
}

/// The database's version, schema and contents, read without creating or migrating anything.
async fn database_finding(database: &Database) -> Finding {
    let url = &database.url;
    if let Some(path) = url.sqlite_path().filter(|p| !p.exists()) {
        return Finding::ok(
            "database",
            format!(
                "{url}: {} does not exist yet; `idmsync migrate` or the first sync creates it",
                path.display()
            ),
        );
    }
    let store = match DieselStore::connect_with(url, database.options) {
        Ok(store) => Arc::new(store),
        Err(e) => return Finding::problem("database", e.to_string()),
    };
    let version = match store.server_version() {
        Ok(version) => version,
        Err(e) => return Finding::problem("database", e.to_string()),
    };
    let pending = match store.pending_migrations() {
        Ok(pending) => pending,
        Err(e) => return Finding::problem("database", format!("{url}: {e}")),
    };
    if pending > 0 {
        return Finding::ok(
            "database",
            format!(
                "{url}: {version}; {} to apply (`idmsync migrate`, `sync` and `serve` apply them)",
                count(pending as u64, "migration", "migrations")
            ),
        );
    }
    match store.totals(&database.tenant).await {
        Ok(t) => Finding::ok(
            "database",
            format!(
                "{url}: {version}; schema current; tenant {}: {} ({} active), {} ({} active)",
                database.tenant,
                count(t.users_active + t.users_inactive, "user", "users"),
                t.users_active,
                count(t.groups_active + t.groups_inactive, "group", "groups"),
                t.groups_active,
            ),
        ),
        Err(e) => Finding::problem("database", e.to_string()),
    }
}
