//! PATCH (RFC 7644 §3.5.2): the PatchOp body and its operations, applied in order to a
//! resource held as JSON, as Okta and Entra ID send them.

use std::fmt;

use serde_json::{Map, Value};

pub use crate::coerce::normalize;
use crate::eval::get_ci;
use crate::modify::{apply_attr, apply_filtered};
use crate::path::{AttrPath, PatchPath};
use crate::schema::ResourceType;
use crate::ScimError;

/// The URN of the PatchOp message.
pub const PATCH_OP_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// The operation of a PATCH step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    /// `add`.
    Add,
    /// `remove`.
    Remove,
    /// `replace`.
    Replace,
}

/// One step of a PatchOp body.
#[derive(Clone, PartialEq)]
pub struct PatchOperation {
    /// The operation.
    pub op: OpKind,
    /// The target; `None` means the resource itself (add and replace only).
    pub path: Option<PatchPath>,
    /// The value, if the step has one.
    pub value: Option<Value>,
}

/// Leaves the value out: it may be a password, and operations end up in logs.
impl fmt::Debug for PatchOperation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PatchOperation")
            .field("op", &self.op)
            .field("path", &self.path)
            .field("value", &self.value.as_ref().map(|_| "…"))
            .finish()
    }
}

/// Reads a PatchOp body: `schemas` must name PatchOp; `Operations` (or `operations`) lists the
/// steps; op names are case-insensitive (Entra ID writes `Replace`). A bad body is a 400
/// `invalidSyntax`, a malformed path a 400 `invalidPath`.
pub fn parse_request(body: &Value) -> Result<Vec<PatchOperation>, ScimError> {
    let Value::Object(_) = body else {
        return Err(ScimError::invalid_syntax(
            "The PATCH body must be a JSON object.",
        ));
    };
    let names_patch_op = get_ci(body, "schemas")
        .and_then(Value::as_array)
        .is_some_and(|s| {
            s.iter().any(|u| {
                u.as_str()
                    .is_some_and(|u| u.eq_ignore_ascii_case(PATCH_OP_SCHEMA))
            })
        });
    if !names_patch_op {
        return Err(ScimError::invalid_syntax(format!(
            "The PATCH body's `schemas` must contain `{PATCH_OP_SCHEMA}`."
        )));
    }
    let Some(Value::Array(steps)) = get_ci(body, "Operations") else {
        return Err(ScimError::invalid_syntax(
            "The PATCH body must have an `Operations` list.",
        ));
    };
    steps
        .iter()
        .enumerate()
        .map(|(i, step)| parse_step(i + 1, step))
        .collect()
}

fn parse_step(number: usize, step: &Value) -> Result<PatchOperation, ScimError> {
    if !step.is_object() {
        return Err(ScimError::invalid_syntax(format!(
            "PATCH operation {number} is not an object."
        )));
    }
    let op = match get_ci(step, "op").and_then(Value::as_str) {
        Some(s) if s.eq_ignore_ascii_case("add") => OpKind::Add,
        Some(s) if s.eq_ignore_ascii_case("remove") => OpKind::Remove,
        Some(s) if s.eq_ignore_ascii_case("replace") => OpKind::Replace,
        _ => {
            return Err(ScimError::invalid_syntax(format!(
                "PATCH operation {number} must have an `op` of add, remove or replace."
            )))
        }
    };
    let path = match get_ci(step, "path") {
        None | Some(Value::Null) => None,
        Some(Value::String(p)) if p.trim().is_empty() => None,
        Some(Value::String(p)) => Some(PatchPath::parse(p.trim())?),
        Some(_) => {
            return Err(ScimError::invalid_path(format!(
                "The path of PATCH operation {number} must be a string."
            )))
        }
    };
    let value = get_ci(step, "value").cloned();
    if op == OpKind::Remove && path.is_none() {
        return Err(ScimError::no_target(format!(
            "PATCH operation {number} removes without a path."
        )));
    }
    if op != OpKind::Remove && value.is_none() {
        return Err(ScimError::invalid_syntax(format!(
            "PATCH operation {number} needs a `value`."
        )));
    }
    Ok(PatchOperation { op, path, value })
}

