//! Shell completions and manual pages, generated from the clap definition so they cannot drift
//! from `--help`.

use std::path::Path;

use anyhow::Context;
use clap::CommandFactory;

use crate::cli::Cli;

/// The completion script for `shell`, on standard output.
pub fn completions(shell: clap_complete::Shell) -> anyhow::Result<()> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "idmsync", &mut script);
    crate::console::print(&String::from_utf8_lossy(&script))
}

/// Writes the manual pages into `dir`.
pub fn man(dir: &Path) -> anyhow::Result<()> {
    clap_mangen::generate_to(Cli::command(), dir)
        .with_context(|| format!("writing the manual pages into {}", dir.display()))?;
    crate::console::line(&format!(
        "wrote idmsync.1 and a page per subcommand into {}; read them with `man idmsync`",
        dir.display()
    ))
}
