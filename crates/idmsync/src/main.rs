//! `idmsync`: the binary. Parses the command line, loads the configuration, initialises tracing,
//! wires the adapters and runs one command. Nothing else lives here.

mod app;
mod check;
mod cli;
mod console;
mod logging;
mod manual;
mod output;
mod progress;
mod serve;
mod settings;
mod text;

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::Parser;
use idmsync_domain::{Password, RunId, SyncMode, Trigger, UserStatus};
use idmsync_ports::{AuthError, DirectoryReader, Page, RunLogReader, UserFilter};
use idmsync_sync::{RunReport, RunRequest, SyncError};

use crate::app::{App, Schema};
use crate::cli::{
    AuthCommand, Cli, Command, ConfigCommand, Format, ListArgs, ListCommand, LogCommand, LogFormat,
    ScimCommand, ShowArgs, StatusArg, SyncArgs,
};
use crate::console::{Console, StdoutClosed};
use crate::progress::CommandProgress;
use crate::settings::{Settings, SettingsError, SourceKind};

/// mimalloc rather than glibc's malloc: a sync allocates and frees millions of small strings
/// (member DNs, attribute values), and glibc's allocator took a fifth of a no-change full sync's
/// CPU (docs/benchmarks.md, "Profile of (b)").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay` (its number in `mimalloc.h`, the same in mimalloc 2 and 3;
/// the Rust bindings name only the options up to 21).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Makes mimalloc give freed memory back to the system at once instead of 10 ms later. A run
/// frees a directory's worth of strings and then builds a change set of the same size; with
/// the delay both were resident at once, and a large first sync into SQLite peaked at up to
/// 422 MB instead of about 300 (docs/benchmarks.md), with no measurable change in time.
///
/// The only unsafe code of the binary (its lints deny it elsewhere): the option has no safe API.
#[allow(unsafe_code)]
fn purge_freed_memory_at_once() {
    // SAFETY: `mi_option_set` stores an integer in mimalloc's global option table, which it
    // reads atomically; any value is valid for this option and it may be set at any time.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0) };
}

/// Exit status for a run the safety guard stopped.
const EXIT_GUARD: u8 = 3;

