//! Range retrieval of large multi-valued attributes (Active Directory's `member;range=0-1499`):
//! the attribute descriptions to ask for and the reading of what came back, as pure functions.
//!
//! Active Directory returns at most MaxValRange (1,500) values of an attribute per read. A
//! group with more members comes back without a plain `member` attribute but with
//! `member;range=0-1499`; the client must ask the same entry for `member;range=1500-*` (or
//! `1500-2999`) and so on, until the returned description ends in `-*`. A client that reads only
//! the plain `member` sees an *empty* group and would remove every membership, so the adapter
//! follows ranges whatever the mode, and any answer it cannot place fails the run: a partial
//! member list is never taken for a complete one. No Rust LDAP crate implements this.

use crate::raw::RawEntry;

/// The attribute option of a ranged description (`member;range=0-1499`), compared in any case.
const RANGE_OPTION: &str = ";range=";

/// The values one read returned and where the next read starts, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slice {
    /// The values, in the server's order.
    pub values: Vec<Vec<u8>>,
    /// The first index of the next range; `None` once the server has said `*` (or answered
    /// with the plain attribute, or without the attribute on the first read: no values).
    pub next: Option<u32>,
}

/// Why a ranged answer cannot be placed; the run fails rather than guessing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RangeError {
    /// The server returned a description that does not continue the requested range.
    #[error("asked for '{attribute}' from value {start}, the server returned '{returned}'")]
    Unexpected {
        /// The attribute asked for.
        attribute: String,
        /// The first value asked for.
        start: u32,
        /// The description the server returned.
        returned: String,
    },
    /// A follow-up read returned no values, though the previous range did not end in `*`
    /// (the group shrank between reads).
    #[error("no values of '{attribute}' from value {start} on, though the previous range did not end in '*'; the entry changed during the read")]
    Missing {
        /// The attribute asked for.
        attribute: String,
        /// The first value asked for.
        start: u32,
    },
}

/// The attribute description that asks for values of `attribute` from `start`: `size` of them
/// (`member;range=0-1499`), or as many as the server will give (`member;range=1500-*`) when
/// `size` is `None`; the plain name for a first read without a size.
pub fn request(attribute: &str, start: u32, size: Option<u32>) -> String {
    match size {
        None if start == 0 => attribute.to_owned(),
        None => format!("{attribute};range={start}-*"),
        Some(size) => {
            let end = start.saturating_add(size.max(1) - 1);
            format!("{attribute};range={start}-{end}")
        }
    }
}

/// Takes the values of `attribute` out of `entry` (plain or ranged, in any case), checking that
/// they start at `start`, and says where the next read starts.
///
/// # Errors
/// [`RangeError::Unexpected`] for a range that does not start at `start`, ends before it
/// starts, or a plain attribute on a follow-up read; [`RangeError::Missing`] for no values on a
/// follow-up read.
pub fn take(entry: &mut RawEntry, attribute: &str, start: u32) -> Result<Slice, RangeError> {
    let found = entry
        .attributes
        .iter()
        .position(|(name, _)| option_of(name, attribute).is_some());
    let Some(index) = found else {
        return if start == 0 {
            Ok(Slice {
                values: Vec::new(),
                next: None,
            })
        } else {
            Err(RangeError::Missing {
                attribute: attribute.to_owned(),
                start,
            })
        };
    };
    let (name, values) = entry.attributes.remove(index);
    let unexpected = || RangeError::Unexpected {
        attribute: attribute.to_owned(),
        start,
        returned: name.clone(),
    };
    let next = match option_of(&name, attribute) {
        Some("") if start == 0 => None,
        Some(option) => {
            let (first, last) = option
                .get(..RANGE_OPTION.len())
                .filter(|head| head.eq_ignore_ascii_case(RANGE_OPTION))
                .and_then(|_| option[RANGE_OPTION.len()..].split_once('-'))
                .ok_or_else(unexpected)?;
            if first.parse::<u32>().ok() != Some(start) {
                return Err(unexpected());
            }
            match last {
                "*" => None,
                last => Some(
                    last.parse::<u32>()
                        .ok()
                        .filter(|&last| last >= start)
                        .and_then(|last| last.checked_add(1))
                        .ok_or_else(unexpected)?,
                ),
            }
        }
        None => return Err(unexpected()),
    };
    Ok(Slice { values, next })
}

