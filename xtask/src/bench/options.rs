//! What a `cargo xtask bench` invocation measures: the sizes, sources, databases, scenarios and
//! run count, parsed from its arguments.

use std::fmt;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use idmsync_test_ldap::SessionLog;

/// A directory size. Each size is 10× the one before in every dimension, so the ratio of two
/// neighbours tests the growth targets ("10× data ≤ 12× time" from small to large, ≤ 11× in time
/// and memory from large to huge).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Size {
    /// 10k users, 1k groups, 100k memberships.
    Small,
    /// 100k users, 10k groups, 1M memberships.
    Large,
    /// 1M users, 100k groups, 10M memberships: issue 17's size (the canonical scale run).
    Huge,
}

impl Size {
    /// (users, groups, memberships).
    pub fn counts(self) -> (usize, usize, usize) {
        match self {
            Size::Small => (10_000, 1_000, 100_000),
            Size::Large => (100_000, 10_000, 1_000_000),
            Size::Huge => (1_000_000, 100_000, 10_000_000),
        }
    }

    /// The number of users, the x axis of the scaling plot.
    pub fn users(self) -> usize {
        self.counts().0
    }
}

/// Where idmsync reads from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SourceKind {
    /// `users.txt` / `groups.txt`.
    File,
    /// A slapd started by the bench.
    Ldap,
}

/// Which database idmsync writes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Db {
    /// A file in the bench's temporary directory.
    Sqlite,
    /// postgres@127.0.0.1:5432, trust authentication.
    Postgres,
    /// root@127.0.0.1:3306, empty password.
    Mariadb,
}

/// The measured runs, in the order they happen to one database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scenario {
    /// First full sync into an empty database.
    A,
    /// Full sync with nothing changed.
    B,
    /// Differential sync after 1% of the users and 1% of the groups changed.
    C,
    /// Full sync after 1% of users were deleted.
    D,
    /// Differential sync after 1% of users were deleted and 1% of memberships removed: with
    /// LDAP, by RFC 4533 content synchronisation.
    E,
    /// Live sync under `idmsync serve` (LDAP only): 100 users deleted one at a time, each timed
    /// from its deletion in the directory to its committed deactivation. Not in [`Scenario::ALL`]
    /// (it takes minutes and reports latencies, not a run's cost): asked for by name.
    F,
    /// Passwords (file source only): an unmeasured first sync of the same directory with a
    /// clear password on every user (it stores one argon2id hash each), then a measured full sync
    /// with nothing changed, compared with scenario b's run of the same data without passwords.
    /// Not in [`Scenario::ALL`] (its first sync hashes for minutes): asked for by name.
    P,
}

impl Scenario {
    /// Every scenario of the results table, in order (all but the live scenario f).
    pub const ALL: [Scenario; 5] = [
        Scenario::A,
        Scenario::B,
        Scenario::C,
        Scenario::D,
        Scenario::E,
    ];

    /// What it measures, for tables and progress lines.
    pub fn description(self) -> &'static str {
        match self {
            Scenario::A => "first full sync",
            Scenario::B => "full, no change",
            Scenario::C => "differential, 1% users + 1% groups changed",
            Scenario::D => "full, 1% users deleted",
            Scenario::E => "differential, 1% users deleted + 1% memberships removed",
            Scenario::F => "live, deletion to committed deactivation",
            Scenario::P => "full, no change, a password on every user",
        }
    }
}

/// Lower-case names, as on the command line and in the JSON.
macro_rules! named {
    ($ty:ty { $($variant:ident => $name:literal),* $(,)? }) => {
        impl $ty {
            /// The name used on the command line, in tables and in the JSON.
            pub fn name(self) -> &'static str {
                match self { $(<$ty>::$variant => $name),* }
            }

            pub(super) fn parse(text: &str) -> Result<Self> {
                match text {
                    $($name => Ok(<$ty>::$variant),)*
                    other => bail!(
                        "unknown {} {other:?}: expected one of {}",
                        stringify!($ty).to_lowercase(),
                        [$($name),*].join(", ")
                    ),
                }
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.name())
            }
        }
    };
}

named!(Size { Small => "small", Large => "large", Huge => "huge" });
named!(SourceKind { File => "file", Ldap => "ldap" });
named!(Db { Sqlite => "sqlite", Postgres => "postgres", Mariadb => "mariadb" });
named!(Scenario { A => "a", B => "b", C => "c", D => "d", E => "e", F => "f", P => "p" });

