//! The parser: an expression's text to a checked syntax tree. Everything that can be wrong with
//! an expression is found here, once, when the configuration loads: syntax, function names,
//! numbers of arguments, regexes, group numbers and the limits.

use regex::{Regex, RegexBuilder};

use crate::error::ParseError;
use crate::lexer::{Kind, Lexer};
use crate::syntax::{Function, Map, Node};

/// The longest expression, in characters: a mapping is one line of configuration, and the bound
/// keeps parsing and the patterns in it small.
pub const MAX_LENGTH: usize = 1000;

/// How deeply calls may nest (`lower(first(mail))` is 2 deep): the parser and the evaluator
/// recurse, and no useful mapping comes near.
pub const MAX_DEPTH: usize = 16;

/// The most memory one compiled regex (and each of its lazy DFAs) may take, so that a pattern
/// like `\w{1000}` is refused when the configuration loads instead of eating memory in a sync.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// Parses and checks a whole expression.
pub fn expression(text: &str) -> Result<Node, ParseError> {
    let chars: Vec<char> = text.chars().collect();
    if chars.len() > MAX_LENGTH {
        return Err(ParseError::new(
            MAX_LENGTH + 1,
            format!(
                "the expression is {} characters long; the most is {MAX_LENGTH}",
                chars.len()
            ),
        ));
    }
    let mut lexer = Lexer::new(&chars);
    let node = argument(&mut lexer, 0)?.value()?;
    let end = lexer.token()?;
    if end.kind != Kind::End {
        return Err(ParseError::new(
            end.at,
            format!("expected the end of the expression, got {}", end.describe()),
        ));
    }
    Ok(node)
}

/// An argument as written, before its function says what it must be.
enum Argument {
    Value(Node),
    /// A word of digits: a group number for `regex_capture`, nothing anywhere else.
    Integer(String),
}

/// An argument and the character it starts at, for the errors about it.
struct Parsed {
    argument: Argument,
    at: usize,
}

impl Parsed {
    /// The argument as a value (an attribute, a string or a call).
    fn value(self) -> Result<Node, ParseError> {
        match self.argument {
            Argument::Value(node) => Ok(node),
            Argument::Integer(digits) => Err(ParseError::new(
                self.at,
                format!(
                    "`{digits}` is a number, not an attribute, a string or a function call; \
                     write a constant in double quotes"
                ),
            )),
        }
    }

    /// The argument as a string literal, which `what` (e.g. "the pattern of regex_replace")
    /// must be so that it is checked now rather than during a sync.
    fn literal(self, what: &str) -> Result<(String, usize), ParseError> {
        match self.argument {
            Argument::Value(Node::Literal(text)) => Ok((text, self.at)),
            _ => Err(ParseError::new(
                self.at,
                format!("{what} must be a string in double quotes"),
            )),
        }
    }
}

/// One value or integer; `depth` is the number of calls around it.
fn argument(lexer: &mut Lexer<'_>, depth: usize) -> Result<Parsed, ParseError> {
    let token = lexer.token()?;
    let at = token.at;
    let argument = match token.kind {
        Kind::Str(text) => Argument::Value(Node::Literal(text)),
        Kind::Word(word) if lexer.peek()?.kind == Kind::Open => {
            Argument::Value(call(lexer, &word, at, depth + 1)?)
        }
        Kind::Word(word) if word.bytes().all(|b| b.is_ascii_digit()) => Argument::Integer(word),
        Kind::Word(word) => Argument::Value(Node::Attribute(word)),
        _ => {
            return Err(ParseError::new(
                at,
                format!(
                    "expected an attribute, a string or a function call, got {}",
                    token.describe()
                ),
            ))
        }
    };
    Ok(Parsed { argument, at })
}

/// A call of `name` (at character `at`, `depth` calls deep), its `(` next in `lexer`.
fn call(lexer: &mut Lexer<'_>, name: &str, at: usize, depth: usize) -> Result<Node, ParseError> {
    let function = Function::named(name).ok_or_else(|| unknown_function(name, at))?;
    if depth > MAX_DEPTH {
        return Err(ParseError::new(
            at,
            format!("function calls nest more than {MAX_DEPTH} deep"),
        ));
    }
    lexer.token()?; // the `(`
    let mut arguments = Vec::new();
    if lexer.peek()?.kind == Kind::Close {
        lexer.token()?;
    } else {
        loop {
            arguments.push(argument(lexer, depth)?);
            let token = lexer.token()?;
            match token.kind {
                Kind::Comma => {}
                Kind::Close => break,
                Kind::End => return Err(ParseError::new(token.at, "expected `)`")),
                _ => {
                    return Err(ParseError::new(
                        token.at,
                        format!("expected `,` or `)`, got {}", token.describe()),
                    ))
                }
            }
        }
    }
    build(function, arguments, at)
}

/// The arguments of a call, taken in order.
type Arguments = std::vec::IntoIter<Parsed>;

