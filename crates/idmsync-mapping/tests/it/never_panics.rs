//! A property: parsing arbitrary short strings never panics, and neither do `attributes` and
//! `eval` on what parses; errors point inside the text or just past it.

use idmsync_mapping::Expression;

use crate::user;

/// Pieces that make up the generated strings: function calls, names, literals, punctuation and
/// characters the lexer refuses, so that many strings get deep into the parser.
const PIECES: &[&str] = &[
    "lower(",
    "upper(",
    "trim(",
    "first(",
    "default(",
    "regex_capture(",
    "regex_replace(",
    "rdn(",
    "lowr(",
    "mail",
    "cn",
    "distinguishedName",
    "(",
    ")",
    ",",
    ", ",
    " ",
    "\"",
    "\\",
    "\"(a)\"",
    "\"(\"",
    "\"$1\"",
    "\"cn=a\\\\,b\"",
    "\"x\"",
    "1",
    "0",
    "99999999999999999999",
    "é",
    "@",
    "\t",
    "\u{0}",
    "\"\\w{9999}\"",
    "-",
    ";",
    ".",
];

/// A small xorshift generator: reproducible, and no dependency.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

#[test]
fn parse_never_panics() {
    let entry = user();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut parsed = 0;
    for _ in 0..20_000 {
        let text: String = (0..rng.below(12))
            .map(|_| PIECES[rng.below(PIECES.len())])
            .collect();
        match Expression::parse(&text) {
            Ok(expression) => {
                parsed += 1;
                expression.attributes();
                expression.eval(&entry);
            }
            Err(error) => {
                let end = text.chars().count() + 1;
                assert!(
                    (1..=end).contains(&error.position),
                    "{text:?}: {error} is outside 1..={end}"
                );
            }
        }
    }
    // The pieces are chosen so that a fair share of the strings are valid expressions.
    assert!(parsed > 500, "only {parsed} strings parsed");
}