/// A parsed `cargo xtask bench` command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Sizes, smallest first.
    pub sizes: Vec<Size>,
    /// Sources.
    pub sources: Vec<SourceKind>,
    /// Databases.
    pub dbs: Vec<Db>,
    /// The scenarios to report (scenario a always runs: the others need its data; p runs b
    /// too, its reference).
    pub scenarios: Vec<Scenario>,
    /// Repetitions of every measurement; tables show medians.
    pub runs: usize,
    /// An idmsync binary to measure instead of building `target/release/idmsync` (another
    /// build, or one from a checkout that does not compile right now).
    pub binary: Option<PathBuf>,
    /// The session log of the bench slapd's syncprov overlay: with one longer than the changes
    /// of scenario e, its refreshes name what left (the delete phase); without one, they name
    /// everything still there (the present phase).
    pub session_log: SessionLog,
}

/// A generated section of `docs/benchmarks.md`, between its own markers, which only a run of
/// the right shape replaces (so that a quick partial run cannot overwrite committed figures with
/// a table of a few rows).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocSection {
    /// The results table: both issue sizes, both sources, SQLite and PostgreSQL, every scenario
    /// of [`Scenario::ALL`], medians of at least 3, syncprov's default session log.
    Results,
    /// Issue 17's scale table: the large and huge sizes, the LDAP source, SQLite and
    /// PostgreSQL, scenarios a, b and c ([`SCALE_COMMAND`]).
    Scale,
    /// Issue 17's password table: scenario p at the large size, the file source, SQLite and
    /// PostgreSQL ([`PASSWORDS_COMMAND`]).
    Passwords,
    /// Issue 18's SCIM table: `cargo xtask bench scim` with its defaults (both databases,
    /// 10,000 users, 50 clients), written by [`super::scim`].
    Scim,
    /// Issue 20's table: `cargo xtask bench merged` with its defaults, written by
    /// [`super::merged`].
    Merged,
}

/// The canonical run of issue 17's scale targets, which replaces [`DocSection::Scale`].
pub const SCALE_COMMAND: &str =
    "cargo xtask bench --size large,huge --source ldap --db postgres,sqlite --scenario a,b,c --runs 1";
/// The canonical run of issue 17's password target, which replaces [`DocSection::Passwords`].
pub const PASSWORDS_COMMAND: &str =
    "cargo xtask bench --size large --source file --db postgres,sqlite --scenario b,p --runs 1";

impl DocSection {
    /// The markers around the section; prose outside them survives.
    pub fn markers(self) -> (&'static str, &'static str) {
        match self {
            DocSection::Results => ("<!-- bench:begin -->", "<!-- bench:end -->"),
            DocSection::Scale => ("<!-- bench-scale:begin -->", "<!-- bench-scale:end -->"),
            DocSection::Passwords => (
                "<!-- bench-passwords:begin -->",
                "<!-- bench-passwords:end -->",
            ),
            DocSection::Scim => ("<!-- bench-scim:begin -->", "<!-- bench-scim:end -->"),
            DocSection::Merged => ("<!-- bench-merged:begin -->", "<!-- bench-merged:end -->"),
        }
    }

    /// The plot the section shows, written beside `docs/benchmarks.md`; the password section
    /// has none (one size, one point per line).
    pub fn plot(self) -> Option<&'static str> {
        match self {
            DocSection::Results => Some("bench-scaling.svg"),
            DocSection::Scale => Some("bench-scaling-huge.svg"),
            DocSection::Passwords | DocSection::Scim | DocSection::Merged => None,
        }
    }
}

impl Options {
    /// The sections of `docs/benchmarks.md` this run measures everything of, and so replaces;
    /// empty for a partial run, whose table and plot go beside its JSON.
    pub fn doc_sections(&self) -> Vec<DocSection> {
        fn has<T: PartialEq>(all: &[T], wanted: &[T]) -> bool {
            wanted.iter().all(|w| all.contains(w))
        }
        let both_dbs = has(&self.dbs, &[Db::Sqlite, Db::Postgres]);
        let mut sections = Vec::new();
        if has(&self.sizes, &[Size::Small, Size::Large])
            && has(&self.sources, &[SourceKind::File, SourceKind::Ldap])
            && both_dbs
            && has(&self.scenarios, &Scenario::ALL)
            && self.runs >= 3
            && self.session_log == SESSION_LOG
        {
            sections.push(DocSection::Results);
        }
        if has(&self.sizes, &[Size::Large, Size::Huge])
            && has(&self.sources, &[SourceKind::Ldap])
            && both_dbs
            && has(&self.scenarios, &[Scenario::A, Scenario::B, Scenario::C])
        {
            sections.push(DocSection::Scale);
        }
        if has(&self.sizes, &[Size::Large])
            && has(&self.sources, &[SourceKind::File])
            && both_dbs
            && has(&self.scenarios, &[Scenario::P])
        {
            sections.push(DocSection::Passwords);
        }
        sections
    }
}

