//! The changes one PATCH operation makes to a resource: an attribute, a sub-attribute, or the
//! elements a value filter selects, with the schema's mutability and type rules.

use serde_json::{Map, Value};

use crate::coerce::{coerce, coerce_single};
use crate::eval::get_ci;
use crate::filter::{CompareOp, Filter};
use crate::patch::OpKind;
use crate::path::AttrPath;
use crate::schema::{AttributeDef, Mutability, ResourceType};
use crate::ScimError;

fn label(def: &AttributeDef, sub: Option<&AttributeDef>) -> String {
    match sub {
        Some(s) => format!("{}.{}", def.name, s.name),
        None => def.name.to_string(),
    }
}

fn read_only(label: &str) -> ScimError {
    ScimError::mutability(format!("`{label}` is read-only."))
}

fn immutable(label: &str) -> ScimError {
    ScimError::mutability(format!(
        "`{label}` is immutable and cannot be changed once set."
    ))
}

fn key_of(map: &Map<String, Value>, name: &str) -> Option<String> {
    if map.contains_key(name) {
        return Some(name.to_string());
    }
    map.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned()
}

fn take(map: &mut Map<String, Value>, name: &str) -> Option<Value> {
    key_of(map, name).and_then(|k| map.remove(&k))
}

/// Sets `name` (in the schema's case, replacing a key in another case); null unassigns.
fn put(map: &mut Map<String, Value>, name: &str, value: Value) {
    take(map, name);
    if !value.is_null() {
        map.insert(name.to_string(), value);
    }
}

fn get_mut<'a>(map: &'a mut Map<String, Value>, name: &str) -> Option<&'a mut Value> {
    let key = key_of(map, name)?;
    map.get_mut(&key)
}

/// An attribute or `attr.sub` path without value filter; also used for POST/PUT bodies.
pub(crate) fn apply_attr(
    map: &mut Map<String, Value>,
    op: OpKind,
    path: &AttrPath,
    value: Option<&Value>,
    rt: ResourceType,
) -> Result<(), ScimError> {
    let Some(def) = path.definition(rt) else {
        return Ok(());
    };
    match &path.sub {
        None => apply_top(map, op, def, value),
        Some(sub) => match def.sub(sub) {
            Some(sub) => apply_sub(map, op, def, sub, value),
            None => Ok(()),
        },
    }
}

fn apply_top(
    map: &mut Map<String, Value>,
    op: OpKind,
    def: &'static AttributeDef,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    let name = def.name;
    if op == OpKind::Remove {
        if def.mutability == Mutability::ReadOnly {
            return Err(read_only(name));
        }
        if def.required {
            return Err(ScimError::mutability(format!(
                "`{name}` is required and cannot be removed."
            )));
        }
        return match value {
            Some(listed) if def.multi_valued && !listed.is_null() => {
                remove_listed(map, def, listed)
            }
            _ => {
                take(map, name);
                Ok(())
            }
        };
    }
    let new = coerce(def, value.unwrap_or(&Value::Null), name)?;
    if def.mutability == Mutability::ReadOnly {
        let current = key_of(map, name).and_then(|k| map.get(&k));
        return if current == Some(&new) {
            Ok(())
        } else {
            Err(read_only(name))
        };
    }
    if new.is_null() {
        if def.required {
            return Err(ScimError::mutability(format!(
                "`{name}` is required and cannot be removed."
            )));
        }
        take(map, name);
        return Ok(());
    }
    match (op, new) {
        (OpKind::Add, Value::Array(items)) => {
            for item in items {
                append(map, def, item);
            }
            Ok(())
        }
        (_, Value::Object(fields)) if !def.multi_valued => {
            merge(map, def, fields);
            Ok(())
        }
        (_, new) => {
            put(map, name, new);
            Ok(())
        }
    }
}

/// Whether two elements of `def` are the same value: by their `value` sub-attribute if they
/// have one (an email address, a member id), else as JSON.
fn same_element(def: &AttributeDef, a: &Value, b: &Value) -> bool {
    let value_def = def.sub("value");
    match (get_ci(a, "value"), get_ci(b, "value"), value_def) {
        (Some(Value::String(x)), Some(Value::String(y)), Some(vd)) if !vd.case_exact => {
            x.eq_ignore_ascii_case(y)
        }
        (Some(x), Some(y), _) => x == y,
        _ => a == b,
    }
}

