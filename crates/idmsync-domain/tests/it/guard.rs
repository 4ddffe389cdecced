//! The safety guard: too many deactivations, or an empty source, stop a full run.

use idmsync_domain::guard::{check as guard, GuardStop};
use idmsync_domain::plan::plan;
use idmsync_domain::{DeactivatedBy, MaxDeactivations, SourceUser, StoreState};

use crate::fixture::*;

fn people(n: usize) -> Vec<SourceUser> {
    (0..n).map(|i| u(&format!("user{i:04}"))).collect()
}

/// A store of `active` active and `inactive` inactive users, and a run whose source drops
/// `missing` of the active ones and disables `disabled` more; returns the guard's verdict.
fn verdict(
    active: usize,
    inactive: usize,
    missing: usize,
    disabled: usize,
    differential: bool,
    max: MaxDeactivations,
) -> Result<(), GuardStop> {
    let everyone = people(active + inactive);
    let mut store = synced(&src(everyone.clone(), vec![]));
    for u in &everyone[active..] {
        deactivate(&mut store, u.external_id.as_str(), DeactivatedBy::Admin);
    }
    let mut source: Vec<SourceUser> = everyone[missing..].to_vec();
    for u in source.iter_mut().take(disabled) {
        u.enabled = false;
    }
    let options = if differential { diff() } else { full() };
    let changes = plan(src(source.clone(), vec![]), &store, &options, &PlainHasher);
    guard(options.mode, &changes, &store, source.len(), max)
}

/// Active, inactive, missing, disabled, the setting, and the verdict.
type Case = (
    usize,
    usize,
    usize,
    usize,
    MaxDeactivations,
    Result<(), GuardStop>,
);

fn empty(active: u64) -> Result<(), GuardStop> {
    Err(GuardStop::EmptySource { active })
}

fn too_many(would: u64, active: u64, limit: u64, setting: &str) -> Result<(), GuardStop> {
    Err(GuardStop::TooManyDeactivations {
        would,
        active,
        limit,
        setting: setting.into(),
    })
}

#[test]
fn the_guard_limits_deactivations_of_full_runs() {
    use MaxDeactivations::{Count, Percent};
    let ten = MaxDeactivations::default();
    let cases: [Case; 14] = [
        (100, 0, 0, 0, ten, Ok(())),
        (100, 0, 10, 0, ten, Ok(())),
        (100, 0, 11, 0, ten, too_many(11, 100, 10, "10%")),
        // Users disabled in the source count as deactivations too.
        (100, 0, 5, 6, ten, too_many(11, 100, 10, "10%")),
        // The share is of the active users; inactive ones neither count nor get deactivated.
        (10, 90, 1, 0, ten, Ok(())),
        (10, 90, 2, 0, ten, too_many(2, 10, 1, "10%")),
        // Shares round down: with 9 active users, 10% allows none.
        (9, 0, 1, 0, ten, too_many(1, 9, 0, "10%")),
        (100, 0, 3, 0, Count(3), Ok(())),
        (100, 0, 4, 0, Count(3), too_many(4, 100, 3, "3")),
        (100, 0, 1, 0, Count(0), too_many(1, 100, 0, "0")),
        (100, 0, 60, 0, Percent(50.0), too_many(60, 100, 50, "50%")),
        // An empty source is always over the threshold, whatever the setting.
        (100, 0, 100, 0, Percent(100.0), empty(100)),
        (3, 5, 8, 0, Count(1000), empty(3)),
        // Nothing active, nothing to protect.
        (0, 5, 5, 0, ten, Ok(())),
    ];
    for (active, inactive, missing, disabled, max, expected) in cases {
        assert_eq!(
            verdict(active, inactive, missing, disabled, false, max),
            expected,
            "active {active}, inactive {inactive}, missing {missing}, disabled {disabled}, {max}"
        );
    }
}