/// The usage text, shown on a bad argument and by `cargo xtask help`.
pub const USAGE: &str = "cargo xtask bench [ldap | store] [--size small,large,huge] \
     [--source file,ldap] [--db sqlite,postgres,mariadb] [--scenario a,b,c,d,e,f,p] [--runs N] \
     [--binary PATH] [--session-log OPERATIONS|none]\n    \
     cargo xtask bench scim [--db sqlite,postgres] [--users N] [--clients N] [--binary PATH]\n    \
     cargo xtask bench merged [--users N] [--binary PATH]";

/// syncprov's session log unless `--session-log` says otherwise: longer than the changes of
/// scenario e at every size up to large (the large size's 1,000 deletions and about 12,000 group
/// modifications), so its refreshes have a delete phase.
const SESSION_LOG: SessionLog = SessionLog::Operations(100_000);

impl Options {
    /// Parses the arguments after `bench`. `ldap` (only the LDAP source, every database) and
    /// `store` (the file source into every database: the store's own figures) change the
    /// defaults; flags given after them still win.
    pub fn parse(args: &[String]) -> Result<Options> {
        let mut options = Options {
            sizes: vec![Size::Small, Size::Large],
            sources: vec![SourceKind::File, SourceKind::Ldap],
            dbs: vec![Db::Sqlite, Db::Postgres],
            scenarios: Scenario::ALL.to_vec(),
            runs: 3,
            binary: None,
            session_log: SESSION_LOG,
        };
        let mut rest = args;
        match rest.first().map(String::as_str) {
            Some("ldap") => {
                options.sources = vec![SourceKind::Ldap];
                options.dbs = vec![Db::Sqlite, Db::Postgres, Db::Mariadb];
                rest = &rest[1..];
            }
            Some("store") => {
                options.sources = vec![SourceKind::File];
                options.dbs = vec![Db::Sqlite, Db::Postgres, Db::Mariadb];
                rest = &rest[1..];
            }
            _ => {}
        }
        let mut flags = rest.iter();
        while let Some(flag) = flags.next() {
            let value = flags
                .next()
                .with_context(|| format!("{flag} needs a value; usage: {USAGE}"))?;
            match flag.as_str() {
                "--size" => options.sizes = list(value, Size::parse)?,
                "--source" => options.sources = list(value, SourceKind::parse)?,
                "--db" => options.dbs = list(value, Db::parse)?,
                "--scenario" => options.scenarios = list(value, Scenario::parse)?,
                "--runs" => {
                    options.runs = value
                        .parse()
                        .ok()
                        .filter(|&n| n > 0)
                        .with_context(|| format!("--runs {value:?} is not a positive number"))?
                }
                "--binary" => options.binary = Some(PathBuf::from(value)),
                "--session-log" => options.session_log = session_log(value)?,
                other => bail!("unknown argument {other:?}; usage: {USAGE}"),
            }
        }
        Ok(options)
    }
}

/// `--session-log`'s value: a number of operations, or `none`.
fn session_log(value: &str) -> Result<SessionLog> {
    if value == "none" {
        return Ok(SessionLog::None);
    }
    let operations = value.parse().ok().filter(|&n| n > 0);
    operations.map(SessionLog::Operations).with_context(|| {
        format!("--session-log {value:?} is neither a positive number nor \"none\"")
    })
}

