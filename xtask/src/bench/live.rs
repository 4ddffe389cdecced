//! Scenario f, issue 16's second figure: under `idmsync serve` with live sync, the time from a
//! user's deletion in the directory to its committed deactivation in the database.
//!
//! After a full sync by RFC 4533 (unmeasured: it stores the cookies the stream starts from),
//! `serve` starts with `sync.live` on the same database, and once `/health/ready` says the stream
//! is connected, [`DELETIONS`] users are deleted one at a time, each with its memberships (as
//! a referential-integrity overlay would), through ldapmodify. Each is timed from the end of
//! its ldapmodify to the first poll of the database (one query with the backend's client every
//! [`POLL`]) that reads the user's row `inactive`; the next deletion waits for that, so every
//! latency is one change's. Between deletions a pause of 0 to one batch window, spread evenly
//! and the same on every run, puts the deletions at every point of the batch timer's cycle
//! rather than always just after a batch. A deletion not applied within [`DEADLINE`] fails the
//! scenario; so does a `serve` that does not connect, dies, or does not exit 0 on SIGTERM.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use idmsync_test_ldap::fixtures::Generated;

use super::db::Database;
use super::measure::{percentile, Running, Usage};
use super::options::Scenario;
use super::report::What;
use super::source::{Deltas, Source};
use super::{config_text, failed, Bench, Cell, Target, SEED};

/// Users deleted per run.
pub const DELETIONS: usize = 100;
/// How long one deletion may take to be committed before the scenario fails.
const DEADLINE: Duration = Duration::from_secs(30);
/// How often the database is read while waiting for a deactivation.
const POLL: Duration = Duration::from_millis(10);
/// `sync.live_batch_ms`: idmsync's default, written out so the figures say what they measure.
const BATCH_MS: u64 = 500;
/// How long `serve` may take to connect its stream (after its start, no run is needed: the
/// full sync before it is the tenant's successful full run).
const CONNECT_WITHIN: Duration = Duration::from_secs(120);
/// How long `serve` may take to exit after SIGTERM (its `shutdown_grace_secs` is 1).
const STOP_WITHIN: Duration = Duration::from_secs(30);

/// One run of the scenario: the latencies timed, and why it stopped early, if it did.
struct Timed {
    latencies: Vec<Duration>,
    failure: Option<String>,
}

impl Bench {
    /// Scenario f on every database of an LDAP source run (the file source has no live sync).
    pub(super) fn live(
        &mut self,
        cell: Cell,
        label: &str,
        source: &Source,
        directory: &mut Generated,
        targets: &[Target],
        work: &Path,
    ) -> Result<()> {
        if !matches!(source, Source::Ldap(_)) {
            self.progress(&format!(
                "{label}: scenario f skipped (live sync needs an LDAP source)"
            ));
            return Ok(());
        }
        for target in targets {
            let what = What::Scenario(Scenario::F);
            let log = self.log(cell, target.db, "f-start");
            match self.idmsync(&target.syncrepl, "--full", &log) {
                Ok((_, None)) => {}
                Ok((usage, Some(why))) => {
                    let why = format!("the full sync before serve failed: {why}");
                    self.record_usage(cell, Some(target.db), what, usage, Some(why));
                    continue;
                }
                Err(e) => {
                    self.record(cell, Some(target.db), what, Err(e));
                    continue;
                }
            }
            self.progress(&format!(
                "{label} → {}: serve with live sync, {DELETIONS} deletions",
                target.db
            ));
            let (usage, timed) = match self.serve_and_delete(cell, source, directory, target, work)
            {
                Ok(outcome) => outcome,
                Err(e) => {
                    self.record(cell, Some(target.db), what, Err(e));
                    continue;
                }
            };
            let secs: Vec<f64> = timed.latencies.iter().map(Duration::as_secs_f64).collect();
            let at = |p| percentile(&secs, p).map_or("—".into(), |s| format!("{:.3} s", s));
            let log = self.log(cell, target.db, "f-serve");
            let runs = live_runs(&std::fs::read_to_string(&log).unwrap_or_default());
            let run_at = |p| percentile(&runs, p).map_or("—".into(), |s| format!("{:.3} s", s));
            self.progress(&format!(
                "{label} → {}: {} deletions timed: p50 {}, p99 {}, max {}; {} live runs took \
                 p50 {}, p99 {}, max {}",
                target.db,
                secs.len(),
                at(50.0),
                at(99.0),
                at(100.0),
                runs.len(),
                run_at(50.0),
                run_at(99.0),
                run_at(100.0)
            ));
            self.record_latencies(
                cell,
                Some(target.db),
                what,
                usage,
                timed.latencies,
                timed.failure,
            );
        }
        Ok(())
    }

