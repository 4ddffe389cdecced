//! Checks of the shipped systemd unit, `config/idmsync.service`: `systemd-analyze security`
//! scores it as hardened, and the documentation it points at is what its install steps put
//! there.

use std::process::Command;

use crate::tidy::workspace_root;

/// The highest exposure `systemd-analyze security` may give the unit (0 safest, 10 unsafe).
const MAX_EXPOSURE: f64 = 2.0;

fn unit() -> String {
    std::fs::read_to_string(workspace_root().join("config/idmsync.service"))
        .expect("reading config/idmsync.service")
}

#[test]
fn the_systemd_unit_scores_at_most_2_in_systemd_analyze_security() {
    // `--offline` reads the file as it is, without a running systemd; the file must be named
    // like the unit it describes.
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("idmsync.service");
    std::fs::write(&path, unit()).expect("writing the unit");
    let output = Command::new("systemd-analyze")
        .args(["security", "--offline=true", "--no-pager"])
        .arg(&path)
        .output()
        .expect("running systemd-analyze (cargo xtask ci installs systemd)");
    let report = String::from_utf8_lossy(&output.stdout);
    let exposure: f64 = report
        .lines()
        .find_map(|line| {
            line.split("Overall exposure level for idmsync.service: ")
                .nth(1)
        })
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|score| score.parse().ok())
        .unwrap_or_else(|| {
            panic!(
                "no overall exposure in the report: {report}{}",
                String::from_utf8_lossy(&output.stderr)
            )
        });
    assert!(
        exposure <= MAX_EXPOSURE,
        "exposure {exposure} > {MAX_EXPOSURE}:\n{report}"
    );
    let unit = unit();
    assert!(
        unit.contains("\nUMask=0077\n"),
        "the SQLite file must not be world-readable"
    );
}

#[test]
fn the_units_documentation_is_installed_by_its_install_steps() {
    // `idmsync man DIR` writes idmsync.1 (tests/e2e/operator.rs checks that); the unit's header
    // says to run it, so `systemctl help idmsync` finds the page.
    let unit = unit();
    let documentation: Vec<&str> = unit
        .lines()
        .filter_map(|line| line.strip_prefix("Documentation="))
        .collect();
    assert_eq!(documentation, ["man:idmsync(1)"]);
    let install = "sudo idmsync man /usr/local/share/man/man1";
    assert!(unit.contains(install), "the header must say `{install}`");
}
