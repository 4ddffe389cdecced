//! Distinguished names in one canonical form, so that a group's member value matches the DN of
//! the entry it names however either was written (RFC 4514 parsing, case-insensitive values).
//!
//! A directory hands out the same DN in different spellings: a member value typed by an
//! administrator (`UID=jlennon, OU=People,DC=example,DC=com`), the entry's own DN as the server
//! returns it (`uid=jlennon,ou=people,dc=example,dc=com`), hex escapes (`cn=Ren\C3\A9`) or
//! character escapes (`cn=Smith\, John`). The planner matches member references to locators by
//! plain string equality, so both sides go through [`normalize`]:
//!
//! - attribute types and values are lowercased: the naming attributes of OpenLDAP (`cn`, `uid`,
//!   `ou`, `dc`, `o`, `l`) and Active Directory compare case-insensitively;
//! - escapes are decoded, then re-encoded the one RFC 4514 way (`\,` and friends; non-ASCII
//!   characters as UTF-8, never hex); `#hex` (BER-encoded) values are kept undecoded;
//! - spaces around `,`, `+` and `=` are dropped, unescaped trailing spaces of a value too;
//! - the components of a multi-valued RDN (`cn=a+uid=b`) are sorted.
//!
//! Attribute types written as OIDs (`2.5.4.3=...`) are not mapped to their names: OpenLDAP and
//! Active Directory return names, and typing OIDs into `member` values is rare enough not to pay
//! for a schema table here.

use idmsync_mapping::is_attribute_type;
use std::fmt::Write as _;

/// Why a string is not a DN. Callers mostly fall back to the text as given (see
/// [`normalize_or_keep`]), so the reason is for tests and debug logs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DnError {
    /// The DN has no RDN, or an RDN has an empty component.
    #[error("empty relative distinguished name")]
    EmptyRdn,
    /// A component has no `=` between type and value.
    #[error("missing '=' in '{0}'")]
    MissingEquals(String),
    /// The attribute type is not a name (`cn`) or a numeric OID (`2.5.4.3`).
    #[error("invalid attribute type '{0}'")]
    InvalidType(String),
    /// A backslash is not followed by a special character or two hex digits.
    #[error("invalid escape in '{0}'")]
    InvalidEscape(String),
    /// A character that must be escaped (`"`, `<`, `>`) appears unescaped.
    #[error("unescaped '{0}'")]
    Unescaped(char),
    /// Hex escapes decode to bytes that are not UTF-8.
    #[error("escapes do not decode to UTF-8")]
    NotUtf8,
    /// A `#` value is not an even number of hex digits.
    #[error("invalid BER hex value '{0}'")]
    InvalidHexValue(String),
}

/// The canonical form of `dn`: lowercased types and values, decoded and re-encoded escapes,
/// no optional spaces, sorted multi-valued RDNs.
///
/// # Errors
/// A [`DnError`] when `dn` is not an RFC 4514 distinguished name (the empty DN included: no
/// entry the adapter reads is the root DSE).
pub fn normalize(dn: &str) -> Result<String, DnError> {
    if is_canonical_but_case(dn) {
        Ok(dn.to_ascii_lowercase())
    } else {
        parse_and_normalize(dn)
    }
}

/// Whether a DN is canonical but for ASCII case, told without parsing it; `false` for
/// anything else (escapes, quotes, `#` values, multi-valued RDNs, optional spaces, control
/// or non-ASCII characters), which [`parse_and_normalize`] handles.
///
/// Why: a large directory's groups hold a million `member` values, nearly all in the form the
/// server hands out (`uid=jlennon,ou=people,dc=example,dc=com`), and parsing each one was a
/// tenth of a no-change full sync. The checks are one pass over the bytes (a profile of that
/// sync showed the earlier byte scan plus `split(',')`/`split_once('=')` per RDN at 3-4 % of its
/// samples), and such a DN is made canonical by lowering its case, in place where the caller
/// owns it ([`normalize_owned`]).
fn is_canonical_but_case(dn: &str) -> bool {
    canonical_but_case(dn).is_some()
}

/// [`is_canonical_but_case`] as an `Option`, so that the checks can use `?`.
fn canonical_but_case(dn: &str) -> Option<()> {
    let bytes = dn.as_bytes();
    // Start of the current RDN, and its first `=` once seen.
    let mut start = 0;
    let mut equals = None;
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b',' => {
                plain_rdn(bytes, start, equals?, i)?;
                start = i + 1;
                equals = None;
            }
            b'=' if equals.is_none() => equals = Some(i),
            b'\\' | b'"' | b'+' | b';' | b'<' | b'>' | b'#' => return None,
            _ if b.is_ascii_graphic() || b == b' ' => {}
            _ => return None,
        }
    }
    plain_rdn(bytes, start, equals?, bytes.len())
}

