//! SCIM resources and the domain's entries: what a stored row looks like to an identity
//! provider, and what a resource it sent becomes for the planner.
//!
//! A SCIM resource's `id` is the entry's source id, and also its locator, so that a group's
//! `members` (which name members by `id`) resolve with the planner's ordinary member
//! references: no second kind of reference exists for pushed tenants.

use idmsync_domain::validate::{self, Fields};
use idmsync_domain::{
    ArcStr, ExternalId, MemberRef, Password, SourceGroup, SourceId, SourcePassword, SourceUser,
    StoredGroup, StoredUser,
};
use idmsync_scim::{ResourceType, ScimError};
use serde_json::{json, Map, Value};

/// SCIM's names for the fields a violation names.
const SCIM_FIELDS: Fields = Fields {
    source_id: "id",
    locator: "id",
    id: "userName",
    first_name: "name.givenName",
    last_name: "name.familyName",
    email: "emails",
    password: "password",
    group_id: "displayName",
    group_name: "displayName",
    members: "members",
};

/// The user row `u` as a SCIM resource, without `meta` (which the view adds).
pub(crate) fn user_from_stored(u: &StoredUser) -> Value {
    let mut resource = json!({
        "schemas": [ResourceType::User.schema_urn()],
        "id": u.source_id.as_str(),
        "userName": u.external_id.as_str(),
        "name": {"givenName": u.first_name, "familyName": u.last_name},
        "active": u.status == idmsync_domain::UserStatus::Active,
    });
    if let Some(email) = &u.email {
        resource["emails"] = json!([{"value": email, "type": "work", "primary": true}]);
    }
    resource
}

/// The group row `g` with its members (`(id, is_group)`) as a SCIM resource, without `meta`.
pub(crate) fn group_from_stored(g: &StoredGroup, members: &[(String, bool)]) -> Value {
    json!({
        "schemas": [ResourceType::Group.schema_urn()],
        "id": g.source_id.as_str(),
        "displayName": g.name,
        "members": members.iter().map(|(id, group)| member(id, *group)).collect::<Vec<_>>(),
    })
}

/// One element of a group's `members`.
pub(crate) fn member(id: &str, group: bool) -> Value {
    json!({"value": id, "type": if group { "Group" } else { "User" }})
}

/// A user resource's `userName`.
pub(crate) fn user_name(resource: &Value) -> Option<&str> {
    resource.get("userName").and_then(Value::as_str)
}

/// A group resource's `displayName`.
pub(crate) fn display_name(resource: &Value) -> Option<&str> {
    resource.get("displayName").and_then(Value::as_str)
}

/// The `value`s of a group resource's `members`.
pub(crate) fn member_ids(resource: &Value) -> Vec<&str> {
    resource
        .get("members")
        .and_then(Value::as_array)
        .map(|members| {
            members
                .iter()
                .filter_map(|m| m.get("value").and_then(Value::as_str))
                .collect()
        })
        .unwrap_or_default()
}

/// The address the application keeps: the primary one, else the first of type `work`, else
/// the first.
fn email(resource: &Value) -> Option<String> {
    let emails = resource.get("emails")?.as_array()?;
    let value = |e: &&Value| e.get("value").and_then(Value::as_str).is_some();
    let chosen = emails
        .iter()
        .filter(value)
        .find(|e| e.get("primary") == Some(&Value::Bool(true)))
        .or_else(|| {
            emails
                .iter()
                .filter(value)
                .find(|e| e.get("type").and_then(Value::as_str) == Some("work"))
        })
        .or_else(|| emails.iter().find(value))?;
    chosen
        .get("value")
        .and_then(Value::as_str)
        .map(str::to_string)
}