    /// Starts `serve` on `target`'s database, times the deletions and stops it; returns its
    /// usage over the whole time and what was timed. An error is a failure that leaves no usage
    /// (serve could not start, or could not be stopped).
    fn serve_and_delete(
        &self,
        cell: Cell,
        source: &Source,
        directory: &mut Generated,
        target: &Target,
        work: &Path,
    ) -> Result<(Usage, Timed)> {
        let port = idmsync_test_ldap::harness::free_ports(1)[0];
        let config = work.join(format!("{}-live.toml", target.db));
        let sync = format!(
            "live = true\nlive_batch_ms = {BATCH_MS}\nfull_cron = \"\"\ndifferential_cron = \"\"\n"
        );
        let http = format!("[http]\nlisten = \"127.0.0.1:{port}\"\nshutdown_grace_secs = 1\n\n");
        let text = config_text(&target.database, source, Deltas::Syncrepl, &sync, &http);
        std::fs::write(&config, text).with_context(|| format!("writing {}", config.display()))?;
        let log = self.log(cell, target.db, "f-serve");
        let mut serve = self.measured_idmsync(&config, &["serve"], &log)?.spawn()?;
        let mut timed = Timed {
            latencies: Vec::with_capacity(DELETIONS),
            failure: None,
        };
        match connected(&mut serve, port, &log) {
            Ok(()) => {
                let deleted = delete_and_time(
                    &mut serve,
                    source,
                    directory,
                    &target.database,
                    &self.today,
                    &mut timed.latencies,
                );
                timed.failure = deleted.err().map(|e| format!("{e:#} ({})", log.display()));
            }
            Err(e) => timed.failure = Some(format!("{e:#}")),
        }
        let (status, usage) = stop(serve)?;
        if !status.success() {
            // The end of serve's log says why it stopped, or why it would not stop.
            let serve = failed(status, &log);
            timed.failure = Some(match timed.failure {
                Some(why) => format!("{why}; serve: {serve}"),
                None => format!("serve did not stop cleanly: {serve}"),
            });
        }
        Ok((usage, timed))
    }
}

