//! What the bench found, as data (every measurement, written as JSON) and as the markdown
//! section of `docs/benchmarks.md`: medians per scenario next to the limits and the targets of
//! the performance issue.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use anyhow::{bail, Result};
use serde_json::{json, Value};

use super::measure::{median, percentile, Usage};
use super::options::{Db, Scenario, Size, SourceKind};

/// The markers around the generated part of `docs/benchmarks.md`; prose outside them survives.
pub const BEGIN: &str = "<!-- bench:begin -->";
/// See [`BEGIN`].
pub const END: &str = "<!-- bench:end -->";

/// Peak RSS target of every scenario, in KiB (400 MB).
const RSS_TARGET_KIB: u64 = 400 * 1000 * 1000 / 1024;
/// The targets on time, from the performance issue (scenario e's 1 s is issue 16's).
const TARGET_A: f64 = 2.0;
const TARGET_B: f64 = 1.5;
const TARGET_C_SECS: f64 = 1.0;
const TARGET_GROWTH: f64 = 12.0;
/// Scenario f: p99 of deletion to committed deactivation under live sync (issue 16).
const TARGET_LIVE_P99_SECS: f64 = 2.0;

/// What one measurement was of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum What {
    /// An idmsync run.
    Scenario(Scenario),
    /// The source's own reading tool (ldapsearch, cat) reading what idmsync reads.
    SourceRead,
    /// The database client bulk-loading the same rows into empty tables.
    StoreLoad,
    /// The same load into copies of the tables without keys or indexes: the floor under any
    /// load, which no schema with keys reaches.
    StoreLoadKeyless,
    /// The database client reading the tables idmsync loads its state from.
    StateRead,
}

impl What {
    fn name(self) -> String {
        match self {
            What::Scenario(s) => format!("scenario-{s}"),
            What::SourceRead => "limit-source-read".into(),
            What::StoreLoad => "limit-store-load".into(),
            What::StoreLoadKeyless => "limit-store-load-keyless".into(),
            What::StateRead => "limit-state-read".into(),
        }
    }
}

/// One measurement.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The directory size.
    pub size: Size,
    /// The source.
    pub source: SourceKind,
    /// The database; `None` for the source's own limit.
    pub db: Option<Db>,
    /// What ran.
    pub what: What,
    /// Which repetition (1-based).
    pub run: usize,
    /// What it cost.
    pub usage: Usage,
    /// Why it failed (exit status and the end of its log), if it did.
    pub failure: Option<String>,
    /// Scenario f: each deletion's time to its committed deactivation, in deletion order (the
    /// usage is then `idmsync serve`'s over the whole scenario); empty for every other sample.
    pub latencies: Vec<std::time::Duration>,
}

impl Sample {
    /// The sample as a JSON object.
    pub fn json(&self) -> Value {
        let mut value = self.common_json();
        if !self.latencies.is_empty() {
            let secs = latency_secs(&self.latencies);
            value["latencies_s"] = json!(secs);
            value["p50_s"] = json!(percentile(&secs, 50.0));
            value["p99_s"] = json!(percentile(&secs, 99.0));
            value["max_s"] = json!(percentile(&secs, 100.0));
        }
        value
    }

    fn common_json(&self) -> Value {
        json!({
            "size": self.size.name(),
            "users": self.size.users(),
            "source": self.source.name(),
            "db": self.db.map(Db::name),
            "what": self.what.name(),
            "run": self.run,
            "wall_s": self.usage.wall.as_secs_f64(),
            "cpu_s": self.usage.cpu.as_secs_f64(),
            "max_rss_kib": self.usage.max_rss_kib,
            "failure": self.failure,
        })
    }
}

