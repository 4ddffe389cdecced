//! `cargo xtask bench`: idmsync's benchmark. Generates directories of each size, runs the five
//! scenarios (first full sync, unchanged full sync, differential after changes, full sync after
//! deletions, differential after deletions) from each source into each database with the
//! release binary, measures every run (wall, CPU, peak RSS) next to the limits of the tools
//! underneath (ldapsearch, the databases' bulk loaders and readers), and, when asked for,
//! scenario f: the latency of deletions under `idmsync serve` with live sync ([`live`]), and
//! scenario p: a no-change full sync of users with passwords; and writes
//! `target/bench/<timestamp>.json` and, for a run that covers one of `docs/benchmarks.md`'s
//! generated sections ([`DocSection`]: the results table, issue 17's scale and password tables),
//! that section and its plot (a partial run writes its table and plot as
//! `target/bench/<timestamp>.md` and `.svg`). `bench scim` is issue 18's separate scenario:
//! concurrent SCIM clients against `idmsync serve` ([`scim`]); `bench merged` issue 20's, a
//! tenant of two sources against one ([`merged`]).

mod db;
mod live;
mod measure;
mod merged;
mod options;
mod report;
mod rows;
mod scim;
mod source;
mod svg;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Instant;

use anyhow::{Context, Result};
use idmsync_test_ldap::fixtures::Generated;

use self::db::Database;
use self::measure::{Measured, Usage};
use self::options::{Db, Options, Scenario, Size, SourceKind};
use self::report::{Sample, What};
use self::source::{Deltas, Source};
use crate::tidy::workspace_root;

pub use self::measure::{subcommand as measure_subcommand, SUBCOMMAND as MEASURE};
pub use self::options::USAGE;

/// The seed of every generated directory, so every run and every machine measures the same data.
const SEED: u64 = 2025;
/// Users and groups changed before scenario c, per hundred of each (issue 17's "differential of
/// 1% changes": 100 users and 10 groups at the small size, 1,000 and 100 at the large one).
const CHANGED_PERCENT: usize = 1;
/// Users deleted before scenarios d and e, per hundred.
const DELETED_PERCENT: usize = 1;
/// Memberships removed before scenario e (besides the deleted users'), per hundred.
const REMOVED_MEMBERSHIPS_PERCENT: usize = 1;
/// Lines of an idmsync log quoted when a run fails.
const TAIL_LINES: usize = 5;

