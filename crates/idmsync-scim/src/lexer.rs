//! The tokens of a filter or PATCH path, each with its position for error messages.

use crate::filter::FilterError;

/// A token.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    LParen,
    RParen,
    LBracket,
    RBracket,
    /// An attribute path, an operator, a keyword, `true`/`false`/`null`, a number, or
    /// `.sub` after a `]`.
    Word(String),
    /// A JSON string literal, decoded.
    Str(String),
}

impl Tok {
    /// How an error message shows the token.
    pub(crate) fn describe(&self) -> String {
        match self {
            Tok::LParen => "`(`".into(),
            Tok::RParen => "`)`".into(),
            Tok::LBracket => "`[`".into(),
            Tok::RBracket => "`]`".into(),
            Tok::Word(w) => format!("`{w}`"),
            Tok::Str(_) => "a string".into(),
        }
    }
}

/// A token and the character position (0-based) where it starts.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub tok: Tok,
    pub pos: usize,
}

/// Splits `input` into tokens.
pub(crate) fn lex(input: &str) -> Result<Vec<Token>, FilterError> {
    let chars: Vec<(usize, char)> = input.char_indices().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let (byte, c) = chars[i];
        let simple = match c {
            '(' => Some(Tok::LParen),
            ')' => Some(Tok::RParen),
            '[' => Some(Tok::LBracket),
            ']' => Some(Tok::RBracket),
            _ => None,
        };
        if let Some(tok) = simple {
            tokens.push(Token { tok, pos: i });
            i += 1;
        } else if c.is_whitespace() {
            i += 1;
        } else if c == '"' {
            let start = i;
            let mut escaped = false;
            let mut end = None;
            for (j, &(_, d)) in chars.iter().enumerate().skip(i + 1) {
                if escaped {
                    escaped = false;
                } else if d == '\\' {
                    escaped = true;
                } else if d == '"' {
                    end = Some(j);
                    break;
                }
            }
            let Some(end) = end else {
                return Err(FilterError::new(start, "the string is not terminated"));
            };
            let end_byte = chars[end].0 + 1;
            let text: String = serde_json::from_str(&input[byte..end_byte])
                .map_err(|_| FilterError::new(start, "the string is not a valid JSON string"))?;
            tokens.push(Token {
                tok: Tok::Str(text),
                pos: start,
            });
            i = end + 1;
        } else {
            let start = i;
            while i < chars.len() {
                let d = chars[i].1;
                if d.is_whitespace() || matches!(d, '(' | ')' | '[' | ']' | '"') {
                    break;
                }
                i += 1;
            }
            let end_byte = chars.get(i).map_or(input.len(), |&(b, _)| b);
            tokens.push(Token {
                tok: Tok::Word(input[byte..end_byte].to_string()),
                pos: start,
            });
        }
    }
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: &[(Tok, usize)]) {
        let got = lex(input).map(|t| t.into_iter().map(|t| (t.tok, t.pos)).collect::<Vec<_>>());
        assert_eq!(got.as_deref(), Ok(expected), "{input}");
    }

    fn word(w: &str) -> Tok {
        Tok::Word(w.into())
    }

    #[test]
    fn tokens_and_positions() {
        check(
            r#"userName eq "a\"b""#,
            &[
                (word("userName"), 0),
                (word("eq"), 9),
                (Tok::Str("a\"b".into()), 12),
            ],
        );
        check(
            r#"emails[type eq "w"].value"#,
            &[
                (word("emails"), 0),
                (Tok::LBracket, 6),
                (word("type"), 7),
                (word("eq"), 12),
                (Tok::Str("w".into()), 15),
                (Tok::RBracket, 18),
                (word(".value"), 19),
            ],
        );
        check(
            "(a pr)",
            &[
                (Tok::LParen, 0),
                (word("a"), 1),
                (word("pr"), 3),
                (Tok::RParen, 5),
            ],
        );
        check(r#""é" x"#, &[(Tok::Str("é".into()), 0), (word("x"), 4)]);
    }

    #[test]
    fn bad_strings_fail_where_they_start() {
        assert_eq!(lex(r#"a eq "open"#).map_err(|e| e.position), Err(5));
        assert_eq!(lex(r#"a eq "\q""#).map_err(|e| e.position), Err(5));
    }
}
