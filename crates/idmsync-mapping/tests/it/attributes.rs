//! `Expression::attributes`: what a directory search must ask for.

use crate::parse;

#[test]
fn attributes_each_once_in_order() {
    for (expression, expected) in [
        ("mail", &["mail"][..]),
        (r#""constant""#, &[]),
        (
            "default(mail, userPrincipalName, mail)",
            &["mail", "userPrincipalName"],
        ),
        (r#"lower(regex_replace(first(mail), "a", "b"))"#, &["mail"]),
        (
            r#"default(lower(uid), regex_capture(cn, "(a)"), rdn(distinguishedName), "c", uid)"#,
            &["uid", "cn", "distinguishedName"],
        ),
        ("employee-number", &["employee-number"]),
        ("userCertificate;binary", &["userCertificate;binary"]),
        ("upper(2.5.4.3)", &["2.5.4.3"]),
        // Names are kept as written; the search decides whether case matters.
        ("default(mail, Mail)", &["mail", "Mail"]),
    ] {
        assert_eq!(parse(expression).attributes(), expected, "{expression}");
    }
}