/// Runs the bench that `args` (the arguments after `bench`) describe.
pub fn run(args: &[String]) -> Result<()> {
    if args.first().map(String::as_str) == Some("scim") {
        return scim::run(&args[1..]);
    }
    if args.first().map(String::as_str) == Some("merged") {
        return merged::run(&args[1..]);
    }
    let options = Options::parse(args)?;
    if options.dbs.iter().any(|db| *db != Db::Sqlite) {
        crate::services::ensure_running()?;
    }
    if options.scenarios.contains(&Scenario::P) && !options.sources.contains(&SourceKind::File) {
        eprintln!("scenario p reads the file source only: add `--source file` to run it");
    }
    let root = workspace_root();
    let binary = release_binary(options.binary.as_deref())?;
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
    let out = root.join("target").join("bench");
    let logs = out.join(format!("{stamp}-logs"));
    std::fs::create_dir_all(&logs).with_context(|| format!("creating {}", logs.display()))?;
    let mut bench = Bench {
        binary,
        logs,
        started: Instant::now(),
        today: chrono::Utc::now().format("%d/%m/%Y").to_string(),
        samples: Vec::new(),
        options,
    };
    for size in bench.options.sizes.clone() {
        bench.size(size)?;
    }

    let json_path = out.join(format!("{stamp}.json"));
    let json = serde_json::Value::Array(bench.samples.iter().map(Sample::json).collect());
    std::fs::write(&json_path, serde_json::to_string_pretty(&json)?)
        .with_context(|| format!("writing {}", json_path.display()))?;
    let rows = report::rows(&bench.samples);
    let live_rows = report::live_rows(&bench.samples);
    let password_rows = report::password_rows(&bench.samples);
    let sections = bench.options.doc_sections();
    let mut context = report::Context {
        machine: report::Machine::detect(),
        command: std::iter::once("cargo xtask bench")
            .chain(args.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(" "),
        date: chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
        runs: bench.options.runs,
        json: format!("target/bench/{stamp}.json"),
        plot: Some(format!("{stamp}.svg")),
    };
    let plot = svg::render(&svg::series(&rows));
    // Every run's table and plot go beside its JSON; a run that covers a section of the docs
    // replaces that section (and its plot) too.
    let section = report::markdown(&context, &rows, &live_rows, &password_rows);
    let mut written = vec![
        out.join(format!("{stamp}.md")),
        out.join(format!("{stamp}.svg")),
    ];
    std::fs::write(&written[0], &section)
        .with_context(|| format!("writing {}", written[0].display()))?;
    std::fs::write(&written[1], &plot)
        .with_context(|| format!("writing {}", written[1].display()))?;
    let docs = root.join("docs");
    for &which in &sections {
        context.plot = which.plot().map(str::to_string);
        let text = report::markdown(&context, &rows, &live_rows, &password_rows);
        let doc_path = report::write_section(which, &text)?;
        if !written.contains(&doc_path) {
            written.push(doc_path.clone());
        }
        if let Some(name) = which.plot() {
            let svg_path = docs.join(name);
            std::fs::write(&svg_path, &plot)
                .with_context(|| format!("writing {}", svg_path.display()))?;
            written.push(svg_path);
        }
    }
    if sections.is_empty() {
        eprintln!(
            "a partial run: docs/benchmarks.md is left as it is (only a run of every size, \
             source, database and scenario with 3 runs or more replaces its results; `{}` \
             replaces issue 17's scale table and `{}` its password table)",
            options::SCALE_COMMAND,
            options::PASSWORDS_COMMAND
        );
    } else {
        let names: Vec<String> = sections.iter().map(|s| format!("{s:?}")).collect();
        eprintln!(
            "docs/benchmarks.md: replaced the {} section(s)",
            names.join(", ")
        );
    }
    println!("{section}");
    let written: Vec<String> = written.iter().map(|p| p.display().to_string()).collect();
    eprintln!(
        "wrote {}, {} in {:.0} s; idmsync logs in {}",
        written.join(", "),
        json_path.display(),
        bench.started.elapsed().as_secs_f64(),
        bench.logs.display()
    );
    Ok(())
}

/// The state of one bench invocation.
struct Bench {
    options: Options,
    /// target/release/idmsync.
    binary: PathBuf,
    /// Where each idmsync run's output goes (`-v`: its phases, with timestamps).
    logs: PathBuf,
    started: Instant,
    /// `dd/MM/yyyy` in UTC, the file source's "today".
    today: String,
    samples: Vec<Sample>,
}

/// One database a source run writes to, with idmsync's configurations for it.
struct Target {
    db: Db,
    /// Dropped, and the database with it, at the end of the source run.
    database: Database,
    /// Scenarios a to d: LDAP changes found by `modifyTimestamp`, as before syncprov.
    timestamps: PathBuf,
    /// Scenario e: LDAP changes and deletions found by RFC 4533 content synchronisation.
    syncrepl: PathBuf,
}

/// A count the summary of a successful run must show: (`"user deactivated"`, 1000).
type Expected = (&'static str, u64);

/// Where a measurement belongs.
#[derive(Debug, Clone, Copy)]
struct Cell {
    size: Size,
    source: SourceKind,
    run: usize,
}

impl Bench {
    fn progress(&self, message: &str) {
        eprintln!(
            "[{:>7.1} s] {message}",
            self.started.elapsed().as_secs_f64()
        );
    }

    /// Every run of every source at one size.
    fn size(&mut self, size: Size) -> Result<()> {
        let (users, groups, memberships) = size.counts();
        self.progress(&format!(
            "{size}: generating {users} users, {groups} groups, {memberships} memberships"
        ));
        let directory = Generated::new(users, groups, memberships, SEED);
        let tmp = tempfile::Builder::new()
            .prefix("idmsync-bench-")
            .tempdir()
            .context("creating the bench's temporary directory")?;
        let mut row_files = Vec::new();
        for &source in &self.options.sources {
            row_files.push((source, rows::write(tmp.path(), &directory, source)?));
        }
        for run in 1..=self.options.runs {
            for (source, files) in &row_files {
                let cell = Cell {
                    size,
                    source: *source,
                    run,
                };
                self.source_run(cell, &directory, files, tmp.path())?;
            }
        }
        Ok(())
    }

    /// One run of every scenario from one source into every database: the source is set up
    /// once and changed between scenarios, and every database follows it.
    fn source_run(
        &mut self,
        cell: Cell,
        base: &Generated,
        row_files: &[PathBuf],
        tmp: &Path,
    ) -> Result<()> {
        let label = format!(
            "{} {} run {}/{}",
            cell.size, cell.source, cell.run, self.options.runs
        );
        let work = tempfile::Builder::new()
            .prefix("run-")
            .tempdir_in(tmp)
            .context("creating a run directory")?;
        let mut directory = base.clone();
        self.progress(&format!("{label}: preparing the source"));
        let loading = Instant::now();
        let source = Source::start(
            cell.source,
            &directory,
            work.path(),
            self.options.session_log,
        )?;
        self.progress(&format!(
            "{label}: source ready in {:.1} s",
            loading.elapsed().as_secs_f64()
        ));
        let read = source.read_limit().and_then(measure_all);
        self.record(cell, None, What::SourceRead, read);

        let mut targets = Vec::new();
        for db in self.options.dbs.clone() {
            for keys in [true, false] {
                let load = self.store_load(db, row_files, work.path(), keys);
                let what = if keys {
                    What::StoreLoad
                } else {
                    What::StoreLoadKeyless
                };
                self.record(cell, Some(db), what, load);
            }
            let database = Database::create(db)?;
            let config = |deltas: Deltas, name: &str| -> Result<PathBuf> {
                let path = work.path().join(format!("{db}-{name}.toml"));
                std::fs::write(&path, config_text(&database, &source, deltas, "", ""))
                    .with_context(|| format!("writing {}", path.display()))?;
                Ok(path)
            };
            targets.push(Target {
                db,
                timestamps: config(Deltas::Timestamp, "timestamps")?,
                syncrepl: config(Deltas::Syncrepl, "syncrepl")?,
                database,
            });
        }

        let wanted = |s: Scenario| self.options.scenarios.contains(&s);
        let want_p = wanted(Scenario::P) && cell.source == SourceKind::File;
        // Scenario p is compared with b: the same run without passwords.
        let (want_b, want_c, want_d, want_e, want_f) = (
            wanted(Scenario::B) || want_p,
            wanted(Scenario::C),
            wanted(Scenario::D),
            wanted(Scenario::E),
            wanted(Scenario::F),
        );
        for target in &targets {
            self.sync(
                cell,
                target.db,
                &target.timestamps,
                Scenario::A,
                "--full",
                &[],
            );
        }
        if want_b {
            for target in &targets {
                self.sync(
                    cell,
                    target.db,
                    &target.timestamps,
                    Scenario::B,
                    "--full",
                    &[],
                );
            }
        }
        if want_b || want_d {
            for target in &targets {
                let state = target
                    .database
                    .read_state(work.path())
                    .and_then(|measured| measure_all(vec![measured]));
                self.record(cell, Some(target.db), What::StateRead, state);
            }
        }
        if want_c {
            let (users, groups, _) = cell.size.counts();
            let (users, groups) = (
                users * CHANGED_PERCENT / 100,
                groups * CHANGED_PERCENT / 100,
            );
            self.progress(&format!(
                "{label}: changing {users} users and {groups} groups"
            ));
            let ldif = directory.change(users, groups, SEED + 1);
            source.apply(&directory, &ldif, &self.today)?;
            for target in &targets {
                let config = &target.timestamps;
                self.sync(cell, target.db, config, Scenario::C, "--differential", &[]);
            }
        }
        if want_d {
            let count = directory.users().len() * DELETED_PERCENT / 100;
            let ldif = directory.delete_users(count, SEED + 2);
            self.progress(&format!("{label}: deleting {count} users"));
            source.apply(&directory, &ldif, &self.today)?;
            for target in &targets {
                self.sync(
                    cell,
                    target.db,
                    &target.timestamps,
                    Scenario::D,
                    "--full",
                    &[],
                );
            }
        }
        if want_e {
            self.departures(cell, &label, &source, &mut directory, &targets)?;
        }
        if want_f {
            self.live(cell, &label, &source, &mut directory, &targets, work.path())?;
        }
        drop(targets);
        if want_p {
            self.passwords(cell, &label, base, work.path())?;
        }
        Ok(())
    }

    /// Scenario p on every database, from the file source with a clear password on every user
    /// of the unchanged directory `base`: a first full sync into a fresh database, which stores
    /// one argon2id hash per user (timed and recorded, but not a scenario of the tables), then
    /// the measured full sync with nothing changed, which must report no change.
    fn passwords(&mut self, cell: Cell, label: &str, base: &Generated, work: &Path) -> Result<()> {
        let dir = work.join("passwords");
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let source = Source::files_with_passwords(base, &dir, SEED)?;
        let users = base.present_users().count();
        for db in self.options.dbs.clone() {
            let database = Database::create(db)?;
            let config = dir.join(format!("{db}.toml"));
            let text = config_text(&database, &source, Deltas::Timestamp, "", "");
            std::fs::write(&config, text)
                .with_context(|| format!("writing {}", config.display()))?;
            self.progress(&format!(
                "{label} → {db}: (p) first sync with {users} passwords: one argon2id hash per \
                 user, about 40 ms of CPU each (some {} min); progress every minute",
                (users as u64 * 40).div_ceil(60_000)
            ));
            let log = self.log(cell, db, "p-first");
            let doing = format!("{label} → {db}: (p) first sync still hashing");
            let first = self.idmsync_watched(&config, &log, &doing);
            let what = What::Scenario(Scenario::P);
            match first {
                Ok((usage, None)) => {
                    self.record_usage(cell, Some(db), What::PasswordsFirstSync, usage, None);
                    let log = self.log(cell, db, "p");
                    // Minutes too, as long as idmsync verifies every stored hash.
                    let doing = format!("{label} → {db}: (p) no-change sync still running");
                    match self.idmsync_watched(&config, &log, &doing) {
                        Ok((usage, failure)) => {
                            let failure = failure.or_else(|| changed(&log));
                            self.record_usage(cell, Some(db), what, usage, failure);
                        }
                        Err(e) => self.record(cell, Some(db), what, Err(e)),
                    }
                }
                Ok((usage, Some(why))) => {
                    let first = What::PasswordsFirstSync;
                    self.record_usage(cell, Some(db), first, usage, Some(why.clone()));
                    let why = format!("the first sync with passwords failed: {why}");
                    self.record_usage(cell, Some(db), what, Usage::default(), Some(why));
                }
                Err(e) => {
                    let why = format!("the first sync with passwords failed: {e:#}");
                    self.record(cell, Some(db), What::PasswordsFirstSync, Err(e));
                    self.record_usage(cell, Some(db), what, Usage::default(), Some(why));
                }
            }
        }
        Ok(())
    }

    /// A full sync that may run for many minutes (scenario p's hashing), with a progress line
    /// every minute (`doing`, then the time so far) so that nobody takes it for a hang.
    fn idmsync_watched(
        &self,
        config: &Path,
        log: &Path,
        doing: &str,
    ) -> Result<(Usage, Option<String>)> {
        let started = Instant::now();
        let mut running = self
            .measured_idmsync(config, &["sync", "--full"], log)?
            .spawn()?;
        let mut next = 60;
        while !running.has_ended()? {
            std::thread::sleep(std::time::Duration::from_millis(200));
            let elapsed = started.elapsed().as_secs();
            if elapsed >= next {
                self.progress(&format!("{doing} after {elapsed} s"));
                next += 60;
            }
        }
        let (status, usage) = running.wait()?;
        if status.success() {
            return Ok((usage, None));
        }
        Ok((usage, Some(failed(status, log))))
    }

    /// Scenario e: a full sync with content synchronisation (not measured: it stores the
    /// cookies the differential starts from), then 1% of the users deleted and 1% of the
    /// memberships removed, then the measured differential, which must deactivate exactly the
    /// deleted users and remove exactly the memberships that went (a run that misses
    /// deletions fails).
    fn departures(
        &mut self,
        cell: Cell,
        label: &str,
        source: &Source,
        directory: &mut Generated,
        targets: &[Target],
    ) -> Result<()> {
        let mut ready = Vec::new();
        for target in targets {
            let log = self.log(cell, target.db, "e-start");
            match self.idmsync(&target.syncrepl, "--full", &log) {
                Ok((_, None)) => ready.push(target),
                Ok((usage, Some(why))) => {
                    let why = format!("the full sync before the differential failed: {why}");
                    let what = What::Scenario(Scenario::E);
                    self.record_usage(cell, Some(target.db), what, usage, Some(why));
                }
                Err(e) => self.record(cell, Some(target.db), What::Scenario(Scenario::E), Err(e)),
            }
        }
        let memberships =
            |d: &Generated| -> usize { d.groups().iter().map(|g| g.user_members.len()).sum() };
        let (users_before, memberships_before) =
            (directory.present_users().count(), memberships(directory));
        let (_, _, size_memberships) = cell.size.counts();
        let deleted = directory.users().len() * DELETED_PERCENT / 100;
        let removed = size_memberships * REMOVED_MEMBERSHIPS_PERCENT / 100;
        let mut ldif = directory.delete_users(deleted, SEED + 3);
        ldif.push_str(&directory.remove_members(removed, SEED + 4));
        let gone = |before: usize, after: usize| u64::try_from(before - after).unwrap_or(u64::MAX);
        let expected = [
            (
                "user deactivated",
                gone(users_before, directory.present_users().count()),
            ),
            (
                "membership removed",
                gone(memberships_before, memberships(directory)),
            ),
        ];
        self.progress(&format!(
            "{label}: deleting {deleted} users and removing {removed} more memberships"
        ));
        source.apply(directory, &ldif, &self.today)?;
        for target in ready {
            let config = &target.syncrepl;
            self.sync(
                cell,
                target.db,
                config,
                Scenario::E,
                "--differential",
                &expected,
            );
        }
        Ok(())
    }

    /// The bulk-load limit: the same rows loaded into a scratch database's empty tables, with
    /// their primary and unique keys (no foreign key, no other index) or into keyless copies of
    /// them.
    fn store_load(&self, db: Db, row_files: &[PathBuf], work: &Path, keys: bool) -> Result<Usage> {
        let scratch = Database::create(db)?;
        scratch.migrate()?;
        if keys {
            scratch.keep_only_unique_keys()?;
        }
        measure_all(vec![scratch.bulk_load(row_files, work, keys)?])
    }

    /// One idmsync run, recorded whatever its outcome: a failing scenario is a result, and so
    /// is a successful one whose summary does not show the `expected` counts.
    fn sync(
        &mut self,
        cell: Cell,
        db: Db,
        config: &Path,
        scenario: Scenario,
        mode: &str,
        expected: &[Expected],
    ) {
        let log = self.log(cell, db, scenario.name());
        match self.idmsync(config, mode, &log) {
            Ok((usage, failure)) => {
                let failure = failure.or_else(|| unexpected(&log, expected));
                self.record_usage(cell, Some(db), What::Scenario(scenario), usage, failure)
            }
            Err(e) => self.record(cell, Some(db), What::Scenario(scenario), Err(e)),
        }
    }

    /// Where the output of one idmsync run goes.
    fn log(&self, cell: Cell, db: Db, what: &str) -> PathBuf {
        self.logs.join(format!(
            "{}-{}-{db}-{what}-run{}.log",
            cell.size, cell.source, cell.run
        ))
    }

    /// Runs idmsync with `mode`; returns its usage, and why it failed if it exited non-zero
    /// (the cost of a failed run, such as one the guard stopped, is still worth showing).
    fn idmsync(&self, config: &Path, mode: &str, log: &Path) -> Result<(Usage, Option<String>)> {
        let measured = self.measured_idmsync(config, &["sync", mode], log)?;
        let (status, usage) = measured.run()?;
        if status.success() {
            return Ok((usage, None));
        }
        Ok((usage, Some(failed(status, log))))
    }

    /// A measured `idmsync --config <config> -v <args>`, its output to `log`, its environment
    /// without any `IDMSYNC*` variable.
    fn measured_idmsync(&self, config: &Path, args: &[&str], log: &Path) -> Result<Measured> {
        measured_idmsync(&self.binary, config, &[&["-v"], args].concat(), log)
    }

    /// Stores a measurement, or a failure whose cost is unknown.
    fn record(&mut self, cell: Cell, db: Option<Db>, what: What, outcome: Result<Usage>) {
        match outcome {
            Ok(usage) => self.record_usage(cell, db, what, usage, None),
            Err(e) => self.record_usage(cell, db, what, Usage::default(), Some(format!("{e:#}"))),
        }
    }

    /// Stores a measurement and reports it on stderr.
    fn record_usage(
        &mut self,
        cell: Cell,
        db: Option<Db>,
        what: What,
        usage: Usage,
        failure: Option<String>,
    ) {
        self.record_latencies(cell, db, what, usage, Vec::new(), failure);
    }

    /// Stores a measurement with the latencies it timed (scenario f), and reports it on stderr.
    fn record_latencies(
        &mut self,
        cell: Cell,
        db: Option<Db>,
        what: What,
        usage: Usage,
        latencies: Vec<std::time::Duration>,
        failure: Option<String>,
    ) {
        let name = match what {
            What::Scenario(s) => format!("({s}) {}", s.description()),
            What::SourceRead => "limit: source read".into(),
            What::StoreLoad => "limit: bulk load (PK + unique, no FK)".into(),
            What::StoreLoadKeyless => "limit: bulk load without keys".into(),
            What::StateRead => "limit: state read".into(),
            What::PasswordsFirstSync => "(p) first sync, hashing every password".into(),
        };
        let target = db.map_or(String::new(), |db| format!(" → {db}"));
        let verdict = failure
            .as_ref()
            .map_or(String::new(), |why| format!(" FAILED: {why}"));
        self.progress(&format!(
            "{} {}{target} run {}: {name}: {:.2} s wall, {:.2} s CPU, {} MB{verdict}",
            cell.size,
            cell.source,
            cell.run,
            usage.wall.as_secs_f64(),
            usage.cpu.as_secs_f64(),
            usage.max_rss_kib * 1024 / 1_000_000
        ));
        self.samples.push(Sample {
            size: cell.size,
            source: cell.source,
            db,
            what,
            run: cell.run,
            usage,
            failure,
            latencies,
        });
    }
}

/// The idmsync to measure: `--binary` when given, else a release build of this checkout (in
/// `CARGO_TARGET_DIR` when that is set, where cargo puts it).
///
/// # Errors
/// A `--binary` that does not exist, or a failed build.
pub(crate) fn release_binary(given: Option<&Path>) -> Result<PathBuf> {
    if let Some(binary) = given {
        return std::fs::canonicalize(binary)
            .with_context(|| format!("--binary {}", binary.display()));
    }
    crate::run("cargo", &["build", "--release", "--quiet", "-p", "idmsync"])?;
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"));
    Ok(target.join("release").join("idmsync"))
}

/// A measured `binary --config <config> <args>`, its output (stdout and stderr) to `log`, its
/// environment without any `IDMSYNC*` variable: the bench's configuration file is the whole
/// configuration.
pub(crate) fn measured_idmsync(
    binary: &Path,
    config: &Path,
    args: &[&str],
    log: &Path,
) -> Result<Measured> {
    let file = std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
    let mut measured = Measured::new(binary)?;
    let command = &mut measured.command;
    command
        .arg("--config")
        .arg(config)
        .args(args)
        .stdin(Stdio::null())
        .stdout(file.try_clone()?)
        .stderr(file)
        // Plain log lines, readable in the kept logs.
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG");
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("IDMSYNC") {
            command.env_remove(key);
        }
    }
    Ok(measured)
}

/// Why a run that exited with `status` failed: the status and the end of its `log`.
fn failed(status: std::process::ExitStatus, log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let tail = lines[lines.len().saturating_sub(TAIL_LINES)..].join(" / ");
    format!("{status} ({}): {tail}", log.display())
}

/// An idmsync configuration writing to `database` and reading `source` (finding changes by
/// `deltas`), with `sync` appended to its `[sync]` section and `more` (whole sections) after it.
fn config_text(
    database: &Database,
    source: &Source,
    deltas: Deltas,
    sync: &str,
    more: &str,
) -> String {
    format!(
        "[database]\nurl = {:?}\n\n[sync]\ntenant = \"default\"\n\
         max_deactivations = \"5%\"\n{sync}\n{more}{}",
        database.url(),
        source.config(deltas)
    )
}

/// Why the run logged in `log` is not what the directory's changes call for: a count of its
/// summary line other than `expected`; `None` when every count matches.
fn unexpected(log: &Path, expected: &[Expected]) -> Option<String> {
    if expected.is_empty() {
        return None;
    }
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let Some(counts) = summary_counts(&text) else {
        return Some(format!("no summary line in {}", log.display()));
    };
    let wrong: Vec<String> = expected
        .iter()
        .filter_map(|&(what, want)| {
            let seen = counts
                .iter()
                .find(|(_, w)| w == what)
                .map_or(0, |(n, _)| *n);
            (seen != want).then(|| format!("{seen} {what} where {want} should be"))
        })
        .collect();
    (!wrong.is_empty()).then(|| format!("{} ({})", wrong.join(", "), log.display()))
}

/// Why the run logged in `log` is not a run without change: the counts its summary shows
/// (warnings aside); `None` when it changed nothing.
fn changed(log: &Path) -> Option<String> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let Some(counts) = summary_counts(&text) else {
        return Some(format!("no summary line in {}", log.display()));
    };
    let changes: Vec<String> = counts
        .iter()
        .filter(|(_, what)| what != "warning")
        .map(|(n, what)| format!("{n} {what}"))
        .collect();
    (!changes.is_empty()).then(|| {
        format!(
            "changed {} where nothing should change ({})",
            changes.join(", "),
            log.display()
        )
    })
}