/// One row of a results table: a scenario on one source and database, over its runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The size.
    pub size: Size,
    /// The scenario.
    pub scenario: Scenario,
    /// The source.
    pub source: SourceKind,
    /// The database.
    pub db: Db,
    /// Median wall seconds of the successful runs.
    pub wall: Option<f64>,
    /// Median CPU seconds of the successful runs.
    pub cpu: Option<f64>,
    /// The largest peak RSS of any run, KiB.
    pub max_rss_kib: u64,
    /// The limit in seconds and what it consists of.
    pub limit: Option<(f64, String)>,
    /// For scenario a, the source read plus the keyless load, in seconds.
    pub keyless: Option<f64>,
    /// The first failure, if any run failed.
    pub failure: Option<String>,
    /// Failed runs of all runs.
    pub failed: (usize, usize),
}

fn latency_secs(latencies: &[std::time::Duration]) -> Vec<f64> {
    latencies
        .iter()
        .map(std::time::Duration::as_secs_f64)
        .collect()
}

/// Groups the samples into rows, one per (size, scenario, source, database), in that order;
/// the live scenario f has rows of its own ([`live_rows`]).
pub fn rows(samples: &[Sample]) -> Vec<Row> {
    let mut groups: BTreeMap<(Size, Scenario, SourceKind, Db), Vec<&Sample>> = BTreeMap::new();
    for sample in samples {
        if let (What::Scenario(scenario), Some(db)) = (sample.what, sample.db) {
            if scenario == Scenario::F {
                continue;
            }
            groups
                .entry((sample.size, scenario, sample.source, db))
                .or_default()
                .push(sample);
        }
    }
    groups
        .into_iter()
        .map(|((size, scenario, source, db), runs)| {
            let ok: Vec<&&Sample> = runs.iter().filter(|s| s.failure.is_none()).collect();
            let secs =
                |f: fn(&Usage) -> f64| median(&ok.iter().map(|s| f(&s.usage)).collect::<Vec<_>>());
            Row {
                size,
                scenario,
                source,
                db,
                wall: secs(|u| u.wall.as_secs_f64()),
                cpu: secs(|u| u.cpu.as_secs_f64()),
                max_rss_kib: runs.iter().map(|s| s.usage.max_rss_kib).max().unwrap_or(0),
                limit: limit(samples, size, scenario, source, db),
                keyless: (scenario == Scenario::A)
                    .then(|| {
                        Some(
                            part(samples, (size, source), What::SourceRead, None)?
                                + part(samples, (size, source), What::StoreLoadKeyless, Some(db))?,
                        )
                    })
                    .flatten(),
                failure: runs.iter().find_map(|s| s.failure.clone()),
                failed: (runs.len() - ok.len(), runs.len()),
            }
        })
        .collect()
}

/// One row of the live scenario's table: its deletions on one source and database, over its
/// runs.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveRow {
    /// The size.
    pub size: Size,
    /// The source.
    pub source: SourceKind,
    /// The database.
    pub db: Db,
    /// Every timed deletion of every run, in seconds (a failed run's too, up to its failure).
    pub latencies: Vec<f64>,
    /// `idmsync serve`'s CPU seconds over the scenario, median of the successful runs.
    pub cpu: Option<f64>,
    /// `idmsync serve`'s largest peak RSS, KiB.
    pub max_rss_kib: u64,
    /// The first failure, if any run failed.
    pub failure: Option<String>,
    /// Failed runs of all runs.
    pub failed: (usize, usize),
}

/// The live scenario's rows, one per (size, source, database).
pub fn live_rows(samples: &[Sample]) -> Vec<LiveRow> {
    let mut groups: BTreeMap<(Size, SourceKind, Db), Vec<&Sample>> = BTreeMap::new();
    for sample in samples {
        if let (What::Scenario(Scenario::F), Some(db)) = (sample.what, sample.db) {
            groups
                .entry((sample.size, sample.source, db))
                .or_default()
                .push(sample);
        }
    }
    groups
        .into_iter()
        .map(|((size, source, db), runs)| {
            let ok: Vec<f64> = runs
                .iter()
                .filter(|s| s.failure.is_none())
                .map(|s| s.usage.cpu.as_secs_f64())
                .collect();
            LiveRow {
                size,
                source,
                db,
                latencies: runs
                    .iter()
                    .flat_map(|s| latency_secs(&s.latencies))
                    .collect(),
                cpu: median(&ok),
                max_rss_kib: runs.iter().map(|s| s.usage.max_rss_kib).max().unwrap_or(0),
                failure: runs.iter().find_map(|s| s.failure.clone()),
                failed: (runs.len() - ok.len(), runs.len()),
            }
        })
        .collect()
}