fn text(resource: &Value, path: [&str; 2]) -> String {
    resource
        .get(path[0])
        .and_then(|v| v.get(path[1]))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn id_error(field: &str, e: impl std::fmt::Display) -> ScimError {
    ScimError::invalid_value(format!("{field}: {e}"))
}

/// The user the planner is given for `resource`, with `password` when the write set one.
///
/// # Errors
/// `invalidValue` naming the attribute when a value is one no store can keep (empty, too long,
/// control characters).
pub(crate) fn source_user(
    resource: &Value,
    password: Option<&Password>,
) -> Result<SourceUser, ScimError> {
    let id = resource
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let login = user_name(resource).unwrap_or_default();
    let user = SourceUser {
        source_id: SourceId::new(id).map_err(|e| id_error("id", e))?,
        external_id: ExternalId::new(login).map_err(|e| id_error("userName", e))?,
        locator: Some(id.to_string()),
        first_name: text(resource, ["name", "givenName"]),
        last_name: text(resource, ["name", "familyName"]),
        email: email(resource),
        password: password.map_or(SourcePassword::Unmanaged, |p| {
            SourcePassword::Clear(p.clone())
        }),
        enabled: resource.get("active") != Some(&Value::Bool(false)),
        match_value: None,
    };
    validate::user(&user, &SCIM_FIELDS).map_err(|v| ScimError::invalid_value(v.to_string()))?;
    Ok(user)
}

/// The group the planner is given for `resource`, its members by id.
///
/// # Errors
/// As [`source_user`].
pub(crate) fn source_group(resource: &Value) -> Result<SourceGroup, ScimError> {
    let id = resource
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let name = display_name(resource).unwrap_or_default();
    let group = SourceGroup {
        source_id: SourceId::new(id).map_err(|e| id_error("id", e))?,
        external_id: ExternalId::new(name).map_err(|e| id_error("displayName", e))?,
        locator: Some(id.to_string()),
        name: name.to_string(),
        members: member_ids(resource)
            .into_iter()
            .map(|m| MemberRef::Locator(ArcStr::from(m)))
            .collect(),
    };
    validate::group(&group, &SCIM_FIELDS).map_err(|v| ScimError::invalid_value(v.to_string()))?;
    Ok(group)
}

/// Takes the write-only `password` out of a resource a client sent: it goes to the hasher,
/// never into the view.
///
/// # Errors
/// `invalidValue` for a password that is not a string.
pub(crate) fn take_password(resource: &mut Value) -> Result<Option<Password>, ScimError> {
    let Some(object) = resource.as_object_mut() else {
        return Ok(None);
    };
    let key = object
        .keys()
        .find(|k| k.eq_ignore_ascii_case("password"))
        .cloned();
    match key.and_then(|k| object.remove(&k)) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(clear)) => Ok(Some(Password::new(clear))),
        Some(_) => Err(ScimError::invalid_value("password: must be a string")),
    }
}

/// What a resource keeps beyond its row, for the store's document of it: everything but the
/// password (taken out before) and, for a group, its `members`, which the store keeps as
/// edges (and which would make every membership change rewrite the whole list).
pub(crate) fn document(kind: ResourceType, resource: &Value) -> String {
    let mut kept = resource.clone();
    if kind == ResourceType::Group {
        if let Some(object) = kept.as_object_mut() {
            object.remove("members");
        }
    }
    kept.to_string()
}

/// The resource of a row (`stored`, from [`user_from_stored`] or [`group_from_stored`]) with
/// what its document kept: the row decides every value it holds (it is what runs write), the
/// document adds the rest (`externalId`, `displayName`, `meta`, other names, other addresses).
/// A document that no longer agrees with the row's e-mail gives way to it.
pub(crate) fn with_document(stored: Value, document: Option<&str>) -> Value {
    let Some(Ok(Value::Object(mut kept))) = document.map(serde_json::from_str::<Value>) else {
        return stored;
    };
    let Value::Object(row) = stored else {
        return stored;
    };
    let row_email = email(&Value::Object(row.clone()));
    let kept_email = email(&Value::Object(kept.clone()));
    for (key, value) in row {
        match (key.as_str(), kept.get_mut(&key), value) {
            ("emails", _, _) if kept_email == row_email => {}
            // Active is SCIM's default: a resource sent without it is shown without it.
            ("active", None, Value::Bool(true)) => {}
            ("name", Some(Value::Object(theirs)), Value::Object(ours)) => theirs.extend(ours),
            (_, _, value) => {
                kept.insert(key, value);
            }
        }
    }
    if row_email.is_none() {
        kept.remove("emails");
    }
    Value::Object(kept)
}

