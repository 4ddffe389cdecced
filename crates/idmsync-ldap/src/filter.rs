//! Watermarks (LDAP GeneralizedTime, or Active Directory's update sequence numbers), the
//! search filters of differential runs and of Active Directory's transitive members: pure text
//! in, text out.
//!
//! A watermark is the UTC time `YYYYMMDDHHMMSSZ` taken before a run reads the directory. The
//! next differential run asks for entries whose modify timestamp is at or after the watermark
//! minus an overlap (`differential_overlap_secs`): the clocks of this host and the directory
//! server may disagree, and a write in the same second as the watermark must not be missed.
//! Entries read twice plan to nothing, so the overlap costs a little reading and nothing else.

use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};

use crate::escape;

/// GeneralizedTime at second precision in UTC, the form OpenLDAP writes `modifyTimestamp` in
/// and compares against with its `generalizedTimeOrderingMatch`.
const GENERALIZED_TIME: &str = "%Y%m%d%H%M%SZ";

/// The placeholder an explicitly configured differential filter uses for the timestamp, as in
/// the original product's `personDifferentialQuery`.
pub const TIME_PLACEHOLDER: &str = "{0}";

/// GeneralizedTime as Active Directory compares it in filters (`whenChanged`): with a fraction.
const AD_GENERALIZED_TIME: &str = "%Y%m%d%H%M%S.0Z";

/// Formats `time` as Active Directory's GeneralizedTime (`20240131235959.0Z`).
pub fn ad_generalized_time(time: DateTime<Utc>) -> String {
    time.format(AD_GENERALIZED_TIME).to_string()
}

/// The position of an Active Directory domain controller: its `invocationId` (which changes
/// when the DC's database is restored) and its `highestCommittedUSN`. USNs are per DC, so a
/// watermark only means something to the DC that wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsnWatermark {
    /// The DC's invocationId, as a GUID.
    pub dc: String,
    /// The highest update sequence number the DC had committed.
    pub usn: u64,
}

impl UsnWatermark {
    /// Parses `<dc>:<usn>`; `None` for anything else (a time watermark of another mode).
    pub fn parse(text: &str) -> Option<Self> {
        let (dc, usn) = text.rsplit_once(':')?;
        Some(Self {
            dc: (!dc.is_empty()).then(|| dc.to_owned())?,
            usn: usn.parse().ok()?,
        })
    }
}

impl std::fmt::Display for UsnWatermark {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.dc, self.usn)
    }
}

/// Formats `time` as GeneralizedTime (`20240131235959Z`).
pub fn generalized_time(time: DateTime<Utc>) -> String {
    time.format(GENERALIZED_TIME).to_string()
}

/// Parses a watermark this adapter wrote; `None` for anything else.
pub fn parse_generalized_time(text: &str) -> Option<DateTime<Utc>> {
    NaiveDateTime::parse_from_str(text, GENERALIZED_TIME)
        .ok()
        .map(|t| t.and_utc())
}

/// The timestamp a differential search starts at: `watermark` minus `overlap`, clamped at the
/// earliest representable time (an absurd overlap reads everything rather than failing).
pub fn search_from(watermark: DateTime<Utc>, overlap: TimeDelta) -> DateTime<Utc> {
    watermark
        .checked_sub_signed(overlap)
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// How a differential search selects entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DifferentialFilter {
    /// The full filter AND-ed with `(<attribute>>=<time>)`.
    Derived {
        /// The filter of full runs.
        filter: String,
        /// The modify timestamp attribute.
        attribute: String,
    },
    /// A configured filter; `{0}` stands for the timestamp.
    Explicit(String),
}

impl DifferentialFilter {
    /// The filter for entries changed at or after `since` (GeneralizedTime).
    pub fn at(&self, since: &str) -> String {
        match self {
            Self::Derived { filter, attribute } => format!("(&{filter}({attribute}>={since}))"),
            Self::Explicit(template) => template.replace(TIME_PLACEHOLDER, since),
        }
    }
}

/// Active Directory's `LDAP_MATCHING_RULE_IN_CHAIN`: `memberOf` matched through any chain of
/// nested groups, evaluated by the domain controller.
const IN_CHAIN: &str = "1.2.840.113556.1.4.1941";