/// Puts the complete values back as the plain attribute, where the entry mapping looks.
pub fn put(entry: &mut RawEntry, attribute: &str, values: Vec<Vec<u8>>) {
    entry.attributes.push((attribute.to_owned(), values));
}

/// What follows `attribute` in the description `name` (`""` or `";range=0-9"`), if `name` is
/// `attribute` with or without options.
fn option_of<'a>(name: &'a str, attribute: &str) -> Option<&'a str> {
    let head = name.get(..attribute.len())?;
    let rest = &name[attribute.len()..];
    (head.eq_ignore_ascii_case(attribute) && (rest.is_empty() || rest.starts_with(';')))
        .then_some(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(attributes: &[(&str, &[&str])]) -> RawEntry {
        RawEntry::literal("cn=g,dc=x", attributes)
    }

    fn values(list: &[&str]) -> Vec<Vec<u8>> {
        list.iter().map(|v| v.as_bytes().to_vec()).collect()
    }

    #[test]
    fn requests_name_the_range() {
        assert_eq!(request("member", 0, None), "member");
        assert_eq!(request("member", 1500, None), "member;range=1500-*");
        assert_eq!(request("member", 0, Some(1500)), "member;range=0-1499");
        assert_eq!(request("member", 10, Some(10)), "member;range=10-19");
        assert_eq!(request("member", 5, Some(0)), "member;range=5-5");
        assert_eq!(
            request("member", u32::MAX - 1, Some(10)),
            format!("member;range={}-{}", u32::MAX - 1, u32::MAX)
        );
    }

    #[test]
    fn a_plain_or_final_answer_is_complete() {
        let mut plain = entry(&[("cn", &["g"]), ("Member", &["a", "b"])]);
        assert_eq!(
            take(&mut plain, "member", 0),
            Ok(Slice {
                values: values(&["a", "b"]),
                next: None
            })
        );
        assert_eq!(plain.attributes.len(), 1, "taken out of the entry");
        let mut last = entry(&[("member;range=0-*", &["a"])]);
        assert_eq!(take(&mut last, "member", 0).map(|s| s.next), Ok(None));
        let mut none = entry(&[("cn", &["g"]), ("memberOf", &["x"])]);
        assert_eq!(
            take(&mut none, "member", 0),
            Ok(Slice {
                values: Vec::new(),
                next: None
            })
        );
    }

    #[test]
    fn a_partial_answer_says_where_to_continue() {
        let mut first = entry(&[("member;range=0-1", &["a", "b"])]);
        assert_eq!(
            take(&mut first, "member", 0),
            Ok(Slice {
                values: values(&["a", "b"]),
                next: Some(2)
            })
        );
        let mut middle = entry(&[("MEMBER;Range=2-3", &["c", "d"])]);
        assert_eq!(take(&mut middle, "member", 2).map(|s| s.next), Ok(Some(4)));
        let mut end = entry(&[("member;range=4-*", &["e"])]);
        assert_eq!(take(&mut end, "member", 4).map(|s| s.next), Ok(None));
    }

    #[test]
    fn answers_that_do_not_continue_the_range_fail() {
        for (name, start) in [
            ("member;range=2-3", 0),
            ("member;range=0-1", 2),
            ("member;range=5-4", 5),
            ("member;range=x-*", 0),
            ("member;range=0", 0),
            ("member;binary", 0),
            ("member", 2),
            (&*format!("member;range=0-{}", u32::MAX), 0),
        ] {
            let mut e = entry(&[(name, &["a"])]);
            assert!(
                matches!(
                    take(&mut e, "member", start),
                    Err(RangeError::Unexpected { .. })
                ),
                "{name} from {start}"
            );
        }
        let mut gone = entry(&[("cn", &["g"])]);
        assert_eq!(
            take(&mut gone, "member", 1500),
            Err(RangeError::Missing {
                attribute: "member".into(),
                start: 1500
            })
        );
        let mut other = entry(&[("memberUid;range=0-*", &["a"])]);
        assert_eq!(take(&mut other, "member", 0).map(|s| s.values), Ok(vec![]));
    }

    #[test]
    fn put_makes_the_plain_attribute() {
        let mut e = entry(&[]);
        put(&mut e, "member", values(&["a"]));
        assert_eq!(e, entry(&[("member", &["a"])]));
    }
}
