//! `cargo xtask ad`: a Samba AD domain controller with the test directory on 127.0.0.1:389, for
//! trying idmsync by hand (`config/ad-example.toml` points at it).

use std::sync::mpsc;

use anyhow::{bail, Context, Result};
use idmsync_test_ad::{fixtures, SambaDc};

/// Runs the domain controller with [`fixtures::directory`] until Ctrl-C, then removes it.
pub fn run(args: &[String]) -> Result<()> {
    if !args.is_empty() {
        bail!("usage: cargo xtask ad (no options: Samba's port is fixed); got {args:?}");
    }
    let (stop, stopped) = mpsc::channel();
    // Registered before the start, so a Ctrl-C during it still cleans up.
    ctrlc::set_handler(move || {
        // The receiver only disappears once the server is already being cleaned up.
        let _ = stop.send(());
    })
    .context("installing the Ctrl-C handler")?;
    let dc = SambaDc::start();
    dc.add(&fixtures::directory(dc.base_dn()));
    let corp = format!("{},{}", fixtures::CORP, dc.base_dn());
    println!("Samba AD DC {} is running with the test directory (crates/idmsync-test-ad/src/fixtures.rs)", dc.realm());
    println!("  url:       {} (and {})", dc.url(), dc.ldaps_url());
    println!("  base:      {corp}");
    println!("  sync dn:   {}", dc.sync_dn());
    println!("  password:  {}", dc.sync_password());
    println!("  admin dn:  {} / {}", dc.admin_dn(), dc.admin_password());
    println!(
        "  try:       cargo run -- --config config/ad-example.toml sync\n             \
         ldapsearch -x -H {} -D '{}' -w {} -b '{corp}' -E pr=1000/noprompt sAMAccountName",
        dc.url(),
        dc.sync_dn(),
        dc.sync_password(),
    );
    println!("Ctrl-C stops it and removes its data.");
    stopped.recv().context("waiting for Ctrl-C")?;
    drop(dc);
    println!("stopped");
    Ok(())
}