fn main() -> ExitCode {
    purge_freed_memory_at_once();
    let cli = Cli::parse();
    logging::init(cli.verbose, cli.log_format);
    let console = Console {
        json: cli.log_format == LogFormat::Json,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            console.error(&format!("cannot start the async runtime: {e}"));
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(run(cli, console));
    // A source read still blocking a worker thread (a hung file system, a FIFO) must not keep
    // the process alive after the command is done; its transaction was never committed.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    match result {
        Ok(code) => code,
        Err(e) if e.downcast_ref::<StdoutClosed>().is_some() => ExitCode::SUCCESS,
        Err(e) => {
            console.error(&report(&e));
            if e.downcast_ref::<SettingsError>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

/// The error and its causes, each said once: an adapter's message usually ends with its
/// cause's already, which `{:#}` would repeat ("source unavailable: …: refused: source
/// unavailable: …: refused").
fn report(error: &anyhow::Error) -> String {
    let mut said = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if said.contains(&text) {
            continue;
        }
        if !said.is_empty() {
            said.push_str(": ");
        }
        said.push_str(&text);
    }
    said
}

async fn run(cli: Cli, console: Console) -> anyhow::Result<ExitCode> {
    // Listing and showing change nothing, not even the schema; the commands that sync, serve,
    // migrate or check a login (whose configuration errors come first) bring it up to date.
    // Completions and manual pages need no configuration at all.
    let schema = match &cli.command {
        Command::Users(_) | Command::Groups(_) | Command::Log(_) => Schema::Current,
        Command::Sync(_)
        | Command::Serve
        | Command::Migrate
        | Command::Auth(_)
        | Command::Scim(_) => Schema::Migrate,
        Command::Completions { shell } => {
            return manual::completions(*shell).map(|()| ExitCode::SUCCESS)
        }
        Command::Man { dir } => return manual::man(dir).map(|()| ExitCode::SUCCESS),
        // It reports a configuration that does not load as one of its findings.
        Command::Config(ConfigCommand::Check { format }) => {
            return check::run(&cli.config, cli.tenant.as_deref(), *format == Format::Json).await
        }
    };
    if matches!(cli.command, Command::Serve) && cli.tenant.is_none() {
        let names = Settings::tenant_names(&cli.config)?;
        if names.len() > 1 {
            let apps = open_tenants(&cli.config, &names)?;
            return serve::serve(apps, console)
                .await
                .map(|()| ExitCode::SUCCESS);
        }
    }
    let settings = Settings::load(&cli.config, cli.tenant.as_deref())?;
    let app = App::open(settings, schema)?;
    match cli.command {
        Command::Sync(args) => sync(&app, args, console).await,
        Command::Serve => serve::serve(vec![app], console)
            .await
            .map(|()| ExitCode::SUCCESS),
        Command::Users(ListCommand::List(args)) => {
            let users = app
                .store
                .users(&app.tenant, &filter(&args), None)
                .await
                .context("listing users")?;
            console::print(&output::users(&users, args.format == Format::Json))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Groups(ListCommand::List(args)) => {
            let groups = app
                .store
                .groups(&app.tenant, &filter(&args), None)
                .await
                .context("listing groups")?;
            console::print(&output::groups(&groups, args.format == Format::Json))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Users(ListCommand::Show(args)) => show_user(&app, &args).await,
        Command::Groups(ListCommand::Show(args)) => show_group(&app, &args).await,
        Command::Log(LogCommand::List { format, limit }) => {
            let page = Page {
                start: 0,
                size: limit,
            };
            let runs = app
                .store
                .runs(&app.tenant, Some(page))
                .await
                .context("listing runs")?;
            console::print(&output::runs(&runs, format == Format::Json))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Log(LogCommand::Show { id, format }) => {
            let run = RunId(id);
            if app.store.run(run).await?.is_none() {
                bail!("no run with id {id} (see `idmsync log list`)");
            }
            let lines = app.store.lines(run).await.context("reading the run log")?;
            console::print(&output::log_lines(&lines, format == Format::Json))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Auth(AuthCommand::Check { user }) => auth_check(&app, &user, console).await,
        Command::Scim(ScimCommand::ReleaseGuard) => release_guard(&app).await,
        Command::Migrate => {
            let said = match app.migrated.as_slice() {
                [] => "the database schema was already up to date".to_string(),
                applied => format!(
                    "applied {} migration(s): {}",
                    applied.len(),
                    applied.join(", ")
                ),
            };
            console::line(&said)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Completions { .. } | Command::Man { .. } | Command::Config(_) => {
            unreachable!("answered before the configuration is read")
        }
    }
}

/// Every tenant `names` of the configuration at `path`, over one database opened and migrated
/// once, for a `serve` of them all.
fn open_tenants(path: &std::path::Path, names: &[String]) -> anyhow::Result<Vec<App>> {
    let mut apps: Vec<App> = Vec::with_capacity(names.len());
    for name in names {
        let settings = Settings::load(path, Some(name))?;
        let app = match apps.first() {
            Some(first) => first.sharing_store(settings)?,
            None => App::open(settings, Schema::Migrate)?,
        };
        apps.push(app);
    }
    Ok(apps)
}

/// How many run-log lines `users show` prints, newest first.
const HISTORY_LINES: u64 = 20;

/// `users show LOGIN`.
async fn show_user(app: &App, args: &ShowArgs) -> anyhow::Result<ExitCode> {
    let Some(detail) = app
        .store
        .user(&app.tenant, &args.id)
        .await
        .context("reading the user")?
    else {
        bail!("no user {} (see `idmsync users list`)", args.id);
    };
    let history = app
        .store
        .history(&app.tenant, &args.id, HISTORY_LINES)
        .await
        .context("reading the user's history")?;
    console::print(&output::user(
        &detail,
        &history,
        args.format == Format::Json,
    ))?;
    Ok(ExitCode::SUCCESS)
}

/// `groups show NAME`.
async fn show_group(app: &App, args: &ShowArgs) -> anyhow::Result<ExitCode> {
    let Some(detail) = app
        .store
        .group(&app.tenant, &args.id)
        .await
        .context("reading the group")?
    else {
        bail!("no group {} (see `idmsync groups list`)", args.id);
    };
    console::print(&output::group(&detail, args.format == Format::Json))?;
    Ok(ExitCode::SUCCESS)
}

/// `auth check USER`: one message for every failure, so the command cannot be used to learn
/// which logins exist; the reason of an outage goes to the log (stderr) only.
async fn auth_check(app: &App, user: &str, console: Console) -> anyhow::Result<ExitCode> {
    // A configuration error shows before the prompt, not after the password is typed.
    let authenticator = app.authenticator()?;
    let password = read_password(user)?;
    match authenticator
        .authenticate(&app.tenant, user, &password)
        .await
    {
        Ok(principal) => {
            let role = if principal.admin {
                " (tenant admin)"
            } else {
                ""
            };
            console::line(&format!("ok: {}{role}", principal.external_id))?;
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            if let AuthError::Unavailable(reason) = &e {
                tracing::warn!(%reason, "authentication could not be checked");
            }
            console.refusal("authentication failed");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// The password from standard input (one line) or, on a terminal, from a prompt without echo.
fn read_password(user: &str) -> anyhow::Result<Password> {
    let clear = if std::io::stdin().is_terminal() {
        rpassword::prompt_password(format!("password for {user}: "))
            .context("reading the password")?
    } else {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .context("reading the password from standard input")?;
        line.trim_end_matches(['\n', '\r']).to_string()
    };
    Ok(Password::new(clear))
}

fn filter(args: &ListArgs) -> UserFilter {
    UserFilter {
        status: args.status.map(|s| match s {
            StatusArg::Active => UserStatus::Active,
            StatusArg::Inactive => UserStatus::Inactive,
        }),
        ..UserFilter::default()
    }
}

/// `scim release-guard`: the release recorded in the run log, where `serve` finds it.
async fn release_guard(app: &App) -> anyhow::Result<ExitCode> {
    let Some(scim) = app::scim(&app.settings)? else {
        return Err(SettingsError(
            "source.type: `scim release-guard` is for a tenant whose source is SCIM".into(),
        )
        .into());
    };
    let until = idmsync_provision::released_until(chrono::Utc::now(), scim.guard_window);
    let run = app
        .sync_service()?
        .release_guard(Trigger::Manual, idmsync_provision::release_message(until))
        .await
        .context("recording the release")?;
    console::line(&format!(
        "SCIM deactivations are let through until {} (run {run})",
        until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    ))?;
    Ok(ExitCode::SUCCESS)
}

async fn sync(app: &App, args: SyncArgs, console: Console) -> anyhow::Result<ExitCode> {
    if app.settings.source().kind == SourceKind::Scim {
        return Err(SettingsError(
            "source.type: `idmsync sync` reads a source, and a SCIM source is pushed to: run \
             `idmsync serve` and point the identity provider at its /scim/v2 (docs/scim.md)"
                .into(),
        )
        .into());
    }
    let service = app.sync_service()?;
    let request = RunRequest {
        user: args.user.clone(),
        mode: if args.full {
            Some(SyncMode::Full)
        } else if args.differential {
            Some(SyncMode::Differential)
        } else {
            None
        },
        trigger: Trigger::Manual,
        dry_run: args.dry_run,
        force: args.force,
    };
    let progress = CommandProgress::new();
    let report = service.run(request, &progress).await;
    progress.finish();
    let report = match report {
        Ok(report) => report,
        Err(e @ SyncError::Source { .. }) => {
            return Err(anyhow::Error::new(e).context("sync failed"))
        }
        Err(SyncError::Store(e)) => return Err(anyhow::Error::new(e).context("sync failed")),
    };
    let ended = output::SyncEnd::of(&report);
    if matches!(report, RunReport::Aborted { .. }) {
        // The guard's refusal is an error to the operator, on stderr.
        console.error(ended.text().trim_end());
    } else if console.json {
        console::line(&ended.json())?;
    } else {
        console::print(&ended.text())?;
    }
    Ok(if ended.guarded() {
        ExitCode::from(EXIT_GUARD)
    } else {
        ExitCode::SUCCESS
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("source unavailable: {0}")]
    struct Outer(#[source] Inner);

    #[derive(Debug, thiserror::Error)]
    #[error("refused")]
    struct Inner;

    #[test]
    fn an_error_report_says_each_cause_once() {
        let error = anyhow::Error::new(Outer(Inner)).context("sync failed");
        assert_eq!(report(&error), "sync failed: source unavailable: refused");
        let error = anyhow::Error::new(Inner).context("opening the database");
        assert_eq!(report(&error), "opening the database: refused");
    }
}