/// The live scenario's section: latency percentiles against the p99 target.
fn live_section(rows: &[LiveRow]) -> String {
    let mut out = format!(
        "### (f) live sync: deletion to committed deactivation\n\n\
         `idmsync serve` with `sync.live` (batches of 500 ms) follows the bench slapd; users are \
         deleted one at a time (with their memberships, as a referential-integrity overlay \
         does), each after a pause of 0 to 500 ms, and timed from the end of its ldapmodify to \
         the first poll (every 10 ms) that reads its row `inactive`. Target: p99 ≤ \
         {TARGET_LIVE_P99_SECS} s.\n\n\
         | size | source | db | deletions | p50 | p99 | max | serve CPU | serve peak RSS | target |\n\
         |---|---|---|---:|---:|---:|---:|---:|---:|---|\n"
    );
    for row in rows {
        let at = |p: f64| percentile(&row.latencies, p).map_or("—".to_string(), seconds);
        let p99 = percentile(&row.latencies, 99.0);
        let failed = if row.failed.0 > 0 {
            format!(" ({}/{} runs failed)", row.failed.0, row.failed.1)
        } else {
            String::new()
        };
        let target = match (p99, row.failure.is_none()) {
            (Some(p99), true) => verdict(
                p99 <= TARGET_LIVE_P99_SECS,
                &format!("p99 ≤ {TARGET_LIVE_P99_SECS} s"),
            ),
            _ => "—".into(),
        };
        writeln!(
            out,
            "| {} | {} | {} | {}{failed} | {} | {} | {} | {} | {} | {target} |",
            row.size,
            row.source,
            row.db,
            row.latencies.len(),
            at(50.0),
            at(99.0),
            at(100.0),
            row.cpu.map_or("—".to_string(), seconds),
            megabytes(row.max_rss_kib),
        )
        .expect("writing to a String cannot fail");
    }
    out.push('\n');
    out
}

/// The limit a scenario is compared with: what the source's and the database's own tools need
/// for the same data (sums of the limit measurements' medians), or the fixed 1 s of the
/// differential scenarios c and e.
fn limit(
    samples: &[Sample],
    size: Size,
    scenario: Scenario,
    source: SourceKind,
    db: Db,
) -> Option<(f64, String)> {
    let part = |what: What, db: Option<Db>| part(samples, (size, source), what, db);
    let reader = match source {
        SourceKind::Ldap => "ldapsearch",
        SourceKind::File => "cat",
    };
    let loader = match db {
        Db::Postgres => "\\copy",
        Db::Mariadb => "LOAD DATA",
        Db::Sqlite => ".import",
    };
    let read = part(What::SourceRead, None);
    match scenario {
        Scenario::A => Some((
            read? + part(What::StoreLoad, Some(db))?,
            format!("{reader} + {loader}"),
        )),
        Scenario::B | Scenario::D => Some((
            read? + part(What::StateRead, Some(db))?,
            format!("{reader} + read state"),
        )),
        Scenario::C | Scenario::E => Some((TARGET_C_SECS, "target".into())),
        Scenario::F => None,
    }
}

/// The median wall seconds of the successful `what` measurements of `(size, source)` into `db`.
fn part(
    samples: &[Sample],
    (size, source): (Size, SourceKind),
    what: What,
    db: Option<Db>,
) -> Option<f64> {
    let walls: Vec<f64> = samples
        .iter()
        .filter(|s| s.size == size && s.source == source && s.db == db && s.what == what)
        .filter(|s| s.failure.is_none())
        .map(|s| s.usage.wall.as_secs_f64())
        .collect();
    median(&walls)
}

