//! The filter language of RFC 7644 §3.4.2.2: the syntax tree and its parser. Evaluation is in
//! `eval.rs`.

use serde_json::Value;

use crate::lexer::{lex, Tok, Token};
use crate::path::{AttrPath, PatchPath};
use crate::ScimError;

/// A comparison operator. `pr` is [`Filter::Present`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    /// Equal.
    Eq,
    /// Not equal.
    Ne,
    /// Contains.
    Co,
    /// Starts with.
    Sw,
    /// Ends with.
    Ew,
    /// Greater than.
    Gt,
    /// Greater than or equal.
    Ge,
    /// Less than.
    Lt,
    /// Less than or equal.
    Le,
}

impl CompareOp {
    fn parse(word: &str) -> Option<CompareOp> {
        let ops = [
            ("eq", CompareOp::Eq),
            ("ne", CompareOp::Ne),
            ("co", CompareOp::Co),
            ("sw", CompareOp::Sw),
            ("ew", CompareOp::Ew),
            ("gt", CompareOp::Gt),
            ("ge", CompareOp::Ge),
            ("lt", CompareOp::Lt),
            ("le", CompareOp::Le),
        ];
        ops.iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(word))
            .map(|&(_, op)| op)
    }

    /// The operator as filters write it.
    pub fn as_str(self) -> &'static str {
        match self {
            CompareOp::Eq => "eq",
            CompareOp::Ne => "ne",
            CompareOp::Co => "co",
            CompareOp::Sw => "sw",
            CompareOp::Ew => "ew",
            CompareOp::Gt => "gt",
            CompareOp::Ge => "ge",
            CompareOp::Lt => "lt",
            CompareOp::Le => "le",
        }
    }

    /// Whether the operator orders values (and so cannot apply to booleans).
    pub fn is_ordering(self) -> bool {
        matches!(
            self,
            CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le
        )
    }
}

/// A parsed filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// `path op value`.
    Compare {
        /// The attribute compared.
        path: AttrPath,
        /// The operator.
        op: CompareOp,
        /// The JSON literal.
        value: Value,
    },
    /// `path pr`.
    Present(AttrPath),
    /// `a and b`.
    And(Box<Filter>, Box<Filter>),
    /// `a or b`.
    Or(Box<Filter>, Box<Filter>),
    /// `not (a)`.
    Not(Box<Filter>),
    /// `attr[filter]`, optionally followed by `.sub op value` (or `.sub pr`): some element of
    /// `attr` matches `filter` (and `then`, a test of its sub-attribute).
    ValuePath {
        /// The multi-valued attribute.
        attr: AttrPath,
        /// The test of each element, over its sub-attributes.
        filter: Box<Filter>,
        /// The test of the sub-attribute after `].`, over the same element.
        then: Option<Box<Filter>>,
    },
}

/// A filter that does not parse: where, and what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} at position {position}")]
pub struct FilterError {
    /// The 0-based character position in the filter where the problem was found.
    pub position: usize,
    /// What was wrong.
    pub message: String,
}

impl FilterError {
    pub(crate) fn new(position: usize, message: impl Into<String>) -> Self {
        FilterError {
            position,
            message: message.into(),
        }
    }
}

impl From<FilterError> for ScimError {
    fn from(e: FilterError) -> Self {
        ScimError::invalid_filter(format!("The filter is invalid: {e}."))
    }
}

impl Filter {
    /// Parses a filter (the `filter` query parameter).
    pub fn parse(input: &str) -> Result<Filter, FilterError> {
        let mut parser = Parser::new(input)?;
        let filter = parser.or(false)?;
        parser.end()?;
        Ok(filter)
    }

    /// Parses and validates a filter for `resource_type` in one step, so that an HTTP handler
    /// turns either failure into the same 400 `invalidFilter`.
    pub fn parse_for(input: &str, resource_type: crate::ResourceType) -> Result<Filter, ScimError> {
        let filter = Filter::parse(input)?;
        filter.validate(resource_type)?;
        Ok(filter)
    }
}

