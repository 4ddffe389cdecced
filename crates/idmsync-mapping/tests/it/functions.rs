//! Every function and literal evaluated on one entry: what the field gets.

use crate::{parse, user};

fn check(cases: &[(&str, Option<&str>)]) {
    let entry = user();
    for (expression, expected) in cases {
        let got = parse(expression).eval(&entry);
        assert_eq!(got.as_deref(), *expected, "{expression}");
    }
}

#[test]
fn attributes_and_constants() {
    check(&[
        ("sAMAccountName", Some("JDoe")),
        // The entry, not the language, decides how names compare.
        ("samaccountname", Some("JDoe")),
        ("mail", None),
        ("empty", None),
        ("employee-number", Some("00042")),
        // The first non-empty value is the field's.
        ("proxyAddresses", Some("SMTP:John.Doe@Example.com")),
        ("cn", Some("Ärger")),
        (r#""constant""#, Some("constant")),
        (r#""""#, None),
        (r#""a\"b\\c\d""#, Some(r#"a"b\c\d"#)),
        ("  \t sAMAccountName \n", Some("JDoe")),
    ]);
}

#[test]
fn case_and_whitespace() {
    check(&[
        ("lower(sAMAccountName)", Some("jdoe")),
        ("upper(sAMAccountName)", Some("JDOE")),
        ("upper(cn)", Some("ÄRGER")),
        (r#"lower("ÄB")"#, Some("äb")),
        ("trim(givenName)", Some("John")),
        ("givenName", Some("  John  ")),
        ("lower(mail)", None),
        (" lower ( trim ( givenName ) ) ", Some("john")),
    ]);
}

#[test]
fn first() {
    check(&[
        ("first(cn)", Some("Ärger")),
        // Only the first value, even when it is empty.
        ("first(proxyAddresses)", None),
        (r#"regex_capture(cn, "^s(.*)")"#, Some("econd")),
        (r#"regex_capture(first(cn), "^s(.*)")"#, None),
        ("first(mail)", None),
    ]);
}

#[test]
fn default() {
    check(&[
        ("default(mail, userPrincipalName)", Some("jdoe@old.example")),
        ("default(empty, sAMAccountName)", Some("JDoe")),
        ("default(mail, empty)", None),
        (
            r#"default(mail, "none@example.com")"#,
            Some("none@example.com"),
        ),
        // The first argument with any non-empty value gives all its values.
        (
            "default(proxyAddresses, sAMAccountName)",
            Some("SMTP:John.Doe@Example.com"),
        ),
        (
            "default(mail, empty, lower(sAMAccountName), cn)",
            Some("jdoe"),
        ),
        ("default(first(proxyAddresses), cn)", Some("Ärger")),
    ]);
}

#[test]
fn regex_capture() {
    check(&[
        (
            r#"regex_capture(proxyAddresses, "^SMTP:(.+)$")"#,
            Some("John.Doe@Example.com"),
        ),
        (
            r#"regex_capture(proxyAddresses, "(?i)^smtp:([^@]+)@", 1)"#,
            Some("John.Doe"),
        ),
        (
            r#"regex_capture(userPrincipalName, "^([^@]+)@(.+)$", 2)"#,
            Some("old.example"),
        ),
        (
            r#"regex_capture(userPrincipalName, "@.*", 0)"#,
            Some("@old.example"),
        ),
        (r#"regex_capture(employee-number, "^0*(\d+)$")"#, Some("42")),
        // No match, or a group that took no part in the match: nothing.
        (r#"regex_capture(sAMAccountName, "^(\d+)$")"#, None),
        (r#"regex_capture(userPrincipalName, "^(x)?jdoe", 1)"#, None),
        (r#"regex_capture(mail, "(.*)")"#, None),
    ]);
}

#[test]
fn regex_replace() {
    check(&[
        // As the configuration example writes it (`\"@old\\.example$\"` in TOML) and with the
        // backslash escaped once more: both are the regex `@old\.example$`.
        (
            r#"regex_replace(userPrincipalName, "@old\.example$", "@new.example")"#,
            Some("jdoe@new.example"),
        ),
        (
            r#"regex_replace(userPrincipalName, "@old\\.example$", "@new.example")"#,
            Some("jdoe@new.example"),
        ),
        (
            r#"regex_replace(userPrincipalName, "^(\w+)@(.*)$", "$2/$1")"#,
            Some("old.example/jdoe"),
        ),
        (
            r#"regex_replace(userPrincipalName, "^(\w+)@.*$", "${1}x")"#,
            Some("jdoex"),
        ),
        (
            r#"regex_replace(userPrincipalName, "^(?P<user>\w+)@.*$", "$user")"#,
            Some("jdoe"),
        ),
        (r#"regex_replace(sAMAccountName, "z", "y")"#, Some("JDoe")),
        // `$$` is a dollar, and a `$` that starts no reference stays as written.
        (
            r#"regex_replace(sAMAccountName, "^", "$$0 $ ${ $-")"#,
            Some("$0 $ ${ $-JDoe"),
        ),
        (
            r#"regex_replace(sAMAccountName, "D", "$0$0")"#,
            Some("JDDoe"),
        ),
        (r#"regex_replace(cn, "[eo]", "")"#, Some("Ärgr")),
        (r#"regex_replace(sAMAccountName, ".*", "")"#, None),
    ]);
}

#[test]
fn rdn() {
    check(&[
        ("rdn(distinguishedName)", Some("Doe, John")),
        // Values that are not DNs are dropped.
        ("rdn(memberOf)", Some("Admins")),
        ("rdn(sAMAccountName)", None),
        ("lower(rdn(memberOf))", Some("admins")),
    ]);
}

#[test]
fn nesting() {
    check(&[
        ("lower(trim(first(default(mail, givenName))))", Some("john")),
        (
            r#"upper(regex_capture(lower(rdn(distinguishedName)), "^(\w+)"))"#,
            Some("DOE"),
        ),
        (
            r#"default(regex_capture(mail, "(.*)"), regex_replace(lower(sAMAccountName), "$", "@example.com"))"#,
            Some("jdoe@example.com"),
        ),
    ]);
}
