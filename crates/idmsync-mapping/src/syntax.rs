//! The syntax tree of an expression and the one table of its functions (names and arities), which
//! the parser, its error messages and the evaluator all read.

use regex::Regex;

/// The functions of the language. Their names are the table [`Function::ALL`] gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    Lower,
    Upper,
    Trim,
    First,
    Default,
    RegexCapture,
    RegexReplace,
    Rdn,
}

impl Function {
    /// Every function, in the order error messages list them.
    pub const ALL: [Function; 8] = [
        Function::Lower,
        Function::Upper,
        Function::Trim,
        Function::First,
        Function::Default,
        Function::RegexCapture,
        Function::RegexReplace,
        Function::Rdn,
    ];

    /// The name an expression calls it by.
    pub fn name(self) -> &'static str {
        match self {
            Function::Lower => "lower",
            Function::Upper => "upper",
            Function::Trim => "trim",
            Function::First => "first",
            Function::Default => "default",
            Function::RegexCapture => "regex_capture",
            Function::RegexReplace => "regex_replace",
            Function::Rdn => "rdn",
        }
    }

    /// The function called `name` (case-sensitive).
    pub fn named(name: &str) -> Option<Function> {
        Function::ALL.into_iter().find(|f| f.name() == name)
    }

    /// The fewest and the most arguments it takes (`None`: no most).
    pub fn arity(self) -> (usize, Option<usize>) {
        match self {
            Function::Lower
            | Function::Upper
            | Function::Trim
            | Function::First
            | Function::Rdn => (1, Some(1)),
            Function::Default => (2, None),
            Function::RegexCapture => (2, Some(3)),
            Function::RegexReplace => (3, Some(3)),
        }
    }
}

/// The functions that turn each value into one value or none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Map {
    Lower,
    Upper,
    Trim,
    Rdn,
}

/// A checked expression: every regex compiled, every group number valid.
#[derive(Debug, Clone)]
pub enum Node {
    /// The values of an attribute of the entry.
    Attribute(String),
    /// A constant: one value.
    Literal(String),
    /// `first(x)`.
    First(Box<Node>),
    /// A function of one argument applied value by value.
    Map(Map, Box<Node>),
    /// `default(a, b, …)`.
    Default(Vec<Node>),
    /// `regex_capture(input, pattern, group)`.
    Capture {
        input: Box<Node>,
        regex: Regex,
        group: usize,
    },
    /// `regex_replace(input, pattern, replacement)`.
    Replace {
        input: Box<Node>,
        regex: Regex,
        replacement: String,
    },
}

impl Node {
    /// Pushes the attributes this node reads onto `names`, skipping those already there.
    pub fn attributes<'a>(&'a self, names: &mut Vec<&'a str>) {
        match self {
            Node::Attribute(name) => {
                if !names.contains(&name.as_str()) {
                    names.push(name);
                }
            }
            Node::Literal(_) => {}
            Node::First(input)
            | Node::Map(_, input)
            | Node::Capture { input, .. }
            | Node::Replace { input, .. } => input.attributes(names),
            Node::Default(arguments) => {
                for argument in arguments {
                    argument.attributes(names);
                }
            }
        }
    }
}
