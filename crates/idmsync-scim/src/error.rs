//! SCIM errors (RFC 7644 §3.12): an HTTP status, an optional `scimType` and a detail sentence.

use serde_json::{json, Value};

/// The URN of the error message schema.
pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// The `scimType` keywords of RFC 7644 §3.12, so that a client can react to the kind of a 400
/// without parsing the detail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScimType {
    /// The filter syntax was invalid or the filter compares what cannot be compared.
    InvalidFilter,
    /// The filter yields more results than the service provider will return.
    TooMany,
    /// A value violates the uniqueness of an attribute (`userName`, a group's `displayName`).
    Uniqueness,
    /// The request tried to change a read-only or immutable attribute.
    Mutability,
    /// The request body was not a valid message of the expected kind.
    InvalidSyntax,
    /// A PATCH `path` or an attribute list was malformed.
    InvalidPath,
    /// A PATCH path or its value filter designated nothing.
    NoTarget,
    /// A value has the wrong type or is missing where required.
    InvalidValue,
    /// The protocol version is not supported.
    InvalidVers,
    /// The request carried sensitive data in a place that would expose it (a URL).
    Sensitive,
}

impl ScimType {
    /// The keyword as RFC 7644 spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            ScimType::InvalidFilter => "invalidFilter",
            ScimType::TooMany => "tooMany",
            ScimType::Uniqueness => "uniqueness",
            ScimType::Mutability => "mutability",
            ScimType::InvalidSyntax => "invalidSyntax",
            ScimType::InvalidPath => "invalidPath",
            ScimType::NoTarget => "noTarget",
            ScimType::InvalidValue => "invalidValue",
            ScimType::InvalidVers => "invalidVers",
            ScimType::Sensitive => "sensitive",
        }
    }
}

/// A SCIM error response. The detail is shown to the identity provider's administrator, so it
/// names the attribute or the position in the filter, and never echoes a value the client sent
/// (which could be a password).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{detail}")]
pub struct ScimError {
    /// The HTTP status code.
    pub status: u16,
    /// The `scimType`, for 400 responses.
    pub scim_type: Option<ScimType>,
    /// A sentence saying what was wrong.
    pub detail: String,
}

impl ScimError {
    /// An error with any status and type.
    pub fn new(status: u16, scim_type: Option<ScimType>, detail: impl Into<String>) -> Self {
        ScimError {
            status,
            scim_type,
            detail: detail.into(),
        }
    }

    /// A 400 of the given type.
    pub fn bad_request(scim_type: ScimType, detail: impl Into<String>) -> Self {
        Self::new(400, Some(scim_type), detail)
    }

    /// A 400 `invalidFilter`.
    pub fn invalid_filter(detail: impl Into<String>) -> Self {
        Self::bad_request(ScimType::InvalidFilter, detail)
    }

    /// A 400 `invalidSyntax`.
    pub fn invalid_syntax(detail: impl Into<String>) -> Self {
        Self::bad_request(ScimType::InvalidSyntax, detail)
    }

    /// A 400 `invalidPath`.
    pub fn invalid_path(detail: impl Into<String>) -> Self {
        Self::bad_request(ScimType::InvalidPath, detail)
    }

    /// A 400 `invalidValue`.
    pub fn invalid_value(detail: impl Into<String>) -> Self {
        Self::bad_request(ScimType::InvalidValue, detail)
    }

    /// A 400 `noTarget`.
    pub fn no_target(detail: impl Into<String>) -> Self {
        Self::bad_request(ScimType::NoTarget, detail)
    }

    /// A 400 `mutability`.
    pub fn mutability(detail: impl Into<String>) -> Self {
        Self::bad_request(ScimType::Mutability, detail)
    }

    /// A 409 `uniqueness`: RFC 7644 §3.3 answers a clash with 409 Conflict.
    pub fn uniqueness(detail: impl Into<String>) -> Self {
        Self::new(409, Some(ScimType::Uniqueness), detail)
    }

    /// A 400 `tooMany`.
    pub fn too_many(detail: impl Into<String>) -> Self {
        Self::bad_request(ScimType::TooMany, detail)
    }

    /// A 404 without a type.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(404, None, detail)
    }

    /// The response body; `status` is a string, as RFC 7644 §3.12 writes it.
    pub fn to_json(&self) -> Value {
        let mut body = json!({
            "schemas": [ERROR_SCHEMA],
            "status": self.status.to_string(),
            "detail": self.detail,
        });
        if let (Some(t), Some(map)) = (self.scim_type, body.as_object_mut()) {
            map.insert("scimType".into(), Value::String(t.as_str().into()));
        }
        body
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(error: ScimError, expected: Value) {
        assert_eq!(error.to_json(), expected);
    }

    #[test]
    fn errors_serialise_as_rfc_7644_says() {
        check(
            ScimError::invalid_filter("bad"),
            json!({"schemas": [ERROR_SCHEMA], "status": "400", "scimType": "invalidFilter", "detail": "bad"}),
        );
        check(
            ScimError::uniqueness("taken"),
            json!({"schemas": [ERROR_SCHEMA], "status": "409", "scimType": "uniqueness", "detail": "taken"}),
        );
        check(
            ScimError::not_found("no such user"),
            json!({"schemas": [ERROR_SCHEMA], "status": "404", "detail": "no such user"}),
        );
        check(
            ScimError::no_target("x"),
            json!({"schemas": [ERROR_SCHEMA], "status": "400", "scimType": "noTarget", "detail": "x"}),
        );
    }

    #[test]
    fn every_type_has_its_rfc_keyword() {
        let all = [
            (ScimType::InvalidFilter, "invalidFilter"),
            (ScimType::TooMany, "tooMany"),
            (ScimType::Uniqueness, "uniqueness"),
            (ScimType::Mutability, "mutability"),
            (ScimType::InvalidSyntax, "invalidSyntax"),
            (ScimType::InvalidPath, "invalidPath"),
            (ScimType::NoTarget, "noTarget"),
            (ScimType::InvalidValue, "invalidValue"),
            (ScimType::InvalidVers, "invalidVers"),
            (ScimType::Sensitive, "sensitive"),
        ];
        for (t, s) in all {
            assert_eq!(t.as_str(), s);
        }
    }
}