/// Whether a row meets its time target: `None` where the issue sets none (scenario d).
fn time_target(row: &Row) -> Option<(bool, String)> {
    let wall = row.wall?;
    let ratio = row.limit.as_ref().map(|(limit, _)| wall / limit);
    match row.scenario {
        Scenario::A => ratio.map(|r| (r <= TARGET_A, format!("≤ {TARGET_A}×"))),
        Scenario::B => ratio.map(|r| (r <= TARGET_B, format!("≤ {TARGET_B}×"))),
        Scenario::C | Scenario::E => Some((wall < TARGET_C_SECS, "< 1 s".into())),
        Scenario::D | Scenario::F => None,
    }
}

/// The machine the figures come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Machine {
    /// `nproc`.
    pub cpus: usize,
    /// MemTotal, MiB.
    pub memory_mib: u64,
    /// The first `model name` of /proc/cpuinfo.
    pub cpu_model: String,
}

impl Machine {
    /// Reads /proc; unknown values stay empty rather than failing the bench.
    pub fn detect() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let field = |text: &str, key: &str| {
            text.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
                .unwrap_or_default()
        };
        Machine {
            cpus: std::thread::available_parallelism().map_or(0, |n| n.get()),
            memory_mib: field(&meminfo, "MemTotal")
                .trim_end_matches(" kB")
                .parse::<u64>()
                .map_or(0, |kib| kib / 1024),
            cpu_model: field(&cpuinfo, "model name"),
        }
    }
}

/// Everything the markdown section says besides the rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    /// The machine.
    pub machine: Machine,
    /// The exact command that produced the figures.
    pub command: String,
    /// When (UTC).
    pub date: String,
    /// Runs per measurement.
    pub runs: usize,
    /// Where the JSON went, relative to the workspace.
    pub json: String,
    /// The plot's file name, relative to the markdown's folder.
    pub plot: String,
}

/// The generated section of `docs/benchmarks.md` (without the markers).
pub fn markdown(context: &Context, rows: &[Row], live: &[LiveRow]) -> String {
    let m = &context.machine;
    let mut out = String::new();
    let w = "writing to a String cannot fail";
    writeln!(
        out,
        "Measured {} on {} CPUs ({}), {} MiB of memory, with `{}`: medians of {} run(s); \
         every measurement is in `{}`.\n",
        context.date,
        m.cpus,
        m.cpu_model,
        m.memory_mib,
        context.command,
        context.runs,
        context.json
    )
    .expect(w);
    let mut sizes: Vec<Size> = rows.iter().map(|r| r.size).collect();
    sizes.dedup();
    for size in sizes {
        let (users, groups, memberships) = size.counts();
        writeln!(
            out,
            "### {size}: {} users, {} groups, {} memberships\n\n\
             | scenario | source | db | wall | CPU | peak RSS | limit | × limit | target |\n\
             |---|---|---|---:|---:|---:|---|---:|---|",
            thousands(users),
            thousands(groups),
            thousands(memberships)
        )
        .expect(w);
        for row in rows.iter().filter(|r| r.size == size) {
            out.push_str(&table_row(row));
        }
        out.push('\n');
    }
    if !live.is_empty() {
        out.push_str(&live_section(live));
    }
    let keyless = keyless_rows(rows);
    if !keyless.is_empty() {
        out.push_str(
            "### (a) against a load without keys\n\n\
             The bulk-load limit above fills the real tables, keys and indexes included. Loading \
             the same rows into copies without any key or index is the floor under every load; \
             a sync must also build the keys and write one log line per change.\n\n\
             | size | source | db | (a) wall | source read + keyless load | × |\n\
             |---|---|---|---:|---:|---:|\n",
        );
        out.push_str(&keyless);
        out.push('\n');
    }
    let growth = growth_rows(rows);
    if !growth.is_empty() {
        out.push_str(
            "### Growth: large ÷ small (10× the data; target ≤ 12× the time)\n\n\
             | scenario | source | db | small | large | ratio | target |\n|---|---|---|---:|---:|---:|---|\n",
        );
        out.push_str(&growth);
        out.push('\n');
    }
    let failures: Vec<&Row> = rows.iter().filter(|r| r.failure.is_some()).collect();
    let live_failures: Vec<&LiveRow> = live.iter().filter(|r| r.failure.is_some()).collect();
    if !failures.is_empty() || !live_failures.is_empty() {
        out.push_str("### Failures\n\n");
        for row in live_failures {
            writeln!(
                out,
                "- {} f ({}) → {}: {} of {} runs failed: `{}`",
                row.size,
                row.source,
                row.db,
                row.failed.0,
                row.failed.1,
                row.failure.as_deref().unwrap_or_default().replace('`', "'")
            )
            .expect(w);
        }
        for row in failures {
            writeln!(
                out,
                "- {} {} ({}) → {}: {} of {} runs failed: `{}`",
                row.size,
                row.scenario,
                row.source,
                row.db,
                row.failed.0,
                row.failed.1,
                row.failure.as_deref().unwrap_or_default().replace('`', "'")
            )
            .expect(w);
        }
        out.push('\n');
    }
    writeln!(
        out,
        "![time against directory size per scenario]({})",
        context.plot
    )
    .expect(w);
    out
}