/// A comma-separated list, sorted and without repeats, so runs happen in a fixed order.
pub(super) fn list<T: Ord>(text: &str, parse: fn(&str) -> Result<T>) -> Result<Vec<T>> {
    let mut items = text
        .split(',')
        .map(|item| parse(item.trim()))
        .collect::<Result<Vec<T>>>()?;
    items.sort();
    items.dedup();
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(list: &[&str]) -> Result<Options> {
        let args: Vec<String> = list.iter().map(|s| s.to_string()).collect();
        Options::parse(&args)
    }

    #[test]
    fn defaults_are_both_sizes_both_sources_two_databases_three_runs() {
        let options = parse(&[]).expect("defaults");
        assert_eq!(options.sizes, [Size::Small, Size::Large]);
        assert_eq!(options.sources, [SourceKind::File, SourceKind::Ldap]);
        assert_eq!(options.dbs, [Db::Sqlite, Db::Postgres]);
        assert_eq!(options.scenarios, Scenario::ALL);
        assert_eq!(options.runs, 3);
        assert_eq!(options.session_log, SESSION_LOG);
    }

    #[test]
    fn the_session_log_is_a_length_or_none() {
        let none = parse(&["--session-log", "none"]).expect("none");
        assert_eq!(none.session_log, SessionLog::None);
        let short = parse(&["--session-log", "10"]).expect("a length");
        assert_eq!(short.session_log, SessionLog::Operations(10));
        for bad in ["0", "-1", "many"] {
            let error = parse(&["--session-log", bad]).expect_err(bad).to_string();
            assert!(error.contains(bad), "{error}");
        }
    }

    #[test]
    fn only_a_run_covering_the_whole_table_replaces_it() {
        let sections = |args: &[&str]| parse(args).expect("valid").doc_sections();
        assert_eq!(sections(&[]), [DocSection::Results]);
        assert_eq!(
            sections(&[
                "--size",
                "small,large,huge",
                "--db",
                "sqlite,postgres,mariadb"
            ]),
            [DocSection::Results, DocSection::Scale]
        );
        for partial in [
            &["--size", "small", "--runs", "1"][..],
            &["--runs", "1"],
            &["ldap"],
            &["store"],
            &["--scenario", "a,b"],
            &["--scenario", "a,b,c,d"],
            &["--session-log", "none"],
            &["--db", "postgres"],
        ] {
            assert!(
                !sections(partial).contains(&DocSection::Results),
                "{partial:?}"
            );
        }
    }

    #[test]
    fn the_canonical_issue_17_runs_replace_their_sections() {
        let command = |text: &str| -> Vec<DocSection> {
            let args: Vec<&str> = text
                .strip_prefix("cargo xtask bench ")
                .expect("a bench command")
                .split(' ')
                .collect();
            parse(&args).expect("valid").doc_sections()
        };
        assert_eq!(command(SCALE_COMMAND), [DocSection::Scale]);
        assert_eq!(command(PASSWORDS_COMMAND), [DocSection::Passwords]);
        for partial in [
            "cargo xtask bench --size small,large --source ldap --scenario a,b,c --runs 1",
            "cargo xtask bench --size large,huge --source ldap --db postgres --scenario a,b,c",
            "cargo xtask bench --size large,huge --source file --scenario a,b,c",
            "cargo xtask bench --size large,huge --source ldap --scenario a,b",
            "cargo xtask bench --size small --source file --scenario b,p",
            "cargo xtask bench --size large --source file --db sqlite --scenario b,p",
        ] {
            assert!(command(partial).is_empty(), "{partial}");
        }
        let (begin, end) = DocSection::Scale.markers();
        assert!(begin.contains("bench-scale:begin") && end.contains("bench-scale:end"));
        assert_eq!(DocSection::Scale.plot(), Some("bench-scaling-huge.svg"));
        assert_eq!(DocSection::Passwords.plot(), None);
    }

    #[test]
    fn aliases_pick_sources_and_databases_and_flags_still_apply() {
        let ldap = parse(&["ldap", "--size", "small"]).expect("ldap");
        assert_eq!(ldap.sources, [SourceKind::Ldap]);
        assert_eq!(ldap.dbs, [Db::Sqlite, Db::Postgres, Db::Mariadb]);
        assert_eq!(ldap.sizes, [Size::Small]);
        let store = parse(&["store"]).expect("store");
        assert_eq!(store.sources, [SourceKind::File]);
        assert_eq!(store.dbs.len(), 3);
    }

    #[test]
    fn lists_are_sorted_and_deduplicated() {
        let options =
            parse(&["--scenario", "d,a,d", "--db", "postgres", "--runs", "1"]).expect("options");
        assert_eq!(options.scenarios, [Scenario::A, Scenario::D]);
        let live = parse(&["--scenario", "f"]).expect("the live scenario");
        assert_eq!(live.scenarios, [Scenario::F]);
        let passwords = parse(&["--scenario", "p,b"]).expect("the password scenario");
        assert_eq!(passwords.scenarios, [Scenario::B, Scenario::P]);
        for by_name in [Scenario::F, Scenario::P] {
            assert!(
                !Scenario::ALL.contains(&by_name),
                "{by_name} is asked for by name"
            );
        }
        assert_eq!(options.dbs, [Db::Postgres]);
        assert_eq!(options.runs, 1);
    }

    #[test]
    fn bad_arguments_are_named() {
        for bad in [
            &["--size", "medium"][..],
            &["--runs", "0"],
            &["--runs"],
            &["--colour", "red"],
            &["--db", "oracle"],
        ] {
            let error = parse(bad).expect_err("bad arguments").to_string();
            assert!(
                error.contains(bad[bad.len() - 1]) || error.contains(bad[0]),
                "{error}"
            );
        }
    }
}
