//! The Prometheus metrics of a `serve` process, in the text exposition format (version 0.0.4).
//!
//! Hand-written rather than built on a metrics library: the set is small and fixed, every label
//! value is one of a few known words (so nothing needs escaping), and the process-local part is
//! a few counters behind the scheduler's lock. What the database knows (last successes, user and
//! group totals) is read at scrape time instead, so it is right even after a restart and across
//! nodes.
//!
//! Every series a run can move is exposed from the first scrape, at zero: Prometheus' `increase()`
//! sees no rise in a series that is born at 1, and `absent` series never make an alert fire, so
//! a series that appeared only when it happened would hide the first failure after a restart
//! and a boot sync that never succeeds.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use idmsync_domain::{Counts, Outcome, SyncMode, Tenant, Trigger};
use idmsync_ports::{LiveState, LiveStatus, Totals};

/// Upper bounds of the run-duration histogram, in seconds: from a tiny file source to a large
/// directory's first sync.
const DURATION_BUCKETS: [f64; 10] = [0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0];

/// The `type` label of a run whose mode could not be determined (the store failed before
/// recording it).
const UNKNOWN_MODE: &str = "unknown";

/// Every `type` label a run can have, for the zero series.
const MODE_LABELS: [&str; 4] = ["full", "differential", "live", UNKNOWN_MODE];

/// The ways a run of this process can end (`running` and `interrupted` never end one here).
const FINISHED_OUTCOMES: [Outcome; 4] = [
    Outcome::Succeeded,
    Outcome::Failed,
    Outcome::Aborted,
    Outcome::SkippedLocked,
];

/// What starts a run in a `serve` process (`manual` is the command line's).
const SERVE_TRIGGERS: [Trigger; 6] = [
    Trigger::Boot,
    Trigger::Schedule,
    Trigger::Api,
    Trigger::Console,
    Trigger::Live,
    Trigger::Scim,
];

/// The modes whose last success is shown, zero until there is one.
const LAST_SUCCESS_MODES: [SyncMode; 2] = [SyncMode::Full, SyncMode::Differential];

/// The version `idmsync_build_info` reports.
const VERSION: &str = env!("CARGO_PKG_VERSION");

/// A run that finished in this process, as the metrics see it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FinishedRun {
    /// Full or differential; `None` when the run failed before its mode was recorded.
    pub mode: Option<SyncMode>,
    /// How it ended.
    pub outcome: Outcome,
    /// What started it.
    pub trigger: Trigger,
    /// Wall time from the request to the end.
    pub elapsed: Duration,
    /// What it applied, for succeeded runs.
    pub applied: Option<Counts>,
}

/// Cumulative bucket counts, their sum and count, per Prometheus histogram semantics.
#[derive(Debug, Clone, Default)]
struct Histogram {
    buckets: [u64; DURATION_BUCKETS.len()],
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        for (bucket, bound) in self.buckets.iter_mut().zip(DURATION_BUCKETS) {
            if seconds <= bound {
                *bucket += 1;
            }
        }
        self.sum += seconds;
        self.count += 1;
    }
}