/// Adds an element unless an equal one is there; a new primary element takes the primary
/// flag from the others (RFC 7643 §2.4: at most one is primary).
fn append(map: &mut Map<String, Value>, def: &AttributeDef, item: Value) {
    let list = match get_mut(map, def.name) {
        Some(Value::Array(list)) => list,
        _ => {
            put(map, def.name, Value::Array(Vec::new()));
            match get_mut(map, def.name) {
                Some(Value::Array(list)) => list,
                _ => return,
            }
        }
    };
    if list.iter().any(|e| same_element(def, e, &item)) {
        return;
    }
    if get_ci(&item, "primary") == Some(&Value::Bool(true)) {
        for element in list.iter_mut() {
            if let Some(key) = element.as_object().and_then(|o| key_of(o, "primary")) {
                if let Some(obj) = element.as_object_mut() {
                    obj.insert(key, Value::Bool(false));
                }
            }
        }
    }
    list.push(item);
}

/// Entra ID's `{"op":"Remove","path":"members","value":[{"value":"id"}]}`: only the listed
/// elements go.
fn remove_listed(
    map: &mut Map<String, Value>,
    def: &AttributeDef,
    listed: &Value,
) -> Result<(), ScimError> {
    let listed = coerce(def, listed, def.name)?;
    let listed = listed.as_array().cloned().unwrap_or_default();
    if let Some(Value::Array(list)) = get_mut(map, def.name) {
        list.retain(|e| !listed.iter().any(|l| same_element(def, e, l)));
        if list.is_empty() {
            take(map, def.name);
        }
    }
    Ok(())
}

/// Merges sub-attributes into a complex single-valued attribute: those not given stay
/// (RFC 7644 §3.5.2.3).
fn merge(map: &mut Map<String, Value>, def: &AttributeDef, fields: Map<String, Value>) {
    match get_mut(map, def.name) {
        Some(Value::Object(existing)) => {
            for (k, v) in fields {
                put(existing, &k, v);
            }
        }
        _ => put(map, def.name, Value::Object(fields)),
    }
}

/// Sets a sub-attribute, refusing to change an immutable one that has a value.
fn set_sub(
    element: &mut Value,
    sub: &AttributeDef,
    new: &Value,
    label: &str,
) -> Result<(), ScimError> {
    let Value::Object(obj) = element else {
        return Ok(());
    };
    if sub.mutability == Mutability::Immutable {
        if let Some(current) = key_of(obj, sub.name).and_then(|k| obj.get(&k)) {
            if current != new {
                return Err(immutable(label));
            }
        }
    }
    put(obj, sub.name, new.clone());
    Ok(())
}

fn remove_sub(element: &mut Value, sub: &AttributeDef, label: &str) -> Result<(), ScimError> {
    let Value::Object(obj) = element else {
        return Ok(());
    };
    if sub.mutability == Mutability::Immutable && key_of(obj, sub.name).is_some() {
        return Err(immutable(label));
    }
    take(obj, sub.name);
    Ok(())
}

/// `name.givenName`, or `emails.value` without filter (every element).
fn apply_sub(
    map: &mut Map<String, Value>,
    op: OpKind,
    def: &'static AttributeDef,
    sub: &'static AttributeDef,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    let label = label(def, Some(sub));
    if def.mutability == Mutability::ReadOnly || sub.mutability == Mutability::ReadOnly {
        return Err(read_only(&label));
    }
    if op == OpKind::Remove {
        match get_mut(map, def.name) {
            Some(Value::Array(list)) => {
                for element in list.iter_mut() {
                    remove_sub(element, sub, &label)?;
                }
            }
            Some(element @ Value::Object(_)) => {
                remove_sub(element, sub, &label)?;
                if element.as_object().is_some_and(Map::is_empty) {
                    take(map, def.name);
                }
            }
            _ => {}
        }
        return Ok(());
    }
    let new = coerce(sub, value.unwrap_or(&Value::Null), &label)?;
    if !def.multi_valued {
        if !matches!(get_mut(map, def.name), Some(Value::Object(_))) {
            if new.is_null() {
                return Ok(());
            }
            put(map, def.name, Value::Object(Map::new()));
        }
        if let Some(element) = get_mut(map, def.name) {
            set_sub(element, sub, &new, &label)?;
        }
        return Ok(());
    }
    match get_mut(map, def.name) {
        Some(Value::Array(list)) if !list.is_empty() => {
            for element in list.iter_mut() {
                set_sub(element, sub, &new, &label)?;
            }
        }
        _ if op == OpKind::Add && !new.is_null() => {
            let mut element = Map::new();
            element.insert(sub.name.to_string(), new);
            append(map, def, Value::Object(element));
        }
        _ => {}
    }
    Ok(())
}

