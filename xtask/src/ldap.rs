//! `cargo xtask ldap`: a slapd with the test directory on a fixed port, for trying idmsync by
//! hand (`config/ldap-example.toml` points at it).

use std::sync::mpsc;

use anyhow::{bail, Context, Result};
use idmsync_test_ldap::{fixtures, SessionLog, Slapd};

/// The default port: unprivileged, and unlikely to clash with a system slapd on 389.
const DEFAULT_PORT: u16 = 3389;

/// Runs slapd with [`fixtures::DIRECTORY`] on 127.0.0.1 until Ctrl-C, then removes it.
pub fn run(args: &[String]) -> Result<()> {
    let port = parse_port(args)?;
    let (stop, stopped) = mpsc::channel();
    // Registered before the start, so a Ctrl-C during it still cleans up.
    ctrlc::set_handler(move || {
        // The receiver only disappears once the server is already being cleaned up.
        let _ = stop.send(());
    })
    .context("installing the Ctrl-C handler")?;
    // With content synchronisation, so that differential runs see leavers (deltas = "auto").
    let slapd = Slapd::builder()
        .ldif(fixtures::DIRECTORY)
        .syncprov(SessionLog::Operations(10_000))
        .port(port)
        .start();
    println!("slapd is running with the test directory (crates/idmsync-test-ldap/fixtures/directory.ldif)");
    println!("  RFC 4533:  the syncprov overlay, with a session log of 10,000 operations");
    println!("  url:       {}", slapd.url());
    println!("  suffix:    {}", slapd.suffix());
    println!("  sync dn:   {}", slapd.sync_dn());
    println!("  password:  {}", slapd.sync_password());
    println!(
        "  admin dn:  {} / {}",
        slapd.admin_dn(),
        slapd.admin_password()
    );
    println!(
        "  try:       ldapsearch -x -H {} -D '{}' -w {} -b ou=people,{} -E pr=100/noprompt",
        slapd.url(),
        slapd.sync_dn(),
        slapd.sync_password(),
        slapd.suffix()
    );
    println!("Ctrl-C stops it and removes its data.");
    stopped.recv().context("waiting for Ctrl-C")?;
    drop(slapd);
    println!("stopped");
    Ok(())
}

/// `[--port N]`.
fn parse_port(args: &[String]) -> Result<u16> {
    match args {
        [] => Ok(DEFAULT_PORT),
        [flag, port] if flag == "--port" => port
            .parse()
            .with_context(|| format!("--port {port:?} is not a port number")),
        other => bail!("usage: cargo xtask ldap [--port N]; got {other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_port_defaults_and_can_be_chosen() {
        assert_eq!(parse_port(&[]).expect("default"), 3389);
        assert_eq!(parse_port(&args(&["--port", "4389"])).expect("port"), 4389);
        assert!(parse_port(&args(&["--port", "x"])).is_err());
        assert!(parse_port(&args(&["--prot", "1"])).is_err());
    }
}
