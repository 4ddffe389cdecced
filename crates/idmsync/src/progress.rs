//! The engine's progress as `sync` shows it: a bar on stderr when it is a terminal; otherwise
//! a log line every few seconds of a long stage, so that a run in a log file or a journal is
//! not silent between its start and its end.

use std::io::IsTerminal;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use idmsync_ports::Progress;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How often a stage reports without a terminal: often enough to show a run is alive, rarely
/// enough that a run of minutes logs a few dozen lines.
const LOG_EVERY: Duration = Duration::from_secs(5);

/// Draws the engine's progress: an indicatif bar on a terminal, `info` events otherwise.
pub struct CommandProgress {
    bar: ProgressBar,
    /// Without a terminal: the current stage, read by the ticker.
    stage: Option<Arc<Mutex<Stage>>>,
    /// Without a terminal: the thread that logs the stage every [`LOG_EVERY`], and the
    /// sender whose drop stops it.
    ticker: Option<(mpsc::Sender<()>, JoinHandle<()>)>,
}

impl CommandProgress {
    /// A bar on stderr if it is a terminal, else periodic log lines.
    pub fn new() -> Self {
        let bar = ProgressBar::hidden();
        if std::io::stderr().is_terminal() {
            bar.set_draw_target(ProgressDrawTarget::stderr());
            bar.enable_steady_tick(Duration::from_millis(120));
            return Self {
                bar,
                stage: None,
                ticker: None,
            };
        }
        let stage = Arc::new(Mutex::new(Stage::default()));
        let (stop, stopped) = mpsc::channel::<()>();
        let ticker = {
            let stage = Arc::clone(&stage);
            // A thread, not a task: a stage that blocks the runtime's workers (a slow apply)
            // is exactly the one to report on. Stopped by `finish` dropping the sender.
            std::thread::spawn(move || {
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(LOG_EVERY) {
                    lock(&stage).log(Instant::now());
                }
            })
        };
        Self {
            bar,
            stage: Some(stage),
            ticker: Some((stop, ticker)),
        }
    }

    /// Removes the bar, or stops the log lines, before the summary line is printed.
    pub fn finish(self) {
        self.bar.finish_and_clear();
        if let Some((stop, ticker)) = self.ticker {
            drop(stop);
            // The ticker only logs; a panic there has nothing left to report.
            let _ = ticker.join();
        }
    }
}

/// The stage, even if a panic elsewhere left the lock poisoned: its count is still good
/// enough to report.
fn lock(stage: &Mutex<Stage>) -> std::sync::MutexGuard<'_, Stage> {
    stage.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Progress for CommandProgress {
    fn stage(&self, name: &str, total: Option<u64>) {
        let style = match total {
            Some(n) => {
                self.bar.set_length(n);
                ProgressStyle::with_template(
                    "{spinner} {msg} [{bar:30}] {pos}/{len} ({per_sec}, {elapsed})",
                )
            }
            None => ProgressStyle::with_template("{spinner} {msg} {pos} ({per_sec}, {elapsed})"),
        };
        if let Ok(style) = style {
            self.bar.set_style(style.progress_chars("=> "));
        }
        self.bar.set_position(0);
        self.bar.set_message(name.to_string());
        if let Some(stage) = &self.stage {
            *lock(stage) = Stage {
                name: name.to_string(),
                total,
                done: 0,
                started: Some(Instant::now()),
                span: tracing::Span::current(),
            };
        }
    }

    fn advance(&self, n: u64) {
        self.bar.inc(n);
        if let Some(stage) = &self.stage {
            lock(stage).done += n;
        }
    }
}

/// The current stage as the periodic log line sees it.
#[derive(Debug)]
struct Stage {
    name: String,
    total: Option<u64>,
    done: u64,
    /// When it began; `None` before the first stage.
    started: Option<Instant>,
    /// The engine's span when the stage began (the run's id), for the line logged from the
    /// ticker's thread.
    span: tracing::Span,
}

impl Default for Stage {
    /// Before the first stage: nothing to report.
    fn default() -> Self {
        Self {
            name: String::new(),
            total: None,
            done: 0,
            started: None,
            span: tracing::Span::none(),
        }
    }
}

/// What one progress line says.
#[derive(Debug, PartialEq)]
struct Report {
    phase: String,
    done: u64,
    total: Option<u64>,
    /// Items a second since the stage began, rounded.
    rate_per_sec: u64,
}

impl Stage {
    /// The line for `now`, once a stage has begun.
    fn report(&self, now: Instant) -> Option<Report> {
        let secs = now.duration_since(self.started?).as_secs_f64();
        // A float only for the division; the rate is a whole number of items a second.
        let rate_per_sec = if secs > 0.0 {
            (self.done as f64 / secs).round() as u64
        } else {
            0
        };
        Some(Report {
            phase: self.name.clone(),
            done: self.done,
            total: self.total,
            rate_per_sec,
        })
    }

    /// Logs [`Stage::report`] as an `info` event in the stage's span.
    fn log(&self, now: Instant) {
        if let Some(report) = self.report(now) {
            self.span.in_scope(|| {
                tracing::info!(
                    phase = %report.phase,
                    done = report.done,
                    total = report.total,
                    rate_per_sec = report.rate_per_sec,
                    "progress"
                );
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stage_reports_what_is_done_of_its_total_and_its_rate() {
        let start = Instant::now();
        assert_eq!(Stage::default().report(start), None, "no stage yet");
        let mut stage = Stage {
            name: "applying".into(),
            total: Some(1000),
            started: Some(start),
            ..Stage::default()
        };
        stage.done += 500;
        assert_eq!(
            stage.report(start + Duration::from_secs(5)),
            Some(Report {
                phase: "applying".into(),
                done: 500,
                total: Some(1000),
                rate_per_sec: 100,
            })
        );
        assert_eq!(stage.report(start).map(|r| r.rate_per_sec), Some(0));
    }
}