/// Parses a PATCH path: `attrPath`, or `attrPath "[" filter "]" ["." subAttr]`.
pub(crate) fn parse_patch_path(input: &str) -> Result<PatchPath, FilterError> {
    let mut parser = Parser::new(input)?;
    let (attr, pos) = parser.attr_path()?;
    let mut path = PatchPath {
        attr,
        filter: None,
        sub: None,
    };
    if parser.eat(&Tok::LBracket) {
        if path.attr.sub.is_some() {
            return Err(FilterError::new(
                pos,
                "a value filter must follow an attribute, not a sub-attribute",
            ));
        }
        path.filter = Some(parser.or(true)?);
        parser.expect(&Tok::RBracket)?;
        path.sub = parser.sub_after_bracket()?;
    }
    parser.end()?;
    Ok(path)
}

struct Parser {
    tokens: Vec<Token>,
    next: usize,
    /// The position of the end of the input, for "expected … at the end" errors.
    end: usize,
}

impl Parser {
    fn new(input: &str) -> Result<Parser, FilterError> {
        Ok(Parser {
            tokens: lex(input)?,
            next: 0,
            end: input.chars().count(),
        })
    }

    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.next)
    }

    fn pos(&self) -> usize {
        self.peek().map_or(self.end, |t| t.pos)
    }

    fn found(&self) -> String {
        self.peek()
            .map_or_else(|| "the end of the filter".into(), |t| t.tok.describe())
    }

    fn eat(&mut self, tok: &Tok) -> bool {
        if self.peek().is_some_and(|t| &t.tok == tok) {
            self.next += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, tok: &Tok) -> Result<(), FilterError> {
        if self.eat(tok) {
            Ok(())
        } else {
            Err(FilterError::new(
                self.pos(),
                format!("expected {} but found {}", tok.describe(), self.found()),
            ))
        }
    }

    fn keyword(&mut self, word: &str) -> bool {
        let hit = matches!(self.peek(), Some(Token { tok: Tok::Word(w), .. }) if w.eq_ignore_ascii_case(word));
        if hit {
            self.next += 1;
        }
        hit
    }

    fn end(&self) -> Result<(), FilterError> {
        match self.peek() {
            None => Ok(()),
            Some(t) => Err(FilterError::new(
                t.pos,
                format!(
                    "unexpected {}; expected `and`, `or` or the end",
                    t.tok.describe()
                ),
            )),
        }
    }

    fn or(&mut self, nested: bool) -> Result<Filter, FilterError> {
        let mut left = self.and(nested)?;
        while self.keyword("or") {
            let right = self.and(nested)?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self, nested: bool) -> Result<Filter, FilterError> {
        let mut left = self.unary(nested)?;
        while self.keyword("and") {
            let right = self.unary(nested)?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self, nested: bool) -> Result<Filter, FilterError> {
        let not_paren = matches!(self.peek(), Some(Token { tok: Tok::Word(w), .. }) if w.eq_ignore_ascii_case("not"))
            && matches!(
                self.tokens.get(self.next + 1),
                Some(Token {
                    tok: Tok::LParen,
                    ..
                })
            );
        if not_paren {
            self.next += 2;
            let inner = self.or(nested)?;
            self.expect(&Tok::RParen)?;
            return Ok(Filter::Not(Box::new(inner)));
        }
        let bare_not = matches!(self.peek(), Some(Token { tok: Tok::Word(w), .. }) if w.eq_ignore_ascii_case("not"));
        if bare_not {
            return Err(FilterError::new(
                self.pos(),
                "`not` must be followed by a parenthesised filter: `not (...)`",
            ));
        }
        if self.eat(&Tok::LParen) {
            let inner = self.or(nested)?;
            self.expect(&Tok::RParen)?;
            return Ok(inner);
        }
        let (attr, pos) = self.attr_path()?;
        if self.peek().is_some_and(|t| t.tok == Tok::LBracket) {
            if nested {
                return Err(FilterError::new(
                    self.pos(),
                    "value filters cannot be nested",
                ));
            }
            if attr.sub.is_some() {
                return Err(FilterError::new(
                    pos,
                    "a value filter must follow an attribute, not a sub-attribute",
                ));
            }
            self.next += 1;
            let filter = self.or(true)?;
            self.expect(&Tok::RBracket)?;
            let then = match self.sub_after_bracket()? {
                Some(sub) => Some(Box::new(self.operation(AttrPath::simple(&sub))?)),
                None => None,
            };
            return Ok(Filter::ValuePath {
                attr,
                filter: Box::new(filter),
                then,
            });
        }
        self.operation(attr)
    }

    /// An attribute path and its position.
    fn attr_path(&mut self) -> Result<(AttrPath, usize), FilterError> {
        let pos = self.pos();
        match self.peek().map(|t| &t.tok) {
            Some(Tok::Word(w)) => {
                let path = AttrPath::parse(w).map_err(|m| FilterError::new(pos, m))?;
                self.next += 1;
                Ok((path, pos))
            }
            _ => Err(FilterError::new(
                pos,
                format!(
                    "expected an attribute path, `not (` or `(` but found {}",
                    self.found()
                ),
            )),
        }
    }

    /// The `.sub` right after a `]`, if any.
    fn sub_after_bracket(&mut self) -> Result<Option<String>, FilterError> {
        let pos = self.pos();
        let sub = match self.peek().map(|t| &t.tok) {
            Some(Tok::Word(w)) if w.starts_with('.') => w[1..].to_string(),
            _ => return Ok(None),
        };
        let path = AttrPath::parse(&sub).map_err(|m| FilterError::new(pos + 1, m))?;
        if path.sub.is_some() || path.urn.is_some() {
            return Err(FilterError::new(
                pos + 1,
                format!("`{sub}` is not a sub-attribute name"),
            ));
        }
        self.next += 1;
        Ok(Some(sub))
    }

    /// `pr`, or an operator and a value, after `path`.
    fn operation(&mut self, path: AttrPath) -> Result<Filter, FilterError> {
        let pos = self.pos();
        let word = match self.peek().map(|t| &t.tok) {
            Some(Tok::Word(w)) => w.clone(),
            _ => {
                return Err(FilterError::new(
                    pos,
                    format!(
                    "expected an operator (eq, ne, co, sw, ew, gt, ge, lt, le, pr) but found {}",
                    self.found()
                ),
                ))
            }
        };
        self.next += 1;
        if word.eq_ignore_ascii_case("pr") {
            return Ok(Filter::Present(path));
        }
        let Some(op) = CompareOp::parse(&word) else {
            return Err(FilterError::new(
                pos,
                format!("`{word}` is not an operator (eq, ne, co, sw, ew, gt, ge, lt, le, pr)"),
            ));
        };
        let value = self.literal(op)?;
        Ok(Filter::Compare { path, op, value })
    }

    fn literal(&mut self, op: CompareOp) -> Result<Value, FilterError> {
        let pos = self.pos();
        let value = match self.peek().map(|t| &t.tok) {
            Some(Tok::Str(s)) => Some(Value::String(s.clone())),
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("true") => Some(Value::Bool(true)),
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("false") => Some(Value::Bool(false)),
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("null") => Some(Value::Null),
            Some(Tok::Word(w)) => serde_json::from_str::<serde_json::Number>(w)
                .ok()
                .map(Value::Number),
            _ => None,
        };
        match value {
            Some(v) => {
                self.next += 1;
                Ok(v)
            }
            None => Err(FilterError::new(
                pos,
                format!(
                    "expected a value (a quoted string, true, false, null or a number) after `{}` but found {}",
                    op.as_str(),
                    self.found()
                ),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn p(s: &str) -> AttrPath {
        AttrPath::parse(s).unwrap_or_else(|e| panic!("{e}"))
    }
    fn cmp(path: &str, op: CompareOp, value: Value) -> Filter {
        Filter::Compare {
            path: p(path),
            op,
            value,
        }
    }
    fn and(a: Filter, b: Filter) -> Filter {
        Filter::And(Box::new(a), Box::new(b))
    }
    fn or(a: Filter, b: Filter) -> Filter {
        Filter::Or(Box::new(a), Box::new(b))
    }
    fn not(a: Filter) -> Filter {
        Filter::Not(Box::new(a))
    }

    fn check(input: &str, expected: Filter) {
        assert_eq!(Filter::parse(input), Ok(expected), "{input}");
    }

    fn check_error(input: &str, position: usize, message_part: &str) {
        match Filter::parse(input) {
            Ok(f) => panic!("{input} parsed as {f:?}"),
            Err(e) => {
                assert_eq!(e.position, position, "{input}: {e}");
                assert!(e.message.contains(message_part), "{input}: {e}");
            }
        }
    }

    #[test]
    fn filters_parse() {
        use CompareOp::*;
        check(
            r#"userName eq "bjensen""#,
            cmp("userName", Eq, json!("bjensen")),
        );
        check(r#"USERNAME EQ "x""#, cmp("USERNAME", Eq, json!("x")));
        check(
            r#"name.familyName co "O'Malley""#,
            cmp("name.familyName", Co, json!("O'Malley")),
        );
        check(
            r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#,
            cmp(
                "urn:ietf:params:scim:schemas:core:2.0:User:userName",
                Sw,
                json!("J"),
            ),
        );
        check("title pr", Filter::Present(p("title")));
        check("title PR", Filter::Present(p("title")));
        check(
            r#"meta.lastModified gt "2011-05-13T04:42:34Z""#,
            cmp("meta.lastModified", Gt, json!("2011-05-13T04:42:34Z")),
        );
        check("active eq true", cmp("active", Eq, json!(true)));
        check("active eq False", cmp("active", Eq, json!(false)));
        check("x eq null", cmp("x", Eq, Value::Null));
        check("x ge -1.5e3", cmp("x", Ge, json!(-1500.0)));
        check("x le 10", cmp("x", Le, json!(10)));
        check(
            r#"a eq "tab\there \u00e9""#,
            cmp("a", Eq, json!("tab\there é")),
        );
        check(r#"a ne "x""#, cmp("a", Ne, json!("x")));
        check(r#"a ew "x""#, cmp("a", Ew, json!("x")));
        check(r#"a lt "x""#, cmp("a", Lt, json!("x")));
    }

    #[test]
    fn and_binds_tighter_than_or_and_not_takes_parentheses() {
        use CompareOp::Eq;
        let (a, b, c) = (
            || cmp("a", Eq, json!(1)),
            || cmp("b", Eq, json!(2)),
            || cmp("c", Eq, json!(3)),
        );
        check("a eq 1 or b eq 2 and c eq 3", or(a(), and(b(), c())));
        check("a eq 1 and b eq 2 or c eq 3", or(and(a(), b()), c()));
        check("(a eq 1 or b eq 2) and c eq 3", and(or(a(), b()), c()));
        check("a eq 1 or b eq 2 or c eq 3", or(or(a(), b()), c()));
        check("not (a eq 1) and b eq 2", and(not(a()), b()));
        check("NOT(a eq 1 or b eq 2)", not(or(a(), b())));
        check("a eq 1 AND b eq 2 OR c eq 3", or(and(a(), b()), c()));
    }

    #[test]
    fn value_paths_parse() {
        use CompareOp::*;
        check(
            r#"emails[type eq "work" and value co "@example.com"]"#,
            Filter::ValuePath {
                attr: p("emails"),
                filter: Box::new(and(
                    cmp("type", Eq, json!("work")),
                    cmp("value", Co, json!("@example.com")),
                )),
                then: None,
            },
        );
        check(
            r#"emails[type eq "work"].value eq "a@b.c" and active eq true"#,
            and(
                Filter::ValuePath {
                    attr: p("emails"),
                    filter: Box::new(cmp("type", Eq, json!("work"))),
                    then: Some(Box::new(cmp("value", Eq, json!("a@b.c")))),
                },
                cmp("active", Eq, json!(true)),
            ),
        );
        check(
            r#"members[value eq "1"].display pr"#,
            Filter::ValuePath {
                attr: p("members"),
                filter: Box::new(cmp("value", Eq, json!("1"))),
                then: Some(Box::new(Filter::Present(p("display")))),
            },
        );
    }

    #[test]
    fn bad_filters_fail_with_their_position() {
        check_error("", 0, "expected an attribute path");
        check_error("userName", 8, "expected an operator");
        check_error(r#"userName eq"#, 11, "expected a value");
        check_error(r#"userName xx "a""#, 9, "`xx` is not an operator");
        check_error(r#"userName eq bjensen"#, 12, "expected a value");
        check_error(r#"userName eq "a" "b""#, 16, "unexpected a string");
        check_error(r#"userName eq "a" and"#, 19, "expected an attribute path");
        check_error(r#"(userName eq "a""#, 16, "expected `)`");
        check_error(r#"userName eq "a")"#, 15, "unexpected `)`");
        check_error(r#"emails[type eq "w""#, 18, "expected `]`");
        check_error(r#"emails[x[y eq 1]]"#, 8, "cannot be nested");
        check_error(r#"a.b.c eq 1"#, 0, "not a valid attribute path");
        check_error(r#"userName eq "open"#, 12, "not terminated");
        check_error(
            r#"emails[type eq "w"].a.b eq 1"#,
            20,
            "not a sub-attribute name",
        );
        check_error(r#"name.givenName[x eq 1]"#, 0, "not a sub-attribute");
        check_error(r#"not userName eq "x""#, 0, "`not` must be followed by");
        check_error(r#"a pr and not a pr"#, 9, "`not` must be followed by");
    }

    #[test]
    fn a_filter_error_becomes_an_invalid_filter_400() {
        let error = Filter::parse("userName").map_err(ScimError::from);
        let error = error.err().map(|e| (e.status, e.scim_type, e.detail));
        assert_eq!(
            error,
            Some((
                400,
                Some(crate::ScimType::InvalidFilter),
                "The filter is invalid: expected an operator (eq, ne, co, sw, ew, gt, ge, lt, le, pr) but found the end of the filter at position 8.".into()
            ))
        );
    }

    #[test]
    fn parse_for_also_validates() {
        let kind = |input: &str| {
            Filter::parse_for(input, crate::ResourceType::User)
                .err()
                .map(|e| (e.status, e.scim_type))
        };
        let invalid = Some((400, Some(crate::ScimType::InvalidFilter)));
        assert_eq!(kind("active gt false"), invalid);
        assert_eq!(kind("active eq"), invalid);
        assert_eq!(kind("active eq false"), None);
    }

    #[test]
    fn patch_paths_parse() {
        let check_path = |input: &str, attr: &str, filter: Option<Filter>, sub: Option<&str>| {
            let expected = PatchPath {
                attr: p(attr),
                filter,
                sub: sub.map(str::to_string),
            };
            assert_eq!(parse_patch_path(input), Ok(expected), "{input}");
        };
        check_path("active", "active", None, None);
        check_path("name.givenName", "name.givenName", None, None);
        check_path(
            r#"emails[type eq "work"].value"#,
            "emails",
            Some(cmp("type", CompareOp::Eq, json!("work"))),
            Some("value"),
        );
        check_path(
            r#"members[value eq "abc"]"#,
            "members",
            Some(cmp("value", CompareOp::Eq, json!("abc"))),
            None,
        );
        for bad in [
            "",
            "a b",
            "emails[",
            "emails[type eq \"w\"]x",
            "a.b.c",
            "emails[type eq \"w\"].value.x",
        ] {
            assert!(parse_patch_path(bad).is_err(), "{bad}");
        }
    }
}
