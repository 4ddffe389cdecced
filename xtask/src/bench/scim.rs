//! `cargo xtask bench scim`, issue 18's figure: an identity provider's load on `idmsync serve`
//! with a SCIM source. For each database, a fresh one and a fresh `serve`; then
//!
//! 1. [`Options::clients`] concurrent clients (threads, each with its own keep-alive HTTP
//!    connection) create [`Options::users`] users with `POST /scim/v2/Users`, every request timed
//!    and every answer checked to be 201;
//! 2. [`GROUPS`] groups are created one at a time (not timed), then the same clients add every
//!    user to one group with `PATCH /scim/v2/Groups/{id}` (one member per request), timed, every
//!    answer checked to be 200; `GET /scim/v2/Groups/{id}` then checks that every membership is
//!    there (a bench that measured a broken run would be worthless).
//!
//! Writes are applied in batches (`source.scim.batch_ms`, [`BATCH_MS`]), one run each, so the
//! number of runs each phase recorded (`idmsync log list`) is its number of batches. The
//! results go to `target/bench/<timestamp>.json` and `.md`, and a run with the defaults (both
//! databases, 10,000 users, 50 clients) replaces `docs/benchmarks.md`'s `bench-scim` section.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use super::db::Database;
use super::live::stop;
use super::measure::{percentile, Running};
use super::options::{list, Db, DocSection};
use super::report::{write_section, Machine};
use crate::tidy::workspace_root;

/// Groups the memberships are spread over.
pub const GROUPS: usize = 50;
/// `source.scim.batch_ms`: idmsync's default, written out so the figures say what they measure.
const BATCH_MS: u64 = 20;
/// Issue 18's target for one request, in milliseconds.
const TARGET_P99_MS: f64 = 50.0;
/// The provider's token.
const TOKEN: &str = "bench-scim-token-0123456789abcdef0123456789abcdef";
/// How long `serve` may take to print its address and be ready.
const READY_WITHIN: Duration = Duration::from_secs(120);
/// How long one request may take before the bench gives up on it.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// The SCIM media type.
const SCIM_JSON: &str = "application/scim+json";

/// A parsed `cargo xtask bench scim` command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Databases, in a fixed order.
    pub dbs: Vec<Db>,
    /// Users created in phase 1, and memberships added in phase 2.
    pub users: usize,
    /// Concurrent clients.
    pub clients: usize,
    /// An idmsync binary to measure instead of building the release one.
    pub binary: Option<PathBuf>,
}

impl Options {
    /// Parses the arguments after `bench scim`.
    pub fn parse(args: &[String]) -> Result<Options> {
        let mut options = Options {
            dbs: vec![Db::Sqlite, Db::Postgres],
            users: 10_000,
            clients: 50,
            binary: None,
        };
        let positive = |flag: &str, value: &str| -> Result<usize> {
            value
                .parse()
                .ok()
                .filter(|&n: &usize| n > 0)
                .with_context(|| format!("{flag} {value:?} is not a positive number"))
        };
        let mut flags = args.iter();
        while let Some(flag) = flags.next() {
            let value = flags
                .next()
                .with_context(|| format!("{flag} needs a value; usage: {USAGE}"))?;
            match flag.as_str() {
                "--db" => options.dbs = list(value, Db::parse)?,
                "--users" => options.users = positive(flag, value)?,
                "--clients" => options.clients = positive(flag, value)?,
                "--binary" => options.binary = Some(PathBuf::from(value)),
                other => bail!("unknown argument {other:?}; usage: {USAGE}"),
            }
        }
        Ok(options)
    }

    /// Whether this run replaces `docs/benchmarks.md`'s section: the defaults' databases, users
    /// and clients (any binary), so that a quick check never overwrites the committed figures.
    pub fn replaces_docs(&self) -> bool {
        self.dbs.contains(&Db::Sqlite)
            && self.dbs.contains(&Db::Postgres)
            && self.users == 10_000
            && self.clients == 50
    }
}

