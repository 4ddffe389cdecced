//! Filter evaluation against a resource held as JSON, with the comparison rules the schema
//! gives each attribute (case-exactness, dateTime instants).

use std::cmp::Ordering;

use chrono::{DateTime, FixedOffset};
use serde_json::Value;

use crate::filter::{CompareOp, Filter};
use crate::path::AttrPath;
use crate::schema::{AttrType, AttributeDef, ResourceType};
use crate::ScimError;

/// Where a path is resolved: at the top of a resource, or inside an element of a multi-valued
/// attribute (a value filter's sub-attributes).
#[derive(Clone, Copy)]
enum Scope {
    Resource(ResourceType),
    Element(Option<&'static AttributeDef>),
}

impl Filter {
    /// Whether `resource` matches. Comparisons the filter cannot make (ordering booleans)
    /// match nothing; [`Filter::validate`] reports them as errors first.
    pub fn matches(&self, resource: &Value, resource_type: ResourceType) -> bool {
        eval(self, resource, Scope::Resource(resource_type))
    }

    /// Whether an element of the multi-valued attribute `parent` matches (a PATCH value
    /// filter).
    pub(crate) fn matches_element(&self, element: &Value, parent: &'static AttributeDef) -> bool {
        eval(self, element, Scope::Element(Some(parent)))
    }

    /// Rejects comparisons that make no sense for the schema (`active gt true`), so that the
    /// client gets a 400 `invalidFilter` instead of an empty result.
    pub fn validate(&self, resource_type: ResourceType) -> Result<(), ScimError> {
        validate(self, Scope::Resource(resource_type))
    }
}

/// A key of a JSON object, case-insensitively (attribute names are, RFC 7643 §2.1).
pub(crate) fn get_ci<'a>(object: &'a Value, key: &str) -> Option<&'a Value> {
    let map = object.as_object()?;
    map.get(key).or_else(|| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

/// The definition of the value a path compares: `emails` alone compares its `value`.
fn leaf(path: &AttrPath, scope: Scope) -> Option<&'static AttributeDef> {
    let top = match scope {
        Scope::Resource(rt) => path.definition(rt),
        Scope::Element(parent) => parent.and_then(|p| p.sub(&path.name)),
    }?;
    match &path.sub {
        Some(sub) => top.sub(sub),
        None if top.is_complex_multi() => top.sub("value"),
        None => Some(top),
    }
}

/// The values a path designates, lists flattened, nulls dropped. `through_value` makes a
/// complex multi-valued attribute without sub-attribute stand for its elements' `value`.
fn values<'a>(
    object: &'a Value,
    path: &AttrPath,
    scope: Scope,
    through_value: bool,
) -> Vec<&'a Value> {
    if let Scope::Resource(rt) = scope {
        let foreign = path
            .urn
            .as_deref()
            .is_some_and(|u| !u.eq_ignore_ascii_case(rt.schema_urn()));
        if foreign {
            return Vec::new();
        }
    }
    let Some(top) = get_ci(object, &path.name) else {
        return Vec::new();
    };
    let elements: Vec<&Value> = match top {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    let mut out = Vec::new();
    for element in elements {
        let value = match (&path.sub, element) {
            (Some(sub), _) => get_ci(element, sub),
            (None, Value::Object(_)) if through_value => get_ci(element, "value"),
            (None, _) => Some(element),
        };
        match value {
            Some(Value::Array(items)) => out.extend(items.iter().filter(|v| !v.is_null())),
            Some(Value::Null) | None => {}
            Some(v) => out.push(v),
        }
    }
    out
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

fn eval(filter: &Filter, object: &Value, scope: Scope) -> bool {
    match filter {
        Filter::And(a, b) => eval(a, object, scope) && eval(b, object, scope),
        Filter::Or(a, b) => eval(a, object, scope) || eval(b, object, scope),
        Filter::Not(a) => !eval(a, object, scope),
        Filter::Present(path) => values(object, path, scope, false)
            .iter()
            .any(|v| !is_empty(v)),
        Filter::Compare {
            path,
            op: CompareOp::Ne,
            value,
        } => !eval_compare(object, path, CompareOp::Eq, value, scope),
        Filter::Compare { path, op, value } => eval_compare(object, path, *op, value, scope),
        Filter::ValuePath { attr, filter, then } => {
            let parent = leaf_parent(attr, scope);
            let element_scope = Scope::Element(parent);
            let elements: Vec<&Value> = match get_ci(object, &attr.name) {
                Some(Value::Array(items)) => items.iter().collect(),
                Some(v @ Value::Object(_)) => vec![v],
                _ => Vec::new(),
            };
            let foreign = matches!(scope, Scope::Resource(rt) if attr.urn.as_deref().is_some_and(|u| !u.eq_ignore_ascii_case(rt.schema_urn())));
            !foreign
                && elements.into_iter().any(|e| {
                    eval(filter, e, element_scope)
                        && then.as_ref().is_none_or(|t| eval(t, e, element_scope))
                })
        }
    }
}

/// The definition of the attribute whose elements a value filter tests.
fn leaf_parent(attr: &AttrPath, scope: Scope) -> Option<&'static AttributeDef> {
    match scope {
        Scope::Resource(rt) => attr.definition(rt),
        Scope::Element(parent) => parent.and_then(|p| p.sub(&attr.name)),
    }
}

