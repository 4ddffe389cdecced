//! Paging (`startIndex`, `count`; RFC 7644 §3.4.2.4) and ListResponse bodies.

use serde_json::{json, Value};

use crate::ScimError;

/// The URN of the ListResponse message.
pub const LIST_RESPONSE_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

/// The page a query asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// The 1-based index of the first result.
    pub start_index: usize,
    /// How many results at most.
    pub count: usize,
}

impl Page {
    /// How many results to skip (the 0-based offset of the first).
    pub fn offset(&self) -> usize {
        self.start_index.saturating_sub(1)
    }
}

fn integer(text: Option<&str>, parameter: &str) -> Result<Option<i64>, ScimError> {
    match text.map(str::trim) {
        None | Some("") => Ok(None),
        Some(t) => t
            .parse::<i64>()
            .map(Some)
            .map_err(|_| ScimError::invalid_value(format!("`{parameter}` must be an integer."))),
    }
}

/// Reads the paging parameters. RFC 7644 §3.4.2.4: a `startIndex` below 1 means 1, a negative
/// `count` means 0; a missing `count`, or one above `max_results` (the `filter.maxResults` we
/// advertise), means `max_results`. A non-integer is a 400 `invalidValue`.
pub fn parse_page(
    start_index: Option<&str>,
    count: Option<&str>,
    max_results: usize,
) -> Result<Page, ScimError> {
    let start = integer(start_index, "startIndex")?.unwrap_or(1).max(1);
    let count = match integer(count, "count")? {
        None => max_results,
        Some(c) => usize::try_from(c.max(0))
            .unwrap_or(usize::MAX)
            .min(max_results),
    };
    Ok(Page {
        start_index: usize::try_from(start).unwrap_or(usize::MAX),
        count,
    })
}

/// A ListResponse of one page: `itemsPerPage` is how many resources it holds; a
/// `start_index` below 1 is written as 1.
pub fn list_response(resources: Vec<Value>, total_results: usize, start_index: usize) -> Value {
    json!({
        "schemas": [LIST_RESPONSE_SCHEMA],
        "totalResults": total_results,
        "startIndex": start_index.max(1),
        "itemsPerPage": resources.len(),
        "Resources": resources,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(start: Option<&str>, count: Option<&str>, expected: Result<(usize, usize), &str>) {
        let got = parse_page(start, count, 100)
            .map(|p| (p.start_index, p.count))
            .map_err(|e| e.detail);
        assert_eq!(got, expected.map_err(str::to_string), "{start:?} {count:?}");
    }

    #[test]
    fn paging_parameters() {
        check(None, None, Ok((1, 100)));
        check(Some("1"), Some("10"), Ok((1, 10)));
        check(Some("0"), Some("0"), Ok((1, 0)));
        check(Some("-5"), Some("-1"), Ok((1, 0)));
        check(Some(" 21 "), Some("1000"), Ok((21, 100)));
        check(Some(""), Some(""), Ok((1, 100)));
        check(Some("x"), None, Err("`startIndex` must be an integer."));
        check(None, Some("1.5"), Err("`count` must be an integer."));
        assert_eq!(
            Page {
                start_index: 21,
                count: 10
            }
            .offset(),
            20
        );
    }

    #[test]
    fn list_responses() {
        assert_eq!(
            list_response(vec![json!({"id": "a"}), json!({"id": "b"})], 7, 3),
            json!({"schemas": [LIST_RESPONSE_SCHEMA], "totalResults": 7, "startIndex": 3, "itemsPerPage": 2, "Resources": [{"id": "a"}, {"id": "b"}]})
        );
        assert_eq!(
            list_response(Vec::new(), 0, 0),
            json!({"schemas": [LIST_RESPONSE_SCHEMA], "totalResults": 0, "startIndex": 1, "itemsPerPage": 0, "Resources": []})
        );
    }
}
