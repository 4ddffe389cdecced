//! Values as the schema types them: strings Entra sends for booleans become booleans, unknown
//! sub-attributes are dropped, names take the schema's case; and the normalisation of a whole
//! POST/PUT body the same way.

use serde_json::{Map, Value};

use crate::modify::apply_attr;
use crate::patch::OpKind;
use crate::path::AttrPath;
use crate::schema::{AttrType, AttributeDef, Mutability, ResourceType};
use crate::ScimError;

/// `value` as `def` types it, a list for a multi-valued attribute (a single value is wrapped).
/// `label` names the attribute in errors; the value itself is never echoed (it may be a
/// password).
pub(crate) fn coerce(def: &AttributeDef, value: &Value, label: &str) -> Result<Value, ScimError> {
    if !def.multi_valued || value.is_null() {
        return coerce_single(def, value, label);
    }
    let items: Vec<&Value> = match value {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    let mut out = Vec::new();
    for item in items {
        let v = coerce_single(def, item, label)?;
        if !v.is_null() {
            out.push(v);
        }
    }
    Ok(Value::Array(out))
}

/// One value (one element of a multi-valued attribute).
pub(crate) fn coerce_single(
    def: &AttributeDef,
    value: &Value,
    label: &str,
) -> Result<Value, ScimError> {
    if value.is_null() {
        return Ok(Value::Null);
    }
    match def.ty {
        AttrType::Boolean => match value {
            Value::Bool(_) => Ok(value.clone()),
            // Entra ID sends `"False"` for `active`.
            Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(Value::Bool(true)),
            Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(Value::Bool(false)),
            _ => Err(ScimError::invalid_value(format!(
                "`{label}` must be a boolean (true or false)."
            ))),
        },
        AttrType::String | AttrType::Reference => match value {
            Value::String(_) => Ok(value.clone()),
            _ => Err(ScimError::invalid_value(format!(
                "`{label}` must be a string."
            ))),
        },
        AttrType::DateTime => match value {
            Value::String(s) if chrono::DateTime::parse_from_rfc3339(s).is_ok() => {
                Ok(value.clone())
            }
            _ => Err(ScimError::invalid_value(format!(
                "`{label}` must be an RFC 3339 date and time."
            ))),
        },
        AttrType::Complex => match value {
            Value::Object(map) => {
                let mut out = Map::new();
                for (key, v) in map {
                    let Some(sub) = def.sub(key) else { continue };
                    let v = coerce(sub, v, &format!("{label}.{}", sub.name))?;
                    if !v.is_null() {
                        out.insert(sub.name.to_string(), v);
                    }
                }
                Ok(Value::Object(out))
            }
            // A bare value in a list of objects stands for its `value` (`"members": ["id"]`).
            Value::String(_) if def.multi_valued && def.sub("value").is_some() => {
                let mut out = Map::new();
                out.insert("value".into(), value.clone());
                Ok(Value::Object(out))
            }
            _ => Err(ScimError::invalid_value(format!(
                "`{label}` must be an object."
            ))),
        },
    }
}

/// A POST or PUT body as the resource to store: attributes named as the schema names them,
/// values typed, unknown attributes dropped (we accept and ignore what we do not store), and
/// read-only ones (`id`, `meta` in a PUT body) ignored rather than refused. The server adds
/// `schemas`, `id` and `meta`. A missing required attribute is a 400 `invalidValue`.
pub fn normalize(body: &Value, resource_type: ResourceType) -> Result<Value, ScimError> {
    let Value::Object(map) = body else {
        return Err(ScimError::invalid_syntax(
            "The request body must be a JSON object.",
        ));
    };
    let mut out = Map::new();
    normalize_into(&mut out, map, resource_type)?;
    for def in resource_type.attributes().iter().filter(|d| d.required) {
        let present = out.get(def.name).is_some_and(|v| match v {
            Value::String(s) => !s.is_empty(),
            other => !other.is_null(),
        });
        if !present {
            return Err(ScimError::invalid_value(format!(
                "`{}` is required for a {}.",
                def.name,
                resource_type.name()
            )));
        }
    }
    Ok(Value::Object(out))
}

fn normalize_into(
    out: &mut Map<String, Value>,
    body: &Map<String, Value>,
    resource_type: ResourceType,
) -> Result<(), ScimError> {
    for (key, value) in body {
        if key.eq_ignore_ascii_case(resource_type.schema_urn()) {
            if let Value::Object(inner) = value {
                normalize_into(out, inner, resource_type)?;
            }
            continue;
        }
        let Ok(path) = AttrPath::parse(key) else {
            continue;
        };
        let Some(def) = path.definition(resource_type) else {
            continue;
        };
        // Null is unassigned (RFC 7643 §2.5): a missing required attribute, not a removal.
        if def.mutability == Mutability::ReadOnly || value.is_null() {
            continue;
        }
        apply_attr(out, OpKind::Replace, &path, Some(value), resource_type)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(rt: ResourceType, body: Value, expected: Result<Value, (&str, &str)>) {
        let got = normalize(&body, rt)
            .map_err(|e| (e.scim_type.map_or("", |t| t.as_str()).to_string(), e.detail));
        match (got, expected) {
            (Ok(g), Ok(e)) => assert_eq!(g, e, "{body}"),
            (Err((t, d)), Err((et, part))) => {
                assert_eq!(t, et, "{body}: {d}");
                assert!(d.contains(part), "{body}: {d}");
            }
            (g, e) => panic!("{body}: got {g:?}, expected {e:?}"),
        }
    }

    #[test]
    fn bodies_are_normalised() {
        use ResourceType::{Group, User};
        // Okta's POST /Users.
        check(
            User,
            json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": "test.user@okta.local",
                "name": {"givenName": "Test", "familyName": "User", "middleName": "x"},
                "emails": [{"primary": true, "value": "test.user@okta.local", "type": "work"}],
                "displayName": "Test User",
                "locale": "en-US",
                "externalId": "00ujl29u0le5T6Aj10h7",
                "groups": [],
                "password": "1mz050nq",
                "active": true
            }),
            Ok(json!({
                "userName": "test.user@okta.local",
                "name": {"givenName": "Test", "familyName": "User"},
                "emails": [{"primary": true, "value": "test.user@okta.local", "type": "work"}],
                "displayName": "Test User",
                "externalId": "00ujl29u0le5T6Aj10h7",
                "password": "1mz050nq",
                "active": true
            })),
        );
        // Entra ID's POST /Users: strings for booleans, the enterprise extension.
        check(
            User,
            json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User",
                            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
                "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
                "userName": "Test_User_ab6490ee@testuser.com",
                "active": "True",
                "emails": [{"primary": "true", "type": "work", "value": "Test_User@testuser.com"}],
                "meta": {"resourceType": "User"},
                "name": {"formatted": "givenName familyName"},
                "roles": [],
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "x"}
            }),
            Ok(json!({
                "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
                "userName": "Test_User_ab6490ee@testuser.com",
                "active": true,
                "emails": [{"primary": true, "type": "work", "value": "Test_User@testuser.com"}],
                "name": {"formatted": "givenName familyName"}
            })),
        );
        // A PUT body: id and meta ignored, names in any case, URN-prefixed keys.
        check(
            User,
            json!({"id": "1", "meta": {"version": "x"}, "USERNAME": "a",
                   "urn:ietf:params:scim:schemas:core:2.0:User:displayName": "A",
                   "urn:ietf:params:scim:schemas:core:2.0:User": {"active": false}}),
            Ok(json!({"userName": "a", "displayName": "A", "active": false})),
        );
        check(
            Group,
            json!({"displayName": "Group1", "members": [{"value": "1", "display": "x"}, "2"]}),
            Ok(
                json!({"displayName": "Group1", "members": [{"value": "1", "display": "x"}, {"value": "2"}]}),
            ),
        );
        check(
            User,
            json!({"displayName": "x"}),
            Err(("invalidValue", "`userName` is required")),
        );
        check(
            User,
            json!({"userName": ""}),
            Err(("invalidValue", "`userName` is required")),
        );
        check(
            User,
            json!({"userName": null, "displayName": null}),
            Err(("invalidValue", "`userName` is required")),
        );
        check(
            Group,
            json!({"members": []}),
            Err(("invalidValue", "`displayName` is required")),
        );
        check(
            User,
            json!({"userName": "a", "active": "yes"}),
            Err(("invalidValue", "`active` must be a boolean")),
        );
        check(
            User,
            json!({"userName": "a", "active": 1}),
            Err(("invalidValue", "`active` must be a boolean")),
        );
        check(
            User,
            json!({"userName": "a", "password": 12345}),
            Err(("invalidValue", "`password` must be a string")),
        );
        check(
            User,
            json!({"userName": "a", "emails": [{"primary": "no"}]}),
            Err(("invalidValue", "`emails.primary`")),
        );
        check(
            User,
            json!({"userName": "a", "name": "x"}),
            Err(("invalidValue", "`name` must be an object")),
        );
        check(User, json!([]), Err(("invalidSyntax", "JSON object")));
    }

    #[test]
    fn errors_never_echo_the_value() {
        let secret = "s3cr3t-Pa55";
        let body = json!({"userName": "a", "password": [secret]});
        let detail = normalize(&body, ResourceType::User).err().map(|e| e.detail);
        assert!(detail.is_some_and(|d| !d.contains(secret)));
    }
}
