//! Reads the merged configuration (file, then environment) into the settings types strictly,
//! and words every mistake for the person who made it: the key, what was given, what is
//! accepted, and where it was written.
//!
//! config-rs's own deserializer converts loosely (`pool_size = 1.5` became 2, `true` became 1,
//! an environment variable `007` the number 7) and reports in Rust's terms ("enum LoginKind does
//! not have variant constructor mail"). Here a value is converted by the type its key expects:
//! environment variables stay text until a number or a flag is wanted, a list written as one
//! string is split at commas, and an error keeps the path of its key on the way out.

use std::fmt;

use config::{Map, Value, ValueKind};
use serde::de::{self, DeserializeSeed, IntoDeserializer, Unexpected, Visitor};
use serde::forward_to_deserialize_any;

use crate::text;

/// How many columns of a wrong value an error message repeats.
const SHOWN_VALUE_WIDTH: usize = 60;

/// The origin config-rs gives every value read from environment variables.
const ENVIRONMENT: &str = "the environment";

/// A configuration value that does not fit its key.
#[derive(Debug)]
pub struct ValueError {
    /// The key's path, innermost segment first: it grows as the error travels outwards.
    path: Vec<Segment>,
    problem: Problem,
    /// Where the value was written: a file, or config-rs's name for the environment.
    origin: Option<String>,
}

#[derive(Debug)]
enum Segment {
    Key(String),
    Index(usize),
}

#[derive(Debug)]
enum Problem {
    /// `given` is not the kind of value the key takes (`expected`, in words).
    Invalid { given: String, expected: String },
    /// `given` is none of the words the key takes.
    NotOneOf {
        given: String,
        accepted: &'static [&'static str],
    },
    /// The section has no such key.
    Unknown { accepted: &'static [&'static str] },
    /// A key without a default that is not set.
    Missing,
    /// A type's own check (a share over 100%, say), in its own words.
    Other(String),
}

impl ValueError {
    fn new(problem: Problem) -> Self {
        Self {
            path: Vec::new(),
            problem,
            origin: None,
        }
    }

    fn about_key(key: &str, problem: Problem) -> Self {
        let mut error = Self::new(problem);
        error.path.push(Segment::Key(key.to_string()));
        error
    }

    /// The error as seen from one level further out: `segment` led to it, and `origin` is where
    /// the value holding it was written, unless a deeper value already said.
    fn at(mut self, segment: Option<Segment>, origin: Option<&str>) -> Self {
        self.path.extend(segment);
        if self.origin.is_none() {
            self.origin = origin.map(str::to_string);
        }
        self
    }

    /// Where to fix it: the file the value came from, the environment variable that set it,
    /// or, for a missing key, `file` or the environment.
    pub fn place(&self, file: &std::path::Path, env_prefix: &str) -> String {
        match self.origin.as_deref() {
            Some(ENVIRONMENT) => {
                let keys = self.path.iter().rev().filter_map(|s| match s {
                    Segment::Key(key) => Some(key.to_uppercase()),
                    Segment::Index(_) => None,
                });
                let name: Vec<String> = std::iter::once(env_prefix.to_string())
                    .chain(keys)
                    .collect();
                format!("set by {}", name.join("__"))
            }
            Some(origin) => format!("in {origin}"),
            None => format!("in {} or the environment", file.display()),
        }
    }
}

impl fmt::Display for ValueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, segment) in self.path.iter().rev().enumerate() {
            match segment {
                Segment::Key(key) if i == 0 => f.write_str(key)?,
                Segment::Key(key) => write!(f, ".{key}")?,
                Segment::Index(index) => write!(f, "[{index}]")?,
            }
        }
        if !self.path.is_empty() {
            f.write_str(": ")?;
        }
        match &self.problem {
            Problem::Invalid { given, expected } => write!(f, "{given} is not {expected}"),
            Problem::NotOneOf { given, accepted } => {
                write!(f, "{given} is not one of: {}", accepted.join(", "))
            }
            Problem::Unknown { accepted } => {
                write!(f, "unknown key; the keys here are: {}", accepted.join(", "))
            }
            Problem::Missing => f.write_str("required, but not set"),
            Problem::Other(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for ValueError {}

impl de::Error for ValueError {
    fn custom<T: fmt::Display>(message: T) -> Self {
        Self::new(Problem::Other(message.to_string()))
    }

    fn invalid_type(given: Unexpected<'_>, expected: &dyn de::Expected) -> Self {
        Self::new(Problem::Invalid {
            given: shown(given),
            expected: expected.to_string(),
        })
    }

    fn invalid_value(given: Unexpected<'_>, expected: &dyn de::Expected) -> Self {
        Self::invalid_type(given, expected)
    }

    fn unknown_variant(given: &str, accepted: &'static [&'static str]) -> Self {
        Self::new(Problem::NotOneOf {
            given: shown(Unexpected::Str(given)),
            accepted,
        })
    }

    fn unknown_field(key: &str, accepted: &'static [&'static str]) -> Self {
        Self::about_key(key, Problem::Unknown { accepted })
    }

    fn missing_field(key: &'static str) -> Self {
        Self::about_key(key, Problem::Missing)
    }
}