/// The usage of `bench scim`.
const USAGE: &str =
    "cargo xtask bench scim [--db sqlite,postgres] [--users N] [--clients N] [--binary PATH]";

/// The two timed phases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// `POST /Users`.
    CreateUsers,
    /// `PATCH /Groups/{id}`, one member added per request.
    AddMembers,
}

impl Phase {
    fn name(self) -> &'static str {
        match self {
            Phase::CreateUsers => "POST /Users",
            Phase::AddMembers => "PATCH /Groups (add 1 member)",
        }
    }

    fn key(self) -> &'static str {
        match self {
            Phase::CreateUsers => "create_users",
            Phase::AddMembers => "add_members",
        }
    }
}

/// One phase on one database.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub db: Db,
    pub phase: Phase,
    /// Requests answered as expected.
    pub requests: usize,
    /// From the first request sent to the last answer read.
    pub wall: Duration,
    /// Every answered request's latency, in milliseconds.
    pub latencies_ms: Vec<f64>,
    /// Runs (batches) the phase recorded; `None` if `log list` could not say.
    pub runs: Option<usize>,
    /// `serve`'s peak RSS over the whole database's run, in KiB (the same on both phases).
    pub serve_rss_kib: u64,
    /// Why the phase (or the check after it) failed.
    pub failure: Option<String>,
}

impl Row {
    fn per_second(&self) -> f64 {
        let secs = self.wall.as_secs_f64();
        if secs > 0.0 {
            self.requests as f64 / secs
        } else {
            0.0
        }
    }

    fn json(&self) -> Value {
        let at = |p| percentile(&self.latencies_ms, p);
        json!({
            "scenario": "scim",
            "db": self.db.name(),
            "phase": self.phase.key(),
            "requests": self.requests,
            "wall_secs": self.wall.as_secs_f64(),
            "requests_per_sec": self.per_second(),
            "p50_ms": at(50.0),
            "p99_ms": at(99.0),
            "max_ms": at(100.0),
            "runs": self.runs,
            "serve_max_rss_kib": self.serve_rss_kib,
            "failure": self.failure,
            "latencies_ms": self.latencies_ms,
        })
    }
}

/// Everything the section says besides the rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Setting {
    pub machine: Machine,
    pub command: String,
    pub date: String,
    pub json: String,
    pub users: usize,
    pub clients: usize,
    /// /proc/loadavg's 1-minute load when the bench started and when it ended.
    pub load: (f64, f64),
    /// Other compilers (`rustc` processes not the bench's) seen while it ran.
    pub other_builds: usize,
}