/// Adds `schemas` and `id` to a normalised body.
pub(crate) fn with_identity(mut body: Value, kind: ResourceType, id: &str) -> Value {
    if !body.is_object() {
        body = Value::Object(Map::new());
    }
    body["schemas"] = json!([kind.schema_urn()]);
    body["id"] = Value::String(id.to_string());
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(extra: Value) -> Value {
        let mut u = json!({"id": "u1", "userName": "bjensen", "name": {"givenName": "Barbara", "familyName": "Jensen"}});
        for (k, v) in extra.as_object().into_iter().flatten() {
            u[k] = v.clone();
        }
        u
    }

    #[test]
    fn the_primary_email_wins_then_the_work_one_then_the_first() {
        let check = |emails: Value, expected: Option<&str>| {
            let u = source_user(&user(json!({ "emails": emails })), None).expect("valid");
            assert_eq!(u.email.as_deref(), expected, "{emails}");
        };
        check(
            json!([{"value": "h@x", "type": "home"}, {"value": "p@x", "primary": true}]),
            Some("p@x"),
        );
        check(
            json!([{"value": "h@x", "type": "home"}, {"value": "w@x", "type": "work"}]),
            Some("w@x"),
        );
        check(json!([{"value": "h@x", "type": "home"}]), Some("h@x"));
        check(json!([]), None);
    }

    #[test]
    fn a_user_becomes_a_source_user_located_by_its_id() {
        let u = source_user(&user(json!({"active": false})), Some(&Password::new("pw")))
            .expect("valid");
        assert_eq!(u.source_id.as_str(), "u1");
        assert_eq!(u.external_id.as_str(), "bjensen");
        assert_eq!(u.locator.as_deref(), Some("u1"));
        assert_eq!(
            (u.first_name.as_str(), u.last_name.as_str()),
            ("Barbara", "Jensen")
        );
        assert!(!u.enabled);
        assert!(matches!(u.password, SourcePassword::Clear(_)));
        let active = source_user(&user(json!({})), None).expect("valid");
        assert!(active.enabled);
        assert_eq!(active.password, SourcePassword::Unmanaged);
    }

    #[test]
    fn a_value_no_store_keeps_is_an_invalid_value_naming_the_attribute() {
        let e = source_user(&user(json!({"userName": "a\u{7}b"})), None).expect_err("control");
        assert_eq!(e.status, 400);
        assert!(e.detail.contains("userName"), "{}", e.detail);
    }

    #[test]
    fn a_group_names_its_members_by_id() {
        let g = source_group(&json!({
            "id": "g1", "displayName": "Admins",
            "members": [{"value": "u1"}, {"value": "g2", "type": "Group"}]
        }))
        .expect("valid");
        assert_eq!(g.external_id.as_str(), "Admins");
        assert_eq!(
            g.members,
            vec![
                MemberRef::Locator(ArcStr::from("u1")),
                MemberRef::Locator(ArcStr::from("g2"))
            ]
        );
    }

    #[test]
    fn a_document_adds_what_the_row_has_no_column_for_and_the_row_decides_the_rest() {
        let row = json!({"id": "u1", "userName": "bjensen", "active": true,
            "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "emails": [{"value": "b@x", "type": "work", "primary": true}]});
        let document = json!({"id": "u1", "userName": "old", "externalId": "ext-1",
            "displayName": "Babs", "active": false, "meta": {"created": "2026-01-01T00:00:00Z"},
            "name": {"givenName": "Old", "formatted": "Ms Barbara Jensen"},
            "emails": [{"value": "home@x", "type": "home"}, {"value": "b@x", "primary": true}]})
        .to_string();
        let merged = with_document(row.clone(), Some(&document));
        assert_eq!(merged["userName"], "bjensen");
        assert_eq!(merged["active"], true);
        assert_eq!(merged["externalId"], "ext-1");
        assert_eq!(merged["displayName"], "Babs");
        assert_eq!(merged["meta"]["created"], "2026-01-01T00:00:00Z");
        assert_eq!(merged["name"]["givenName"], "Barbara");
        assert_eq!(merged["name"]["formatted"], "Ms Barbara Jensen");
        assert_eq!(merged["emails"].as_array().map(Vec::len), Some(2));
        // The row's address changed since: the row's wins.
        let moved = json!({"emails": [{"value": "new@x", "primary": true}]});
        let mut changed = row.clone();
        changed["emails"] = moved["emails"].clone();
        let merged = with_document(changed, Some(&document));
        assert_eq!(merged["emails"], moved["emails"]);
        // The row has none: neither has the resource.
        let mut none = row;
        none.as_object_mut().map(|o| o.remove("emails"));
        assert!(with_document(none, Some(&document)).get("emails").is_none());
    }

    #[test]
    fn a_groups_document_leaves_its_members_to_the_edges() {
        let group = json!({"id": "g1", "displayName": "Admins", "externalId": "e",
            "members": [{"value": "u1", "type": "User"}]});
        let document = document(ResourceType::Group, &group);
        assert!(!document.contains("members"), "{document}");
        let row = group_from_stored(
            &StoredGroup {
                source_id: SourceId::new("g1").expect("id"),
                external_id: ExternalId::new("Admins").expect("id"),
                locator: None,
                name: "Admins".into(),
                status: idmsync_domain::UserStatus::Active,
            },
            &[("u2".into(), false)],
        );
        let merged = with_document(row, Some(&document));
        assert_eq!(merged["externalId"], "e");
        assert_eq!(merged["members"], json!([{"value": "u2", "type": "User"}]));
    }

    #[test]
    fn the_password_is_taken_out_of_the_resource() {
        let mut body = json!({"userName": "x", "password": "s3cret"});
        let p = take_password(&mut body).expect("string");
        assert_eq!(p.map(|p| p.expose().to_string()).as_deref(), Some("s3cret"));
        assert!(body.get("password").is_none());
        assert!(take_password(&mut json!({"password": 5})).is_err());
    }
}