/// `emails[type eq "work"]`, `emails[type eq "work"].value`, `members[value eq "id"]`.
pub(crate) fn apply_filtered(
    map: &mut Map<String, Value>,
    op: OpKind,
    attr: &AttrPath,
    filter: &Filter,
    sub: Option<&str>,
    value: Option<&Value>,
    rt: ResourceType,
) -> Result<(), ScimError> {
    let Some(def) = attr.definition(rt) else {
        return Ok(());
    };
    if !def.is_complex_multi() {
        return Err(ScimError::invalid_path(format!(
            "`{}` is not a multi-valued attribute, so it takes no value filter.",
            def.name
        )));
    }
    let sub = match sub {
        Some(name) => match def.sub(name) {
            Some(s) => Some(s),
            None => return Ok(()),
        },
        None => None,
    };
    let label = label(def, sub);
    if def.mutability == Mutability::ReadOnly
        || sub.is_some_and(|s| s.mutability == Mutability::ReadOnly)
    {
        return Err(read_only(&label));
    }
    let new = match (op, sub) {
        (OpKind::Remove, _) => Value::Null,
        (_, Some(s)) => coerce(s, value.unwrap_or(&Value::Null), &label)?,
        (_, None) => {
            let v = match value {
                Some(Value::Array(items)) if items.len() == 1 => &items[0],
                Some(v) => v,
                None => &Value::Null,
            };
            coerce_single(def, v, &label)?
        }
    };
    let matched: Vec<usize> = match get_mut(map, def.name) {
        Some(Value::Array(list)) => list
            .iter()
            .enumerate()
            .filter(|(_, e)| filter.matches_element(e, def))
            .map(|(i, _)| i)
            .collect(),
        _ => Vec::new(),
    };
    if matched.is_empty() {
        if op != OpKind::Add {
            return Err(ScimError::no_target(format!(
                "No element of `{}` matches the path's value filter.",
                def.name
            )));
        }
        // Entra ID adds `emails[type eq "work"].value` to a user without a work address:
        // the filter's equalities describe the new element.
        let Some(mut element) = element_from_filter(filter, def) else {
            return Err(ScimError::no_target(format!(
                "No element of `{}` matches the path's value filter, and the filter does not describe a new one.",
                def.name
            )));
        };
        match (sub, new) {
            (Some(s), new) => put(&mut element, s.name, new),
            (None, Value::Object(fields)) => element.extend(fields),
            (None, _) => {}
        }
        append(map, def, Value::Object(element));
        return Ok(());
    }
    let Some(Value::Array(list)) = get_mut(map, def.name) else {
        return Ok(());
    };
    match (op, sub) {
        (OpKind::Remove, Some(s)) => {
            for &i in &matched {
                remove_sub(&mut list[i], s, &label)?;
            }
        }
        (OpKind::Remove, None) => {
            let mut index = 0;
            list.retain(|_| {
                index += 1;
                !matched.contains(&(index - 1))
            });
            if list.is_empty() {
                take(map, def.name);
            }
        }
        (_, Some(s)) => {
            for &i in &matched {
                set_sub(&mut list[i], s, &new, &label)?;
            }
        }
        (_, None) => {
            let Value::Object(fields) = new else {
                return Ok(());
            };
            for &i in &matched {
                for (k, v) in &fields {
                    if let Some(s) = def.sub(k) {
                        set_sub(&mut list[i], s, v, &format!("{}.{}", def.name, s.name))?;
                    }
                }
            }
        }
    }
    Ok(())
}

