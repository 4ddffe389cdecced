//! The limits that keep an expression small: its length, its nesting, its regexes' size.

use idmsync_mapping::{MAX_DEPTH, MAX_LENGTH};

use crate::{parse, refused};

/// `depth` calls of `lower` around `mail`.
fn nested(depth: usize) -> String {
    format!("{}mail{}", "lower(".repeat(depth), ")".repeat(depth))
}

#[test]
fn length_counts_characters() {
    assert_eq!(MAX_LENGTH, 1000);
    parse(&"a".repeat(MAX_LENGTH));
    // 1,000 characters, nearly 2,000 bytes.
    parse(&format!("\"{}\"", "é".repeat(MAX_LENGTH - 2)));
    for text in ["a".repeat(MAX_LENGTH + 1), nested(5000)] {
        let error = refused(&text);
        assert_eq!(error.position, MAX_LENGTH + 1);
        assert_eq!(
            error.message,
            format!(
                "the expression is {} characters long; the most is 1000",
                text.chars().count()
            )
        );
    }
}

#[test]
fn nesting_depth() {
    assert_eq!(MAX_DEPTH, 16);
    assert_eq!(parse(&nested(MAX_DEPTH)).attributes(), ["mail"]);
    let error = refused(&nested(MAX_DEPTH + 1));
    assert_eq!(error.position, 1 + MAX_DEPTH * "lower(".len());
    assert_eq!(error.message, "function calls nest more than 16 deep");
    // Arguments of `default` nest like any other call: `default(x, ` is 11 characters, and the
    // sixteenth `lower` in it is the seventeenth call.
    let deep = format!("default(x, {})", nested(MAX_DEPTH));
    assert_eq!(refused(&deep).position, 12 + 15 * 6);
}

#[test]
fn regexes_have_a_size_limit() {
    // Unicode `\w` repeated: a pattern of a few characters that would compile to megabytes.
    let error = refused(r#"regex_capture(mail, "(\w{500}\w{500}\w{500})")"#);
    assert_eq!(error.position, 21);
    assert!(
        error
            .message
            .starts_with("invalid regular expression: it would take more than 1048576 bytes"),
        "{error}"
    );
}