#[test]
fn differential_runs_are_limited_by_what_they_deactivate() {
    // Missing users are no deactivation in a differential run, nor is an empty read; users the
    // source disabled are, and count against the limit as in a full run.
    let none = MaxDeactivations::Count(0);
    for missing in [0, 50, 100] {
        assert_eq!(
            verdict(100, 0, missing, 0, true, none),
            Ok(()),
            "{missing} missing"
        );
    }
    assert_eq!(
        verdict(100, 0, 0, 10, true, MaxDeactivations::default()),
        Ok(())
    );
    assert_eq!(
        verdict(100, 0, 0, 11, true, MaxDeactivations::default()),
        too_many(11, 100, 10, "10%")
    );
    assert_eq!(
        verdict(100, 0, 50, 50, true, none),
        too_many(50, 100, 0, "0")
    );
}

#[test]
fn the_stop_explains_itself() {
    let stop = verdict(100, 0, 11, 0, false, MaxDeactivations::default()).expect_err("stops");
    assert_eq!(
        stop.to_string(),
        "the run would deactivate 11 of 100 active users, over the limit of 10 \
         (sync.max_deactivations = 10%); run again with --force if this is intended"
    );
    let empty = guard(
        idmsync_domain::SyncMode::Full,
        &Default::default(),
        &synced(&src(people(2), vec![])),
        0,
        MaxDeactivations::default(),
    );
    assert!(empty
        .expect_err("stops")
        .to_string()
        .starts_with("the source returned no users while 2 users are active"));
    assert_eq!(
        guard(
            idmsync_domain::SyncMode::Full,
            &Default::default(),
            &StoreState::default(),
            0,
            MaxDeactivations::default()
        ),
        Ok(())
    );
}

/// A store synced from jlennon (the administrator) and pmccartney, then a run of `source` with
/// `admins` as `sync.admins`, in either mode; returns the guard's verdict.
fn admin_verdict(
    source: Vec<SourceUser>,
    admins: &[&str],
    differential: bool,
) -> Result<(), GuardStop> {
    let store = synced_with(
        &src(logins(&["jlennon", "pmccartney"]), vec![]),
        &with_admins(full(), &["jlennon"]),
    );
    let options = with_admins(if differential { diff() } else { full() }, admins);
    let changes = plan(src(source.clone(), vec![]), &store, &options, &PlainHasher);
    guard(
        options.mode,
        &changes,
        &store,
        source.len(),
        MaxDeactivations::Count(100),
    )
}

#[test]
fn no_run_may_take_the_last_active_administrator_away() {
    let none = || {
        Err(GuardStop::NoAdministrator {
            now: "jlennon".into(),
        })
    };
    let both = logins(&["jlennon", "pmccartney"]);
    // sync.admins changed to a name nobody has: the capability would go.
    assert_eq!(admin_verdict(both.clone(), &["jlenon"], false), none());
    assert_eq!(admin_verdict(both.clone(), &["jlenon"], true), none());
    // The administrator disabled in the source, in a differential run too.
    let mut disabled = both.clone();
    disabled[0].enabled = false;
    assert_eq!(admin_verdict(disabled.clone(), &["jlennon"], true), none());
    // The administrator missing from a full run.
    assert_eq!(
        admin_verdict(logins(&["pmccartney"]), &["jlennon"], false),
        none()
    );
    // Handing over is fine: another administrator remains or arrives.
    assert_eq!(admin_verdict(both.clone(), &["pmccartney"], false), Ok(()));
    assert_eq!(
        admin_verdict(disabled, &["jlennon", "pmccartney"], true),
        Ok(())
    );
    assert_eq!(admin_verdict(both, &["jlennon"], false), Ok(()));
}

#[test]
fn an_empty_source_names_what_to_check() {
    let said = GuardStop::EmptySource { active: 3 }.to_string();
    for cause in [
        "search bases",
        "user filter",
        "rights",
        "config check",
        "--force",
    ] {
        assert!(said.contains(cause), "{cause} not in {said}");
    }
}