/// Whether `bytes[start..end]`, with its first `=` at `equals`, is `type=value` with a valid
/// attribute type and no space at either end of the value; `Some(())` when it is, so that
/// [`canonical_but_case`] can use `?`. The bytes were already checked to be ASCII.
fn plain_rdn(bytes: &[u8], start: usize, equals: usize, end: usize) -> Option<()> {
    let kind = std::str::from_utf8(bytes.get(start..equals)?).ok()?;
    let value = bytes.get(equals + 1..end)?;
    let spaced = value.first() == Some(&b' ') || value.last() == Some(&b' ');
    (is_attribute_type(kind) && !spaced).then_some(())
}

/// [`normalize`] the long way: splits, decodes, re-encodes and sorts every component.
fn parse_and_normalize(dn: &str) -> Result<String, DnError> {
    let mut out = String::with_capacity(dn.len());
    for (i, rdn) in split_unescaped(dn, &[',', ';']).into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let mut avas = split_unescaped(rdn, &['+'])
            .into_iter()
            .map(parse_ava)
            .collect::<Result<Vec<_>, _>>()?;
        avas.sort();
        for (j, (kind, value)) in avas.iter().enumerate() {
            if j > 0 {
                out.push('+');
            }
            out.push_str(kind);
            out.push('=');
            out.push_str(value);
        }
    }
    Ok(out)
}

/// [`normalize`], or `text` unchanged when it is not a DN: member values and configured names
/// that are not DNs still reach the planner, which reports what it cannot resolve.
pub fn normalize_or_keep(text: &str) -> String {
    normalize(text).unwrap_or_else(|_| text.to_owned())
}

/// [`normalize_or_keep`] for a string the caller owns: the common DN, canonical but for case,
/// is lowered in place instead of copied (a large directory's million member values).
pub fn normalize_owned(mut text: String) -> String {
    if is_canonical_but_case(&text) {
        text.make_ascii_lowercase();
        text
    } else {
        parse_and_normalize(&text).unwrap_or(text)
    }
}

/// Splits at the separators that are not escaped by a backslash.
fn split_unescaped<'a>(text: &'a str, separators: &[char]) -> Vec<&'a str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if separators.contains(&c) {
            parts.push(&text[start..i]);
            start = i + c.len_utf8();
        }
    }
    parts.push(&text[start..]);
    parts
}

/// One `type=value` component as canonical `(type, escaped value)`.
fn parse_ava(ava: &str) -> Result<(String, String), DnError> {
    if ava.trim().is_empty() {
        return Err(DnError::EmptyRdn);
    }
    let (kind, value) = ava
        .split_once('=')
        .ok_or_else(|| DnError::MissingEquals(ava.trim().to_owned()))?;
    let kind = kind.trim();
    if !is_attribute_type(kind) {
        return Err(DnError::InvalidType(kind.to_owned()));
    }
    let value = value.trim_start_matches(' ');
    let value = match value.strip_prefix('#') {
        Some(hex) => canonical_hex_value(hex.trim_end_matches(' '))?,
        None => escape(&unescape(value)?.to_lowercase()),
    };
    Ok((kind.to_ascii_lowercase(), value))
}

/// A `#` value: the BER encoding in hex, kept undecoded with lowercase digits.
fn canonical_hex_value(hex: &str) -> Result<String, DnError> {
    if hex.is_empty() || !hex.len().is_multiple_of(2) || !hex.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return Err(DnError::InvalidHexValue(hex.to_owned()));
    }
    Ok(format!("#{}", hex.to_ascii_lowercase()))
}

/// Decodes a string value: `\` + special character, `\` + two hex digits (UTF-8 bytes); drops
/// unescaped trailing spaces.
fn unescape(value: &str) -> Result<String, DnError> {
    let mut bytes = Vec::with_capacity(value.len());
    // Length of `bytes` up to the last character that is not an unescaped space.
    let mut significant = 0;
    let mut rest = value.as_bytes();
    while let Some((&b, tail)) = rest.split_first() {
        rest = tail;
        match b {
            b'\\' => {
                let invalid = || DnError::InvalidEscape(value.to_owned());
                match rest {
                    [h, l, tail @ ..] if h.is_ascii_hexdigit() && l.is_ascii_hexdigit() => {
                        bytes.push((hex_digit(*h) << 4) | hex_digit(*l));
                        rest = tail;
                    }
                    [c, tail @ ..] if SPECIAL.contains(c) => {
                        bytes.push(*c);
                        rest = tail;
                    }
                    _ => return Err(invalid()),
                }
                significant = bytes.len();
            }
            b'"' | b'<' | b'>' => return Err(DnError::Unescaped(char::from(b))),
            b' ' => bytes.push(b),
            _ => {
                bytes.push(b);
                significant = bytes.len();
            }
        }
    }
    bytes.truncate(significant);
    String::from_utf8(bytes).map_err(|_| DnError::NotUtf8)
}

