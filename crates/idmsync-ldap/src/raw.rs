//! The entry type every read yields, before any mapping: a leaf, so that the connection layer,
//! the range reading, the root DSE description and the entry mapping share it without
//! depending on each other.

use std::fmt::Write as _;

/// Bytes as lowercase hex: a binary value as text (an identity, a cookie in a watermark).
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut text, b| {
        // Writing to a String cannot fail.
        let _ = write!(text, "{b:02x}");
        text
    })
}

/// The bytes of a non-empty [`hex`] text; `None` when it is not one.
pub(crate) fn unhex(hex: &str) -> Option<Vec<u8>> {
    if hex.is_empty() || !hex.len().is_multiple_of(2) {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}

/// An entry as a search returned it: its DN and the requested attributes with their raw values.
/// Values stay bytes until mapped, because some identities (objectGUID) are binary.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawEntry {
    /// The entry's DN as the server wrote it.
    pub dn: String,
    /// Attribute descriptions as returned (any case) and their values.
    pub attributes: Vec<(String, Vec<Vec<u8>>)>,
}

impl RawEntry {
    /// An entry written out in a unit test: attribute names and their text values.
    #[cfg(test)]
    pub(crate) fn literal(dn: &str, attributes: &[(&str, &[&str])]) -> Self {
        Self {
            dn: dn.into(),
            attributes: attributes
                .iter()
                .map(|(name, values)| {
                    let values = values.iter().map(|v| v.as_bytes().to_vec()).collect();
                    ((*name).to_owned(), values)
                })
                .collect(),
        }
    }

    /// The values of `name`, compared case-insensitively (servers return attribute names in
    /// their schema's case, not the configured one); empty when the entry has none.
    pub(crate) fn values(&self, name: &str) -> &[Vec<u8>] {
        self.attributes
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map_or(&[], |(_, v)| v.as_slice())
    }

    /// Takes the values of `name` out of the entry (empty when it has none), so that they can
    /// become strings without a copy.
    pub(crate) fn take_values(&mut self, name: &str) -> Vec<Vec<u8>> {
        self.attributes
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| std::mem::take(v))
            .unwrap_or_default()
    }

    /// The first value of `name` as text: multi-valued names and mail addresses are common
    /// (`cn: John Lennon`, `cn: Johnny`) and the first is the one people maintain.
    pub(crate) fn first_text(&self, name: &str) -> Option<String> {
        self.values(name)
            .first()
            .map(|v| String::from_utf8_lossy(v).into_owned())
    }
}

/// An entry's attributes as mapping expressions read them: the values that are UTF-8 text,
/// names compared without case as LDAP does.
impl idmsync_mapping::Attributes for RawEntry {
    fn values(&self, name: &str) -> Vec<&str> {
        RawEntry::values(self, name)
            .iter()
            .filter_map(|v| std::str::from_utf8(v).ok())
            .collect()
    }
}
