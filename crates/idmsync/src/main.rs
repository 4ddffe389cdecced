//! `idmsync`: the binary. Parses the command line, loads the configuration, initialises tracing,
//! wires the adapters and runs one command. Nothing else lives here.

mod app;
mod cli;
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
use tracing_subscriber::EnvFilter;

use crate::app::App;
use crate::cli::{
    AuthCommand, Cli, Command, Format, ListArgs, ListCommand, LogCommand, LogFormat, StatusArg,
    SyncArgs,
};
use crate::progress::TerminalProgress;
use crate::settings::{Settings, SettingsError};

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
    init_tracing(cli.verbose, cli.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(run(cli));
    // A source read still blocking a worker thread (a hung file system, a FIFO) must not keep
    // the process alive after the command is done; its transaction was never committed.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", report(&e));
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

fn init_tracing(verbose: u8, format: LogFormat) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let settings = Settings::load(&cli.config)?;
    let app = App::open(settings)?;
    match cli.command {
        Command::Sync(args) => sync(&app, args).await,
        Command::Serve => serve::serve(app).await.map(|()| ExitCode::SUCCESS),
        Command::Users(ListCommand::List(args)) => {
            let users = app
                .store
                .users(&app.tenant, &filter(&args), None)
                .await
                .context("listing users")?;
            print!("{}", output::users(&users, args.format == Format::Json));
            Ok(ExitCode::SUCCESS)
        }
        Command::Groups(ListCommand::List(args)) => {
            let groups = app
                .store
                .groups(&app.tenant, &filter(&args), None)
                .await
                .context("listing groups")?;
            print!("{}", output::groups(&groups, args.format == Format::Json));
            Ok(ExitCode::SUCCESS)
        }
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
            print!("{}", output::runs(&runs, format == Format::Json));
            Ok(ExitCode::SUCCESS)
        }
        Command::Log(LogCommand::Show { id }) => {
            let run = RunId(id);
            if app.store.run(run).await?.is_none() {
                bail!("no run with id {id} (see `idmsync log list`)");
            }
            for line in app.store.lines(run).await.context("reading the run log")? {
                println!("{line}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Auth(AuthCommand::Check { user }) => auth_check(&app, &user).await,
        Command::Migrate => {
            println!("database schema is up to date");
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `auth check USER`: one message for every failure, so the command cannot be used to learn
/// which logins exist; the reason of an outage goes to the log (stderr) only.
async fn auth_check(app: &App, user: &str) -> anyhow::Result<ExitCode> {
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
            println!("ok: {}{role}", principal.external_id);
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            if let AuthError::Unavailable(reason) = &e {
                tracing::warn!(%reason, "authentication could not be checked");
            }
            eprintln!("authentication failed");
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

async fn sync(app: &App, args: SyncArgs) -> anyhow::Result<ExitCode> {
    let service = app.sync_service()?;
    let request = RunRequest {
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
    let progress = TerminalProgress::new();
    let report = service.run(request, &progress).await;
    progress.finish();
    match report {
        Ok(RunReport::Applied {
            run,
            mode,
            counts,
            elapsed,
        }) => {
            println!(
                "{} sync succeeded (run {run}, {:.2}s): {counts}",
                mode.as_str(),
                elapsed.as_secs_f64()
            );
            Ok(ExitCode::SUCCESS)
        }
        Ok(RunReport::Skipped { run }) => {
            println!("skipped: another run holds this tenant's lock (recorded as run {run})");
            Ok(ExitCode::SUCCESS)
        }
        Ok(RunReport::Aborted { run, reason, .. }) => {
            eprintln!("error: run {run} stopped by the safety guard: {reason}");
            Ok(ExitCode::from(EXIT_GUARD))
        }
        Ok(RunReport::DryRun {
            mode,
            changes,
            guard,
        }) => {
            for line in changes.log_lines() {
                println!("{line}");
            }
            println!(
                "dry run ({} sync), nothing written: {}",
                mode.as_str(),
                changes.counts()
            );
            if let Some(reason) = guard {
                println!("the safety guard would stop this run: {reason}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e @ SyncError::Source { .. }) => Err(anyhow::Error::new(e).context("sync failed")),
        Err(SyncError::Store(e)) => Err(anyhow::Error::new(e).context("sync failed")),
    }
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
