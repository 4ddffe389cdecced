//! `cargo xtask bench merged`, issue 20's figure: what merging several sources costs. One
//! generated company, synced into SQLite twice over: once from its employees' file alone, once
//! as a tenant of two sources, the employees over a contractors' file a tenth their size, half
//! of whose people are employees too (the same e-mail, in capitals). For each: a first full
//! sync, then [`NO_CHANGE_RUNS`] full syncs that change nothing (the median is shown), each
//! measured (wall, CPU, peak RSS) and checked to have succeeded with the expected counts.
//!
//! Writes `target/bench/<timestamp>-merged.md`; a run with the defaults (100,000 employees)
//! replaces `docs/benchmarks.md`'s `bench-merged` section.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use super::measure::{median, Usage};
use super::options::DocSection;
use super::report::{thousands, write_section, Machine};
use super::{measured_idmsync, release_binary, USAGE};
use crate::tidy::workspace_root;

/// Full syncs that change nothing, per configuration.
const NO_CHANGE_RUNS: usize = 3;
/// Employees per employees' group.
const GROUP_SIZE: usize = 100;
/// The default number of employees.
const DEFAULT_USERS: usize = 100_000;

/// One configuration's measurements.
struct Measured {
    what: &'static str,
    users: usize,
    first: Usage,
    unchanged: Vec<Usage>,
}

/// Runs the bench that `args` (after `bench merged`) describe.
pub fn run(args: &[String]) -> Result<()> {
    let mut users = DEFAULT_USERS;
    let mut binary = None;
    let mut flags = args.iter();
    while let Some(flag) = flags.next() {
        let value = flags
            .next()
            .with_context(|| format!("{flag} needs a value; usage: {USAGE}"))?;
        match flag.as_str() {
            "--users" => {
                users = value
                    .parse()
                    .ok()
                    .filter(|&n: &usize| n >= 1000)
                    .with_context(|| format!("--users {value:?}: at least 1000"))?;
            }
            "--binary" => binary = Some(PathBuf::from(value)),
            other => bail!("unknown argument {other:?}; usage: {USAGE}"),
        }
    }
    let binary = release_binary(binary.as_deref())?;
    let root = workspace_root();
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
    let out = root.join("target").join("bench");
    let dir = out.join(format!("{stamp}-merged"));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let contractors = users / 10;
    write_company(&dir, users, contractors)?;

    let one = configuration(&dir, "one", false)?;
    let two = configuration(&dir, "merged", true)?;
    let results = [
        measure(&binary, &one, "employees alone", users)?,
        measure(
            &binary,
            &two,
            "employees + contractors",
            users + contractors / 2,
        )?,
    ];
    let section = markdown(&results, users, contractors, args);
    let md = out.join(format!("{stamp}-merged.md"));
    std::fs::write(&md, &section).with_context(|| format!("writing {}", md.display()))?;
    if users == DEFAULT_USERS {
        write_section(DocSection::Merged, &section)?;
        eprintln!("docs/benchmarks.md: replaced the bench-merged section");
    }
    println!("{section}");
    eprintln!(
        "wrote {}; files and logs in {}",
        md.display(),
        dir.display()
    );
    Ok(())
}

/// The employees (`users` of them, in groups of [`GROUP_SIZE`]) and the contractors (the first
/// half of them employees too, by e-mail), in the file source's format.
fn write_company(dir: &Path, users: usize, contractors: usize) -> Result<()> {
    let date = "01/01/2020";
    let mut employees = String::new();
    for i in 0..users {
        writeln!(
            employees,
            "u{i:07};Given{i};Family{i};u{i:07}@corp.example;;{date}"
        )?;
    }
    let mut groups = String::new();
    for g in 0..users.div_ceil(GROUP_SIZE) {
        let members: Vec<String> = (g * GROUP_SIZE..((g + 1) * GROUP_SIZE).min(users))
            .map(|i| format!("u{i:07}"))
            .collect();
        writeln!(groups, "g{g:05}:{}:{date}", members.join(";"))?;
    }
    let mut hired = String::new();
    for i in 0..contractors {
        let email = if i < contractors / 2 {
            format!("U{i:07}@CORP.example")
        } else {
            format!("c{i:07}@agency.example")
        };
        writeln!(hired, "c{i:07};C{i};Contract{i};{email};;{date}")?;
    }
    let mut crews = String::new();
    for g in 0..contractors.div_ceil(GROUP_SIZE) {
        let members: Vec<String> = (g * GROUP_SIZE..((g + 1) * GROUP_SIZE).min(contractors))
            .map(|i| format!("c{i:07}"))
            .collect();
        writeln!(crews, "crew{g:05}:{}:{date}", members.join(";"))?;
    }
    for (name, text) in [
        ("employees.txt", employees),
        ("employee-groups.txt", groups),
        ("contractors.txt", hired),
        ("contractor-groups.txt", crews),
    ] {
        std::fs::write(dir.join(name), text).with_context(|| format!("writing {name}"))?;
    }
    Ok(())
}

