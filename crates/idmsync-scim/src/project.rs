//! The `attributes` and `excludedAttributes` query parameters (RFC 7644 §3.9): which
//! attributes of a resource a response carries.

use serde_json::{Map, Value};

use crate::path::AttrPath;
use crate::schema::{AttributeDef, ResourceType, Returned};
use crate::ScimError;

/// `resource` as a response shows it. With `attributes`, only those (and `schemas` and the
/// `returned: always` ones such as `id`); otherwise all but `excludedAttributes` (which cannot
/// remove `always` ones). `returned: never` attributes (`password`) are never shown. When both
/// parameters are given, `attributes` wins. Paths are case-insensitive, may carry the core
/// schema's URN, and may name a sub-attribute (`name.givenName`, `emails.value`). A malformed
/// path is a 400 `invalidPath`.
pub fn project(
    resource: &Value,
    resource_type: ResourceType,
    attributes: Option<&str>,
    excluded_attributes: Option<&str>,
) -> Result<Value, ScimError> {
    let requested = parse_list(attributes, "attributes")?;
    let excluded = parse_list(excluded_attributes, "excludedAttributes")?;
    let Value::Object(map) = resource else {
        return Ok(resource.clone());
    };
    let mut out = Map::new();
    for (key, value) in map {
        if key.eq_ignore_ascii_case("schemas") {
            out.insert(key.clone(), value.clone());
            continue;
        }
        let def = resource_type.attribute(key);
        let returned = def.map_or(Returned::Default, |d| d.returned);
        let hits = |paths: &[AttrPath]| -> Vec<Option<String>> {
            paths
                .iter()
                .filter(|p| names(p, key, resource_type))
                .map(|p| p.sub.clone())
                .collect()
        };
        let shown = match returned {
            Returned::Never => None,
            Returned::Always => Some(value.clone()),
            _ if !requested.is_empty() => {
                let hit = hits(&requested);
                if hit.is_empty() {
                    None
                } else if hit.iter().any(Option::is_none) {
                    Some(value.clone())
                } else {
                    let subs: Vec<String> = hit.into_iter().flatten().collect();
                    Some(filter_subs(value, def, |name| {
                        subs.iter().any(|s| s.eq_ignore_ascii_case(name))
                    }))
                }
            }
            Returned::Request => None,
            _ => {
                let hit = hits(&excluded);
                if hit.iter().any(Option::is_none) {
                    None
                } else {
                    let subs: Vec<String> = hit.into_iter().flatten().collect();
                    Some(filter_subs(value, def, |name| {
                        !subs.iter().any(|s| s.eq_ignore_ascii_case(name))
                    }))
                }
            }
        };
        if let Some(v) = shown {
            out.insert(key.clone(), v);
        }
    }
    Ok(Value::Object(out))
}

fn parse_list(text: Option<&str>, parameter: &str) -> Result<Vec<AttrPath>, ScimError> {
    let Some(text) = text else {
        return Ok(Vec::new());
    };
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            AttrPath::parse(s).map_err(|_| {
                ScimError::invalid_path(format!(
                    "`{parameter}` names `{s}`, which is not a valid attribute path."
                ))
            })
        })
        .collect()
}

/// Whether `path` names the resource key `key`.
fn names(path: &AttrPath, key: &str, resource_type: ResourceType) -> bool {
    path.name.eq_ignore_ascii_case(key)
        && path
            .urn
            .as_deref()
            .is_none_or(|u| u.eq_ignore_ascii_case(resource_type.schema_urn()))
}

/// The sub-attributes of a complex value (or of each element of a list) that `keep` accepts,
/// plus those the schema always returns.
fn filter_subs(
    value: &Value,
    def: Option<&AttributeDef>,
    keep: impl Fn(&str) -> bool + Copy,
) -> Value {
    let always = |name: &str| {
        def.and_then(|d| d.sub(name))
            .is_some_and(|s| s.returned == Returned::Always)
    };
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| keep(k) || always(k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
        Value::Array(items) => {
            Value::Array(items.iter().map(|i| filter_subs(i, def, keep)).collect())
        }
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn user() -> Value {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "id": "u1",
            "externalId": "e1",
            "userName": "bjensen",
            "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "emails": [{"value": "b@x.y", "type": "work"}, {"value": "h@x.y", "type": "home"}],
            "active": true,
            "password": "secret",
            "meta": {"resourceType": "User", "version": "W/\"1\""}
        })
    }

    fn check(attributes: Option<&str>, excluded: Option<&str>, expected: Value) {
        let got = project(&user(), ResourceType::User, attributes, excluded);
        assert_eq!(got, Ok(expected), "{attributes:?} {excluded:?}");
    }

    #[test]
    fn attributes_select() {
        check(
            Some("userName"),
            None,
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": "u1", "userName": "bjensen"}),
        );
        check(
            Some("USERNAME, name.givenName ,urn:ietf:params:scim:schemas:core:2.0:User:active"),
            None,
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": "u1", "userName": "bjensen", "name": {"givenName": "Barbara"}, "active": true}),
        );
        check(
            Some("emails.value,password,meta.version"),
            None,
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": "u1", "emails": [{"value": "b@x.y"}, {"value": "h@x.y"}], "meta": {"version": "W/\"1\""}}),
        );
        check(
            Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:userName"),
            None,
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": "u1"}),
        );
        check(
            Some("name,name.givenName"),
            Some("userName"),
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": "u1", "name": {"givenName": "Barbara", "familyName": "Jensen"}}),
        );
    }

    #[test]
    fn excluded_attributes_remove_but_never_always_ones() {
        let mut all = user();
        all.as_object_mut().map(|m| m.remove("password"));
        check(None, None, all.clone());
        check(Some(""), Some(" "), all.clone());
        let mut expected = all.clone();
        expected.as_object_mut().map(|m| {
            m.remove("emails");
            m.remove("meta")
        });
        check(None, Some("emails,id,Meta"), expected);
        let mut expected = all.clone();
        expected["name"] = json!({"familyName": "Jensen"});
        expected["emails"] = json!([{"value": "b@x.y"}, {"value": "h@x.y"}]);
        check(None, Some("name.givenName,emails.type"), expected);
    }

    #[test]
    fn entra_reads_groups_without_members() {
        let group = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "id": "g1",
            "displayName": "Admins",
            "members": [{"value": "u1"}],
            "meta": {"resourceType": "Group"}
        });
        let got = project(&group, ResourceType::Group, None, Some("members"));
        let expected = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "id": "g1",
            "displayName": "Admins",
            "meta": {"resourceType": "Group"}
        });
        assert_eq!(got, Ok(expected));
    }

    #[test]
    fn bad_paths_are_invalid_path() {
        let got = project(&user(), ResourceType::User, Some("a.b.c"), None);
        assert_eq!(
            got.err().and_then(|e| e.scim_type),
            Some(crate::ScimType::InvalidPath)
        );
        let got = project(&user(), ResourceType::User, None, Some("na me"));
        assert_eq!(
            got.err().and_then(|e| e.scim_type),
            Some(crate::ScimType::InvalidPath)
        );
    }
}