/// The filter for the users of `user_filter` that are members of the group `group_dn` directly
/// or through nested groups. The DN is escaped as an assertion value (RFC 4515), since DNs may
/// hold `(`, `)`, `*` or `\` (`CN=R&D (lab)`), which would otherwise change the filter.
pub fn in_chain(user_filter: &str, group_dn: &str) -> String {
    format!(
        "(&{user_filter}(memberOf:{IN_CHAIN}:={}))",
        escape::filter_value(group_dn)
    )
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn time(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s)
            .single()
            .expect("valid time")
    }

    #[test]
    fn generalized_time_round_trips() {
        let t = time(2024, 1, 31, 23, 59, 58);
        assert_eq!(generalized_time(t), "20240131235958Z");
        assert_eq!(parse_generalized_time("20240131235958Z"), Some(t));
    }

    #[test]
    fn only_our_own_form_parses() {
        for bad in [
            "",
            "2024-01-31",
            "20240131235958",
            "20240131235958.0Z",
            "20240131235958+0100",
            "20241331235958Z",
            "garbage",
        ] {
            assert_eq!(parse_generalized_time(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn overlap_goes_back_across_midnight_and_years() {
        let from = search_from(time(2024, 1, 1, 0, 2, 0), TimeDelta::seconds(300));
        assert_eq!(generalized_time(from), "20231231235700Z");
        let same = search_from(time(2024, 1, 1, 0, 2, 0), TimeDelta::zero());
        assert_eq!(generalized_time(same), "20240101000200Z");
        let clamped = search_from(time(2024, 1, 1, 0, 0, 0), TimeDelta::MAX);
        assert_eq!(clamped, DateTime::<Utc>::MIN_UTC);
    }

    #[test]
    fn usn_watermarks_round_trip_and_reject_times() {
        let w = UsnWatermark {
            dc: "afd12a89-3d99-4dfe-a13d-a52dfc46a736".into(),
            usn: 4012,
        };
        assert_eq!(w.to_string(), "afd12a89-3d99-4dfe-a13d-a52dfc46a736:4012");
        assert_eq!(UsnWatermark::parse(&w.to_string()), Some(w));
        for text in ["20240101000000Z", ":12", "dc:", "dc:-1", "dc:x"] {
            assert_eq!(UsnWatermark::parse(text), None, "{text}");
        }
        assert_eq!(
            ad_generalized_time(time(2024, 1, 31, 23, 59, 58)),
            "20240131235958.0Z"
        );
    }

    #[test]
    fn derived_filter_ands_the_timestamp() {
        let f = DifferentialFilter::Derived {
            filter: "(objectClass=inetOrgPerson)".into(),
            attribute: "modifyTimestamp".into(),
        };
        assert_eq!(
            f.at("20240101000000Z"),
            "(&(objectClass=inetOrgPerson)(modifyTimestamp>=20240101000000Z))"
        );
    }

    #[test]
    fn in_chain_filters_escape_the_group_dn() {
        let f = in_chain(
            "(objectClass=user)",
            "CN=R&D (lab)\\, *,OU=Groups,DC=example,DC=test",
        );
        assert_eq!(
            f,
            "(&(objectClass=user)(memberOf:1.2.840.113556.1.4.1941:=\
             CN=R&D \\28lab\\29\\5c, \\2a,OU=Groups,DC=example,DC=test))"
        );
        assert!(escape::is_valid_filter(&f), "{f}");
    }

    #[test]
    fn explicit_filter_fills_every_placeholder() {
        let f = DifferentialFilter::Explicit(
            "(&(objectClass=person)(|(modifyTimestamp>={0})(createTimestamp>={0})))".into(),
        );
        assert_eq!(
            f.at("20240101000000Z"),
            "(&(objectClass=person)(|(modifyTimestamp>=20240101000000Z)\
             (createTimestamp>=20240101000000Z)))"
        );
        let fixed = DifferentialFilter::Explicit("(objectClass=person)".into());
        assert_eq!(fixed.at("20240101000000Z"), "(objectClass=person)");
    }
}
