//! Evaluation: a checked syntax tree and an entry ([`Attributes`]) in, the list of values out.
//! Total: a value a function cannot use is dropped, never an error.

use std::borrow::Cow;

use crate::rdn::first_rdn_value;
use crate::syntax::{Map, Node};

/// The entry an expression reads: a source's user or group as attribute name to values.
///
/// Implementors decide how names match. LDAP attribute names are case-insensitive
/// (`sAMAccountName` and `samaccountname` are one attribute), so an LDAP entry should compare
/// them ignoring ASCII case; the expression passes names exactly as the operator wrote them.
pub trait Attributes {
    /// Every value of the attribute `name`, in the source's order; empty when the entry does
    /// not have it.
    fn values(&self, name: &str) -> Vec<&str>;
}

/// Every value `node` yields for `entry`, in order, empty ones included (the caller picks the
/// first non-empty one). Attribute values and constants are borrowed, not copied.
pub fn values<'a>(node: &'a Node, entry: &'a impl Attributes) -> Vec<Cow<'a, str>> {
    match node {
        Node::Attribute(name) => entry.values(name).into_iter().map(Cow::Borrowed).collect(),
        Node::Literal(text) => vec![Cow::Borrowed(text.as_str())],
        Node::First(input) => values(input, entry).into_iter().take(1).collect(),
        Node::Map(map, input) => {
            let input = values(input, entry);
            match map {
                Map::Lower => each(input, |v| Some(v.to_lowercase())),
                Map::Upper => each(input, |v| Some(v.to_uppercase())),
                Map::Trim => each(input, |v| Some(v.trim().to_string())),
                Map::Rdn => each(input, first_rdn_value),
            }
        }
        Node::Default(arguments) => arguments
            .iter()
            .map(|argument| values(argument, entry))
            .find(|values| values.iter().any(|value| !value.is_empty()))
            .unwrap_or_default(),
        Node::Capture {
            input,
            regex,
            group,
        } => each(values(input, entry), |v| {
            let captures = regex.captures(v)?;
            captures.get(*group).map(|m| m.as_str().to_string())
        }),
        Node::Replace {
            input,
            regex,
            replacement,
        } => each(values(input, entry), |v| {
            Some(regex.replace_all(v, replacement.as_str()).into_owned())
        }),
    }
}

/// `f` applied to each value, the values it gives `None` for dropped.
fn each<'a>(values: Vec<Cow<'a, str>>, f: impl Fn(&str) -> Option<String>) -> Vec<Cow<'a, str>> {
    values
        .iter()
        .filter_map(|value| f(value))
        .map(Cow::Owned)
        .collect()
}
