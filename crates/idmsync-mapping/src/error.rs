//! `ParseError`: why an expression was refused, and where.

/// Why an expression was refused: the 1-based character (column) where the problem is, and a
/// sentence in the operator's words. Its `Display` is `at character 7: expected `)``; the
/// caller names the configuration key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at character {position}: {message}")]
pub struct ParseError {
    /// The 1-based character (not byte) the problem starts at; one past the last character
    /// when the expression ended too early.
    pub position: usize,
    /// What is wrong, e.g. ``unknown function `lowr`; the functions are lower, …``.
    pub message: String,
}

impl ParseError {
    /// An error at `position` (1-based, in characters).
    pub(crate) fn new(position: usize, message: impl Into<String>) -> ParseError {
        ParseError {
            position,
            message: message.into(),
        }
    }
}
