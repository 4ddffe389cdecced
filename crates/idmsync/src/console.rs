//! A command's output on stdout. Every printing path goes through [`print`], so that a reader
//! that went away (`idmsync log show 1 | head -1`) ends the command quietly instead of
//! panicking as `println!` does ("failed printing to stdout: Broken pipe", exit 101).

use std::io::{ErrorKind, Write};

use crate::logging::ANNOUNCE;

/// Standard output was closed by its reader. Not a failure of the command: `main` ends it
/// with status 0 and no message, like other Unix tools read through `head`.
#[derive(Debug, thiserror::Error)]
#[error("standard output was closed")]
pub struct StdoutClosed;

/// Writes `text` to stdout as it is, flushed.
///
/// # Errors
/// [`StdoutClosed`] when the reader went away; any other write error with its cause.
pub fn print(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::BrokenPipe => Err(StdoutClosed.into()),
        Err(e) => Err(anyhow::Error::new(e).context("writing to standard output")),
    }
}

/// Writes `text` and a line end to stdout; see [`print`].
///
/// # Errors
/// As [`print`].
pub fn line(text: &str) -> anyhow::Result<()> {
    print(&format!("{text}\n"))
}

/// How a command reports to the operator beyond its output: plain lines, or with
/// `--log-format json` log events, so that every line a collector reads is one JSON object.
#[derive(Debug, Clone, Copy)]
pub struct Console {
    /// `--log-format json`.
    pub json: bool,
}

impl Console {
    /// The one report of a failure, on stderr: `error: TEXT`, or an `ERROR` event.
    pub fn error(self, text: &str) {
        if self.json {
            self.refusal(text);
        } else {
            self.refusal(&format!("error: {text}"));
        }
    }

    /// A refusal on stderr as it is (`authentication failed`), or an `ERROR` event. A closed
    /// stderr has nowhere left to report to, so writing to it is allowed to fail.
    pub fn refusal(self, text: &str) {
        if self.json {
            tracing::error!(target: ANNOUNCE, "{text}");
        } else {
            let _ = writeln!(std::io::stderr(), "{text}");
        }
    }
}