/// Applies the operations in order. All or nothing: on an error `resource` is unchanged.
/// Attributes outside our schema are ignored; writing a read-only attribute, or changing an
/// immutable one, is a 400 `mutability` (writing the value it already has is not a change:
/// Okta repeats a group's `id` when it renames it).
pub fn apply(
    resource: &mut Value,
    operations: &[PatchOperation],
    resource_type: ResourceType,
) -> Result<(), ScimError> {
    let Value::Object(original) = resource else {
        return Err(ScimError::invalid_syntax(
            "The resource to patch is not a JSON object.",
        ));
    };
    let mut map = original.clone();
    for operation in operations {
        apply_one(&mut map, operation, resource_type)?;
    }
    *original = map;
    Ok(())
}

fn apply_one(
    map: &mut Map<String, Value>,
    operation: &PatchOperation,
    rt: ResourceType,
) -> Result<(), ScimError> {
    let value = operation.value.as_ref();
    match &operation.path {
        None => {
            let Some(Value::Object(attributes)) = value else {
                return Err(ScimError::invalid_syntax(
                    "An add or replace without a path needs an object as its value.",
                ));
            };
            apply_object(map, operation.op, attributes, rt)
        }
        Some(PatchPath {
            attr, filter: None, ..
        }) => apply_attr(map, operation.op, attr, value, rt),
        Some(PatchPath {
            attr,
            filter: Some(filter),
            sub,
        }) => apply_filtered(map, operation.op, attr, filter, sub.as_deref(), value, rt),
    }
}