/// The characters a backslash may escape by themselves (RFC 4514 `special`, space, `#`, `=`).
const SPECIAL: &[u8] = b"\"+,;<>\\ #=";

fn hex_digit(b: u8) -> u8 {
    match b {
        b'0'..=b'9' => b - b'0',
        b'a'..=b'f' => b - b'a' + 10,
        _ => b - b'A' + 10,
    }
}

/// Encodes a decoded value the RFC 4514 way: `\` before `"+,;<>\`, before a leading `#` or
/// space and a trailing space; NUL and other control characters as `\HH`.
fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let last = value.chars().count().saturating_sub(1);
    for (i, c) in value.chars().enumerate() {
        let edge_space = c == ' ' && (i == 0 || i == last);
        if matches!(c, '"' | '+' | ',' | ';' | '<' | '>' | '\\')
            || edge_space
            || (c == '#' && i == 0)
        {
            out.push('\\');
            out.push(c);
        } else if c.is_ascii_control() {
            // Writing to a String cannot fail.
            let _ = write!(out, "\\{:02x}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    out
}

/// `value` without the optional UID of RFC 4517's "Name and Optional UID" syntax
/// (`uniqueMember: uid=x,ou=people,dc=example#'0101'B`), which 389 Directory Server may keep;
/// the member is the DN part. A value without that suffix comes back as it is.
pub fn without_uid(mut value: String) -> String {
    if let Some(sharp) = value.rfind('#') {
        let bits = &value[sharp + 1..];
        let is_bit_string = bits.len() >= 3
            && bits.starts_with('\'')
            && bits.ends_with("'B")
            && bits[1..bits.len() - 2]
                .bytes()
                .all(|b| b == b'0' || b == b'1');
        if is_bit_string && sharp > 0 && !value[..sharp].ends_with('\\') {
            value.truncate(sharp);
        }
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: &str) {
        assert_eq!(
            normalize(input).as_deref(),
            Ok(expected),
            "input: {input:?}"
        );
        // The canonical form is a fixed point.
        assert_eq!(
            normalize(expected).as_deref(),
            Ok(expected),
            "not a fixed point: {expected:?}"
        );
    }

    fn check_error(input: &str, expected: DnError) {
        assert_eq!(normalize(input), Err(expected), "input: {input:?}");
    }

    #[test]
    fn case_and_spacing_are_canonical() {
        let canonical = "uid=jlennon,ou=liverpool,ou=people,dc=example,dc=com";
        check(
            "UID=jlennon, OU=Liverpool,ou=People,DC=example,DC=com",
            canonical,
        );
        check(canonical, canonical);
        check(
            "  uid = jlennon ,  ou=Liverpool , ou=people,dc=example,dc=com  ",
            canonical,
        );
        check(
            "CN=Paul McCartney,DC=Example",
            "cn=paul mccartney,dc=example",
        );
    }

    #[test]
    fn escaped_specials_round_trip() {
        check("cn=Smith\\, John,dc=example", "cn=smith\\, john,dc=example");
        check("cn=a\\+b,dc=x", "cn=a\\+b,dc=x");
        check("cn=say \\\"hi\\\",dc=x", "cn=say \\\"hi\\\",dc=x");
        check("cn=back\\\\slash,dc=x", "cn=back\\\\slash,dc=x");
        check("cn=\\<tag\\>,dc=x", "cn=\\<tag\\>,dc=x");
        check("cn=semi\\;colon,dc=x", "cn=semi\\;colon,dc=x");
        check("cn=a\\=b,dc=x", "cn=a=b,dc=x");
        check("cn=a=b,dc=x", "cn=a=b,dc=x");
    }

    #[test]
    fn hex_escapes_decode_to_utf8() {
        check("cn=Ren\\C3\\A9,dc=x", "cn=rené,dc=x");
        check("cn=René,dc=x", "cn=rené,dc=x");
        check("CN=ÉMILE ZOLA,dc=x", "cn=émile zola,dc=x");
        check("cn=Smith\\2C John,dc=x", "cn=smith\\, john,dc=x");
        check("cn=nul\\00,dc=x", "cn=nul\\00,dc=x");
    }

    #[test]
    fn leading_and_trailing_spaces_and_hash() {
        check("cn=\\ padded\\ ,dc=x", "cn=\\ padded\\ ,dc=x");
        check("cn=\\20padded\\20,dc=x", "cn=\\ padded\\ ,dc=x");
        check("cn=trailing   ,dc=x", "cn=trailing,dc=x");
        check("cn=\\#1,dc=x", "cn=\\#1,dc=x");
        check("cn=a#1,dc=x", "cn=a#1,dc=x");
    }

    #[test]
    fn ber_values_stay_encoded() {
        check("uid=#04024869,dc=x", "uid=#04024869,dc=x");
        check("UID=#04024A6B,dc=x", "uid=#04024a6b,dc=x");
        check(
            "1.3.6.1.4.1.1466.0=#04024869",
            "1.3.6.1.4.1.1466.0=#04024869",
        );
    }

    #[test]
    fn multi_valued_rdns_are_sorted() {
        check("uid=b+cn=A,dc=x", "cn=a+uid=b,dc=x");
        check("cn=A + uid=b,dc=x", "cn=a+uid=b,dc=x");
        check("cn=b+cn=a,dc=x", "cn=a+cn=b,dc=x");
    }

    #[test]
    fn legacy_semicolon_separates_rdns() {
        check("cn=a;dc=x", "cn=a,dc=x");
    }

    #[test]
    fn empty_values_are_allowed() {
        check("cn=,dc=x", "cn=,dc=x");
    }

    #[test]
    fn not_dns() {
        check_error("", DnError::EmptyRdn);
        check_error("jlennon", DnError::MissingEquals("jlennon".into()));
        check_error("cn=a,,dc=x", DnError::EmptyRdn);
        check_error("cn=a,", DnError::EmptyRdn);
        check_error("cn=a+,dc=x", DnError::EmptyRdn);
        check_error("1cn=a", DnError::InvalidType("1cn".into()));
        check_error("c n=a", DnError::InvalidType("c n".into()));
        check_error("=a", DnError::InvalidType(String::new()));
        check_error("cn=a\\", DnError::InvalidEscape("a\\".into()));
        check_error("cn=a\\x", DnError::InvalidEscape("a\\x".into()));
        check_error("cn=\\C3,dc=x", DnError::NotUtf8);
        check_error("cn=a\"b", DnError::Unescaped('"'));
        check_error("cn=<a>", DnError::Unescaped('<'));
        check_error("uid=#0", DnError::InvalidHexValue("0".into()));
        check_error("uid=#zz", DnError::InvalidHexValue("zz".into()));
    }

    #[test]
    fn the_fast_path_agrees_with_the_parser() {
        let inputs = [
            "uid=jlennon,ou=people,dc=example,dc=com",
            "UID=JLennon,OU=People,DC=Example,DC=com",
            "CN=Paul McCartney,DC=Example",
            "cn=a=b,dc=x",
            "cn==a,dc=x",
            "cn=,dc=x",
            "2.5.4.3=x,dc=y",
            "x-custom-attr=v,dc=y",
        ];
        for input in inputs {
            assert!(is_canonical_but_case(input), "no fast path for {input:?}");
            assert_eq!(
                Ok(input.to_ascii_lowercase()),
                parse_and_normalize(input),
                "{input:?}"
            );
            assert_eq!(
                normalize_owned(input.to_owned()),
                input.to_ascii_lowercase()
            );
        }
        let slow = [
            "",
            "jlennon",
            "cn=a,,dc=x",
            "cn=a,",
            "1cn=a",
            "c n=a",
            "=a",
            "cn=a , dc=x",
            "cn= a,dc=x",
            "cn=trailing ,dc=x",
            "cn=a+uid=b,dc=x",
            "cn=a;dc=x",
            "cn=Smith\\, John,dc=x",
            "uid=#04024869,dc=x",
            "cn=René,dc=x",
            "cn=tab\t,dc=x",
            "cn=a\"b",
        ];
        for input in slow {
            assert!(!is_canonical_but_case(input), "{input:?}");
            assert_eq!(normalize_owned(input.to_owned()), normalize_or_keep(input));
        }
    }

    #[test]
    fn names_that_are_not_dns_are_kept() {
        assert_eq!(normalize_or_keep("JLennon"), "JLennon");
        assert_eq!(normalize_or_keep("CN=Admins,DC=x"), "cn=admins,dc=x");
    }

    #[test]
    fn an_optional_uid_is_not_part_of_the_member() {
        let cases = [
            (
                "uid=x,ou=people,dc=example#'0101'B",
                "uid=x,ou=people,dc=example",
            ),
            ("uid=x,dc=example#''B", "uid=x,dc=example"),
            ("uid=x,dc=example", "uid=x,dc=example"),
            ("cn=a\\#'01'B,dc=example", "cn=a\\#'01'B,dc=example"),
            ("cn=a#b,dc=example", "cn=a#b,dc=example"),
            ("uid=x,dc=example#'012'B", "uid=x,dc=example#'012'B"),
        ];
        for (value, member) in cases {
            assert_eq!(without_uid(value.to_owned()), member, "{value}");
        }
    }
}