fn eval_compare(
    object: &Value,
    path: &AttrPath,
    op: CompareOp,
    literal: &Value,
    scope: Scope,
) -> bool {
    let found = values(object, path, scope, true);
    if literal.is_null() {
        // `eq null` asks for an unassigned attribute (RFC 7643 §2.5: null is unassigned).
        return op == CompareOp::Eq && found.iter().all(|v| is_empty(v));
    }
    let def = leaf(path, scope);
    found.into_iter().any(|v| compare(v, op, literal, def))
}

fn instant(text: &str) -> Option<DateTime<FixedOffset>> {
    DateTime::parse_from_rfc3339(text).ok()
}

fn ordered(ordering: Option<Ordering>, op: CompareOp) -> bool {
    let Some(o) = ordering else { return false };
    match op {
        CompareOp::Eq => o == Ordering::Equal,
        CompareOp::Ne => o != Ordering::Equal,
        CompareOp::Gt => o == Ordering::Greater,
        CompareOp::Ge => o != Ordering::Less,
        CompareOp::Lt => o == Ordering::Less,
        CompareOp::Le => o != Ordering::Greater,
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    }
}

/// One value against the literal. Strings fold case unless the attribute is caseExact
/// (unknown attributes are not: RFC 7643 §2.2's default).
fn compare(actual: &Value, op: CompareOp, literal: &Value, def: Option<&AttributeDef>) -> bool {
    match (actual, literal) {
        (Value::String(a), Value::String(b)) => {
            let is_datetime = def.is_some_and(|d| d.ty == AttrType::DateTime);
            if is_datetime && !matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew) {
                if let (Some(x), Some(y)) = (instant(a), instant(b)) {
                    return ordered(Some(x.cmp(&y)), op);
                }
            }
            if def.is_some_and(|d| d.ty == AttrType::Boolean) && op.is_ordering() {
                return false;
            }
            let case_exact = def.is_some_and(|d| d.case_exact);
            let (a, b) = if case_exact {
                (a.clone(), b.clone())
            } else {
                (a.to_lowercase(), b.to_lowercase())
            };
            match op {
                CompareOp::Co => a.contains(&b),
                CompareOp::Sw => a.starts_with(&b),
                CompareOp::Ew => a.ends_with(&b),
                _ => ordered(Some(a.cmp(&b)), op),
            }
        }
        (Value::Number(a), Value::Number(b)) => ordered(
            a.as_f64()
                .zip(b.as_f64())
                .and_then(|(x, y)| x.partial_cmp(&y)),
            op,
        ),
        (Value::Bool(a), Value::Bool(b)) => op == CompareOp::Eq && a == b,
        // Entra ID writes `roles[primary eq "True"]`: a boolean attribute against a string.
        (Value::Bool(a), Value::String(b)) if def.is_some_and(|d| d.ty == AttrType::Boolean) => {
            op == CompareOp::Eq && b.eq_ignore_ascii_case(if *a { "true" } else { "false" })
        }
        _ => false,
    }
}