/// What this process has observed of its runs: the counters and the histogram. Sorted maps so
/// that the exposition is stable from one scrape to the next.
#[derive(Debug, Clone)]
pub(crate) struct RunMetrics {
    runs: BTreeMap<(&'static str, &'static str, &'static str), u64>,
    durations: BTreeMap<&'static str, Histogram>,
    changes: BTreeMap<&'static str, u64>,
}

impl Default for RunMetrics {
    /// Every series at zero: each type × finished outcome × serve trigger, each type's histogram
    /// and each kind of change.
    fn default() -> Self {
        let runs = MODE_LABELS
            .into_iter()
            .flat_map(|mode| {
                FINISHED_OUTCOMES.into_iter().flat_map(move |outcome| {
                    SERVE_TRIGGERS
                        .into_iter()
                        .map(move |trigger| ((mode, outcome.as_str(), trigger.as_str()), 0))
                })
            })
            .collect();
        let durations = MODE_LABELS
            .into_iter()
            .map(|mode| (mode, Histogram::default()))
            .collect();
        let changes = change_kinds(&Counts::default()).into_iter().collect();
        Self {
            runs,
            durations,
            changes,
        }
    }
}

impl RunMetrics {
    /// Counts a finished run. Runs skipped because another runner held the lock count in
    /// `idmsync_runs_total` but not in the duration histogram, where their near-zero time
    /// would hide the real runs' times.
    pub fn record(&mut self, run: &FinishedRun) {
        let mode = run.mode.map_or(UNKNOWN_MODE, SyncMode::as_str);
        *self
            .runs
            .entry((mode, run.outcome.as_str(), run.trigger.as_str()))
            .or_default() += 1;
        if run.outcome != Outcome::SkippedLocked {
            self.durations
                .entry(mode)
                .or_default()
                .observe(run.elapsed.as_secs_f64());
        }
        for (kind, n) in run.applied.as_ref().map(change_kinds).into_iter().flatten() {
            *self.changes.entry(kind).or_default() += n;
        }
    }
}

/// The kinds of change a run applies, as `idmsync_changes_applied_total{kind}` names them
/// (the names of [`Counts`]' fields; warnings are not changes and are left out).
fn change_kinds(c: &Counts) -> [(&'static str, u64); 14] {
    [
        ("users_created", c.users_created),
        ("users_updated", c.users_updated),
        ("users_deactivated", c.users_deactivated),
        ("users_reactivated", c.users_reactivated),
        ("groups_created", c.groups_created),
        ("groups_updated", c.groups_updated),
        ("groups_deactivated", c.groups_deactivated),
        ("groups_reactivated", c.groups_reactivated),
        ("memberships_added", c.memberships_added),
        ("memberships_removed", c.memberships_removed),
        ("nesting_added", c.nesting_added),
        ("nesting_removed", c.nesting_removed),
        ("admins_granted", c.admins_granted),
        ("admins_revoked", c.admins_revoked),
    ]
}

/// Everything one scrape shows; its `Display` is the exposition text.
pub(crate) struct Exposition<'a> {
    /// The tenant the process synchronises: the `tenant` label of every series but the build
    /// info, so that the series of several `serve` processes (one per tenant) stay apart.
    pub tenant: &'a Tenant,
    /// The process-local counters.
    pub runs: &'a RunMetrics,
    /// The newest successful run of each mode, from the run log; a mode missing here is shown
    /// as 0 (never), so that an alert on its age fires when no run ever succeeded.
    pub last_success: Vec<(SyncMode, DateTime<Utc>)>,
    /// Users and groups by status, from the database.
    pub totals: Totals,
    /// Whether the boot sync is done.
    pub boot_sync_done: bool,
    /// Whether a run is in progress in this process.
    pub run_in_progress: bool,
    /// The live stream's state (`sync.live`).
    pub live: LiveStatus,
}

/// A label value as the exposition format quotes it: backslash, double quote and line feed
/// escaped. Tenant names are any non-blank text.
fn label_value(value: &str) -> String {
    value
        .replace('\\', r"\\")
        .replace('"', r#"\""#)
        .replace('\n', r"\n")
}

/// Writes a metric family's `# HELP` and `# TYPE` lines.
fn family(f: &mut fmt::Formatter<'_>, name: &str, kind: &str, help: &str) -> fmt::Result {
    writeln!(f, "# HELP {name} {help}")?;
    writeln!(f, "# TYPE {name} {kind}")
}

impl fmt::Display for Exposition<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = "idmsync_build_info";
        family(
            f,
            name,
            "gauge",
            "Always 1; the version of this process as a label.",
        )?;
        writeln!(f, r#"{name}{{version="{VERSION}"}} 1"#)?;

        let tenant = label_value(self.tenant.as_str());

        let name = "idmsync_runs_total";
        family(f, name, "counter", "Sync runs finished in this process.")?;
        for ((mode, outcome, trigger), n) in &self.runs.runs {
            writeln!(
                f,
                r#"{name}{{tenant="{tenant}",type="{mode}",outcome="{outcome}",trigger="{trigger}"}} {n}"#
            )?;
        }

        let name = "idmsync_run_duration_seconds";
        family(
            f,
            name,
            "histogram",
            "Wall time of the sync runs of this process.",
        )?;
        for (mode, h) in &self.runs.durations {
            for (n, bound) in h.buckets.iter().zip(DURATION_BUCKETS) {
                writeln!(
                    f,
                    r#"{name}_bucket{{tenant="{tenant}",type="{mode}",le="{bound}"}} {n}"#
                )?;
            }
            let labels = format!(r#"tenant="{tenant}",type="{mode}""#);
            writeln!(f, r#"{name}_bucket{{{labels},le="+Inf"}} {}"#, h.count)?;
            writeln!(f, "{name}_sum{{{labels}}} {}", h.sum)?;
            writeln!(f, "{name}_count{{{labels}}} {}", h.count)?;
        }

        let name = "idmsync_changes_applied_total";
        family(
            f,
            name,
            "counter",
            "Changes applied by the runs of this process.",
        )?;
        for (kind, n) in &self.runs.changes {
            writeln!(f, r#"{name}{{tenant="{tenant}",kind="{kind}"}} {n}"#)?;
        }

        let name = "idmsync_last_success_timestamp_seconds";
        family(
            f,
            name,
            "gauge",
            "End of the newest successful run, by type; 0 if none has succeeded.",
        )?;
        for mode in LAST_SUCCESS_MODES {
            let at = self
                .last_success
                .iter()
                .find(|(m, _)| *m == mode)
                .map_or(0, |(_, at)| at.timestamp());
            let mode = mode.as_str();
            writeln!(f, r#"{name}{{tenant="{tenant}",type="{mode}"}} {at}"#)?;
        }

        let t = &self.totals;
        let statuses = [
            (
                "idmsync_users",
                "Users in the database, by status.",
                t.users_active,
                t.users_inactive,
            ),
            (
                "idmsync_groups",
                "Groups in the database, by status.",
                t.groups_active,
                t.groups_inactive,
            ),
        ];
        for (name, help, active, inactive) in statuses {
            family(f, name, "gauge", help)?;
            writeln!(f, r#"{name}{{tenant="{tenant}",status="active"}} {active}"#)?;
            writeln!(
                f,
                r#"{name}{{tenant="{tenant}",status="inactive"}} {inactive}"#
            )?;
        }

        let flags = [
            (
                "idmsync_boot_sync_done",
                "1 once a full run of the tenant has succeeded (the boot sync is done).",
                self.boot_sync_done,
            ),
            (
                "idmsync_run_in_progress",
                "1 while a sync run of this process is in progress.",
                self.run_in_progress,
            ),
        ];
        for (name, help, on) in flags {
            family(f, name, "gauge", help)?;
            writeln!(f, r#"{name}{{tenant="{tenant}"}} {}"#, u8::from(on))?;
        }
        let name = "idmsync_live_state";
        family(
            f,
            name,
            "gauge",
            "1 for the live stream's state (sync.live): off, connected or reconnecting.",
        )?;
        for state in [
            LiveState::Off,
            LiveState::Connected,
            LiveState::Reconnecting,
        ] {
            let on = u8::from(self.live.state == state);
            let state = state.as_str();
            writeln!(f, r#"{name}{{tenant="{tenant}",state="{state}"}} {on}"#)?;
        }
        let name = "idmsync_live_lag_seconds";
        family(
            f,
            name,
            "gauge",
            "How long the oldest change the live stream received and did not apply yet has waited.",
        )?;
        let lag = self.live.lag.as_secs_f64();
        writeln!(f, r#"{name}{{tenant="{tenant}"}} {lag}"#)?;
        let name = "idmsync_live_last_message_age_seconds";
        family(
            f,
            name,
            "gauge",
            "How long ago the live stream last sent anything; absent before its first message.",
        )?;
        if let Some(age) = self.live.since_message {
            writeln!(f, r#"{name}{{tenant="{tenant}"}} {}"#, age.as_secs_f64())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finished(mode: Option<SyncMode>, outcome: Outcome, secs: f64) -> FinishedRun {
        FinishedRun {
            mode,
            outcome,
            trigger: Trigger::Schedule,
            elapsed: Duration::from_secs_f64(secs),
            applied: None,
        }
    }

    fn render(runs: &RunMetrics) -> String {
        Exposition {
            tenant: &Tenant::new("acme").expect("tenant"),
            runs,
            last_success: vec![],
            totals: Totals::default(),
            boot_sync_done: false,
            run_in_progress: true,
            live: LiveStatus::default(),
        }
        .to_string()
    }

    #[test]
    fn histogram_buckets_are_cumulative() {
        let mut m = RunMetrics::default();
        m.record(&finished(Some(SyncMode::Full), Outcome::Succeeded, 0.25));
        m.record(&finished(Some(SyncMode::Full), Outcome::Failed, 45.0));
        let text = render(&m);
        for line in [
            r#"idmsync_run_duration_seconds_bucket{tenant="acme",type="full",le="0.1"} 0"#,
            r#"idmsync_run_duration_seconds_bucket{tenant="acme",type="full",le="0.5"} 1"#,
            r#"idmsync_run_duration_seconds_bucket{tenant="acme",type="full",le="30"} 1"#,
            r#"idmsync_run_duration_seconds_bucket{tenant="acme",type="full",le="60"} 2"#,
            r#"idmsync_run_duration_seconds_bucket{tenant="acme",type="full",le="+Inf"} 2"#,
            r#"idmsync_run_duration_seconds_sum{tenant="acme",type="full"} 45.25"#,
            r#"idmsync_run_duration_seconds_count{tenant="acme",type="full"} 2"#,
            r#"idmsync_runs_total{tenant="acme",type="full",outcome="failed",trigger="schedule"} 1"#,
            r#"idmsync_run_in_progress{tenant="acme"} 1"#,
            r#"idmsync_boot_sync_done{tenant="acme"} 0"#,
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "{line} missing from\n{text}"
            );
        }
    }

    #[test]
    fn skipped_runs_are_counted_but_not_timed_and_unknown_modes_are_labelled() {
        let mut m = RunMetrics::default();
        m.record(&finished(
            Some(SyncMode::Differential),
            Outcome::SkippedLocked,
            0.0,
        ));
        m.record(&finished(None, Outcome::Failed, 0.0));
        let text = render(&m);
        assert!(text.contains(
            r#"idmsync_runs_total{tenant="acme",type="differential",outcome="skipped-locked",trigger="schedule"} 1"#
        ));
        assert!(text.contains(
            r#"idmsync_run_duration_seconds_count{tenant="acme",type="differential"} 0"#
        ));
        assert!(
            text.contains(r#"idmsync_run_duration_seconds_count{tenant="acme",type="unknown"} 1"#)
        );
    }

    #[test]
    fn every_series_is_exposed_at_zero_before_any_run() {
        let text = render(&RunMetrics::default());
        let mut expected = vec![
            format!(r#"idmsync_build_info{{version="{VERSION}"}} 1"#),
            r#"idmsync_last_success_timestamp_seconds{tenant="acme",type="full"} 0"#.to_string(),
            r#"idmsync_last_success_timestamp_seconds{tenant="acme",type="differential"} 0"#
                .to_string(),
            r#"idmsync_changes_applied_total{tenant="acme",kind="admins_revoked"} 0"#.to_string(),
        ];
        for mode in MODE_LABELS {
            expected.push(format!(
                r#"idmsync_run_duration_seconds_bucket{{tenant="acme",type="{mode}",le="+Inf"}} 0"#
            ));
            for outcome in ["succeeded", "failed", "aborted", "skipped-locked"] {
                for trigger in ["boot", "schedule", "api"] {
                    expected.push(format!(
                        r#"idmsync_runs_total{{tenant="acme",type="{mode}",outcome="{outcome}",trigger="{trigger}"}} 0"#
                    ));
                }
            }
        }
        for line in expected {
            assert!(
                text.lines().any(|l| l == line),
                "{line} missing from\n{text}"
            );
        }
        assert_eq!(
            text.lines()
                .filter(|l| l.starts_with(r#"idmsync_changes_applied_total{tenant="acme","#))
                .count(),
            14,
            "one series per kind of change"
        );
    }

    #[test]
    fn tenant_names_are_escaped_in_labels() {
        let tenant = Tenant::new("a\\b \"c\"\nd").expect("tenant");
        let runs = RunMetrics::default();
        let text = Exposition {
            tenant: &tenant,
            runs: &runs,
            last_success: vec![],
            totals: Totals::default(),
            boot_sync_done: true,
            run_in_progress: false,
            live: LiveStatus::default(),
        }
        .to_string();
        assert!(
            text.lines()
                .any(|l| l == r#"idmsync_boot_sync_done{tenant="a\\b \"c\"\nd"} 1"#),
            "{text}"
        );
        assert_eq!(
            text.lines().filter(|l| !l.starts_with('#')).count(),
            text.lines()
                .filter(|l| l.contains("tenant=") || l.starts_with("idmsync_build_info"))
                .count(),
            "every series but the build info carries the tenant"
        );
    }
}