fn table_row(row: &Row) -> String {
    let secs = |v: Option<f64>| v.map_or("—".to_string(), seconds);
    let failed = if row.failed.0 > 0 {
        format!(" ({}/{} failed)", row.failed.0, row.failed.1)
    } else {
        String::new()
    };
    let (limit, ratio) = match (&row.limit, row.wall) {
        (Some((limit, label)), Some(wall))
            if !matches!(row.scenario, Scenario::C | Scenario::E) =>
        {
            (
                format!("{} ({label})", seconds(*limit)),
                format!("{:.2}", wall / limit),
            )
        }
        _ => ("—".to_string(), "—".to_string()),
    };
    let rss_ok = row.max_rss_kib < RSS_TARGET_KIB;
    let mut targets = Vec::new();
    if let Some((met, text)) = time_target(row) {
        targets.push(verdict(met, &text));
    }
    if row.max_rss_kib > 0 {
        targets.push(verdict(rss_ok, "RSS < 400 MB"));
    }
    format!(
        "| {} {} | {} | {} | {}{failed} | {} | {} | {limit} | {ratio} | {} |\n",
        row.scenario,
        row.scenario.description(),
        row.source,
        row.db,
        secs(row.wall),
        secs(row.cpu),
        megabytes(row.max_rss_kib),
        targets.join(", ")
    )
}

/// The keyless table's rows: scenario a wherever the keyless load was measured.
fn keyless_rows(rows: &[Row]) -> String {
    let mut out = String::new();
    for row in rows.iter().filter(|r| r.scenario == Scenario::A) {
        if let (Some(wall), Some(limit)) = (row.wall, row.keyless) {
            writeln!(
                out,
                "| {} | {} | {} | {} | {} | {:.2} |",
                row.size,
                row.source,
                row.db,
                seconds(wall),
                seconds(limit),
                wall / limit
            )
            .expect("writing to a String cannot fail");
        }
    }
    out
}

/// The growth table's rows: every scenario measured at both the small and the large size.
fn growth_rows(rows: &[Row]) -> String {
    let mut out = String::new();
    for small in rows.iter().filter(|r| r.size == Size::Small) {
        let large = rows.iter().find(|r| {
            r.size == Size::Large
                && (r.scenario, r.source, r.db) == (small.scenario, small.source, small.db)
        });
        if let (Some(s), Some(l)) = (small.wall, large.and_then(|r| r.wall)) {
            let ratio = l / s;
            writeln!(
                out,
                "| {} | {} | {} | {} | {} | {ratio:.1}× | {} |",
                small.scenario,
                small.source,
                small.db,
                seconds(s),
                seconds(l),
                verdict(ratio <= TARGET_GROWTH, "≤ 12×")
            )
            .expect("writing to a String cannot fail");
        }
    }
    out
}

fn verdict(met: bool, target: &str) -> String {
    if met {
        format!("{target} met")
    } else {
        format!("**{target} missed**")
    }
}

