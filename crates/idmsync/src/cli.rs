//! The command line, as clap derives it. `idmsync --help` is generated from these doc comments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Keeps an application's users, groups and memberships in step with a directory.
///
/// Exit status: 0 success, 1 error, 2 usage or configuration error, 3 stopped by the safety guard
/// (for `sync --dry-run`: the guard would stop the real run).
#[derive(Debug, Parser)]
#[command(name = "idmsync", version, propagate_version = true)]
pub struct Cli {
    /// Configuration file (TOML). Every key can be overridden by an environment variable
    /// IDMSYNC__SECTION__KEY, e.g. IDMSYNC__DATABASE__URL.
    #[arg(
        long,
        short,
        global = true,
        default_value = "config/default.toml",
        env = "IDMSYNC_CONFIG"
    )]
    pub config: PathBuf,

    /// The tenant to work on, when the configuration has several (`[tenants.NAME]`), e.g.
    /// `idmsync --tenant contractors sync`; with one tenant it may be left out.
    #[arg(long, global = true, env = "IDMSYNC_TENANT", value_name = "NAME")]
    pub tenant: Option<String>,

    /// More log output on stderr (-v info, -vv debug, -vvv trace); RUST_LOG takes precedence.
    #[arg(long, short, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Log format on stderr: `text` for people, `json` (one object per line) for collectors;
    /// with `json`, what `sync` and `serve` say on stdout is one JSON object a line too.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Log formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// JSON objects, one per line.
    Json,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Synchronise now: full if no run has succeeded yet, else differential.
    Sync(SyncArgs),
    /// Run as a service: sync on boot, full and differential syncs on the configured schedules,
    /// the REST API and the operator's console at / (http.listen; docs/console.md). With
    /// `source.type = "scim"`, the SCIM 2.0 endpoints under /scim/v2 instead of the boot sync
    /// and the schedules (docs/scim.md). Without --tenant, every tenant of a several-tenant
    /// configuration on one listener, the API asked with tenantId=NAME (no console, no SCIM
    /// tenant). Stops gracefully on SIGTERM or Ctrl-C.
    Serve,
    /// Users in the local database.
    #[command(subcommand)]
    Users(ListCommand),
    /// Groups in the local database, with the number of their direct members (`show` and
    /// `--format json` list them).
    #[command(subcommand)]
    Groups(ListCommand),
    /// The run log: every sync run and its changes.
    #[command(subcommand)]
    Log(LogCommand),
    /// Check a login the way the REST API does.
    #[command(subcommand)]
    Auth(AuthCommand),
    /// Create or upgrade the database schema (also done before `sync`, `serve` and `auth`).
    Migrate,
    /// A tenant whose identity provider pushes by SCIM (`source.type = "scim"`).
    #[command(subcommand)]
    Scim(ScimCommand),
    /// The configuration file.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Print a shell completion script, e.g.
    /// `idmsync completions bash > /etc/bash_completion.d/idmsync`. Reads no configuration.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Write the manual pages into DIR: idmsync.1 and one page per subcommand
    /// (idmsync-sync.1, idmsync-users-list.1, …), e.g.
    /// `sudo idmsync man /usr/local/share/man/man1`, then `man idmsync`. Reads no configuration.
    Man {
        /// The directory, usually a `man1` directory on the MANPATH; it must exist.
        dir: std::path::PathBuf,
    },
}

/// `config` subcommands.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Check everything a sync and `serve` need, changing nothing: every key (cron
    /// expressions, time zone, filters, DN patterns, TLS files), then the source (for LDAP:
    /// bind, server type and controls, the search bases, how many users and groups the filters
    /// select) and the database (version, schema, contents). One line per finding; exit 0 when
    /// all pass, 2 when anything is wrong.
    ///
    /// Example: `idmsync --config /etc/idmsync/idmsync.toml config check`
    Check {
        /// Output format: JSON is `{"ok", "checks": [{"part", "ok", "message"}]}`.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
}

/// `scim` subcommands.
#[derive(Debug, Subcommand)]
pub enum ScimCommand {
    /// Let the SCIM guard's refused deactivations through for one window
    /// (`source.scim.guard_window_secs`): for a provisioning job that really does remove many
    /// users. Recorded in the run log (a run of type `scim` with a `guard-released` line); a
    /// running `idmsync serve` picks it up with the provider's next retry. Same as
    /// `POST /api/enterprise/scim/guard/release`.
    ///
    /// Example: `idmsync --config /etc/idmsync/idmsync.toml scim release-guard`
    ReleaseGuard,
}

/// `auth` subcommands.
#[derive(Debug, Subcommand)]
pub enum AuthCommand {
    /// Check USER's password: read from standard input when it is not a terminal, else
    /// prompted for without echo (never an argument, which would show in `ps` and shell
    /// history). Exits 0 when the login is accepted, 1 otherwise, with one message for every
    /// kind of failure.
    Check {
        /// The login: an external id, or an e-mail address with `auth.login = "email"`.
        user: String,
    },
}

/// `sync` options.
#[derive(Debug, Args)]
pub struct SyncArgs {
    /// Reconcile the whole source; the only kind of run that deactivates missing users.
    #[arg(long, conflicts_with = "differential")]
    pub full: bool,
    /// Apply only what changed since the last successful run.
    #[arg(long)]
    pub differential: bool,
    /// Re-read one user now, by login (external id), with the groups they are in and were in:
    /// created or updated, and deactivated if the source no longer has them. Recorded as a
    /// run of type `user`, through the same guard; the next differential run is unaffected.
    /// Example: `idmsync sync --user jlennon`.
    #[arg(long, value_name = "LOGIN", conflicts_with_all = ["full", "differential"])]
    pub user: Option<String>,
    /// Print the changes the run would make as log lines; write nothing. Exits 3 when the
    /// safety guard would stop the real run.
    #[arg(long)]
    pub dry_run: bool,
    /// Apply the run even if the safety guard (sync.max_deactivations) would stop it.
    #[arg(long)]
    pub force: bool,
}

/// `users` and `groups` subcommands.
#[derive(Debug, Subcommand)]
pub enum ListCommand {
    /// List all of them, inactive ones included, sorted by external id.
    List(ListArgs),
    /// Show one in full: a user with its source id and locator (DN), status, who deactivated
    /// it, its direct and inherited groups, in a tenant of several sources which entry of each
    /// makes it, and its history (the newest 20 run-log lines about it); a group with its direct members, child groups and parent groups. Memberships are
    /// the active ones.
    Show(ShowArgs),
}

/// Which one to show.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Its external id: a user's login, a group's id, as `list` shows them.
    pub id: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

/// Listing options.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Only entries with this status.
    #[arg(long, value_enum)]
    pub status: Option<StatusArg>,
}

/// `log` subcommands.
#[derive(Debug, Subcommand)]
pub enum LogCommand {
    /// List runs, newest first: id, type, trigger, start, end, outcome, and the counts of
    /// what changed or, for a run that failed or was stopped, the reason.
    List {
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// Show at most this many runs.
        #[arg(long, default_value_t = 50)]
        limit: u64,
    },
    /// Print one run's log lines as `event-key: message`.
    Show {
        /// The run id, as shown by `log list`.
        id: i64,
        /// Output format: JSON is an array of `{"event", "message"}` in the order written.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned columns for people.
    Table,
    /// JSON for scripts (stable shapes, sorted by external id).
    Json,
}

/// Status filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StatusArg {
    /// Only active entries.
    Active,
    /// Only inactive entries.
    Inactive,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