/// The node for a call of `function` (at character `at`) with `arguments`, each checked for
/// what the function needs there.
fn build(function: Function, arguments: Vec<Parsed>, at: usize) -> Result<Node, ParseError> {
    let (least, most) = function.arity();
    let count = arguments.len();
    let wrong_count = || {
        let expected = match (least, most) {
            (1, Some(1)) => "1 argument".to_string(),
            (least, Some(most)) if least == most => format!("{least} arguments"),
            (least, Some(most)) => format!("{least} or {most} arguments"),
            (least, None) => format!("{least} or more arguments"),
        };
        ParseError::new(
            at,
            format!("{} takes {expected}, got {count}", function.name()),
        )
    };
    if count < least || most.is_some_and(|most| count > most) {
        return Err(wrong_count());
    }
    let name = function.name();
    let mut arguments = arguments.into_iter();
    // The count is checked above; a missing argument would still be an error, not a panic.
    let next = |arguments: &mut Arguments| arguments.next().ok_or_else(wrong_count);
    let input = |arguments: &mut Arguments| next(arguments)?.value().map(Box::new);
    Ok(match function {
        Function::Default => Node::Default(arguments.map(Parsed::value).collect::<Result<_, _>>()?),
        Function::RegexCapture => {
            let input = input(&mut arguments)?;
            let (regex, pattern_at) = regex(next(&mut arguments)?, name)?;
            let group = match arguments.next() {
                Some(group) => group_number(group, &regex)?,
                None if regex.captures_len() > 1 => 1,
                None => {
                    return Err(ParseError::new(
                        pattern_at,
                        "the pattern has no group: put the part to keep in parentheses, or \
                         give 0 as a third argument for the whole match",
                    ))
                }
            };
            Node::Capture {
                input,
                regex,
                group,
            }
        }
        Function::RegexReplace => {
            let input = input(&mut arguments)?;
            let (regex, _) = regex(next(&mut arguments)?, name)?;
            let (replacement, replacement_at) =
                next(&mut arguments)?.literal("the replacement of regex_replace")?;
            check_references(&replacement, &regex, replacement_at)?;
            Node::Replace {
                input,
                regex,
                replacement,
            }
        }
        Function::First => Node::First(input(&mut arguments)?),
        Function::Lower => Node::Map(Map::Lower, input(&mut arguments)?),
        Function::Upper => Node::Map(Map::Upper, input(&mut arguments)?),
        Function::Trim => Node::Map(Map::Trim, input(&mut arguments)?),
        Function::Rdn => Node::Map(Map::Rdn, input(&mut arguments)?),
    })
}

/// The error for a call of `name`, which is no function.
fn unknown_function(name: &str, at: usize) -> ParseError {
    let message = match Function::named(&name.to_ascii_lowercase()) {
        Some(function) => format!(
            "unknown function `{name}`; function names are lowercase: `{}`",
            function.name()
        ),
        None => {
            let names: Vec<&str> = Function::ALL.iter().map(|f| f.name()).collect();
            format!(
                "unknown function `{name}`; the functions are {}",
                names.join(", ")
            )
        }
    };
    ParseError::new(at, message)
}

/// The pattern argument of `function`, compiled within the size limit.
fn regex(pattern: Parsed, function: &str) -> Result<(Regex, usize), ParseError> {
    let (pattern, at) = pattern.literal(&format!("the pattern of {function}"))?;
    let regex = RegexBuilder::new(&pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|error| {
            let reason = match error {
                // The regex crate's message spans several lines, the pattern drawn with a
                // caret; the operator needs its last line, and the pattern's own position.
                regex::Error::Syntax(text) => text
                    .lines()
                    .rev()
                    .find_map(|line| line.strip_prefix("error: "))
                    .unwrap_or(&text)
                    .to_string(),
                regex::Error::CompiledTooBig(limit) => {
                    format!("it would take more than {limit} bytes compiled; simplify it")
                }
                other => other.to_string(),
            };
            ParseError::new(at, format!("invalid regular expression: {reason}"))
        })?;
    Ok((regex, at))
}

/// `regex_capture`'s group number, which `regex` must have.
fn group_number(group: Parsed, regex: &Regex) -> Result<usize, ParseError> {
    let Argument::Integer(digits) = &group.argument else {
        return Err(ParseError::new(
            group.at,
            "the group of regex_capture must be a number, like 1",
        ));
    };
    let groups = regex.captures_len() - 1;
    digits
        .parse::<usize>()
        .ok()
        .filter(|n| *n <= groups)
        .ok_or_else(|| {
            let has = match groups {
                0 => "no group".to_string(),
                1 => "1 group".to_string(),
                n => format!("{n} groups"),
            };
            ParseError::new(
                group.at,
                format!("the pattern has {has}, so there is no group {digits}"),
            )
        })
}

/// Checks that every group `replacement` (at character `at`) refers to, `$1`, `${1}` or
/// `$name`, is one of `regex`'s: the regex crate replaces an unknown group with nothing, so a
/// typo, or `$1x` (read as the group `1x`), would silently empty a field in every sync.
/// References are read as the regex crate reads them: `$$` is a dollar, a name is the longest
/// run of ASCII letters, digits and `_`, and a `$` that starts no reference stays as written.
fn check_references(replacement: &str, regex: &Regex, at: usize) -> Result<(), ParseError> {
    let mut rest = replacement;
    while let Some(dollar) = rest.find('$') {
        rest = &rest[dollar + 1..];
        let reference = if let Some(after) = rest.strip_prefix('$') {
            rest = after;
            continue;
        } else if let Some(braced) = rest.strip_prefix('{') {
            let Some((name, after)) = braced.split_once('}') else {
                continue;
            };
            rest = after;
            name
        } else {
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            let (name, after) = rest.split_at(end);
            rest = after;
            name
        };
        let known = match reference.parse::<usize>() {
            Ok(index) => index < regex.captures_len(),
            Err(_) => regex.capture_names().flatten().any(|n| n == reference),
        };
        if known || reference.is_empty() {
            continue;
        }
        let hint = match reference.find(|c: char| !c.is_ascii_digit()) {
            Some(split) if split > 0 => {
                let (number, text) = reference.split_at(split);
                format!("; for group {number} followed by `{text}`, write `${{{number}}}{text}`")
            }
            _ => String::new(),
        };
        return Err(ParseError::new(
            at,
            format!(
                "the replacement refers to the group `{reference}`, which the pattern does not \
                 have{hint}"
            ),
        ));
    }
    Ok(())
}
