//! The knobs that change what a run plans. Parsed from configuration by the binary; validated here
//! so that every adapter and test agrees on their meaning.

use std::fmt;
use std::num::NonZeroUsize;
use std::str::FromStr;

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

use crate::ids::Tenant;

/// Full runs see the whole source and may deactivate; differential runs see only what changed
/// since the last successful run's watermark and deactivate only what the source reports gone
/// (RFC 4533, DirSync, a file read whole; never what it merely did not return); a user run re-reads one
/// user and their groups (`sync --user`), and deactivates that user if the source no longer
/// has them. A live run applies a batch of the changes a live stream (`sync.live`) sent, planned
/// like a differential run. A SCIM run applies the writes an identity provider pushed to
/// `/scim/v2` within one batch, planned the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SyncMode {
    /// Reconcile the whole source snapshot.
    Full,
    /// Apply only what changed since the watermark.
    Differential,
    /// One user and the groups they are or were in; no position in the source, so the next
    /// differential run starts from the last full or differential run's watermark.
    User,
    /// A batch of the changes a source's live stream sent; like a differential run, from the
    /// position the stream reached, which the next differential run continues from.
    Live,
    /// A batch of the writes an identity provider pushed (SCIM); no position in any source.
    Scim,
}

impl SyncMode {
    /// The stored and printed form.
    pub fn as_str(self) -> &'static str {
        match self {
            SyncMode::Full => "full",
            SyncMode::Differential => "differential",
            SyncMode::User => "user",
            SyncMode::Live => "live",
            SyncMode::Scim => "scim",
        }
    }

    /// Parses the stored form.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "full" => Some(SyncMode::Full),
            "differential" => Some(SyncMode::Differential),
            "user" => Some(SyncMode::User),
            "live" => Some(SyncMode::Live),
            "scim" => Some(SyncMode::Scim),
            _ => None,
        }
    }
}

/// Which inactive users a sync brings back when they are (again) in the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Reactivate {
    /// Only users that a sync (or the source) deactivated: an administrator's decision stands.
    #[default]
    Sync,
    /// Any inactive user present in the source.
    Any,
    /// Nobody: reactivation is left to administrators.
    None,
}

/// What a run does when the source contradicts itself: two entries claim one identity (a
/// source id, or a login or group id as `sync.ignore_case` compares them), or a member
/// reference names more than one entry (`sync.on_conflict`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnConflict {
    /// Stop before writing, naming both entries: which one is right is for a person to say.
    #[default]
    Fail,
    /// Keep the first (or the stored) entry, skip the other and log a `conflict` line.
    Skip,
}

/// What a full run does when the source found entries it could not read (their unique id or
/// login attribute hidden from the service account, say) (`sync.on_unreadable`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnUnreadable {
    /// Stop before writing, listing every such entry: their absence would deactivate them.
    #[default]
    Fail,
    /// Keep the stored users and groups they name as they are, and log each one.
    Keep,
}

/// How many deactivations a full run may make before the guard stops it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MaxDeactivations {
    /// An absolute number of users.
    Count(u64),
    /// A share of the currently active users, in percent (0 to 100).
    Percent(f64),
}

impl Default for MaxDeactivations {
    fn default() -> Self {
        MaxDeactivations::Percent(10.0)
    }
}

impl MaxDeactivations {
    /// The largest number of deactivations allowed when `active` users are active now.
    pub fn limit(self, active: u64) -> u64 {
        match self {
            MaxDeactivations::Count(n) => n,
            MaxDeactivations::Percent(p) => ((active as f64) * p / 100.0).floor() as u64,
        }
    }
}

impl fmt::Display for MaxDeactivations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MaxDeactivations::Count(n) => write!(f, "{n}"),
            MaxDeactivations::Percent(p) => write!(f, "{p}%"),
        }
    }
}

/// Why a `max_deactivations` value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected a count like 500 or a share like \"10%\" (0% to 100%), got {0:?}")]
pub struct MaxDeactivationsError(String);

impl FromStr for MaxDeactivations {
    type Err = MaxDeactivationsError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        let bad = || MaxDeactivationsError(s.to_string());
        if let Some(p) = t.strip_suffix('%') {
            let p: f64 = p.trim().parse().map_err(|_| bad())?;
            if !(0.0..=100.0).contains(&p) {
                return Err(bad());
            }
            Ok(MaxDeactivations::Percent(p))
        } else {
            t.parse().map(MaxDeactivations::Count).map_err(|_| bad())
        }
    }
}

