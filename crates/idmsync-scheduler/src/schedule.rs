//! The `[sync]` schedule settings: cron expressions for full and differential runs, validated
//! into [`Schedules`] that compute when each kind of run is due next.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use cron::Schedule;
use idmsync_domain::SyncMode;

/// The full-run schedule the original ships with: every night at midnight.
pub const DEFAULT_FULL_CRON: &str = "0 0 0 * * *";
/// The differential-run schedule the original ships with: every four hours.
pub const DEFAULT_DIFFERENTIAL_CRON: &str = "0 0 */4 * * *";

/// The schedule settings as configured, before validation. The binary fills it from
/// configuration; [`ScheduleSettings::validate`] turns it into [`Schedules`] at start-up so that
/// a typo stops the service with the key's name instead of silently never syncing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleSettings {
    /// `sync.full_cron`: six fields with seconds (`sec min hour day-of-month month
    /// day-of-week`); `?` is read as `*`, so the original's `0 0 0 * * ?` works unchanged.
    /// `None` disables scheduled full runs.
    pub full_cron: Option<String>,
    /// `sync.differential_cron`, in the same form; `None` disables scheduled differential runs.
    pub differential_cron: Option<String>,
    /// `sync.timezone`: the IANA zone (`Europe/Paris`) the expressions are read in, so that
    /// "midnight" means local midnight across daylight-saving changes; UTC when `None`. A local
    /// time that does not exist on the day clocks go forward does not fire that day; one that
    /// occurs twice when they go back fires once.
    pub timezone: Option<String>,
}

impl Default for ScheduleSettings {
    fn default() -> Self {
        Self {
            full_cron: Some(DEFAULT_FULL_CRON.to_string()),
            differential_cron: Some(DEFAULT_DIFFERENTIAL_CRON.to_string()),
            timezone: None,
        }
    }
}

/// Why the schedule settings were refused; the message names the configuration key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// A cron expression that does not parse, or does not have six fields.
    #[error("{key}: {expression:?} is not a cron expression of six fields (sec min hour day-of-month month day-of-week): {reason}")]
    Cron {
        /// `sync.full_cron` or `sync.differential_cron`.
        key: &'static str,
        /// The expression as configured.
        expression: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A time zone name that is not in the IANA database.
    #[error("sync.timezone: {0:?} is not an IANA time zone name (such as Europe/Paris or UTC)")]
    Timezone(String),
}

/// One validated cron expression, as configured (for log lines) and parsed.
#[derive(Debug, Clone)]
struct Cron {
    expression: String,
    schedule: Schedule,
}

impl Cron {
    /// Parses `expression` for configuration `key`. Exactly six fields: the `cron` crate would
    /// also take a seventh (year) field and `@daily`-style shorthands, but the original's
    /// configuration has six and a five-field Unix expression must not be misread.
    fn parse(key: &'static str, expression: &str) -> Result<Self, ScheduleError> {
        let error = |reason: String| ScheduleError::Cron {
            key,
            expression: expression.to_string(),
            reason,
        };
        let fields = expression.split_whitespace().count();
        if fields != 6 {
            return Err(error(format!("it has {fields} fields")));
        }
        // The library's message repeats the expression over a caret line; its last line says
        // what is wrong, which is what a one-line configuration error needs.
        let schedule = Schedule::from_str(&expression.replace('?', "*")).map_err(|e| {
            let message = e.to_string();
            error(
                message
                    .lines()
                    .last()
                    .unwrap_or_default()
                    .trim()
                    .to_string(),
            )
        })?;
        Ok(Self {
            expression: expression.to_string(),
            schedule,
        })
    }
}

/// Validated schedules: when full and differential runs are due, in the configured time zone.
#[derive(Debug, Clone)]
pub struct Schedules {
    full: Option<Cron>,
    differential: Option<Cron>,
    timezone: Tz,
}

impl ScheduleSettings {
    /// Checks every setting and parses the expressions.
    ///
    /// # Errors
    /// [`ScheduleError`] naming the first bad key: `sync.full_cron`, `sync.differential_cron` or
    /// `sync.timezone`.
    pub fn validate(&self) -> Result<Schedules, ScheduleError> {
        let parse = |key, expression: &Option<String>| {
            expression
                .as_deref()
                .map(|e| Cron::parse(key, e))
                .transpose()
        };
        let full = parse("sync.full_cron", &self.full_cron)?;
        let differential = parse("sync.differential_cron", &self.differential_cron)?;
        let timezone = match &self.timezone {
            None => Tz::UTC,
            Some(name) => name
                .parse()
                .map_err(|_| ScheduleError::Timezone(name.clone()))?,
        };
        Ok(Schedules {
            full,
            differential,
            timezone,
        })
    }
}

impl Schedules {
    /// No scheduled runs at all: the service syncs only on boot and on request.
    pub fn none() -> Self {
        Self {
            full: None,
            differential: None,
            timezone: Tz::UTC,
        }
    }

    /// When the next run of `mode` is due strictly after `after`; `None` if that schedule is
    /// disabled (user runs have none) (or, for an expression bound to dates that never come again, exhausted).
    pub fn next_fire(&self, mode: SyncMode, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let cron = match mode {
            SyncMode::Full => self.full.as_ref(),
            SyncMode::Differential => self.differential.as_ref(),
            SyncMode::User | SyncMode::Live | SyncMode::Scim => None,
        }?;
        cron.schedule
            .after(&after.with_timezone(&self.timezone))
            .next()
            .map(|t| t.with_timezone(&Utc))
    }

    /// Whether any schedule is enabled.
    pub fn is_empty(&self) -> bool {
        self.full.is_none() && self.differential.is_none()
    }
}