/// A value as the user wrote it, for an error message: strings quoted (control characters
/// escaped), long ones cut, lists and tables named rather than repeated.
fn shown(value: Unexpected<'_>) -> String {
    match value {
        Unexpected::Bool(b) => b.to_string(),
        Unexpected::Unsigned(n) => n.to_string(),
        Unexpected::Signed(n) => n.to_string(),
        Unexpected::Float(x) => format!("{x:?}"),
        Unexpected::Str(s) => text::clip(&format!("{s:?}"), SHOWN_VALUE_WIDTH).text,
        Unexpected::Unit => "an empty value".into(),
        Unexpected::Seq => "a list".into(),
        Unexpected::Map => "a table".into(),
        other => other.to_string(),
    }
}

/// [`shown`] for a configuration value.
fn shown_value(kind: &ValueKind) -> String {
    shown(match kind {
        ValueKind::Nil => Unexpected::Unit,
        ValueKind::Boolean(b) => Unexpected::Bool(*b),
        ValueKind::I64(n) => Unexpected::Signed(*n),
        ValueKind::I128(n) => {
            i64::try_from(*n).map_or(Unexpected::Other("a huge number"), Unexpected::Signed)
        }
        ValueKind::U64(n) => Unexpected::Unsigned(*n),
        ValueKind::U128(n) => {
            u64::try_from(*n).map_or(Unexpected::Other("a huge number"), Unexpected::Unsigned)
        }
        ValueKind::Float(x) => Unexpected::Float(*x),
        ValueKind::String(s) => Unexpected::Str(s),
        ValueKind::Array(_) => Unexpected::Seq,
        ValueKind::Table(_) => Unexpected::Map,
    })
}

/// Deserialises the merged configuration into `T`.
///
/// # Errors
/// The first value, in the order the types declare their keys, that does not fit.
pub fn from_config<T: de::DeserializeOwned>(config: config::Config) -> Result<T, ValueError> {
    T::deserialize(Strict(config.cache))
}

/// One configuration value, converted by what its key expects.
struct Strict(Value);

impl Strict {
    fn invalid(&self, expected: impl Into<String>) -> ValueError {
        ValueError::new(Problem::Invalid {
            given: shown_value(&self.0.kind),
            expected: expected.into(),
        })
    }

    /// A whole number of type `T`: from TOML, or digits from the environment. Never a float
    /// rounded or a flag counted as 1.
    fn whole<T>(&self, min: T, max: T) -> Result<T, ValueError>
    where
        T: TryFrom<i128> + fmt::Display,
    {
        let n = match &self.0.kind {
            ValueKind::I64(n) => Some(i128::from(*n)),
            ValueKind::I128(n) => Some(*n),
            ValueKind::U64(n) => Some(i128::from(*n)),
            ValueKind::U128(n) => i128::try_from(*n).ok(),
            ValueKind::String(s) => s.trim().parse().ok(),
            _ => None,
        };
        n.and_then(|n| T::try_from(n).ok())
            .ok_or_else(|| self.invalid(format!("a whole number from {min} to {max}")))
    }

    fn number(&self) -> Result<f64, ValueError> {
        let x = match &self.0.kind {
            ValueKind::Float(x) => Some(*x),
            ValueKind::I64(n) => Some(*n as f64),
            ValueKind::U64(n) => Some(*n as f64),
            ValueKind::String(s) => s.trim().parse().ok(),
            _ => None,
        };
        x.filter(|x: &f64| x.is_finite())
            .ok_or_else(|| self.invalid("a number"))
    }

    /// Text; a number or a flag is taken as written (`tenant = 2024`).
    fn text(self) -> Result<String, ValueError> {
        match self.0.kind {
            ValueKind::String(s) => Ok(s),
            ValueKind::Boolean(b) => Ok(b.to_string()),
            ValueKind::I64(n) => Ok(n.to_string()),
            ValueKind::I128(n) => Ok(n.to_string()),
            ValueKind::U64(n) => Ok(n.to_string()),
            ValueKind::U128(n) => Ok(n.to_string()),
            ValueKind::Float(x) => Ok(x.to_string()),
            ValueKind::Nil | ValueKind::Array(_) | ValueKind::Table(_) => {
                Err(self.invalid("a string"))
            }
        }
    }
}

/// The `deserialize_*` method of each integer type.
macro_rules! whole_numbers {
    ($($method:ident $visit:ident $ty:ty),* $(,)?) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
            visitor.$visit(self.whole(<$ty>::MIN, <$ty>::MAX)?)
        }
    )*};
}

