//! The run in progress as [`RunTrigger::progress`](idmsync_ports::RunTrigger::progress) shows
//! it: which run, the stage the engine last named and how far that stage has come.

use std::sync::Mutex;

use idmsync_domain::{RunId, SyncMode};
use idmsync_ports::RunProgress;

use crate::scheduler::lock;

/// The stage shown from the moment the run is recorded until the engine or the source names
/// one: the run exists (it has an id to show) but has not begun any work worth counting.
const FIRST_STAGE: &str = "starting";

/// The run in progress, written by the run's progress reporter and read by the API.
///
/// A mutex rather than the scheduler's watch channel: the source reports `advance` per entry,
/// and a watch would wake the schedule loop each time. The lock is held only to update a field
/// or to clone the record, so a reader never holds a run back for longer than that.
#[derive(Debug, Default)]
pub(crate) struct Tracker(Mutex<Option<RunProgress>>);

impl Tracker {
    /// The run was recorded: it is shown from now on, with nothing done yet.
    pub(crate) fn started(&self, run: RunId, mode: SyncMode) {
        *lock(&self.0) = Some(RunProgress {
            run,
            mode,
            stage: FIRST_STAGE.to_owned(),
            done: 0,
            total: None,
        });
    }

    /// A new stage of the run: its count starts again. Ignored when no run is shown (reports
    /// of a run that was never recorded).
    pub(crate) fn stage(&self, name: &str, total: Option<u64>) {
        if let Some(progress) = lock(&self.0).as_mut() {
            name.clone_into(&mut progress.stage);
            progress.done = 0;
            progress.total = total;
        }
    }

    /// `n` more items of the current stage are done.
    pub(crate) fn advance(&self, n: u64) {
        if let Some(progress) = lock(&self.0).as_mut() {
            progress.done = progress.done.saturating_add(n);
        }
    }

    /// The run ended (whatever its outcome): nothing is in progress any more.
    pub(crate) fn ended(&self) {
        *lock(&self.0) = None;
    }

    /// The run in progress, if one is.
    pub(crate) fn current(&self) -> Option<RunProgress> {
        lock(&self.0).clone()
    }
}

#[cfg(test)]
mod tests {
    use idmsync_domain::{RunId, SyncMode};
    use idmsync_ports::RunProgress;

    use super::{Tracker, FIRST_STAGE};

    fn shown(stage: &str, done: u64, total: Option<u64>) -> Option<RunProgress> {
        Some(RunProgress {
            run: RunId(7),
            mode: SyncMode::Differential,
            stage: stage.to_owned(),
            done,
            total,
        })
    }

    #[test]
    fn counts_start_again_with_each_stage_and_the_end_clears_the_run() {
        let tracker = Tracker::default();
        tracker.stage("reading users", Some(3));
        tracker.advance(1);
        assert_eq!(tracker.current(), None, "no run recorded yet");

        tracker.started(RunId(7), SyncMode::Differential);
        assert_eq!(tracker.current(), shown(FIRST_STAGE, 0, None));
        tracker.stage("reading users", Some(10));
        tracker.advance(4);
        tracker.advance(3);
        assert_eq!(tracker.current(), shown("reading users", 7, Some(10)));
        tracker.stage("planning", None);
        assert_eq!(tracker.current(), shown("planning", 0, None));
        tracker.advance(u64::MAX);
        tracker.advance(1);
        assert_eq!(tracker.current(), shown("planning", u64::MAX, None));

        tracker.ended();
        assert_eq!(tracker.current(), None);
    }
}