/// The keys of a path-less value: attribute names, dotted (`name.givenName`, as Entra ID
/// writes them) or URN-prefixed, value paths (`emails[type eq "work"].value`, Entra ID too),
/// or the core schema's URN holding more of them.
fn apply_object(
    map: &mut Map<String, Value>,
    op: OpKind,
    attributes: &Map<String, Value>,
    rt: ResourceType,
) -> Result<(), ScimError> {
    for (key, value) in attributes {
        if key.eq_ignore_ascii_case(rt.schema_urn()) {
            if let Value::Object(inner) = value {
                apply_object(map, op, inner, rt)?;
            }
            continue;
        }
        if let Ok(path) = AttrPath::parse(key) {
            apply_attr(map, op, &path, Some(value), rt)?;
        } else if let Ok(PatchPath {
            attr,
            filter: Some(filter),
            sub,
        }) = PatchPath::parse(key)
        {
            // A value path as a key (`emails[type eq "work"].value`), as Entra ID sends it.
            apply_filtered(map, op, &attr, &filter, sub.as_deref(), Some(value), rt)?;
        }
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    pub(crate) fn user() -> Value {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "id": "u1",
            "userName": "bjensen",
            "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "emails": [
                {"value": "bjensen@example.com", "type": "work", "primary": true},
                {"value": "babs@home.org", "type": "home"}
            ],
            "active": true,
            "meta": {"resourceType": "User", "version": "W/\"1\""}
        })
    }

    pub(crate) fn group() -> Value {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "id": "g1",
            "displayName": "Admins",
            "members": [{"value": "a"}, {"value": "b"}, {"value": "c"}],
            "meta": {"resourceType": "Group"}
        })
    }

    fn body(operations: Value) -> Value {
        json!({"schemas": [PATCH_OP_SCHEMA], "Operations": operations})
    }

    /// Applies `operations` to `before`; `expected` is the resource after, or the scimType of
    /// the error (and then the resource must be unchanged).
    pub(crate) fn check(
        rt: ResourceType,
        before: Value,
        operations: Value,
        expected: Result<Value, &str>,
    ) {
        let mut resource = before.clone();
        let result =
            parse_request(&body(operations.clone())).and_then(|ops| apply(&mut resource, &ops, rt));
        match (result, expected) {
            (Ok(()), Ok(e)) => assert_eq!(resource, e, "{operations}"),
            (Err(err), Err(t)) => {
                assert_eq!(
                    err.scim_type.map(|s| s.as_str()),
                    Some(t),
                    "{operations}: {}",
                    err.detail
                );
                assert_eq!(
                    resource, before,
                    "{operations}: a failed PATCH changed the resource"
                );
            }
            (got, e) => panic!("{operations}: got {got:?} / {resource}, expected {e:?}"),
        }
    }

    pub(crate) fn with(mut base: Value, changes: &[(&str, Value)]) -> Value {
        for (k, v) in changes {
            if v.is_null() {
                base.as_object_mut().map(|m| m.remove(*k));
            } else {
                base[*k] = v.clone();
            }
        }
        base
    }

    #[test]
    fn okta_user_shapes() {
        use ResourceType::User;
        // Deactivation.
        check(
            User,
            user(),
            json!([{"op": "replace", "value": {"active": false}}]),
            Ok(with(user(), &[("active", json!(false))])),
        );
        // Password change: written, never echoed in errors.
        check(
            User,
            user(),
            json!([{"op": "replace", "value": {"password": "n3w"}}]),
            Ok(with(user(), &[("password", json!("n3w"))])),
        );
        // Profile update with sub-attributes merged into `name`.
        check(
            User,
            user(),
            json!([{"op": "replace", "value": {"name": {"givenName": "Babs"}, "displayName": "Babs"}}]),
            Ok(with(
                user(),
                &[
                    ("name", json!({"givenName": "Babs", "familyName": "Jensen"})),
                    ("displayName", json!("Babs")),
                ],
            )),
        );
    }

    #[test]
    fn entra_user_shapes() {
        use ResourceType::User;
        check(
            User,
            user(),
            json!([{"op": "Replace", "path": "active", "value": "False"}]),
            Ok(with(user(), &[("active", json!(false))])),
        );
        check(
            User,
            user(),
            json!([{"op": "replace", "path": "active", "value": "true"}]),
            Ok(user()),
        );
        check(
            User,
            user(),
            json!([
                {"op": "Replace", "path": "displayName", "value": "Babs J"},
                {"op": "Replace", "path": "name.givenName", "value": "Babs"},
                {"op": "Add", "path": "externalId", "value": "ext-1"},
                {"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber", "value": "42"},
                {"op": "Add", "path": "title", "value": "Boss"}
            ]),
            Ok(with(
                user(),
                &[
                    ("displayName", json!("Babs J")),
                    ("name", json!({"givenName": "Babs", "familyName": "Jensen"})),
                    ("externalId", json!("ext-1")),
                ],
            )),
        );
        // Dotted keys in a path-less value.
        check(
            User,
            user(),
            json!([{"op": "Add", "value": {"name.familyName": "J", "urn:ietf:params:scim:schemas:core:2.0:User:displayName": "X", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "D"}}]),
            Ok(with(
                user(),
                &[
                    ("name", json!({"givenName": "Barbara", "familyName": "J"})),
                    ("displayName", json!("X")),
                ],
            )),
        );
        // A value path as a key of a path-less replace (Entra ID).
        check(
            User,
            user(),
            json!([{"op": "Replace", "value": {"name.familyName": "J", "emails[type eq \"work\"].value": "new@example.com"}}]),
            Ok(with(
                user(),
                &[
                    ("name", json!({"givenName": "Barbara", "familyName": "J"})),
                    (
                        "emails",
                        json!([
                            {"value": "new@example.com", "type": "work", "primary": true},
                            {"value": "babs@home.org", "type": "home"}
                        ]),
                    ),
                ],
            )),
        );
        // The work address changes; a missing one is created from the filter.
        check(
            User,
            user(),
            json!([{"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "new@example.com"}]),
            Ok(with(
                user(),
                &[(
                    "emails",
                    json!([
                        {"value": "new@example.com", "type": "work", "primary": true},
                        {"value": "babs@home.org", "type": "home"}
                    ]),
                )],
            )),
        );
        check(
            User,
            with(user(), &[("emails", Value::Null)]),
            json!([{"op": "Add", "path": "emails[type eq \"work\"].value", "value": "w@example.com"},
                   {"op": "Add", "path": "emails[type eq \"work\"].primary", "value": "True"}]),
            Ok(with(
                user(),
                &[(
                    "emails",
                    json!([{"type": "work", "value": "w@example.com", "primary": true}]),
                )],
            )),
        );
        check(
            User,
            with(user(), &[("emails", Value::Null)]),
            json!([{"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "w@example.com"}]),
            Err("noTarget"),
        );
    }

    #[test]
    fn okta_group_shapes() {
        use ResourceType::Group;
        // Rename, repeating the id.
        check(
            Group,
            group(),
            json!([{"op": "replace", "value": {"id": "g1", "displayName": "Ops"}}]),
            Ok(with(group(), &[("displayName", json!("Ops"))])),
        );
        check(
            Group,
            group(),
            json!([{"op": "replace", "value": {"id": "g2", "displayName": "Ops"}}]),
            Err("mutability"),
        );
        check(
            Group,
            group(),
            json!([{"op": "remove", "path": "members[value eq \"b\"]"}]),
            Ok(with(
                group(),
                &[("members", json!([{"value": "a"}, {"value": "c"}]))],
            )),
        );
        check(
            Group,
            group(),
            json!([{"op": "add", "path": "members", "value": [{"value": "d", "display": "dee"}, {"value": "a", "display": "ay"}]}]),
            Ok(with(
                group(),
                &[(
                    "members",
                    json!([{"value": "a"}, {"value": "b"}, {"value": "c"}, {"value": "d", "display": "dee"}]),
                )],
            )),
        );
        check(
            Group,
            group(),
            json!([{"op": "remove", "path": "members[value eq \"zz\"]"}]),
            Err("noTarget"),
        );
        // Member ids are case-exact.
        check(
            Group,
            group(),
            json!([{"op": "remove", "path": "members[value eq \"B\"]"}]),
            Err("noTarget"),
        );
    }

    #[test]
    fn entra_group_shapes() {
        use ResourceType::Group;
        check(
            Group,
            group(),
            json!([{"op": "Remove", "path": "members", "value": [{"value": "a"}, {"value": "c"}]}]),
            Ok(with(group(), &[("members", json!([{"value": "b"}]))])),
        );
        check(
            Group,
            group(),
            json!([{"op": "Add", "path": "members", "value": [{"value": "e"}]}, {"op": "Replace", "path": "displayName", "value": "X"}]),
            Ok(with(
                group(),
                &[
                    (
                        "members",
                        json!([{"value": "a"}, {"value": "b"}, {"value": "c"}, {"value": "e"}]),
                    ),
                    ("displayName", json!("X")),
                ],
            )),
        );
        check(
            Group,
            group(),
            json!([{"op": "Remove", "path": "members"}]),
            Ok(with(group(), &[("members", Value::Null)])),
        );
        check(
            Group,
            group(),
            json!([{"op": "Replace", "path": "members", "value": [{"value": "z"}]}]),
            Ok(with(group(), &[("members", json!([{"value": "z"}]))])),
        );
        check(
            Group,
            with(group(), &[("members", Value::Null)]),
            json!([{"op": "Add", "path": "members", "value": [{"value": "a"}]}]),
            Ok(with(group(), &[("members", json!([{"value": "a"}]))])),
        );
        check(
            Group,
            group(),
            json!([{"op": "Remove", "path": "members", "value": [{"value": "a"}, {"value": "b"}, {"value": "c"}]}]),
            Ok(with(group(), &[("members", Value::Null)])),
        );
    }

    fn check_request(body: Value, expected: Result<usize, &str>) {
        let got = parse_request(&body)
            .map(|ops| ops.len())
            .map_err(|e| e.scim_type.map(|t| t.as_str()));
        assert_eq!(got, expected.map_err(Some), "{body}");
    }

    #[test]
    fn request_bodies() {
        check_request(
            body(json!([{"op": "Add", "path": "a", "value": 1}, {"op": "REMOVE", "path": "b"}])),
            Ok(2),
        );
        check_request(
            json!({"schemas": [PATCH_OP_SCHEMA], "operations": [{"op": "replace", "value": {}}]}),
            Ok(1),
        );
        check_request(json!({"Operations": []}), Err("invalidSyntax"));
        check_request(
            json!({"schemas": ["x"], "Operations": []}),
            Err("invalidSyntax"),
        );
        check_request(json!({"schemas": [PATCH_OP_SCHEMA]}), Err("invalidSyntax"));
        check_request(json!([]), Err("invalidSyntax"));
        check_request(
            body(json!([{"op": "move", "path": "a"}])),
            Err("invalidSyntax"),
        );
        check_request(body(json!([{"op": "remove"}])), Err("noTarget"));
        check_request(
            body(json!([{"op": "add", "path": "a"}])),
            Err("invalidSyntax"),
        );
        check_request(
            body(json!([{"op": "add", "path": "emails[type eq", "value": 1}])),
            Err("invalidPath"),
        );
        check_request(
            body(json!([{"op": "add", "path": "a.b.c", "value": 1}])),
            Err("invalidPath"),
        );
        check_request(
            body(json!([{"op": "add", "path": 3, "value": 1}])),
            Err("invalidPath"),
        );
        let mut resource = user();
        let ops = parse_request(&body(json!([{"op": "add", "value": "x"}])));
        let result = ops.and_then(|ops| apply(&mut resource, &ops, ResourceType::User));
        assert_eq!(
            result.err().and_then(|e| e.scim_type),
            Some(crate::ScimType::InvalidSyntax)
        );
    }

    #[test]
    fn debug_output_hides_values() {
        let ops = parse_request(&body(
            json!([{"op": "replace", "path": "password", "value": "hunter2"}]),
        ));
        let text = format!("{ops:?}");
        assert!(!text.contains("hunter2"), "{text}");
    }
}
