//! Attribute paths as filters, PATCH and projections write them: `userName`, `name.givenName`,
//! URN-prefixed `urn:ietf:params:scim:schemas:core:2.0:User:userName`, and PATCH's value paths
//! `emails[type eq "work"].value`.

use crate::filter::{self, Filter};
use crate::schema::{AttributeDef, ResourceType};
use crate::ScimError;

/// `[URN ":"] name ["." sub]` (RFC 7644 §3.10, `attrPath`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrPath {
    /// The schema URN the path was prefixed with, if any.
    pub urn: Option<String>,
    /// The attribute name, as written.
    pub name: String,
    /// The sub-attribute name, as written.
    pub sub: Option<String>,
}

/// Whether `name` is an RFC 7643 `ATTRNAME` (`ALPHA *(ALPHA / DIGIT / "-" / "_")`) or `$ref`.
fn is_attr_name(name: &str) -> bool {
    if name == "$ref" {
        return true;
    }
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

impl AttrPath {
    /// Parses a path; the error is a message without position (callers add it).
    pub fn parse(text: &str) -> Result<AttrPath, String> {
        let (urn, rest) = if text
            .get(..4)
            .is_some_and(|p| p.eq_ignore_ascii_case("urn:"))
        {
            match text.rfind(':') {
                Some(i) => (Some(text[..i].to_string()), &text[i + 1..]),
                None => (None, text),
            }
        } else {
            (None, text)
        };
        let (name, sub) = match rest.split_once('.') {
            Some((name, sub)) => (name, Some(sub)),
            None => (rest, None),
        };
        if !is_attr_name(name) || !sub.is_none_or(is_attr_name) {
            return Err(format!("`{text}` is not a valid attribute path"));
        }
        Ok(AttrPath {
            urn,
            name: name.to_string(),
            sub: sub.map(str::to_string),
        })
    }

    /// A path of one name (a sub-attribute inside a value filter).
    pub(crate) fn simple(name: &str) -> AttrPath {
        AttrPath {
            urn: None,
            name: name.to_string(),
            sub: None,
        }
    }

    /// The top-level attribute the path starts at; `None` when another schema's URN prefixes
    /// it or the attribute is not one we support.
    pub fn definition(&self, resource_type: ResourceType) -> Option<&'static AttributeDef> {
        if let Some(urn) = &self.urn {
            if !urn.eq_ignore_ascii_case(resource_type.schema_urn()) {
                return None;
            }
        }
        resource_type.attribute(&self.name)
    }
}

/// A PATCH `path` (RFC 7644 §3.5.2: `attrPath / valuePath [subAttr]`).
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPath {
    /// The attribute, with its sub-attribute when written `name.givenName`.
    pub attr: AttrPath,
    /// The value filter of `emails[type eq "work"]`.
    pub filter: Option<Filter>,
    /// The sub-attribute after the filter: `value` in `emails[type eq "work"].value`.
    pub sub: Option<String>,
}

impl PatchPath {
    /// Parses a PATCH path; a malformed one is a 400 `invalidPath`.
    pub fn parse(text: &str) -> Result<PatchPath, ScimError> {
        filter::parse_patch_path(text)
            .map_err(|e| ScimError::invalid_path(format!("The PATCH path is invalid: {e}.")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: Option<(Option<&str>, &str, Option<&str>)>) {
        let got = AttrPath::parse(input).ok();
        let got = got
            .as_ref()
            .map(|p| (p.urn.as_deref(), p.name.as_str(), p.sub.as_deref()));
        assert_eq!(got, expected, "{input}");
    }

    #[test]
    fn attribute_paths_parse() {
        check("userName", Some((None, "userName", None)));
        check("name.givenName", Some((None, "name", Some("givenName"))));
        check("members.$ref", Some((None, "members", Some("$ref"))));
        check(
            "urn:ietf:params:scim:schemas:core:2.0:User:name.familyName",
            Some((
                Some("urn:ietf:params:scim:schemas:core:2.0:User"),
                "name",
                Some("familyName"),
            )),
        );
        check("a.b.c", None);
        check("1abc", None);
        check("", None);
        check("name.", None);
        check("user name", None);
        check("urn:x:", None);
        check("aéé", None);
        check("é", None);
        check("URN:a:b", Some((Some("URN:a"), "b", None)));
    }

    #[test]
    fn a_foreign_urn_designates_nothing() {
        let path = AttrPath::parse(
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
        );
        assert!(path.is_ok_and(|p| p.definition(ResourceType::User).is_none()));
    }
}