/// Runs `bench scim` with `args` (after `scim`).
pub fn run(args: &[String]) -> Result<()> {
    let options = Options::parse(args)?;
    if options.dbs.iter().any(|db| *db != Db::Sqlite) {
        crate::services::ensure_running()?;
    }
    let root = workspace_root();
    let binary = super::release_binary(options.binary.as_deref())?;
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
    let out = root.join("target").join("bench");
    let logs = out.join(format!("{stamp}-logs"));
    std::fs::create_dir_all(&logs).with_context(|| format!("creating {}", logs.display()))?;
    let started = Instant::now();
    let load_before = load_average();
    let mut other_builds = other_compilers();
    let mut rows = Vec::new();
    for &db in &options.dbs {
        eprintln!(
            "[{:>6.1} s] {db}: {} users by {} clients, then {} memberships in {GROUPS} groups",
            started.elapsed().as_secs_f64(),
            options.users,
            options.clients,
            options.users
        );
        let db_rows = one_database(db, &options, &binary, &logs)?;
        for row in &db_rows {
            let at = |p| percentile(&row.latencies_ms, p).unwrap_or(f64::NAN);
            eprintln!(
                "[{:>6.1} s] {db} {}: {} requests in {:.1} s ({:.0}/s), p50 {:.1} ms, p99 {:.1} ms, \
                 max {:.1} ms, {} runs, serve peak {} MB{}",
                started.elapsed().as_secs_f64(),
                row.phase.name(),
                row.requests,
                row.wall.as_secs_f64(),
                row.per_second(),
                at(50.0),
                at(99.0),
                at(100.0),
                row.runs.map_or("?".into(), |r| r.to_string()),
                row.serve_rss_kib * 1024 / 1_000_000,
                row.failure
                    .as_ref()
                    .map_or(String::new(), |f| format!(" FAILED: {f}"))
            );
        }
        rows.extend(db_rows);
        other_builds = other_builds.max(other_compilers());
    }
    let context = Setting {
        machine: Machine::detect(),
        command: std::iter::once("cargo xtask bench scim")
            .chain(args.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(" "),
        date: chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
        json: format!("target/bench/{stamp}.json"),
        users: options.users,
        clients: options.clients,
        load: (load_before, load_average()),
        other_builds,
    };
    let json_path = out.join(format!("{stamp}.json"));
    let json = Value::Array(rows.iter().map(Row::json).collect());
    std::fs::write(&json_path, serde_json::to_string_pretty(&json)?)
        .with_context(|| format!("writing {}", json_path.display()))?;
    let section = markdown(&context, &rows);
    let md_path = out.join(format!("{stamp}.md"));
    std::fs::write(&md_path, &section).with_context(|| format!("writing {}", md_path.display()))?;
    if options.replaces_docs() {
        write_section(DocSection::Scim, &section)?;
        eprintln!("docs/benchmarks.md: replaced the bench-scim section");
    } else {
        eprintln!(
            "a partial run: docs/benchmarks.md is left as it is (only both databases, \
             10,000 users and 50 clients replace its SCIM section)"
        );
    }
    println!("{section}");
    eprintln!(
        "wrote {}, {} in {:.0} s; idmsync logs in {}",
        json_path.display(),
        md_path.display(),
        started.elapsed().as_secs_f64(),
        logs.display()
    );
    if let Some(failed) = rows.iter().find(|r| r.failure.is_some()) {
        bail!(
            "{} {}: {}",
            failed.db,
            failed.phase.name(),
            failed.failure.as_deref().unwrap_or_default()
        );
    }
    Ok(())
}

/// Both phases on a fresh `db`: its two rows, or an error when `serve` could not run at all.
fn one_database(db: Db, options: &Options, binary: &Path, logs: &Path) -> Result<Vec<Row>> {
    let database = Database::create(db)?;
    let work = tempfile::Builder::new()
        .prefix("idmsync-bench-scim-")
        .tempdir()
        .context("creating the bench's temporary directory")?;
    let tokens = work.path().join("scim-tokens");
    std::fs::write(&tokens, format!("{TOKEN}\n"))
        .with_context(|| format!("writing {}", tokens.display()))?;
    let config = work.path().join("idmsync.toml");
    std::fs::write(&config, config_text(&database.url(), &tokens))
        .with_context(|| format!("writing {}", config.display()))?;
    let log = logs.join(format!("scim-{db}-serve.log"));
    let mut serve = super::measured_idmsync(binary, &config, &["serve"], &log)?.spawn()?;
    let outcome =
        ready(&mut serve, &log).and_then(|base| phases(db, options, binary, &base, &config));
    let (status, usage) = stop(serve)?;
    let mut rows = match outcome {
        Ok(rows) => rows,
        Err(e) => vec![Row {
            db,
            phase: Phase::CreateUsers,
            requests: 0,
            wall: Duration::ZERO,
            latencies_ms: Vec::new(),
            runs: None,
            serve_rss_kib: 0,
            failure: Some(format!("{e:#} ({})", log.display())),
        }],
    };
    for row in &mut rows {
        row.serve_rss_kib = usage.max_rss_kib;
        if !status.success() && row.failure.is_none() {
            row.failure = Some(format!(
                "serve did not stop cleanly: {status} ({})",
                log.display()
            ));
        }
    }
    drop(database);
    Ok(rows)
}

/// The bench's configuration: a SCIM tenant on `url`, the guard out of the way (the bench
/// deactivates nobody), an address chosen by the system.
fn config_text(url: &str, tokens: &Path) -> String {
    format!(
        "[database]\nurl = {url:?}\n\n[sync]\ntenant = \"default\"\nmax_deactivations = \"100%\"\n\n\
         [source]\ntype = \"scim\"\n\n[source.scim]\ntoken_file = {:?}\nbatch_ms = {BATCH_MS}\n\n\
         [http]\nlisten = \"127.0.0.1:0\"\nshutdown_grace_secs = 1\n",
        tokens.display().to_string()
    )
}

/// Waits for `serve`'s address (its first stdout line) and for `/health/ready` to answer 200;
/// returns the base URL (`http://127.0.0.1:PORT`).
fn ready(serve: &mut Running, log: &Path) -> Result<String> {
    let started = Instant::now();
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()?;
    let mut base = None;
    loop {
        if serve.has_ended()? {
            bail!("serve exited before it was ready");
        }
        if base.is_none() {
            base = serving_address(&std::fs::read_to_string(log).unwrap_or_default());
        }
        if let Some(base) = &base {
            let health = client.get(format!("{base}/health/ready")).send();
            if health.is_ok_and(|r| r.status() == reqwest::StatusCode::OK) {
                return Ok(base.clone());
            }
        }
        if started.elapsed() > READY_WITHIN {
            bail!(
                "serve was not ready after {} s (address {base:?})",
                READY_WITHIN.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The base URL of `idmsync serving tenant default on http://127.0.0.1:PORT …` in `log`.
fn serving_address(log: &str) -> Option<String> {
    let line = log.lines().find(|l| l.contains("idmsync serving tenant"))?;
    let start = line.find("http://")?;
    let url = line[start..].split_whitespace().next()?;
    Some(url.trim_end_matches(['/', ',', '.', ';', ')']).to_string())
}

/// One keep-alive client with the provider's token.
fn client() -> Result<reqwest::blocking::Client> {
    Ok(reqwest::blocking::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .pool_max_idle_per_host(1)
        .build()?)
}

/// Request `i` of a phase: its method, path (under `/scim/v2`) and body.
type Request = Arc<dyn Fn(usize) -> (reqwest::Method, String, Value) + Send + Sync>;

/// What one client thread did: the answers it got (by request index), its latencies, and the
/// first unexpected answer.
struct Done {
    answers: Vec<(usize, Value)>,
    latencies_ms: Vec<f64>,
    failure: Option<String>,
}

/// What a phase's load did: the answers by request index, every latency, the wall time from
/// the first request to the last answer, and the first unexpected answer.
struct Loaded {
    answers: Vec<Option<Value>>,
    latencies_ms: Vec<f64>,
    wall: Duration,
    failure: Option<String>,
}

/// Sends requests `0..count` from `clients` threads (request `i` from client `i % clients`),
/// each one `request(i)` = (method, path, body), expecting `expected`; returns the answers by
/// index, the latencies, the wall time and the first failure.
fn load(
    base: &str,
    clients: usize,
    count: usize,
    expected: reqwest::StatusCode,
    request: Request,
) -> Result<Loaded> {
    // The clients first, so that the wall time is the requests'.
    let pool = (0..clients).map(|_| client()).collect::<Result<Vec<_>>>()?;
    let started = Instant::now();
    let mut threads = Vec::new();
    for (c, client) in pool.into_iter().enumerate() {
        let base = base.to_string();
        let request = Arc::clone(&request);
        threads.push(std::thread::spawn(move || {
            let mut done = Done {
                answers: Vec::new(),
                latencies_ms: Vec::new(),
                failure: None,
            };
            for i in (c..count).step_by(clients) {
                let (method, path, body) = request(i);
                let sent = Instant::now();
                let answer = client
                    .request(method.clone(), format!("{base}/scim/v2{path}"))
                    .bearer_auth(TOKEN)
                    .header("Content-Type", SCIM_JSON)
                    .body(body.to_string())
                    .send()
                    .and_then(|r| {
                        let status = r.status();
                        r.text().map(|text| (status, text))
                    });
                let elapsed = sent.elapsed();
                match answer {
                    Ok((status, text)) if status == expected => {
                        done.latencies_ms.push(elapsed.as_secs_f64() * 1000.0);
                        done.answers
                            .push((i, serde_json::from_str(&text).unwrap_or(Value::Null)));
                    }
                    Ok((status, text)) => {
                        done.failure = Some(format!(
                            "{method} {path} answered {status} where {expected} was expected: {}",
                            text.chars().take(300).collect::<String>()
                        ));
                        break;
                    }
                    Err(e) => {
                        done.failure = Some(format!("{method} {path}: {e}"));
                        break;
                    }
                }
            }
            done
        }));
    }
    let mut answers = vec![None; count];
    let mut latencies = Vec::with_capacity(count);
    let mut failure = None;
    for thread in threads {
        let done = thread
            .join()
            .map_err(|_| anyhow::anyhow!("a client thread panicked"))?;
        for (i, answer) in done.answers {
            answers[i] = Some(answer);
        }
        latencies.extend(done.latencies_ms);
        failure = failure.or(done.failure);
    }
    Ok(Loaded {
        answers,
        latencies_ms: latencies,
        wall: started.elapsed(),
        failure,
    })
}

/// The group user `i` joins: successive requests of one client go to successive groups, and
/// the requests the clients send at the same moment to different groups.
fn group_of(i: usize, clients: usize) -> usize {
    (i % clients + i / clients) % GROUPS
}

/// Phase 1, the groups, phase 2 and the check; two rows (runs counted, RSS still to fill in).
fn phases(db: Db, options: &Options, binary: &Path, base: &str, config: &Path) -> Result<Vec<Row>> {
    let users = options.users;
    let runs_before = scim_runs(binary, config);

    // Phase 1: users.
    let create: Request = Arc::new(|i| {
        let login = format!("bench.user{i:06}");
        (
            reqwest::Method::POST,
            "/Users".to_string(),
            json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": login,
                "name": {"givenName": "Bench", "familyName": format!("User {i}")},
                "emails": [{"value": format!("{login}@example.com"), "type": "work", "primary": true}],
                "active": true
            }),
        )
    });
    let Loaded {
        answers,
        latencies_ms: latencies,
        wall,
        mut failure,
    } = load(
        base,
        options.clients,
        users,
        reqwest::StatusCode::CREATED,
        create,
    )?;
    let ids: Vec<Option<String>> = answers
        .iter()
        .map(|a| {
            a.as_ref()
                .and_then(|a| a["id"].as_str().map(str::to_string))
        })
        .collect();
    if failure.is_none() && ids.iter().any(Option::is_none) {
        failure = Some("a 201 answer without an id".into());
    }
    let runs_after_users = scim_runs(binary, config);
    let mut rows = vec![Row {
        db,
        phase: Phase::CreateUsers,
        requests: latencies.len(),
        wall,
        latencies_ms: latencies,
        runs: difference(runs_before, runs_after_users),
        serve_rss_kib: 0,
        failure: failure.clone(),
    }];
    if failure.is_some() {
        return Ok(rows);
    }
    let ids: Arc<Vec<String>> = Arc::new(ids.into_iter().flatten().collect());

    // The groups, one request each, untimed.
    let client = client()?;
    let mut groups = Vec::with_capacity(GROUPS);
    for g in 0..GROUPS {
        let response = client
            .post(format!("{base}/scim/v2/Groups"))
            .bearer_auth(TOKEN)
            .header("Content-Type", SCIM_JSON)
            .body(
                json!({
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                    "displayName": format!("bench-group-{g:02}")
                })
                .to_string(),
            )
            .send()?;
        let status = response.status();
        let body: Value = serde_json::from_str(&response.text()?).unwrap_or(Value::Null);
        if status != reqwest::StatusCode::CREATED {
            bail!("POST /Groups answered {status}: {body}");
        }
        groups.push(
            body["id"]
                .as_str()
                .context("a group without an id")?
                .to_string(),
        );
    }
    let groups = Arc::new(groups);
    let runs_before_members = scim_runs(binary, config);

    // Phase 2: memberships.
    let clients = options.clients;
    let add: Request = {
        let (ids, groups) = (Arc::clone(&ids), Arc::clone(&groups));
        Arc::new(move |i| {
            (
                reqwest::Method::PATCH,
                format!("/Groups/{}", groups[group_of(i, clients)]),
                json!({
                    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations": [{"op": "add", "path": "members", "value": [{"value": ids[i]}]}]
                }),
            )
        })
    };
    let Loaded {
        latencies_ms: latencies,
        wall,
        mut failure,
        ..
    } = load(base, clients, users, reqwest::StatusCode::OK, add)?;
    let runs_after = scim_runs(binary, config);
    if failure.is_none() {
        failure = check_members(&client, base, &groups, &ids, clients)
            .err()
            .map(|e| format!("{e:#}"));
    }
    rows.push(Row {
        db,
        phase: Phase::AddMembers,
        requests: latencies.len(),
        wall,
        latencies_ms: latencies,
        runs: difference(runs_before_members, runs_after),
        serve_rss_kib: 0,
        failure,
    });
    Ok(rows)
}

/// Checks with `GET /Groups/{id}` that every group holds exactly the users phase 2 added.
fn check_members(
    client: &reqwest::blocking::Client,
    base: &str,
    groups: &[String],
    ids: &[String],
    clients: usize,
) -> Result<()> {
    let mut expected: Vec<Vec<&str>> = vec![Vec::new(); groups.len()];
    for (i, id) in ids.iter().enumerate() {
        expected[group_of(i, clients)].push(id);
    }
    for (g, group) in groups.iter().enumerate() {
        let response = client
            .get(format!("{base}/scim/v2/Groups/{group}"))
            .bearer_auth(TOKEN)
            .send()?;
        let status = response.status();
        let body: Value = serde_json::from_str(&response.text()?).unwrap_or(Value::Null);
        if status != reqwest::StatusCode::OK {
            bail!("GET /Groups/{group} answered {status}: {body}");
        }
        let mut members: Vec<&str> = body["members"]
            .as_array()
            .map(|m| m.iter().filter_map(|m| m["value"].as_str()).collect())
            .unwrap_or_default();
        members.sort_unstable();
        let mut want = expected[g].clone();
        want.sort_unstable();
        if members != want {
            bail!(
                "group bench-group-{g:02} ({group}) has {} members where {} were added",
                members.len(),
                want.len()
            );
        }
    }
    Ok(())
}

/// `b - a` when both are known.
fn difference(a: Option<usize>, b: Option<usize>) -> Option<usize> {
    b?.checked_sub(a?)
}

/// The number of runs of type `scim` in the tenant's log (`idmsync log list --format json`),
/// `None` if it cannot be read.
fn scim_runs(binary: &Path, config: &Path) -> Option<usize> {
    let output = Command::new(binary)
        .arg("--config")
        .arg(config)
        .args(["log", "list", "--format", "json", "--limit", "100000000"])
        .env("NO_COLOR", "1")
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let runs: Value = serde_json::from_slice(&output.stdout).ok()?;
    Some(count_scim_runs(&runs))
}

/// Runs of type `scim` in `log list`'s JSON.
fn count_scim_runs(runs: &Value) -> usize {
    runs.as_array().map_or(0, |runs| {
        runs.iter()
            .filter(|r| {
                ["type", "mode", "kind"]
                    .iter()
                    .any(|k| r[*k].as_str() == Some("scim"))
            })
            .count()
    })
}

/// /proc/loadavg's 1-minute figure (0 if unreadable).
fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|t| t.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0)
}

/// `rustc` processes running now: another build sharing the machine.
fn other_compilers() -> usize {
    std::fs::read_dir("/proc").map_or(0, |entries| {
        entries
            .filter_map(|e| e.ok())
            .filter(|e| {
                std::fs::read_to_string(e.path().join("comm")).is_ok_and(|c| c.trim() == "rustc")
            })
            .count()
    })
}

/// The generated section (without its markers).
pub fn markdown(context: &Setting, rows: &[Row]) -> String {
    let m = &context.machine;
    let mut out = String::new();
    let w = "writing to a String cannot fail";
    writeln!(
        out,
        "Measured {} on {} CPUs ({}), {} MiB of RAM, with `{}`: {} users created by {} \
         concurrent clients, then {} memberships added to {GROUPS} groups by the same clients, \
         `batch_ms = {BATCH_MS}`. Load average {:.2} at the start, {:.2} at the end{}. \
         Raw figures: `{}`.\n",
        context.date,
        m.cpus,
        if m.cpu_model.is_empty() {
            "unknown CPU"
        } else {
            &m.cpu_model
        },
        m.memory_mib,
        context.command,
        context.users,
        context.clients,
        context.users,
        context.load.0,
        context.load.1,
        if context.other_builds > 0 {
            format!(
                "; another build shared the machine ({} rustc processes seen)",
                context.other_builds
            )
        } else {
            String::new()
        },
        context.json
    )
    .expect(w);
    writeln!(
        out,
        "| Database | Requests | Count | Wall (s) | Requests/s | p50 (ms) | p99 (ms) | max (ms) | \
         p99 ≤ {TARGET_P99_MS:.0} ms | Runs (batches) | Requests/run | serve peak RSS (MB) |"
    )
    .expect(w);
    writeln!(out, "|---|---|--:|--:|--:|--:|--:|--:|---|--:|--:|--:|").expect(w);
    for row in rows {
        let at = |p| percentile(&row.latencies_ms, p).map_or("—".into(), |v| format!("{v:.1}"));
        let verdict = match (&row.failure, percentile(&row.latencies_ms, 99.0)) {
            (Some(_), _) => "**failed**".to_string(),
            (None, Some(p99)) if p99 <= TARGET_P99_MS => "yes".to_string(),
            (None, Some(_)) => "**no**".to_string(),
            (None, None) => "—".to_string(),
        };
        let runs = row.runs.map_or("?".into(), |r| r.to_string());
        let per_run = match row.runs {
            Some(r) if r > 0 => format!("{:.1}", row.requests as f64 / r as f64),
            _ => "—".into(),
        };
        writeln!(
            out,
            "| {} | {} | {} | {:.2} | {:.0} | {} | {} | {} | {verdict} | {runs} | {per_run} | {} |",
            row.db,
            row.phase.name(),
            row.requests,
            row.wall.as_secs_f64(),
            row.per_second(),
            at(50.0),
            at(99.0),
            at(100.0),
            row.serve_rss_kib * 1024 / 1_000_000
        )
        .expect(w);
    }
    for row in rows.iter().filter(|r| r.failure.is_some()) {
        writeln!(
            out,
            "\n**{} {} failed:** {}",
            row.db,
            row.phase.name(),
            row.failure.as_deref().unwrap_or_default()
        )
        .expect(w);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(list: &[&str]) -> Result<Options> {
        let args: Vec<String> = list.iter().map(|s| s.to_string()).collect();
        Options::parse(&args)
    }

    #[test]
    fn defaults_are_both_databases_10000_users_50_clients() {
        let options = parse(&[]).expect("defaults");
        assert_eq!(options.dbs, [Db::Sqlite, Db::Postgres]);
        assert_eq!((options.users, options.clients), (10_000, 50));
        assert_eq!(options.binary, None);
        assert!(options.replaces_docs());
    }

    #[test]
    fn flags_are_read_and_only_the_default_shape_replaces_the_docs() {
        let options = parse(&[
            "--db",
            "postgres",
            "--users",
            "200",
            "--clients",
            "4",
            "--binary",
            "/x",
        ])
        .expect("flags");
        assert_eq!(options.dbs, [Db::Postgres]);
        assert_eq!((options.users, options.clients), (200, 4));
        assert_eq!(options.binary, Some(PathBuf::from("/x")));
        assert!(!options.replaces_docs());
        assert!(parse(&["--db", "postgres,sqlite", "--binary", "/x"])
            .expect("both")
            .replaces_docs());
        for bad in [
            &["--users", "0"][..],
            &["--clients", "many"],
            &["--users"],
            &["--db", "oracle"],
            &["--size", "small"],
        ] {
            let error = parse(bad).expect_err("bad").to_string();
            assert!(
                error.contains(bad[bad.len() - 1]) || error.contains(bad[0]),
                "{error}"
            );
        }
    }

    #[test]
    fn the_address_is_read_from_the_first_line() {
        let log = "idmsync serving tenant default on http://127.0.0.1:41234 (SCIM at /scim/v2)\n\
                   2026-11-29T04:00:00Z  INFO something\n";
        assert_eq!(
            serving_address(log).as_deref(),
            Some("http://127.0.0.1:41234")
        );
        assert_eq!(serving_address("starting\n"), None);
    }

    #[test]
    fn memberships_are_spread_evenly_and_concurrent_requests_hit_different_groups() {
        let (users, clients) = (10_000, 50);
        let mut counts = vec![0; GROUPS];
        for i in 0..users {
            counts[group_of(i, clients)] += 1;
        }
        assert!(counts.iter().all(|&c| c == users / GROUPS), "{counts:?}");
        for round in 0..users / clients {
            let mut at_once: Vec<usize> = (0..clients)
                .map(|c| group_of(round * clients + c, clients))
                .collect();
            at_once.sort_unstable();
            at_once.dedup();
            assert_eq!(at_once.len(), clients.min(GROUPS));
        }
    }

    #[test]
    fn scim_runs_are_counted() {
        let runs = json!([{"id": 3, "type": "scim"}, {"id": 2, "type": "full"}, {"id": 1, "type": "scim"}]);
        assert_eq!(count_scim_runs(&runs), 2);
        assert_eq!(count_scim_runs(&Value::Null), 0);
        assert_eq!(difference(Some(2), Some(7)), Some(5));
        assert_eq!(difference(None, Some(7)), None);
    }

    #[test]
    fn the_table_shows_percentiles_the_target_and_failures() {
        let context = Setting {
            machine: Machine {
                cpus: 2,
                memory_mib: 4096,
                cpu_model: "Test CPU".into(),
            },
            command: "cargo xtask bench scim".into(),
            date: "2026-11-29 05:00 UTC".into(),
            json: "target/bench/x.json".into(),
            users: 100,
            clients: 5,
            load: (2.5, 1.0),
            other_builds: 3,
        };
        let row = |phase, latencies: Vec<f64>, failure: Option<&str>| Row {
            db: Db::Sqlite,
            phase,
            requests: latencies.len(),
            wall: Duration::from_secs(2),
            latencies_ms: latencies,
            runs: Some(10),
            serve_rss_kib: 50_000,
            failure: failure.map(str::to_string),
        };
        let fast = row(
            Phase::CreateUsers,
            (1..=100).map(f64::from).map(|v| v / 4.0).collect(),
            None,
        );
        let slow = row(Phase::AddMembers, (1..=100).map(f64::from).collect(), None);
        let text = markdown(&context, &[fast, slow]);
        assert!(
            text.contains("another build shared the machine (3 rustc"),
            "{text}"
        );
        assert!(
            text.contains("| sqlite | POST /Users | 100 | 2.00 | 50 | 12.5 | 24.8 | 25.0 | yes | 10 | 10.0 | 51 |"),
            "{text}"
        );
        assert!(text.contains("| 50.0 | 99.0 | 100.0 | **no** |"), "{text}");
        let broken = row(
            Phase::AddMembers,
            vec![1.0],
            Some("group bench-group-01 has 3 members"),
        );
        let text = markdown(&context, &[broken]);
        assert!(
            text.contains("**failed**") && text.contains("has 3 members"),
            "{text}"
        );
    }
}
