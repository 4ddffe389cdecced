//! Where a run stands and what changed since: the watermark a run starts from (this host's
//! clock, or an Active Directory domain controller's update sequence number) and the filter a
//! differential run searches with. The text forms live in `filter`; this module decides which
//! one a configuration uses and reads the domain controller's position.

use chrono::TimeDelta;
use idmsync_domain::Watermark;
use idmsync_ports::{Clock, SourceError};

use crate::client::{Connection, Endpoint};
use crate::config::{ConfigError, LdapConfig};
use crate::entry;
use crate::filter::{self, UsnWatermark};
use crate::read::Subtree;

/// How the source marks its position and finds what changed since.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Watermarks {
    /// This host's clock in GeneralizedTime; differential searches reach back by `overlap`.
    /// With `active_directory`, filter times take AD's form (`20240101000000.0Z`).
    Clock {
        overlap: TimeDelta,
        active_directory: bool,
    },
    /// Active Directory's update sequence numbers (`uSNChanged`), per domain controller.
    Usn,
}

impl Watermarks {
    /// The kind of watermark `config` asks for: USNs when differential runs compare
    /// `uSNChanged` (Active Directory mode's default), the clock otherwise.
    ///
    /// # Errors
    /// A `differential_overlap_secs` too large for a duration.
    pub(crate) fn new(config: &LdapConfig) -> Result<Self, ConfigError> {
        Ok(
            if config.modify_timestamp().eq_ignore_ascii_case("uSNChanged") {
                Self::Usn
            } else {
                Self::Clock {
                    overlap: config.overlap()?,
                    active_directory: config.active_directory,
                }
            },
        )
    }

    /// The position to store for the next differential run: `clock`'s time, taken before
    /// reading, or the USN of the domain controller `endpoint` reaches.
    ///
    /// # Errors
    /// `Unavailable` or `Failed` when the domain controller's position cannot be read.
    pub(crate) async fn now(
        self,
        endpoint: &Endpoint,
        clock: &dyn Clock,
    ) -> Result<Watermark, SourceError> {
        match self {
            Self::Clock { .. } => Ok(Watermark(filter::generalized_time(clock.now()))),
            Self::Usn => {
                let mut conn = endpoint.connect().await?;
                let position = usn_position(&mut conn).await?;
                conn.close().await;
                Ok(Watermark(position.to_string()))
            }
        }
    }

    /// The filter of a differential search of `subtree` after `since`; with USN watermarks the
    /// full filter when `since` was written by another domain controller, whose USNs mean
    /// nothing here (reading everything as changed is safe: a differential run never
    /// deactivates).
    ///
    /// # Errors
    /// `Invalid` for a watermark of the other kind (the mode changed: run `sync --full`);
    /// `Failed` when the position of the domain controller cannot be read.
    pub(crate) async fn changed_filter(
        self,
        conn: &mut Connection<'_>,
        subtree: &Subtree,
        since: &Watermark,
    ) -> Result<String, SourceError> {
        match self {
            Watermarks::Clock {
                overlap,
                active_directory,
            } => {
                let from = search_from(since, overlap)?;
                let text = if active_directory {
                    filter::ad_generalized_time(from)
                } else {
                    filter::generalized_time(from)
                };
                Ok(subtree.differential.at(&text))
            }
            Watermarks::Usn => {
                let then = UsnWatermark::parse(&since.0).ok_or_else(|| {
                    foreign_watermark(since, "<invocationId>:<highestCommittedUSN>")
                })?;
                let now = usn_position(conn).await?;
                if then.dc != now.dc {
                    tracing::warn!(
                        watermark = %since,
                        dc = %now.dc,
                        "the watermark is another domain controller's: reading all {}",
                        subtree.what
                    );
                    return Ok(subtree.filter.clone());
                }
                Ok(subtree
                    .differential
                    .at(&then.usn.saturating_add(1).to_string()))
            }
        }
    }
}

/// The time a clock watermark's differential search starts at: the watermark minus `overlap`.
fn search_from(
    since: &Watermark,
    overlap: TimeDelta,
) -> Result<chrono::DateTime<chrono::Utc>, SourceError> {
    let time = filter::parse_generalized_time(&since.0)
        .ok_or_else(|| foreign_watermark(since, "a GeneralizedTime (YYYYMMDDHHMMSSZ)"))?;
    Ok(filter::search_from(time, overlap))
}

/// A watermark this source did not write in its current mode.
fn foreign_watermark(since: &Watermark, expected: &str) -> SourceError {
    SourceError::Invalid {
        location: "watermark".to_owned(),
        message: format!(
            "'{since}' is not {expected}; was it written by another source or mode? \
             Run `idmsync sync --full` once."
        ),
    }
}

/// The domain controller answering on `conn` and its current USN, from the root DSE and the
/// DC's NTDS Settings object (whose `invocationId` identifies the DC's database).
///
/// # Errors
/// `Failed` when a read fails or the server publishes no USN or invocationId (not Active
/// Directory).
async fn usn_position(conn: &mut Connection<'_>) -> Result<UsnWatermark, SourceError> {
    let url = conn.url().to_owned();
    let missing = |what: &str| {
        SourceError::Failed(format!(
            "{url}: the directory publishes no {what}; uSNChanged watermarks need Active \
             Directory (set modify_timestamp_attribute to a time attribute otherwise)"
        ))
    };
    let wanted = ["dsServiceName".to_owned(), "highestCommittedUSN".to_owned()];
    let root = conn.read("", &wanted).await?.unwrap_or_default();
    let usn = root
        .first_text("highestCommittedUSN")
        .and_then(|text| text.trim().parse().ok())
        .ok_or_else(|| missing("highestCommittedUSN"))?;
    let service = root
        .first_text("dsServiceName")
        .ok_or_else(|| missing("dsServiceName"))?;
    let ntds = conn
        .read(&service, &["invocationId".to_owned()])
        .await?
        .unwrap_or_default();
    let dc = ntds
        .values("invocationId")
        .first()
        .and_then(|v| <&[u8; 16]>::try_from(v.as_slice()).ok())
        .map(entry::guid_text)
        .ok_or_else(|| missing("invocationId"))?;
    Ok(UsnWatermark { dc, usn })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::valid;

    #[test]
    fn a_clock_watermark_searches_from_the_overlap_before_it() {
        let from = search_from(&Watermark("20240506070809Z".into()), TimeDelta::minutes(5));
        assert_eq!(
            from.map(filter::generalized_time),
            Ok("20240506070309Z".into())
        );
    }

    #[test]
    fn foreign_watermarks_are_invalid() {
        let error =
            search_from(&Watermark("2024-05-06".into()), TimeDelta::zero()).expect_err("not ours");
        assert!(
            matches!(&error, SourceError::Invalid { location, .. } if location == "watermark"),
            "{error:?}"
        );
    }

    #[test]
    fn active_directory_mode_counts_usns_unless_told_otherwise() {
        let ad = LdapConfig {
            active_directory: true,
            ..valid()
        };
        assert_eq!(Watermarks::new(&ad), Ok(Watermarks::Usn));
        let by_time = Watermarks::new(&LdapConfig {
            modify_timestamp_attribute: Some("whenChanged".into()),
            ..ad
        });
        assert_eq!(
            by_time,
            Ok(Watermarks::Clock {
                overlap: TimeDelta::minutes(5),
                active_directory: true
            })
        );
        assert!(matches!(
            Watermarks::new(&valid()),
            Ok(Watermarks::Clock {
                active_directory: false,
                ..
            })
        ));
    }
}
