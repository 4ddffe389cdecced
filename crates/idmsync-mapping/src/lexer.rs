//! The tokens of an expression, each with the 1-based character it starts at.

use crate::error::ParseError;

/// What a token is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// An attribute or function name, or (all digits) an integer.
    Word(String),
    /// A string literal, its escapes decoded.
    Str(String),
    Open,
    Close,
    Comma,
    /// The end of the expression.
    End,
}

/// A token and the 1-based character it starts at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub kind: Kind,
    pub at: usize,
}

impl Token {
    /// The token as an error message quotes it.
    pub fn describe(&self) -> String {
        match &self.kind {
            Kind::Word(word) => format!("`{word}`"),
            Kind::Str(_) => "a string".to_string(),
            Kind::Open => "`(`".to_string(),
            Kind::Close => "`)`".to_string(),
            Kind::Comma => "`,`".to_string(),
            Kind::End => "the end of the expression".to_string(),
        }
    }
}

/// Whether `c` may be part of a name: attribute descriptions (`employee-number`,
/// `userCertificate;binary`), numeric OIDs (`2.5.4.3`) and the functions' names.
fn is_word(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ';')
}

/// Reads tokens one at a time, so that the first error in the text is the one reported.
#[derive(Clone, Copy)]
pub struct Lexer<'t> {
    chars: &'t [char],
    /// The index of the next character in `chars` (0-based).
    next: usize,
}

impl<'t> Lexer<'t> {
    pub fn new(chars: &'t [char]) -> Lexer<'t> {
        Lexer { chars, next: 0 }
    }

    /// The next token, without consuming it.
    pub fn peek(&self) -> Result<Token, ParseError> {
        let mut ahead = *self;
        ahead.token()
    }

    /// Consumes and returns the next token.
    pub fn token(&mut self) -> Result<Token, ParseError> {
        while self.chars.get(self.next).is_some_and(|c| c.is_whitespace()) {
            self.next += 1;
        }
        let start = self.next;
        let at = start + 1;
        let Some(&c) = self.chars.get(start) else {
            return Ok(Token {
                kind: Kind::End,
                at,
            });
        };
        self.next += 1;
        let kind = match c {
            '(' => Kind::Open,
            ')' => Kind::Close,
            ',' => Kind::Comma,
            '"' => Kind::Str(self.string(at)?),
            c if is_word(c) => {
                while self.chars.get(self.next).copied().is_some_and(is_word) {
                    self.next += 1;
                }
                Kind::Word(self.chars[start..self.next].iter().collect())
            }
            c => {
                return Err(ParseError::new(
                    at,
                    format!(
                        "unexpected character `{}`; names are made of ASCII letters, digits, \
                         `-`, `_`, `.` and `;`, and strings are written in double quotes",
                        c.escape_default()
                    ),
                ))
            }
        };
        Ok(Token { kind, at })
    }

    /// The rest of a string literal opened at `at`: `\"` and `\\` are escapes, any other
    /// backslash stays, so that regexes read as they are usually written (`"\d+"`).
    fn string(&mut self, at: usize) -> Result<String, ParseError> {
        let mut value = String::new();
        loop {
            let Some(&c) = self.chars.get(self.next) else {
                return Err(ParseError::new(at, "unterminated string"));
            };
            self.next += 1;
            match c {
                '"' => return Ok(value),
                '\\' => match self.chars.get(self.next) {
                    Some(&escaped @ ('"' | '\\')) => {
                        value.push(escaped);
                        self.next += 1;
                    }
                    _ => value.push('\\'),
                },
                c => value.push(c),
            }
        }
    }
}