/// Configuration files may write `500` or `"10%"` (and the environment `"500"`); anything else
/// (`-1`, `1.5`, `true`) is refused with the accepted forms, not with serde's wording.
impl<'de> Deserialize<'de> for MaxDeactivations {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Forms;
        impl de::Visitor<'_> for Forms {
            type Value = MaxDeactivations;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a count like 500 or a share like \"10%\"")
            }

            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Self::Value, E> {
                Ok(MaxDeactivations::Count(n))
            }

            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Self::Value, E> {
                u64::try_from(n)
                    .map(MaxDeactivations::Count)
                    .map_err(|_| E::custom(MaxDeactivationsError(n.to_string())))
            }

            fn visit_f64<E: de::Error>(self, n: f64) -> Result<Self::Value, E> {
                Err(E::custom(MaxDeactivationsError(n.to_string())))
            }

            fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
                s.parse().map_err(E::custom)
            }
        }
        deserializer.deserialize_any(Forms)
    }
}

impl Serialize for MaxDeactivations {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            MaxDeactivations::Count(n) => serializer.serialize_u64(*n),
            MaxDeactivations::Percent(_) => serializer.collect_str(self),
        }
    }
}

/// Everything that shapes one plan.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanOptions {
    /// The tenant being synchronised.
    pub tenant: Tenant,
    /// Full or differential.
    pub mode: SyncMode,
    /// Who may be reactivated.
    pub reactivate: Reactivate,
    /// Compare external ids and member references without regard to case.
    pub ignore_case: bool,
    /// External ids or locators of the tenant administrators; everyone else loses the capability.
    pub admins: Vec<String>,
    /// Logins the source was asked for by name and did not return (a user run): such a user
    /// left the source and is deactivated, as a full run deactivates the users it misses.
    pub gone: Vec<String>,
    /// Threads the planner may use to resolve member references. The plan is the same whatever
    /// the number; the caller, not the pure domain, asks the machine how many it has.
    pub threads: NonZeroUsize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_deactivations_reads_numbers_and_text_and_names_the_forms_otherwise() {
        let read = |json: &str| serde_json::from_str::<MaxDeactivations>(json);
        assert_eq!(read("500").expect("count"), MaxDeactivations::Count(500));
        assert_eq!(
            read("\"500\"").expect("text count"),
            MaxDeactivations::Count(500)
        );
        assert_eq!(
            read("\"10%\"").expect("share"),
            MaxDeactivations::Percent(10.0)
        );
        for bad in ["-1", "1.5", "1e3", "true"] {
            let err = read(bad).expect_err(bad).to_string();
            assert!(
                err.contains("a count like 500 or a share like \"10%\"")
                    && !err.contains("Repr")
                    && !err.contains("untagged"),
                "{bad}: {err}"
            );
        }
        let json =
            serde_json::to_string(&[MaxDeactivations::Count(5), MaxDeactivations::Percent(2.5)]);
        assert_eq!(json.expect("serialises"), "[5,\"2.5%\"]");
    }

    #[test]
    fn max_deactivations_parses_counts_and_shares() {
        assert_eq!("500".parse(), Ok(MaxDeactivations::Count(500)));
        assert_eq!(" 10% ".parse(), Ok(MaxDeactivations::Percent(10.0)));
        assert!("110%".parse::<MaxDeactivations>().is_err());
        assert!("ten".parse::<MaxDeactivations>().is_err());
        assert!("-1".parse::<MaxDeactivations>().is_err());
    }

    #[test]
    fn limits_round_down() {
        assert_eq!(MaxDeactivations::Percent(10.0).limit(19), 1);
        assert_eq!(MaxDeactivations::Percent(10.0).limit(9), 0);
        assert_eq!(MaxDeactivations::Count(3).limit(1000), 3);
    }

    #[test]
    fn config_accepts_numbers_and_strings() {
        let n: MaxDeactivations = serde_json::from_str("7").expect("count");
        let p: MaxDeactivations = serde_json::from_str("\"25%\"").expect("share");
        assert_eq!(
            (n, p),
            (MaxDeactivations::Count(7), MaxDeactivations::Percent(25.0))
        );
        assert!(serde_json::from_str::<MaxDeactivations>("\"lots\"").is_err());
    }
}