fn validate(filter: &Filter, scope: Scope) -> Result<(), ScimError> {
    match filter {
        Filter::And(a, b) | Filter::Or(a, b) => {
            validate(a, scope)?;
            validate(b, scope)
        }
        Filter::Not(a) => validate(a, scope),
        Filter::Present(_) => Ok(()),
        Filter::Compare { path, op, value } => {
            if !op.is_ordering() {
                return Ok(());
            }
            let name = display(path);
            if matches!(value, Value::Bool(_) | Value::Null) {
                return Err(ScimError::invalid_filter(format!(
                    "The filter orders `{name}` with `{}` against a boolean or null, which have no order.",
                    op.as_str()
                )));
            }
            if leaf(path, scope).is_some_and(|d| d.ty == AttrType::Boolean) {
                return Err(ScimError::invalid_filter(format!(
                    "The filter orders `{name}` with `{}`, but it is a boolean attribute.",
                    op.as_str()
                )));
            }
            Ok(())
        }
        Filter::ValuePath { attr, filter, then } => {
            let element = Scope::Element(leaf_parent(attr, scope));
            validate(filter, element)?;
            then.as_ref().map_or(Ok(()), |t| validate(t, element))
        }
    }
}

fn display(path: &AttrPath) -> String {
    match &path.sub {
        Some(sub) => format!("{}.{sub}", path.name),
        None => path.name.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn user() -> Value {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "id": "2819c223-7f76-453a-919d-413861904646",
            "externalId": "BJensen-Ext",
            "userName": "bjensen@Example.com",
            "name": {"givenName": "Barbara", "familyName": "Jensen", "formatted": ""},
            "displayName": "Babs Jensen",
            "emails": [
                {"value": "bjensen@example.com", "type": "work", "primary": true},
                {"value": "babs@jensen.org", "type": "home"}
            ],
            "active": true,
            "meta": {
                "resourceType": "User",
                "created": "2024-01-23T04:56:22Z",
                "lastModified": "2024-05-13T04:42:34+02:00",
                "version": "W/\"a330bc54f0671c9\""
            }
        })
    }

    fn check(filter: &str, expected: bool) {
        let parsed = Filter::parse(filter).unwrap_or_else(|e| panic!("{filter}: {e}"));
        assert_eq!(
            parsed.matches(&user(), ResourceType::User),
            expected,
            "{filter}"
        );
    }

    #[test]
    fn case_follows_the_schema() {
        check(r#"userName eq "BJENSEN@example.COM""#, true);
        check(r#"USERNAME eq "bjensen@example.com""#, true);
        check(r#"displayName eq "babs jensen""#, true);
        check(r#"emails.value eq "BJensen@Example.com""#, true);
        check(r#"id eq "2819C223-7F76-453A-919D-413861904646""#, false);
        check(r#"id eq "2819c223-7f76-453a-919d-413861904646""#, true);
        check(r#"externalId eq "bjensen-ext""#, false);
        check(r#"externalId eq "BJensen-Ext""#, true);
        check(r#"meta.version eq "w/\"A330BC54F0671C9\"""#, false);
        check(r#"meta.version eq "W/\"a330bc54f0671c9\"""#, true);
        check(r#"name.GIVENNAME eq "barbara""#, true);
        check(
            r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "BJ""#,
            true,
        );
        check(
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:userName sw "bj""#,
            false,
        );
    }

    #[test]
    fn string_operators() {
        check(r#"userName co "EXAMPLE""#, true);
        check(r#"userName sw "bjen""#, true);
        check(r#"userName ew ".com""#, true);
        check(r#"userName ew ".org""#, false);
        check(r#"userName ne "x""#, true);
        check(r#"userName ne "BJENSEN@example.com""#, false);
        check(r#"userName gt "a""#, true);
        check(r#"userName lt "a""#, false);
        check(r#"userName ge "BJENSEN@EXAMPLE.COM""#, true);
        check(r#"userName le "bjensen@example.com""#, true);
        check(r#"externalId gt "a""#, false);
        check(r#"title eq "x""#, false);
        check(r#"title ne "x""#, true);
    }

    #[test]
    fn multi_valued_attributes_match_if_any_value_does() {
        check(r#"emails co "jensen.org""#, true);
        check(r#"emails eq "bjensen@example.com""#, true);
        check(r#"emails.type eq "home""#, true);
        check(r#"emails.type eq "other""#, false);
        check(
            r#"emails[type eq "work" and value co "@example.com"]"#,
            true,
        );
        check(
            r#"emails[type eq "home" and value co "@example.com"]"#,
            false,
        );
        check(r#"emails[TYPE eq "WORK"]"#, true);
        check(r#"emails[primary eq true].value ew "example.com""#, true);
        check(r#"emails[type eq "home"].value ew "example.com""#, false);
        check(r#"emails[type eq "home"].primary pr"#, false);
        check(r#"emails[not (type eq "work")]"#, true);
        check(r#"emails ne "babs@jensen.org""#, false);
    }

    #[test]
    fn presence_and_null() {
        check("userName pr", true);
        check("title pr", false);
        check("name.formatted pr", false);
        check("name.givenName pr", true);
        check("emails pr", true);
        check("password pr", false);
        check("title eq null", true);
        check("userName eq null", false);
        check("name.formatted eq null", true);
    }

    #[test]
    fn booleans_and_logic() {
        check("active eq true", true);
        check("active eq false", false);
        check("active ne false", true);
        check(r#"active eq "True""#, true);
        check(r#"active eq "false""#, false);
        check(r#"emails[primary eq "True"].type eq "work""#, true);
        check(r#"title eq true"#, false);
        check(r#"userName pr and active eq false"#, false);
        check(r#"userName pr and not (active eq false)"#, true);
        check(r#"title pr or active eq true"#, true);
        check(r#"title pr or active eq true and userName eq "x""#, false);
        check(
            r#"(title pr or active eq true) and not (userName eq "x")"#,
            true,
        );
    }

    #[test]
    fn date_times_compare_as_instants() {
        // 2024-05-13T04:42:34+02:00 is 02:42:34Z: later than 02:00Z, earlier than 03:00Z,
        // although "04:42" sorts after "03:00" as text.
        check(r#"meta.lastModified gt "2024-05-13T02:00:00Z""#, true);
        check(r#"meta.lastModified lt "2024-05-13T03:00:00Z""#, true);
        check(r#"meta.lastModified eq "2024-05-13T02:42:34Z""#, true);
        check(r#"meta.lastModified ge "2024-05-13T02:42:34.000Z""#, true);
        check(r#"meta.lastModified le "2024-05-13T02:42:33Z""#, false);
        check(r#"meta.created lt "2024-01-23T04:56:22.5Z""#, true);
    }

    #[test]
    fn numbers_compare_numerically() {
        let resource = json!({"n": 10, "list": [1, 20]});
        let check_n = |filter: &str, expected: bool| {
            let parsed = Filter::parse(filter).unwrap_or_else(|e| panic!("{filter}: {e}"));
            assert_eq!(
                parsed.matches(&resource, ResourceType::User),
                expected,
                "{filter}"
            );
        };
        check_n("n gt 9", true);
        check_n("n gt 10", false);
        check_n("n eq 10.0", true);
        check_n("n lt 9.5", false);
        check_n("list gt 15", true);
        check_n("list lt 1", false);
    }

    #[test]
    fn ordering_booleans_is_an_invalid_filter() {
        let invalid = |filter: &str| {
            let parsed = Filter::parse(filter).unwrap_or_else(|e| panic!("{filter}: {e}"));
            parsed
                .validate(ResourceType::User)
                .err()
                .map(|e| e.scim_type)
        };
        let bad = Some(Some(crate::ScimType::InvalidFilter));
        assert_eq!(invalid("active gt true"), bad);
        assert_eq!(invalid(r#"active gt "a""#), bad);
        assert_eq!(invalid(r#"emails[primary ge "x"]"#), bad);
        assert_eq!(invalid("title lt null"), bad);
        assert_eq!(invalid("active eq true"), None);
        assert_eq!(invalid(r#"userName gt "a" and active eq false"#), None);
        let parsed = Filter::parse(r#"active gt "a""#).ok();
        assert_eq!(
            parsed.map(|f| f.matches(&user(), ResourceType::User)),
            Some(false)
        );
    }
}
