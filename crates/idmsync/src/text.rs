//! Values shown to people on a terminal: control characters made visible, long values cut
//! with an ellipsis, widths counted in terminal columns (a CJK character takes two).
//!
//! The values come from the directory or the configuration, so they may be of any length and
//! hold escape sequences; printed as they are, one could break a table's layout or rewrite the
//! operator's terminal.

use unicode_width::UnicodeWidthChar;

/// What replaces the cut-off end of a value; one column wide.
const ELLIPSIS: char = '…';

/// A value made printable and at most a given number of columns wide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clipped {
    /// The text to print.
    pub text: String,
    /// Its width in terminal columns, for padding.
    pub width: usize,
}

/// `value` with its control characters escaped (`\n`, `\u{1b}`), cut to `max` columns with a
/// trailing `…` when longer. Reads no further than it needs, so a value of megabytes costs as
/// little as a short one.
pub fn clip(value: &str, max: usize) -> Clipped {
    let mut text = String::new();
    let mut width = 0;
    // The longest prefix that leaves a column for the ellipsis: (its length, its width).
    let mut fits = (0, 0);
    for c in value.chars() {
        let start = text.len();
        if c.is_control() {
            text.extend(c.escape_default());
        } else {
            text.push(c);
        }
        let added: usize = text[start..].chars().map(|c| c.width().unwrap_or(0)).sum();
        if width + added > max {
            text.truncate(fits.0);
            if max > 0 {
                text.push(ELLIPSIS);
            }
            return Clipped {
                text,
                width: fits.1 + usize::from(max > 0),
            };
        }
        width += added;
        if width < max {
            fits = (text.len(), width);
        }
    }
    Clipped { text, width }
}

/// `n` and the noun, plural unless `n` is one: `1 user`, `3 groups`, `0 entries`.
pub fn count(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clipping_counts_columns_and_keeps_short_values_whole() {
        let check = |value: &str, max: usize, text: &str, width: usize| {
            let clipped = clip(value, max);
            assert_eq!(
                clipped,
                Clipped {
                    text: text.into(),
                    width
                },
                "{value:?} at {max}"
            );
        };
        check("", 5, "", 0);
        check("abc", 3, "abc", 3);
        check("abcd", 3, "ab…", 3);
        check("abcd", 1, "…", 1);
        check("abcd", 0, "", 0);
        check("日本語", 6, "日本語", 6);
        check("日本語", 5, "日本…", 5);
        check("日本語", 4, "日…", 3);
        check("e\u{301}", 1, "e\u{301}", 1);
        check("a\nb\u{1b}[2J", 40, "a\\nb\\u{1b}[2J", 13);
        check("a\nb", 3, "a…", 2);
    }

    #[test]
    fn a_huge_value_is_cut_without_reading_it_all() {
        let clipped = clip(&"x".repeat(1 << 20), 60);
        assert_eq!(clipped.width, 60);
        assert!(clipped.text.ends_with('…'));
    }

    #[test]
    fn counts_say_one_or_many() {
        assert_eq!(count(1, "user", "users"), "1 user");
        assert_eq!(count(0, "entry", "entries"), "0 entries");
        assert_eq!(count(2, "group", "groups"), "2 groups");
    }
}