impl<'de> de::Deserializer<'de> for Strict {
    type Error = ValueError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self.0.kind {
            ValueKind::Nil => visitor.visit_unit(),
            ValueKind::Boolean(b) => visitor.visit_bool(b),
            ValueKind::I64(n) => visitor.visit_i64(n),
            ValueKind::I128(n) => visitor.visit_i128(n),
            ValueKind::U64(n) => visitor.visit_u64(n),
            ValueKind::U128(n) => visitor.visit_u128(n),
            ValueKind::Float(x) => visitor.visit_f64(x),
            ValueKind::String(s) => visitor.visit_string(s),
            ValueKind::Array(items) => visitor.visit_seq(Items::new(items)),
            ValueKind::Table(table) => visitor.visit_map(Entries::new(table, &[])),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        let flag = match &self.0.kind {
            ValueKind::Boolean(b) => Some(*b),
            ValueKind::String(s) if s.trim().eq_ignore_ascii_case("true") => Some(true),
            ValueKind::String(s) if s.trim().eq_ignore_ascii_case("false") => Some(false),
            _ => None,
        };
        match flag {
            Some(b) => visitor.visit_bool(b),
            None => Err(self.invalid("true or false")),
        }
    }

    whole_numbers! {
        deserialize_u8 visit_u8 u8,
        deserialize_u16 visit_u16 u16,
        deserialize_u32 visit_u32 u32,
        deserialize_u64 visit_u64 u64,
        deserialize_i8 visit_i8 i8,
        deserialize_i16 visit_i16 i16,
        deserialize_i32 visit_i32 i32,
        deserialize_i64 visit_i64 i64,
    }

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        self.deserialize_f64(visitor)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        visitor.visit_f64(self.number()?)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        visitor.visit_string(self.text()?)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        visitor.visit_string(self.text()?)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        visitor.visit_string(self.text()?)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self.0.kind {
            ValueKind::Nil => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        visitor.visit_newtype_struct(self)
    }

    /// A list, or one string of comma-separated items (how an environment variable writes a
    /// list): each item trimmed, empty ones dropped, so `IDMSYNC__SYNC__ADMINS='a, b'` is `a`
    /// and `b`.
    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self.0.kind {
            ValueKind::Array(items) => visitor.visit_seq(Items::new(items)),
            ValueKind::String(ref list) => {
                let origin = self.0.origin().map(str::to_string);
                let items = list
                    .split(',')
                    .map(str::trim)
                    .filter(|item| !item.is_empty())
                    .map(|item| Value::new(origin.as_ref(), item))
                    .collect();
                visitor.visit_seq(Items::new(items))
            }
            _ => Err(self.invalid("a list")),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        self.deserialize_struct("", &[], visitor)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        match self.0.kind {
            ValueKind::Table(table) => visitor.visit_map(Entries::new(table, fields)),
            _ => Err(self.invalid("a table")),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        match &self.0.kind {
            ValueKind::String(s) if variants.contains(&s.trim()) => {
                visitor.visit_enum(s.trim().to_string().into_deserializer())
            }
            kind => Err(ValueError::new(Problem::NotOneOf {
                given: shown_value(kind),
                accepted: variants,
            })),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        visitor.visit_unit()
    }

    forward_to_deserialize_any! {
        char bytes byte_buf unit unit_struct
    }
}

/// The items of a list, each deserialised strictly.
struct Items {
    items: std::iter::Enumerate<std::vec::IntoIter<Value>>,
}

impl Items {
    fn new(items: Vec<Value>) -> Self {
        Self {
            items: items.into_iter().enumerate(),
        }
    }
}

impl<'de> de::SeqAccess<'de> for Items {
    type Error = ValueError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, ValueError> {
        let Some((index, value)) = self.items.next() else {
            return Ok(None);
        };
        let origin = value.origin().map(str::to_string);
        seed.deserialize(Strict(value))
            .map(Some)
            .map_err(|e| e.at(Some(Segment::Index(index)), origin.as_deref()))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

/// The keys of a table, each value deserialised strictly.
struct Entries {
    entries: std::vec::IntoIter<(String, Value)>,
    /// The entry whose key was read last, for `next_value_seed`.
    current: Option<(String, Value)>,
}

impl Entries {
    /// The entries in the order `fields` declares them, unknown ones last by name, so that of
    /// several mistakes the same one is reported every time, and a `[source.ldap]` key before
    /// the `[auth.ldap]` copy merged from it.
    fn new(table: Map<String, Value>, fields: &[&str]) -> Self {
        let mut entries: Vec<(String, Value)> = table.into_iter().collect();
        entries.sort_by_cached_key(|(key, _)| {
            let declared = fields.iter().position(|f| f == key);
            (declared.unwrap_or(fields.len()), key.clone())
        });
        Self {
            entries: entries.into_iter(),
            current: None,
        }
    }
}

impl<'de> de::MapAccess<'de> for Entries {
    type Error = ValueError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, ValueError> {
        let Some((key, value)) = self.entries.next() else {
            return Ok(None);
        };
        let read = seed
            .deserialize(key.clone().into_deserializer())
            .map_err(|e: ValueError| e.at(None, value.origin()))?;
        self.current = Some((key, value));
        Ok(Some(read))
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, ValueError> {
        let Some((key, value)) = self.current.take() else {
            return Err(de::Error::custom("a value was asked for before its key"));
        };
        let origin = value.origin().map(str::to_string);
        seed.deserialize(Strict(value))
            .map_err(|e| e.at(Some(Segment::Key(key)), origin.as_deref()))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}
