//! The metrics text after real runs: names, labels and values, read back line by line.

use std::time::Duration;

use idmsync_domain::Trigger;
use idmsync_ports::{MetricsExporter, RunTrigger};

use crate::{base_time, directory_down, Harness};
use idmsync_test_doubles::FakeSource;

/// The value of the sample `series` (name and labels exactly as exposed), if present.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test(start_paused = true)]
async fn metrics_after_a_boot_run_and_a_skipped_run() {
    let h = Harness::unscheduled(FakeSource::new());
    let before = h.scheduler.render().await.expect("metrics");
    assert_eq!(
        sample(&before, r#"idmsync_boot_sync_done{tenant="default"}"#),
        Some(0.0)
    );
    assert_eq!(
        sample(
            &before,
            r#"idmsync_users{tenant="default",status="active"}"#
        ),
        Some(0.0)
    );

    h.scheduler.boot().await.expect("boot");
    assert!(h.scheduler.drain(Duration::from_secs(1)).await);
    h.store.lock_elsewhere();
    h.scheduler.start(None, Trigger::Api).await.expect("start");
    assert!(h.scheduler.drain(Duration::from_secs(1)).await);

    let text = h.scheduler.render().await.expect("metrics");
    let expected = [
        (
            r#"idmsync_runs_total{tenant="default",type="full",outcome="succeeded",trigger="boot"}"#,
            1.0,
        ),
        (
            r#"idmsync_runs_total{tenant="default",type="differential",outcome="skipped-locked",trigger="api"}"#,
            1.0,
        ),
        (
            r#"idmsync_run_duration_seconds_count{tenant="default",type="full"}"#,
            1.0,
        ),
        (
            r#"idmsync_run_duration_seconds_bucket{tenant="default",type="full",le="0.1"}"#,
            1.0,
        ),
        (
            r#"idmsync_changes_applied_total{tenant="default",kind="users_created"}"#,
            2.0,
        ),
        (
            r#"idmsync_changes_applied_total{tenant="default",kind="groups_created"}"#,
            1.0,
        ),
        (
            r#"idmsync_changes_applied_total{tenant="default",kind="memberships_added"}"#,
            2.0,
        ),
        (
            r#"idmsync_changes_applied_total{tenant="default",kind="users_deactivated"}"#,
            0.0,
        ),
        (
            r#"idmsync_last_success_timestamp_seconds{tenant="default",type="full"}"#,
            base_time().timestamp() as f64,
        ),
        (r#"idmsync_users{tenant="default",status="active"}"#, 2.0),
        (r#"idmsync_users{tenant="default",status="inactive"}"#, 0.0),
        (r#"idmsync_groups{tenant="default",status="active"}"#, 1.0),
        (r#"idmsync_boot_sync_done{tenant="default"}"#, 1.0),
        (r#"idmsync_run_in_progress{tenant="default"}"#, 0.0),
    ];
    for (series, value) in expected {
        assert_eq!(sample(&text, series), Some(value), "{series} in\n{text}");
    }
    assert_eq!(
        sample(
            &text,
            r#"idmsync_last_success_timestamp_seconds{tenant="default",type="differential"}"#
        ),
        Some(0.0),
        "no differential run has succeeded"
    );
    for family in [
        "idmsync_runs_total counter",
        "idmsync_run_duration_seconds histogram",
        "idmsync_changes_applied_total counter",
        "idmsync_last_success_timestamp_seconds gauge",
        "idmsync_users gauge",
        "idmsync_groups gauge",
        "idmsync_boot_sync_done gauge",
        "idmsync_run_in_progress gauge",
        "idmsync_build_info gauge",
    ] {
        assert!(text.contains(&format!("# TYPE {family}\n")), "{family}");
    }
}

/// The documented alerts need their series before the first failure: `increase()` sees no rise
/// in a series born at 1, and the age of a last success that is absent alerts on nothing.
#[tokio::test(start_paused = true)]
async fn every_alerted_series_is_zero_from_the_start_and_a_first_failure_counts() {
    let h = Harness::unscheduled(FakeSource::new());
    let before = h.scheduler.render().await.expect("metrics");
    for series in [
        r#"idmsync_runs_total{tenant="default",type="full",outcome="failed",trigger="boot"}"#,
        r#"idmsync_runs_total{tenant="default",type="full",outcome="failed",trigger="api"}"#,
        r#"idmsync_runs_total{tenant="default",type="full",outcome="aborted",trigger="schedule"}"#,
        r#"idmsync_runs_total{tenant="default",type="differential",outcome="failed",trigger="schedule"}"#,
        r#"idmsync_runs_total{tenant="default",type="unknown",outcome="failed",trigger="boot"}"#,
        r#"idmsync_last_success_timestamp_seconds{tenant="default",type="full"}"#,
        r#"idmsync_last_success_timestamp_seconds{tenant="default",type="differential"}"#,
        r#"idmsync_run_duration_seconds_count{tenant="default",type="full"}"#,
        r#"idmsync_changes_applied_total{tenant="default",kind="users_deactivated"}"#,
    ] {
        assert_eq!(sample(&before, series), Some(0.0), "{series} in\n{before}");
    }
    let version = format!(
        r#"idmsync_build_info{{version="{}"}}"#,
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(sample(&before, &version), Some(1.0), "{before}");

    h.source.set_error(Some(directory_down()));
    h.scheduler.start(None, Trigger::Api).await.expect("start");
    assert!(h.scheduler.drain(Duration::from_secs(1)).await);
    let after = h.scheduler.render().await.expect("metrics");
    assert_eq!(
        sample(
            &after,
            r#"idmsync_runs_total{tenant="default",type="full",outcome="failed",trigger="api"}"#
        ),
        Some(1.0),
        "{after}"
    );
    assert_eq!(
        sample(
            &after,
            r#"idmsync_last_success_timestamp_seconds{tenant="default",type="full"}"#
        ),
        Some(0.0),
        "no run has succeeded: the age alert must fire"
    );
}

#[tokio::test(start_paused = true)]
async fn metrics_fail_when_the_database_cannot_answer() {
    let h = Harness::unscheduled(FakeSource::new());
    h.store.set_down(true);
    let error = h.scheduler.render().await.expect_err("database down");
    assert_eq!(
        error,
        "could not read the run log: database unavailable: test database is down"
    );
}
