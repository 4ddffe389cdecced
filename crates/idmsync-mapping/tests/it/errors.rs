//! Every parse error: the character it points at and its words.

use crate::refused;

/// Parses each expression, expecting an error at `position` whose message starts with
/// `message`.
fn check(cases: &[(&str, usize, &str)]) {
    for (expression, position, message) in cases {
        let error = refused(expression);
        assert_eq!(error.position, *position, "{expression:?}: {error}");
        assert!(
            error.message.starts_with(message),
            "{expression:?}: {error}, expected {message:?}"
        );
    }
}

#[test]
fn display_names_the_character() {
    let error = refused("lower(mail");
    assert_eq!(error.to_string(), "at character 11: expected `)`");
}

#[test]
fn unknown_functions() {
    check(&[
        (
            "lowr(mail)",
            1,
            "unknown function `lowr`; the functions are lower, upper, trim, first, default, \
             regex_capture, regex_replace, rdn",
        ),
        (
            "Lower(mail)",
            1,
            "unknown function `Lower`; function names are lowercase: `lower`",
        ),
        ("  upper(lowr(x))", 9, "unknown function `lowr`"),
        ("mail(x)", 1, "unknown function `mail`"),
    ]);
}

#[test]
fn argument_counts() {
    check(&[
        (
            "regex_capture(mail)",
            1,
            "regex_capture takes 2 or 3 arguments, got 1",
        ),
        (
            r#"regex_capture(mail, "(a)", 1, 2)"#,
            1,
            "regex_capture takes 2 or 3 arguments, got 4",
        ),
        ("lower(mail, uid)", 1, "lower takes 1 argument, got 2"),
        ("upper()", 1, "upper takes 1 argument, got 0"),
        ("trim( )", 1, "trim takes 1 argument, got 0"),
        ("lower(first())", 7, "first takes 1 argument, got 0"),
        ("rdn(a, b)", 1, "rdn takes 1 argument, got 2"),
        (
            "default(mail)",
            1,
            "default takes 2 or more arguments, got 1",
        ),
        (
            r#"regex_replace(mail, "a")"#,
            1,
            "regex_replace takes 3 arguments, got 2",
        ),
    ]);
}

#[test]
fn syntax() {
    check(&[
        (
            "",
            1,
            "expected an attribute, a string or a function call, got the end of the expression",
        ),
        (
            "   ",
            4,
            "expected an attribute, a string or a function call, got the end",
        ),
        (
            "lower(,)",
            7,
            "expected an attribute, a string or a function call, got `,`",
        ),
        (
            "(mail)",
            1,
            "expected an attribute, a string or a function call, got `(`",
        ),
        (r#"lower("abc"#, 7, "unterminated string"),
        (r#""abc\""#, 1, "unterminated string"),
        ("lower(mail", 11, "expected `)`"),
        (
            "default(mail,",
            14,
            "expected an attribute, a string or a function call, got the end",
        ),
        ("lower(mail uid)", 12, "expected `,` or `)`, got `uid`"),
        (
            r#"lower(mail "x")"#,
            12,
            "expected `,` or `)`, got a string",
        ),
        (
            "mail uid",
            6,
            "expected the end of the expression, got `uid`",
        ),
        (
            "lower(mail))",
            12,
            "expected the end of the expression, got `)`",
        ),
        ("mail@example", 5, "unexpected character `@`"),
        ("lower(mäil)", 8, "unexpected character `\\u{e4}`"),
        (
            "42",
            1,
            "`42` is a number, not an attribute, a string or a function call",
        ),
        ("lower(1)", 7, "`1` is a number"),
        // Positions count characters, not bytes.
        (r#"lower("é" x)"#, 11, "expected `,` or `)`, got `x`"),
    ]);
}

#[test]
fn regex_arguments() {
    check(&[
        (
            r#"regex_capture(mail, "(")"#,
            21,
            "invalid regular expression: unclosed group",
        ),
        (
            r#"regex_replace(mail, "a{2,1}", "b")"#,
            21,
            "invalid regular expression: invalid repetition count range",
        ),
        (
            "regex_capture(mail, uid)",
            21,
            "the pattern of regex_capture must be a string in double quotes",
        ),
        (
            r#"regex_replace(mail, lower("a"), "b")"#,
            21,
            "the pattern of regex_replace must be a string in double quotes",
        ),
        (
            r#"regex_replace(mail, "a", uid)"#,
            26,
            "the replacement of regex_replace must be a string in double quotes",
        ),
        (
            r#"regex_capture(mail, "a")"#,
            21,
            "the pattern has no group: put the part to keep in parentheses",
        ),
        (
            r#"regex_capture(mail, "a", 1)"#,
            26,
            "the pattern has no group, so there is no group 1",
        ),
        (
            r#"regex_capture(mail, "(a)", 2)"#,
            28,
            "the pattern has 1 group, so there is no group 2",
        ),
        (
            r#"regex_capture(mail, "(a)(b)", 3)"#,
            31,
            "the pattern has 2 groups, so there is no group 3",
        ),
        (
            r#"regex_capture(mail, "(a)", 99999999999999999999999)"#,
            28,
            "the pattern has 1 group, so there is no group 99999999999999999999999",
        ),
        (
            r#"regex_replace(mail, "(a)", "$2")"#,
            28,
            "the replacement refers to the group `2`, which the pattern does not have",
        ),
        (
            r#"regex_replace(mail, "(?P<user>a)", "${usr}")"#,
            36,
            "the replacement refers to the group `usr`, which the pattern does not have",
        ),
        (
            r#"regex_replace(mail, "(a)", "$1x")"#,
            28,
            "the replacement refers to the group `1x`, which the pattern does not have; for \
             group 1 followed by `x`, write `${1}x`",
        ),
        (
            r#"regex_capture(mail, "(a)", "1")"#,
            28,
            "the group of regex_capture must be a number, like 1",
        ),
        (
            r#"regex_capture(mail, "(a)", uid)"#,
            28,
            "the group of regex_capture must be a number, like 1",
        ),
    ]);
}