/// Seconds with a precision that suits their size.
fn seconds(s: f64) -> String {
    if s < 10.0 {
        format!("{s:.2} s")
    } else {
        format!("{s:.1} s")
    }
}

fn megabytes(kib: u64) -> String {
    if kib == 0 {
        "—".into()
    } else {
        format!("{:.0} MB", kib as f64 * 1024.0 / 1e6)
    }
}

fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `doc` with the text between [`BEGIN`] and [`END`] replaced by `section`; markers are
/// appended at the end when the document has none yet.
pub fn replace_section(doc: &str, section: &str) -> Result<String> {
    let generated = format!("{BEGIN}\n{section}{END}");
    match (doc.find(BEGIN), doc.find(END)) {
        (Some(begin), Some(end)) if begin < end => Ok(format!(
            "{}{generated}{}",
            &doc[..begin],
            &doc[end + END.len()..]
        )),
        (None, None) => Ok(format!("{}\n{generated}\n", doc.trim_end())),
        _ => bail!("docs/benchmarks.md has a broken {BEGIN} … {END} pair; fix it by hand"),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn sample(what: What, db: Option<Db>, size: Size, wall: f64, failure: Option<&str>) -> Sample {
        Sample {
            size,
            source: SourceKind::Ldap,
            db,
            what,
            run: 1,
            usage: Usage {
                wall: Duration::from_secs_f64(wall),
                cpu: Duration::from_secs_f64(wall / 2.0),
                max_rss_kib: 100_000,
            },
            failure: failure.map(str::to_string),
            latencies: Vec::new(),
        }
    }

    fn samples() -> Vec<Sample> {
        let pg = Some(Db::Postgres);
        vec![
            sample(What::SourceRead, None, Size::Small, 1.0, None),
            sample(What::StoreLoad, pg, Size::Small, 2.0, None),
            sample(What::StoreLoadKeyless, pg, Size::Small, 0.5, None),
            sample(What::StateRead, pg, Size::Small, 0.5, None),
            sample(What::Scenario(Scenario::A), pg, Size::Small, 5.0, None),
            sample(What::Scenario(Scenario::A), pg, Size::Small, 7.0, None),
            sample(What::Scenario(Scenario::A), pg, Size::Small, 6.0, None),
            sample(What::Scenario(Scenario::B), pg, Size::Small, 2.5, None),
            sample(What::Scenario(Scenario::C), pg, Size::Small, 0.4, None),
            sample(
                What::Scenario(Scenario::D),
                pg,
                Size::Small,
                0.0,
                Some("exit 3: guard"),
            ),
            sample(What::Scenario(Scenario::E), pg, Size::Small, 1.2, None),
            sample(What::Scenario(Scenario::A), pg, Size::Large, 66.0, None),
        ]
    }

    #[test]
    fn rows_take_medians_and_add_up_limits() {
        let rows = rows(&samples());
        assert_eq!(rows.len(), 6);
        let a = &rows[0];
        assert_eq!((a.scenario, a.wall), (Scenario::A, Some(6.0)));
        assert_eq!(a.limit, Some((3.0, "ldapsearch + \\copy".to_string())));
        assert_eq!(a.keyless, Some(1.5));
        assert_eq!(rows[1].keyless, None, "only scenario a has a keyless limit");
        assert_eq!(
            rows[1].limit,
            Some((1.5, "ldapsearch + read state".to_string()))
        );
        assert_eq!(rows[3].failed, (1, 1));
        assert_eq!(rows[3].wall, None);
        assert_eq!(rows[4].limit, Some((1.0, "target".to_string())));
        // The large size has no limit measurements, so no limit.
        assert_eq!(rows[5].limit, None);
    }

    #[test]
    fn the_table_shows_ratios_verdicts_failures_and_growth() {
        let context = Context {
            machine: Machine {
                cpus: 2,
                memory_mib: 1024,
                cpu_model: "Test CPU".into(),
            },
            command: "cargo xtask bench".into(),
            date: "2025-01-01".into(),
            runs: 3,
            json: "target/bench/x.json".into(),
            plot: "bench-scaling.svg".into(),
        };
        let text = markdown(&context, &rows(&samples()), &[]);
        assert!(text.contains("2 CPUs (Test CPU), 1024 MiB"), "{text}");
        assert!(text.contains("### small: 10,000 users, 1,000 groups, 100,000 memberships"));
        assert!(
            text.contains(
                "| a first full sync | ldap | postgres | 6.00 s | 3.00 s | 102 MB | \
                 3.00 s (ldapsearch + \\copy) | 2.00 | ≤ 2× met, RSS < 400 MB met |"
            ),
            "{text}"
        );
        assert!(text.contains("| 1.67 | **≤ 1.5× missed**"), "{text}");
        assert!(
            text.contains("| 0.40 s | 0.20 s | 102 MB | — | — | < 1 s met"),
            "{text}"
        );
        assert!(
            text.contains("| 1.20 s | 0.60 s | 102 MB | — | — | **< 1 s missed**"),
            "{text}"
        );
        assert!(text.contains("(1/1 failed)"), "{text}");
        assert!(text.contains("- small d (ldap) → postgres: 1 of 1 runs failed: `exit 3: guard`"));
        assert!(text.contains("| a | ldap | postgres | 6.00 s | 66.0 s | 11.0× | ≤ 12× met |"));
        assert!(
            text.contains("| small | ldap | postgres | 6.00 s | 1.50 s | 4.00 |"),
            "{text}"
        );
        assert!(text.ends_with("(bench-scaling.svg)\n"));
    }

    #[test]
    fn live_rows_pool_the_deletions_and_judge_the_p99() {
        let pg = Some(Db::Postgres);
        let mut live = sample(What::Scenario(Scenario::F), pg, Size::Large, 60.0, None);
        live.latencies = (1..=100).map(|ms| Duration::from_millis(ms * 25)).collect();
        let mut failed = sample(
            What::Scenario(Scenario::F),
            pg,
            Size::Small,
            40.0,
            Some("late"),
        );
        failed.latencies = vec![Duration::from_millis(300)];
        let samples = vec![live.clone(), failed];
        assert!(
            rows(&samples).is_empty(),
            "scenario f has a table of its own"
        );
        let rows = live_rows(&samples);
        assert_eq!(rows.len(), 2);
        assert_eq!((rows[0].size, rows[0].failed), (Size::Small, (1, 1)));
        assert_eq!(rows[1].latencies.len(), 100);
        assert_eq!(rows[1].cpu, Some(30.0));
        let text = live_section(&rows);
        assert!(
            text.contains("| large | ldap | postgres | 100 | 1.25 s | 2.48 s | 2.50 s | 30.0 s | 102 MB | **p99 ≤ 2 s missed** |"),
            "{text}"
        );
        assert!(
            text.contains("| small | ldap | postgres | 1 (1/1 runs failed) | 0.30 s | 0.30 s | 0.30 s | — | 102 MB | — |"),
            "{text}"
        );
        let json = live.json();
        assert_eq!(json["p99_s"], 2.475);
        assert_eq!(json["latencies_s"].as_array().map(Vec::len), Some(100));
    }

    #[test]
    fn only_the_marked_section_is_replaced() {
        let doc = format!("# Benchmarks\n\nprose\n{BEGIN}\nold\n{END}\nafter\n");
        assert_eq!(
            replace_section(&doc, "new\n").expect("markers"),
            format!("# Benchmarks\n\nprose\n{BEGIN}\nnew\n{END}\nafter\n")
        );
        assert_eq!(
            replace_section("# B\n\n", "new\n").expect("no markers"),
            format!("# B\n{BEGIN}\nnew\n{END}\n")
        );
        assert!(replace_section(&format!("{END}{BEGIN}"), "x").is_err());
    }

    #[test]
    fn numbers_are_readable() {
        assert_eq!(thousands(1_000_000), "1,000,000");
        assert_eq!(thousands(100), "100");
        assert_eq!(seconds(0.123), "0.12 s");
        assert_eq!(seconds(123.45), "123.5 s");
        assert_eq!(megabytes(390_625), "400 MB");
    }
}