/// The counts of the summary a successful `sync` prints ("differential sync succeeded (run 7,
/// 0.81s): 1000 users deactivated, 1 membership removed"), each with its noun in the singular
/// ("user deactivated"); counts of zero are left out of the summary, so absent here. `None`
/// when `log` has no such line.
fn summary_counts(log: &str) -> Option<Vec<(u64, String)>> {
    let line = log
        .lines()
        .rev()
        .find(|l| l.contains(" sync succeeded (run "))?;
    let (_, counts) = line.split_once("): ")?;
    Some(
        counts
            .split(", ")
            .filter_map(|part| {
                let (n, rest) = part.split_once(' ')?;
                let (noun, verb) = rest.split_once(' ').unwrap_or((rest, ""));
                let noun = noun.strip_suffix('s').unwrap_or(noun);
                Some((
                    n.parse().ok()?,
                    format!("{noun} {verb}").trim_end().to_string(),
                ))
            })
            .collect(),
    )
}

/// Runs `commands` one after the other, each measured; fails on the first that fails.
fn measure_all(commands: Vec<Measured>) -> Result<Usage> {
    let mut total = Usage::default();
    for measured in commands {
        let what = format!("{:?}", measured.command);
        let (status, usage) = measured.run()?;
        if !status.success() {
            anyhow::bail!("{what} failed with {status}");
        }
        total = total.then(usage);
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_counts_are_read_in_the_singular() {
        let log = "2026-11-28T21:00:00Z  INFO read the source\n\
                   differential sync succeeded (run 7, 0.81s): 1000 users deactivated, \
                   1 membership removed, 2 warnings\n";
        assert_eq!(
            summary_counts(log),
            Some(vec![
                (1000, "user deactivated".to_string()),
                (1, "membership removed".to_string()),
                (2, "warning".to_string()),
            ])
        );
        assert_eq!(
            summary_counts("full sync succeeded (run 1, 0.10s): no changes\n"),
            Some(Vec::new())
        );
        assert_eq!(
            summary_counts("run 3 stopped by the safety guard: 9%\n"),
            None
        );
    }
}