/// Waits until `serve`'s `/health/ready` says the live stream is connected.
fn connected(serve: &mut Running, port: u16, log: &Path) -> Result<()> {
    let started = Instant::now();
    loop {
        if serve.has_ended()? {
            bail!(
                "serve exited before its live stream connected ({})",
                log.display()
            );
        }
        let state = get(port, "/health/ready").ok().and_then(|body| {
            let body: serde_json::Value = serde_json::from_str(&body).ok()?;
            body["live"]["state"].as_str().map(str::to_string)
        });
        if state.as_deref() == Some("connected") {
            return Ok(());
        }
        if started.elapsed() > CONNECT_WITHIN {
            bail!(
                "the live stream was not connected after {} s (last state {state:?}; {})",
                CONNECT_WITHIN.as_secs(),
                log.display()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Deletes [`DELETIONS`] users one at a time and pushes each one's time to its committed
/// deactivation to `latencies`; stops at the first that is not applied within [`DEADLINE`].
fn delete_and_time(
    serve: &mut Running,
    source: &Source,
    directory: &mut Generated,
    database: &Database,
    today: &str,
    latencies: &mut Vec<Duration>,
) -> Result<()> {
    for i in 0..DELETIONS {
        std::thread::sleep(pause(i));
        let ldif = directory.delete_users(1, SEED + 100 + i as u64);
        let login = deleted_login(directory, &ldif)?;
        let before = database.user_status(&login)?;
        if before.as_deref() != Some("active") {
            bail!(
                "deletion {}: {login} was {before:?} before its deletion, not active",
                i + 1
            );
        }
        source.apply(directory, &ldif, today)?;
        let deleted = Instant::now();
        loop {
            if database.user_status(&login)?.as_deref() == Some("inactive") {
                latencies.push(deleted.elapsed());
                break;
            }
            if deleted.elapsed() > DEADLINE {
                bail!(
                    "deletion {}: {login} was not deactivated {} s after its deletion",
                    i + 1,
                    DEADLINE.as_secs()
                );
            }
            if serve.has_ended()? {
                bail!(
                    "serve exited while deletion {} ({login}) was pending",
                    i + 1
                );
            }
            std::thread::sleep(POLL);
        }
    }
    Ok(())
}

/// The pause before the `i`th deletion: 0 to one batch window, spread evenly over the run by
/// a fixed permutation of the deletions (37 is prime to 100), the same on every run.
fn pause(i: usize) -> Duration {
    let step = (i * 37) % DELETIONS;
    Duration::from_millis(BATCH_MS * step as u64 / DELETIONS as u64)
}

/// The login of the one user whose deletion `ldif` (from [`Generated::delete_users`]) ends with.
fn deleted_login(directory: &Generated, ldif: &str) -> Result<String> {
    let dn = ldif
        .lines()
        .rev()
        .find_map(|line| line.strip_prefix("dn: "))
        .context("the deletion's LDIF names no entry")?;
    let user = directory
        .users()
        .iter()
        .find(|u| u.dn == dn && !u.present)
        .with_context(|| format!("{dn} is not a deleted generated user"))?;
    Ok(user.uid.clone())
}

/// The seconds each live run took, from `serve`'s log (`run finished … mode="live" …
/// elapsed_secs=…`): where a deletion's time goes besides the batch window.
fn live_runs(log: &str) -> Vec<f64> {
    log.lines()
        .filter(|l| l.contains("run finished") && l.contains("mode=\"live\""))
        .filter_map(|l| {
            l.split("elapsed_secs=")
                .nth(1)?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .collect()
}

/// SIGTERM to `serve` itself (not to the process measuring it), then its exit and usage.
pub(super) fn stop(mut serve: Running) -> Result<(std::process::ExitStatus, Usage)> {
    if let Some(pid) = serve.program_pid() {
        let status = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .context("running kill")?;
        if !status.success() {
            bail!("kill -TERM {pid} failed: {status}");
        }
    }
    let started = Instant::now();
    while !serve.has_ended()? {
        if started.elapsed() > STOP_WITHIN {
            if let Some(pid) = serve.program_pid() {
                // Best effort: the bench goes on and reports the failure either way.
                let _ = Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .status();
            }
            serve.wait()?;
            bail!(
                "serve did not exit {} s after SIGTERM",
                STOP_WITHIN.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    serve.wait()
}

/// The body of `GET path` on 127.0.0.1:`port` (HTTP/1.0: the server answers without chunks and
/// closes).
fn get(port: u16, path: &str) -> Result<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let (_, body) = response
        .split_once("\r\n\r\n")
        .context("an HTTP response without a body")?;
    Ok(body.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_runs_are_read_from_the_log() {
        let log = "2026-11-28T21:37:55Z  INFO idmsync_scheduler::scheduler: run finished run=3 \
                   mode=\"live\" trigger=\"live\" outcome=\"succeeded\" elapsed_secs=0.0517\n\
                   2026-11-28T21:37:56Z  INFO run finished run=2 mode=\"full\" elapsed_secs=9.1\n";
        assert_eq!(live_runs(log), [0.0517]);
    }

    #[test]
    fn pauses_cover_the_batch_window_evenly() {
        let mut pauses: Vec<u128> = (0..DELETIONS).map(|i| pause(i).as_millis()).collect();
        pauses.sort_unstable();
        let expected: Vec<u128> = (0..DELETIONS as u128).map(|k| k * 5).collect();
        assert_eq!(pauses, expected);
    }

    #[test]
    fn the_deleted_login_is_the_last_entry_of_the_ldif() {
        let mut directory = Generated::new(20, 3, 40, 7);
        let ldif = directory.delete_users(1, 9);
        let login = deleted_login(&directory, &ldif).expect("a deleted user");
        let user = directory
            .users()
            .iter()
            .find(|u| u.uid == login)
            .expect("the user");
        assert!(!user.present);
        assert_eq!(directory.present_users().count(), 19);
    }
}
