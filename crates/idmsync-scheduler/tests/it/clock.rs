//! The clock of the scheduler's tests: wall time that tokio's paused clock drives. The fakes of
//! the source and the store are `idmsync-test-doubles`'.

use chrono::{DateTime, Utc};
use idmsync_ports::Clock;

/// Wall time that follows tokio's clock, so that paused tokio time drives both the schedule
/// loop's sleeps and what the scheduler and the engine read as "now".
pub struct TokioClock {
    base: DateTime<Utc>,
    start: tokio::time::Instant,
}

impl TokioClock {
    pub fn starting_at(base: DateTime<Utc>) -> Self {
        Self {
            base,
            start: tokio::time::Instant::now(),
        }
    }
}

impl Clock for TokioClock {
    fn now(&self) -> DateTime<Utc> {
        let elapsed = chrono::TimeDelta::from_std(self.start.elapsed()).expect("small duration");
        self.base + elapsed
    }
}
