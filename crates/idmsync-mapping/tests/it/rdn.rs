//! `rdn(x)`: the first RDN's value of a DN, RFC 4514 escapes decoded; anything else dropped.

use crate::{parse, Entry};

/// What `rdn(dn)` gives for an entry whose `dn` attribute is `value`.
fn rdn(value: &'static str) -> Option<String> {
    parse("rdn(dn)").eval(&Entry(vec![("dn", vec![value])]))
}

#[test]
fn values_and_escapes() {
    for (dn, expected) in [
        (r"CN=Doe\, John,OU=People,DC=example", "Doe, John"),
        ("cn=jdoe", "jdoe"),
        (r"uid=a\+b+cn=x,dc=example", "a+b"),
        (r#"cn=\"quoted\""#, r#""quoted""#),
        (r"cn=back\\slash", r"back\slash"),
        (r"cn=\<tag\>", "<tag>"),
        (r"cn=semi\;colon", "semi;colon"),
        (r"cn=a\=b", "a=b"),
        ("cn=a=b", "a=b"),
        (r"cn=\#hash", "#hash"),
        (r"cn=Ren\C3\A9,dc=example", "René"),
        (r"cn=Ren\c3\a9", "René"),
        (r"cn=\2C", ","),
        ("cn=René", "René"),
        (r"cn=\ padded\ ", " padded "),
        ("cn=  padded  ,dc=example", "padded"),
        ("CN = Doe , OU = People", "Doe"),
        ("2.5.4.3=oid,dc=example", "oid"),
        ("cn=a;dc=example", "a"),
        ("sAMAccountName=x-1", "x-1"),
    ] {
        assert_eq!(rdn(dn).as_deref(), Some(expected), "{dn}");
    }
}

#[test]
fn not_dns_give_nothing() {
    for value in [
        "not a dn",
        "",
        "cn=",
        "cn=a,",
        "cn=a,,dc=example",
        "cn=a,not a dn",
        "=a",
        "c n=a",
        "1cn=a",
        "2..5=a",
        r#"cn=a"b"#,
        "cn=a<b",
        "cn=a>b",
        r"cn=\ZZ",
        r"cn=\C3",
        r"cn=\",
        r"cn=\4",
        "cn=#04024869",
    ] {
        assert_eq!(rdn(value), None, "{value}");
    }
}
