//! Escaping for the two places a login or DN becomes LDAP syntax (search filters and DNs), and
//! the filter parser that checks configured filters. A leaf of the crate, so that the filter
//! builders and the binder escape without reaching into the connection layer.

use std::borrow::Cow;

/// Whether `filter` is an RFC 4515 search filter, as the search would send it.
pub(crate) fn is_valid_filter(filter: &str) -> bool {
    ldap3::parse_filter(filter).is_ok()
}

/// `value` escaped for an assertion value in a search filter (RFC 4515: `*`, `(`, `)`, `\` and
/// NUL as `\xx`), so that a login like `*)(uid=*` matches itself and nothing else.
pub(crate) fn filter_value(value: &str) -> Cow<'_, str> {
    ldap3::ldap_escape(value)
}

/// `value` escaped for an attribute value in a DN (RFC 4514: `,`, `+`, `=`, `"`, `\`, `<`, `>`,
/// `;`, NUL, a leading space or `#`, a trailing space), so that a login like `jlennon,ou=x`
/// stays one RDN value.
pub(crate) fn dn_value(value: &str) -> Cow<'_, str> {
    ldap3::dn_escape(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_are_checked_by_the_ldap_parser() {
        assert!(is_valid_filter("(objectClass=inetOrgPerson)"));
        assert!(is_valid_filter(
            "(&(objectClass=person)(modifyTimestamp>=20240101000000Z))"
        ));
        assert!(!is_valid_filter("(&(objectClass=person)"));
        assert!(!is_valid_filter("x={0}("));
    }

    #[test]
    fn values_are_escaped_for_dns_and_filters() {
        for (login, escaped) in [
            ("jlennon", "jlennon"),
            ("jlennon,ou=x", "jlennon\\2cou\\3dx"),
            ("a+cn=b", "a\\2bcn\\3db"),
            (" #lead", "\\20#lead"),
            ("trail ", "trail\\20"),
            ("*", "*"),
        ] {
            assert_eq!(dn_value(login), escaped, "{login}");
        }
        for (login, escaped) in [
            ("jlennon", "jlennon"),
            ("*", "\\2a"),
            ("*)(uid=*", "\\2a\\29\\28uid=\\2a"),
            ("admin)(|(uid=*", "admin\\29\\28|\\28uid=\\2a"),
            ("back\\slash", "back\\5cslash"),
        ] {
            assert_eq!(filter_value(login), escaped, "{login}");
        }
    }
}