/// A configuration over a fresh SQLite database `<name>.db`: the employees' file alone, or
/// with `merged` the employees over the contractors, matched by e-mail.
fn configuration(dir: &Path, name: &str, merged: bool) -> Result<PathBuf> {
    let d = dir.display();
    let file = |which: &str, groups: &str| {
        format!("users = \"{d}/{which}.txt\"\ngroups = \"{d}/{groups}.txt\"\n")
    };
    let sources = if merged {
        format!(
            "[[sources]]\nname = \"employees\"\ntype = \"file\"\n[sources.file]\n{}\n\
             [[sources]]\nname = \"contractors\"\ntype = \"file\"\n[sources.file]\n{}",
            file("employees", "employee-groups"),
            file("contractors", "contractor-groups")
        )
    } else {
        format!(
            "[source]\ntype = \"file\"\n[source.file]\n{}",
            file("employees", "employee-groups")
        )
    };
    let text = format!(
        "[database]\nurl = \"sqlite://{d}/{name}.db\"\n\n[sync]\nadmins = [\"u0000000\"]\n\
         full_cron = \"\"\ndifferential_cron = \"\"\n{}\n[auth]\npassword_key_file = \
         \"{d}/password.key\"\n\n{sources}",
        if merged { "match_by = \"email\"" } else { "" }
    );
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// The first full sync of `config` and the no-change ones, each checked.
fn measure(binary: &Path, config: &Path, what: &'static str, users: usize) -> Result<Measured> {
    let run = |n: usize, expect: &str| -> Result<Usage> {
        let log = config.with_extension(format!("{n}.log"));
        let (status, usage) = measured_idmsync(binary, config, &["sync", "--full"], &log)?.run()?;
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if !status.success() || !text.contains(expect) {
            bail!("{what}, run {n}: {status}, expected {expect:?}: {text}");
        }
        eprintln!("{what}, run {n}: {:.2} s", usage.wall.as_secs_f64());
        Ok(usage)
    };
    let first = run(0, &format!("{users} users created"))?;
    let unchanged = (1..=NO_CHANGE_RUNS)
        .map(|n| run(n, "no changes"))
        .collect::<Result<Vec<_>>>()?;
    Ok(Measured {
        what,
        users,
        first,
        unchanged,
    })
}

fn markdown(results: &[Measured], users: usize, contractors: usize, args: &[String]) -> String {
    let m = Machine::detect();
    let command = std::iter::once("cargo xtask bench merged")
        .chain(args.iter().map(String::as_str))
        .collect::<Vec<_>>()
        .join(" ");
    let mut text = format!(
        "`{command}` on {} ({} CPUs, {} MiB), {}: {users} employees in groups of {GROUP_SIZE}, \
         {contractors} contractors (half of them employees too, by e-mail), file sources into \
         SQLite. No-change runs: the median of {NO_CHANGE_RUNS}, peak RSS the largest.\n\n\
         | tenant | users | first full sync | its peak RSS | no-change full sync | CPU | peak RSS |\n\
         |---|--:|--:|--:|--:|--:|--:|\n",
        m.cpu_model,
        m.cpus,
        m.memory_mib,
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"),
        users = thousands(users),
        contractors = thousands(contractors),
    );
    for r in results {
        let secs = |f: fn(&Usage) -> f64| {
            median(&r.unchanged.iter().map(f).collect::<Vec<_>>()).unwrap_or_default()
        };
        let peak = r
            .unchanged
            .iter()
            .map(|u| u.max_rss_kib)
            .max()
            .unwrap_or_default();
        let _ = writeln!(
            text,
            "| {} | {} | {:.2} s | {} MiB | {:.2} s | {:.2} s | {} MiB |",
            r.what,
            thousands(r.users),
            r.first.wall.as_secs_f64(),
            r.first.max_rss_kib / 1024,
            secs(|u| u.wall.as_secs_f64()),
            secs(|u| u.cpu.as_secs_f64()),
            peak / 1024,
        );
    }
    text
}
