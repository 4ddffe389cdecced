//! `cargo xtask`: the project's development tasks, in Rust so they run wherever cargo does.
//!
//! - `cargo xtask ci`: what CI runs: installs the test servers' packages if missing, then the
//!   formatting check, clippy with warnings denied, every test, and the linkage check (no C
//!   client library; the release binary needs only glibc).
//! - `cargo xtask ldap [--port 3389]`: a slapd with the test directory, for trying idmsync by
//!   hand.
//! - `cargo xtask ad`: a Samba AD domain controller with the AD test directory on
//!   127.0.0.1:389 (as root), for `config/ad-example.toml`.
//! - `cargo xtask bench [ldap | store] [...]`: the benchmark; see `docs/benchmarks.md`.

mod ad;
mod bench;
mod ldap;
mod linkage;
mod packages;
mod services;
mod tidy;
#[cfg(test)]
mod unit;

use std::process::Command;

use anyhow::{bail, Context, Result};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("ci") => ci(),
        Some("ldap") => ldap::run(&args[1..]),
        Some("ad") => ad::run(&args[1..]),
        Some("bench") => bench::run(&args[1..]),
        Some(bench::MEASURE) => bench::measure_subcommand(&args[1..]),
        Some("help") | Some("--help") | None => {
            println!(
                "usage: cargo xtask <task>\n\ntasks:\n  \
                 ci                  install test servers if missing, fmt check, clippy \
                 (warnings denied), all tests, linkage (release binary needs only glibc)\n  \
                 ldap [--port 3389]  slapd with the test directory on 127.0.0.1 until Ctrl-C\n  \
                 ad                  Samba AD DC with the AD test directory on 127.0.0.1:389 \
                 (root) until Ctrl-C\n  \
                 bench               sync benchmarks, written to docs/benchmarks.md:\n    {}",
                bench::USAGE
            );
            Ok(())
        }
        Some(other) => bail!("unknown task {other:?}; try `cargo xtask help`"),
    }
}

/// Runs a command from the workspace root, failing if it fails.
pub(crate) fn run(program: &str, args: &[&str]) -> Result<()> {
    eprintln!("$ {program} {}", args.join(" "));
    let status = Command::new(program)
        .args(args)
        .current_dir(tidy::workspace_root())
        .status()
        .with_context(|| format!("running {program}"))?;
    if !status.success() {
        bail!("`{program} {}` failed with {status}", args.join(" "));
    }
    Ok(())
}

fn ci() -> Result<()> {
    // Before anything slow: tests need the real servers, and a missing one should fail (or be
    // installed) in seconds, not after a full build.
    packages::ensure_installed(packages::TEST_SERVERS)?;
    packages::ds389_without_systemd()?;
    packages::ensure_scim_tester()?;
    services::ensure_running()?;
    run("cargo", &["fmt", "--all", "--", "--check"])?;
    run(
        "cargo",
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ],
    )?;
    run("cargo", &["test", "--workspace"])?;
    linkage::check()?;
    Ok(())
}
