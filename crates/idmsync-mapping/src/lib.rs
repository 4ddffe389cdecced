//! Attribute mapping expressions: how a target field (login, first name, e-mail, group id, …) is
//! computed from a source entry's attributes, e.g. `lower(sAMAccountName)`,
//! `default(mail, userPrincipalName)` or `rdn(distinguishedName)`.
//!
//! # Design
//! An expression is written by an operator in the configuration, so it is parsed and checked
//! once, when the configuration loads ([`Expression::parse`]), with errors that point at a
//! character and say what is wrong in the operator's words. Evaluating it on an entry
//! ([`Expression::eval`]) cannot fail: a value a function cannot use (a value that is not a DN
//! for `rdn`, one a regex does not match for `regex_capture`) is dropped, and a field with no
//! value left is `None`, for the caller to treat like a missing attribute.
//!
//! The language can only read the entry it is given: there is no function that reaches a file,
//! the network, the environment or code, and the crate performs no I/O. Nothing in it can blow
//! up on hostile input: an expression is at most [`MAX_LENGTH`] characters and [`MAX_DEPTH`]
//! calls deep, regexes are compiled at parse time with a size limit by the `regex` crate, whose
//! matching takes time linear in the value (no backtracking).
//!
//! # Grammar
//! ```text
//! expression := value
//! value      := attribute | string | call
//! attribute  := one or more of ASCII letters, digits, `-`, `_`, `.`, `;`   (mail, employee-number)
//! string     := `"` characters `"`      (`\"` is a quote, `\\` a backslash, any other `\c` stays
//!                                        as written, so that `"\d+"` is a regex for digits)
//! call       := function `(` argument (`,` argument)* `)`
//! argument   := value | integer          (an integer only as regex_capture's group)
//! ```
//! Whitespace may surround every token. Every value is a list (attributes are multi-valued; a
//! string is a list of one); functions apply to each value unless said otherwise:
//!
//! | function | result |
//! |---|---|
//! | `lower(x)`, `upper(x)`, `trim(x)` | each value lowercased, uppercased (Unicode), trimmed of whitespace |
//! | `first(x)` | only the first value of `x` |
//! | `default(a, b, …)` | the values of the first argument that has a non-empty value (two or more arguments) |
//! | `regex_capture(x, "pattern")`, `regex_capture(x, "pattern", n)` | group `n` (1 unless given; 0 is the whole match) of each value that matches; values that do not match are dropped |
//! | `regex_replace(x, "pattern", "replacement")` | each value with every match replaced; `$1` or `${1}` (`${1}` when letters follow) and `$name` refer to groups, which must exist; `$$` is a dollar |
//! | `rdn(x)` | the value of the first RDN of each value read as a DN (RFC 4514): `CN=Doe\, John,OU=People` gives `Doe, John`; values that are not DNs are dropped |
//!
//! Patterns and replacements are string literals, so that they are compiled and checked when the
//! configuration loads. Function names are lowercase and case-sensitive; attribute names are
//! passed to [`Attributes::values`] as written.
//!
//! In a TOML file, a single-quoted (literal) string keeps the expression as written:
//! `email = 'regex_replace(mail, "@old\.example$", "@new.example")'`; in a double-quoted one
//! every `"` and `\` of the expression is escaped once more for TOML.
//!
//! ```
//! use idmsync_mapping::{Attributes, Expression};
//!
//! struct Entry;
//! impl Attributes for Entry {
//!     fn values(&self, name: &str) -> Vec<&str> {
//!         match name.to_ascii_lowercase().as_str() {
//!             "samaccountname" => vec!["JDoe"],
//!             "userprincipalname" => vec!["jdoe@example.com"],
//!             _ => Vec::new(),
//!         }
//!     }
//! }
//!
//! let login = Expression::parse("lower(sAMAccountName)").unwrap();
//! assert_eq!(login.eval(&Entry).as_deref(), Some("jdoe"));
//! let email = Expression::parse("default(mail, userPrincipalName)").unwrap();
//! assert_eq!(email.attributes(), ["mail", "userPrincipalName"]);
//! assert_eq!(email.eval(&Entry).as_deref(), Some("jdoe@example.com"));
//!
//! let error = Expression::parse("lowr(mail)").unwrap_err();
//! assert_eq!(error.position, 1);
//! assert!(error.to_string().starts_with("at character 1: unknown function `lowr`"));
//! ```

mod error;
mod eval;
mod lexer;
mod parse;
mod rdn;
mod syntax;

pub use error::ParseError;
pub use eval::Attributes;
pub use parse::{MAX_DEPTH, MAX_LENGTH};
pub use rdn::is_attribute_type;

use syntax::Node;

/// A parsed and checked mapping expression, ready to be evaluated on any number of entries.
/// Two expressions are equal when their texts are: what a configuration compares.
#[derive(Debug, Clone)]
pub struct Expression {
    text: String,
    root: Node,
}

impl PartialEq for Expression {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Eq for Expression {}

impl std::fmt::Display for Expression {
    /// The expression as it was written.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// Read from a configuration as its text, parsed there and then: a mistake is reported with
/// the key (and file) that held the expression, and a configuration that loaded holds only
/// valid expressions.
impl<'de> serde::Deserialize<'de> for Expression {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Expression::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl Expression {
    /// Parses and checks `text`: syntax, function names and their number of arguments,
    /// regexes (compiled here, with a size limit), the length and nesting limits.
    ///
    /// # Errors
    /// A [`ParseError`] with the 1-based character where the problem is and a sentence for the
    /// operator; the caller adds which configuration key held the expression.
    pub fn parse(text: &str) -> Result<Expression, ParseError> {
        parse::expression(text).map(|root| Expression {
            text: text.to_string(),
            root,
        })
    }

    /// The attribute names the expression reads, each once, in the order they first appear, so
    /// that a directory search can ask for exactly those.
    pub fn attributes(&self) -> Vec<&str> {
        let mut names = Vec::new();
        self.root.attributes(&mut names);
        names
    }

    /// The field's value for `entry`: the first non-empty value the expression yields, or
    /// `None` when it yields none (missing attributes, no match, no DN).
    pub fn eval(&self, entry: &impl Attributes) -> Option<String> {
        eval::values(&self.root, entry)
            .into_iter()
            .find(|value| !value.is_empty())
            .map(|value| value.into_owned())
    }
}
