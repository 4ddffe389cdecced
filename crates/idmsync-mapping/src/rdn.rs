//! What `rdn(x)` gives: the value of a DN's first RDN (RFC 4514), its escapes decoded.
//!
//! The `idmsync-ldap` adapter has its own DN parser, which makes DNs canonical for matching
//! (lowercased, re-escaped); a mapping needs the opposite, the value as a person would read it,
//! and this crate may not depend on an adapter.

/// The characters RFC 4514 lets a backslash escape by themselves.
const SPECIAL: &[char] = &['"', '+', ',', ';', '<', '>', '\\', ' ', '#', '='];

/// The value of the first attribute of the first RDN of `dn` (`Doe, John` for
/// `CN=Doe\, John+UID=jdoe,OU=People,DC=example`), escapes decoded and unescaped spaces
/// around it dropped; `None` when `dn` is not a DN, and for a value written as BER hex (`#04…`),
/// which is no text to map.
///
/// The whole DN is checked, not only its first RDN, so that a value that merely starts like a
/// DN (`a=b, and then prose`) is not taken for one. `;` separates RDNs as `,` does (RFC 2253).
pub fn first_rdn_value(dn: &str) -> Option<String> {
    let mut first = None;
    let mut rest = dn;
    loop {
        let (value, after) = attribute_value(rest)?;
        if first.is_none() {
            first = Some(value);
        }
        match after {
            Some(after) => rest = after,
            None => return first,
        }
    }
}

/// The `type=value` at the start of `text`: its decoded value, and the text after the
/// separator that ends it (`None` when it ends the DN).
fn attribute_value(text: &str) -> Option<(String, Option<&str>)> {
    let (kind, rest) = text.split_once('=')?;
    if !is_attribute_type(kind.trim_matches(' ')) {
        return None;
    }
    let rest = rest.trim_start_matches(' ');
    if rest.starts_with('#') {
        return None;
    }
    let mut bytes = Vec::new();
    // The length of `bytes` up to its last character that is not an unescaped space.
    let mut significant = 0;
    let mut chars = rest.char_indices();
    let mut after = None;
    while let Some((i, c)) = chars.next() {
        match c {
            ',' | '+' | ';' => {
                after = Some(&rest[i + 1..]);
                break;
            }
            '\\' => {
                let (_, escaped) = chars.next()?;
                if SPECIAL.contains(&escaped) {
                    push(&mut bytes, escaped);
                } else {
                    let (_, low) = chars.next()?;
                    let byte = escaped.to_digit(16)? * 16 + low.to_digit(16)?;
                    bytes.push(u8::try_from(byte).ok()?);
                }
                significant = bytes.len();
            }
            '"' | '<' | '>' | '\0' => return None,
            ' ' => push(&mut bytes, ' '),
            c => {
                push(&mut bytes, c);
                significant = bytes.len();
            }
        }
    }
    bytes.truncate(significant);
    Some((String::from_utf8(bytes).ok()?, after))
}

/// Appends `c`, UTF-8 encoded.
fn push(bytes: &mut Vec<u8>, c: char) {
    bytes.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
}

/// Whether `kind` is an attribute type: a name (`cn`, `sAMAccountName`) or a numeric OID
/// (`2.5.4.3`). Public because the LDAP adapter's DN parser asks the same question.
pub fn is_attribute_type(kind: &str) -> bool {
    let mut chars = kind.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() => chars.all(|c| c.is_ascii_alphanumeric() || c == '-'),
        Some(c) if c.is_ascii_digit() => kind
            .split('.')
            .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit())),
        _ => false,
    }
}
