//! A progress bar on stderr when it is a terminal; nothing otherwise.

use std::io::IsTerminal;
use std::time::Duration;

use idmsync_ports::Progress;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Draws the engine's progress with indicatif. Hidden unless stderr is a terminal, so scripts
/// and logs stay clean.
pub struct TerminalProgress {
    bar: ProgressBar,
}

impl TerminalProgress {
    /// A bar on stderr, hidden when stderr is not a terminal.
    pub fn new() -> Self {
        let bar = ProgressBar::hidden();
        if std::io::stderr().is_terminal() {
            bar.set_draw_target(ProgressDrawTarget::stderr());
            bar.enable_steady_tick(Duration::from_millis(120));
        }
        Self { bar }
    }

    /// Removes the bar before the summary line is printed.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl Progress for TerminalProgress {
    fn stage(&self, name: &str, total: Option<u64>) {
        let style = match total {
            Some(n) => {
                self.bar.set_length(n);
                ProgressStyle::with_template("{spinner} {msg} [{bar:30}] {pos}/{len}")
            }
            None => ProgressStyle::with_template("{spinner} {msg} {pos}"),
        };
        if let Ok(style) = style {
            self.bar.set_style(style.progress_chars("=> "));
        }
        self.bar.set_position(0);
        self.bar.set_message(name.to_string());
    }

    fn advance(&self, n: u64) {
        self.bar.inc(n);
    }
}
