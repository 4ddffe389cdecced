//! The one integration-test binary of `idmsync-mapping`: every function, every parse error and
//! its position, the attributes an expression reads, the limits and the RDN decoder, table-driven
//! through the public API; and a property that parsing never panics.

mod attributes;
mod errors;
mod functions;
mod limits;
mod never_panics;
mod rdn;

use idmsync_mapping::{Attributes, Expression, ParseError};

/// A source entry as a list of attributes, names compared ignoring ASCII case as an LDAP entry
/// does.
pub struct Entry(pub Vec<(&'static str, Vec<&'static str>)>);

impl Attributes for Entry {
    fn values(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .flat_map(|(_, values)| values.iter().copied())
            .collect()
    }
}

/// The entry most tests read: an Active Directory user.
pub fn user() -> Entry {
    Entry(vec![
        ("sAMAccountName", vec!["JDoe"]),
        ("userPrincipalName", vec!["jdoe@old.example"]),
        ("givenName", vec!["  John  "]),
        ("cn", vec!["Ärger", "second"]),
        (
            "proxyAddresses",
            vec!["", "SMTP:John.Doe@Example.com", "smtp:jd@example.com"],
        ),
        (
            "distinguishedName",
            vec![r"CN=Doe\, John,OU=People,DC=example,DC=com"],
        ),
        (
            "memberOf",
            vec!["not a dn", "CN=Admins,OU=Groups,DC=example"],
        ),
        ("empty", vec![""]),
        ("employee-number", vec!["00042"]),
    ])
}

/// Parses `expression`, failing the test with the parse error if it is refused.
pub fn parse(expression: &str) -> Expression {
    Expression::parse(expression).unwrap_or_else(|e| panic!("{expression:?} was refused: {e}"))
}

/// The error `expression` is refused with, failing the test if it is accepted.
pub fn refused(expression: &str) -> ParseError {
    match Expression::parse(expression) {
        Ok(parsed) => panic!("{expression:?} was accepted: {parsed:?}"),
        Err(error) => error,
    }
}