impl fmt::Display for Schedules {
    /// `full "0 0 0 * * *", differential disabled (UTC)`, for the start-up log line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (name, cron) in [("full", &self.full), ("differential", &self.differential)] {
            match cron {
                Some(c) => write!(f, "{name} {:?}, ", c.expression)?,
                None => write!(f, "{name} disabled, ")?,
            }
        }
        write!(f, "in {}", self.timezone.name())
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s)
            .single()
            .expect("valid time")
    }

    fn settings(
        full: Option<&str>,
        differential: Option<&str>,
        tz: Option<&str>,
    ) -> ScheduleSettings {
        ScheduleSettings {
            full_cron: full.map(str::to_string),
            differential_cron: differential.map(str::to_string),
            timezone: tz.map(str::to_string),
        }
    }

    fn error_of(s: ScheduleSettings) -> String {
        s.validate().expect_err("must be refused").to_string()
    }

    #[test]
    fn defaults_are_the_originals_nightly_full_and_four_hourly_differential() {
        let s = ScheduleSettings::default().validate().expect("valid");
        let noon = utc(2026, 3, 10, 12, 0, 0);
        assert_eq!(
            s.next_fire(SyncMode::Full, noon),
            Some(utc(2026, 3, 11, 0, 0, 0))
        );
        assert_eq!(
            s.next_fire(SyncMode::Differential, noon),
            Some(utc(2026, 3, 10, 16, 0, 0))
        );
        assert_eq!(
            s.to_string(),
            r#"full "0 0 0 * * *", differential "0 0 */4 * * *", in UTC"#
        );
    }

    #[test]
    fn question_mark_is_read_as_any() {
        let s = settings(Some("0 0 0 * * ?"), Some("0 30 ? * * *"), None)
            .validate()
            .expect("valid");
        let t = utc(2026, 3, 10, 12, 0, 0);
        assert_eq!(
            s.next_fire(SyncMode::Full, t),
            Some(utc(2026, 3, 11, 0, 0, 0))
        );
        assert_eq!(
            s.next_fire(SyncMode::Differential, t),
            Some(utc(2026, 3, 10, 12, 30, 0))
        );
    }

    #[test]
    fn next_fire_is_strictly_after() {
        let s = settings(Some("* * * * * *"), None, None)
            .validate()
            .expect("valid");
        let t = utc(2026, 3, 10, 12, 0, 0);
        assert_eq!(
            s.next_fire(SyncMode::Full, t),
            Some(utc(2026, 3, 10, 12, 0, 1))
        );
    }

    #[test]
    fn bad_expressions_name_their_key() {
        let e = error_of(settings(Some("0 0 25 * * *"), None, None));
        assert!(e.starts_with("sync.full_cron: \"0 0 25 * * *\""), "{e}");
        assert!(e.ends_with("('25' specified.)") && !e.contains('\n'), "{e}");
        let e = error_of(settings(None, Some("every hour"), None));
        assert!(e.starts_with("sync.differential_cron:"), "{e}");
    }

    #[test]
    fn only_six_fields_are_accepted() {
        for bad in ["0 0 * * *", "0 0 0 * * * 2030", "@daily", ""] {
            let e = error_of(settings(Some(bad), None, None));
            assert!(e.contains("sync.full_cron") && e.contains("fields"), "{e}");
        }
    }

    #[test]
    fn unknown_timezone_names_its_key() {
        let e = error_of(settings(None, None, Some("Mars/Olympus")));
        assert!(e.starts_with("sync.timezone: \"Mars/Olympus\""), "{e}");
    }

    #[test]
    fn disabled_schedules_never_fire() {
        let s = settings(None, None, None).validate().expect("valid");
        assert!(s.is_empty() && Schedules::none().is_empty());
        assert_eq!(s.next_fire(SyncMode::Full, utc(2026, 1, 1, 0, 0, 0)), None);
        assert_eq!(
            s.to_string(),
            "full disabled, differential disabled, in UTC"
        );
    }

    #[test]
    fn a_timezone_moves_local_midnight_with_daylight_saving() {
        let s = settings(Some("0 0 0 * * *"), None, Some("Europe/Paris"))
            .validate()
            .expect("valid");
        // Winter: UTC+1, so local midnight is 23:00 UTC the day before.
        assert_eq!(
            s.next_fire(SyncMode::Full, utc(2026, 1, 15, 12, 0, 0)),
            Some(utc(2026, 1, 15, 23, 0, 0))
        );
        // Summer: UTC+2.
        assert_eq!(
            s.next_fire(SyncMode::Full, utc(2026, 7, 15, 12, 0, 0)),
            Some(utc(2026, 7, 15, 22, 0, 0))
        );
    }

    #[test]
    fn local_times_skipped_or_repeated_by_daylight_saving_fire_at_most_once() {
        let s = settings(Some("0 30 2 * * *"), None, Some("Europe/Paris"))
            .validate()
            .expect("valid");
        // 29 March 2026: 02:00 becomes 03:00, so 02:30 does not exist that day.
        let spring = s.next_fire(SyncMode::Full, utc(2026, 3, 28, 12, 0, 0));
        assert_eq!(spring, Some(utc(2026, 3, 30, 0, 30, 0)));
        // 25 October 2026: 03:00 becomes 02:00, so 02:30 happens twice; it fires once.
        let autumn = s.next_fire(SyncMode::Full, utc(2026, 10, 24, 12, 0, 0));
        assert_eq!(autumn, Some(utc(2026, 10, 25, 0, 30, 0)));
        let after = autumn.and_then(|t| s.next_fire(SyncMode::Full, t));
        assert_eq!(after, Some(utc(2026, 10, 26, 1, 30, 0)));
    }
}