/// The element a filter of `sub eq value` conditions joined by `and` describes.
fn element_from_filter(filter: &Filter, def: &AttributeDef) -> Option<Map<String, Value>> {
    match filter {
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value,
        } if path.sub.is_none() && path.urn.is_none() && !value.is_null() => {
            let sub = def.sub(&path.name)?;
            let v = coerce_single(sub, value, sub.name).ok()?;
            let mut map = Map::new();
            map.insert(sub.name.to_string(), v);
            Some(map)
        }
        Filter::And(a, b) => {
            let mut map = element_from_filter(a, def)?;
            map.extend(element_from_filter(b, def)?);
            Some(map)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use crate::patch::tests::{check, group, user, with};
    use crate::schema::ResourceType;
    use serde_json::{json, Value};

    #[test]
    fn multi_valued_rules() {
        use ResourceType::User;
        // add appends what is new (addresses compare without case), a new primary takes the flag.
        check(
            User,
            user(),
            json!([{"op": "add", "path": "emails", "value": [{"value": "BJENSEN@example.com"}, {"value": "x@y.z", "type": "other", "primary": true}]}]),
            Ok(with(
                user(),
                &[(
                    "emails",
                    json!([
                        {"value": "bjensen@example.com", "type": "work", "primary": false},
                        {"value": "babs@home.org", "type": "home"},
                        {"value": "x@y.z", "type": "other", "primary": true}
                    ]),
                )],
            )),
        );
        check(
            User,
            user(),
            json!([{"op": "replace", "path": "emails", "value": [{"value": "only@x.y"}]}]),
            Ok(with(user(), &[("emails", json!([{"value": "only@x.y"}]))])),
        );
        check(
            User,
            user(),
            json!([{"op": "replace", "path": "emails[type eq \"home\"]", "value": {"value": "h@x.y", "display": "H"}}]),
            Ok(with(
                user(),
                &[(
                    "emails",
                    json!([
                        {"value": "bjensen@example.com", "type": "work", "primary": true},
                        {"value": "h@x.y", "type": "home", "display": "H"}
                    ]),
                )],
            )),
        );
        check(
            User,
            user(),
            json!([{"op": "remove", "path": "emails[type eq \"work\"].primary"}]),
            Ok(with(
                user(),
                &[(
                    "emails",
                    json!([
                        {"value": "bjensen@example.com", "type": "work"},
                        {"value": "babs@home.org", "type": "home"}
                    ]),
                )],
            )),
        );
        check(
            User,
            user(),
            json!([{"op": "remove", "path": "emails"}]),
            Ok(with(user(), &[("emails", Value::Null)])),
        );
        check(
            User,
            user(),
            json!([{"op": "remove", "path": "name.givenName"}]),
            Ok(with(user(), &[("name", json!({"familyName": "Jensen"}))])),
        );
        check(
            User,
            user(),
            json!([{"op": "replace", "path": "emails[type eq \"other\"]", "value": {"value": "o@x.y"}}]),
            Err("noTarget"),
        );
        check(
            User,
            user(),
            json!([{"op": "replace", "path": "name[givenName eq \"x\"]", "value": {}}]),
            Err("invalidPath"),
        );
    }

    #[test]
    fn mutability_and_values() {
        use ResourceType::{Group, User};
        check(
            User,
            user(),
            json!([{"op": "replace", "path": "id", "value": "u2"}]),
            Err("mutability"),
        );
        check(
            User,
            user(),
            json!([{"op": "replace", "path": "id", "value": "u1"}]),
            Ok(user()),
        );
        check(
            User,
            user(),
            json!([{"op": "remove", "path": "meta"}]),
            Err("mutability"),
        );
        check(
            User,
            user(),
            json!([{"op": "replace", "path": "meta.version", "value": "x"}]),
            Err("mutability"),
        );
        check(
            User,
            user(),
            json!([{"op": "replace", "value": {"meta": {"version": "x"}}}]),
            Err("mutability"),
        );
        check(
            User,
            user(),
            json!([{"op": "remove", "path": "userName"}]),
            Err("mutability"),
        );
        check(
            Group,
            group(),
            json!([{"op": "replace", "path": "members[value eq \"a\"].value", "value": "z"}]),
            Err("mutability"),
        );
        check(
            Group,
            group(),
            json!([{"op": "replace", "path": "members[value eq \"a\"]", "value": {"value": "z"}}]),
            Err("mutability"),
        );
        check(
            Group,
            group(),
            json!([{"op": "replace", "path": "members[value eq \"a\"].display", "value": "A"}]),
            Ok(with(
                group(),
                &[(
                    "members",
                    json!([{"value": "a", "display": "A"}, {"value": "b"}, {"value": "c"}]),
                )],
            )),
        );
        check(
            User,
            user(),
            json!([{"op": "replace", "path": "active", "value": "no"}]),
            Err("invalidValue"),
        );
        check(
            User,
            user(),
            json!([{"op": "replace", "path": "active", "value": 0}]),
            Err("invalidValue"),
        );
        check(
            User,
            user(),
            json!([{"op": "replace", "path": "userName", "value": 7}]),
            Err("invalidValue"),
        );
        // A failing later step leaves the earlier ones undone.
        check(
            User,
            user(),
            json!([{"op": "replace", "path": "displayName", "value": "x"}, {"op": "replace", "path": "id", "value": "u2"}]),
            Err("mutability"),
        );
        // Names in another case replace the key, in the schema's case.
        check(
            User,
            with(user(), &[("active", Value::Null), ("ACTIVE", json!(true))]),
            json!([{"op": "replace", "path": "Active", "value": false}]),
            Ok(with(user(), &[("active", json!(false))])),
        );
    }
}
