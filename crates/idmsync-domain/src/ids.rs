//! Validated identifiers. They are cheap to clone and one pointer wide (`ArcStr`), because a
//! change set for a large directory refers to the same ids millions of times (one per membership).

use arcstr::ArcStr;
use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a string could not become an identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// Identifiers identify rows and log in users: an empty one would match nothing or everything.
    #[error("{0} must not be empty")]
    Empty(&'static str),
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(ArcStr);

        impl $name {
            /// Validates that the identifier is not blank; surrounding white space is kept
            /// because sources are authoritative about their own values.
            pub fn new(value: impl AsRef<str>) -> Result<Self, IdError> {
                let value = value.as_ref();
                if value.trim().is_empty() {
                    return Err(IdError::Empty($what));
                }
                Ok(Self(ArcStr::from(value)))
            }

            /// The identifier as text, for adapters that store or print it.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), &*self.0)
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(value: String) -> Result<Self, IdError> {
                Self::new(value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0.to_string()
            }
        }
    };
}

id_type!(
    /// The source's stable identity of an entry (entryUUID, objectGUID, or the file source's id).
    /// Rows are matched on it, so renames and moves in the source keep a user's row.
    SourceId,
    "source id"
);
id_type!(
    /// The login id shown to people (`jlennon`); may change in the source without a new identity.
    ExternalId,
    "external id"
);
id_type!(
    /// The tenant a run synchronises; every row belongs to exactly one.
    Tenant,
    "tenant"
);

/// How identifiers are compared: exactly, or without regard to case (`sync.ignore_case`).
/// Logins, group ids, member names and admin names all go through one fold, so that every
/// comparison of a run agrees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fold(bool);

impl Fold {
    /// The fold of `sync.ignore_case`.
    pub fn new(ignore_case: bool) -> Self {
        Self(ignore_case)
    }

    /// `s` as it compares. Every member reference is folded, so the common ASCII cases avoid
    /// Unicode case mapping and, when nothing changes, the allocation.
    pub fn key<'a>(self, s: &'a str) -> Cow<'a, str> {
        if !self.0 || (s.is_ascii() && !s.bytes().any(|b| b.is_ascii_uppercase())) {
            Cow::Borrowed(s)
        } else if s.is_ascii() {
            Cow::Owned(s.to_ascii_lowercase())
        } else {
            Cow::Owned(s.to_lowercase())
        }
    }
}

/// The position a differential run starts from, in the source's own format (a date for the file
/// source, a timestamp or USN for LDAP). Opaque to the engine: only the source that wrote it reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Watermark(pub String);

impl fmt::Display for Watermark {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_ids_are_rejected() {
        assert_eq!(SourceId::new("  "), Err(IdError::Empty("source id")));
        assert_eq!(ExternalId::new(""), Err(IdError::Empty("external id")));
        assert_eq!(
            ExternalId::new("jlennon").map(|i| i.to_string()),
            Ok("jlennon".into())
        );
    }

    #[test]
    fn ids_round_trip_through_serde_and_reject_blank() {
        let id: SourceId = serde_json::from_str("\"abc\"").expect("valid id");
        assert_eq!(id.as_str(), "abc");
        assert!(serde_json::from_str::<SourceId>("\"\"").is_err());
    }
}
