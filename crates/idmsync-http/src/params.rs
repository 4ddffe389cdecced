//! Query parameters: parsed once per request by the [`Params`] extractor, read through a few
//! typed accessors, so that every bad value gets the same 400 naming the parameter.

use std::collections::HashMap;

use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use idmsync_domain::Tenant;
use idmsync_ports::Page;

use crate::error::ApiError;

/// Rows per page when the caller does not say (the original's default).
const DEFAULT_SIZE: u64 = 25;
/// The largest page; bigger requests are refused rather than silently cut, so that a script
/// asking for "everything" learns it must page.
const MAX_SIZE: u64 = 1000;

/// The query string of a request. Empty values count as absent (as HTML forms send them); a
/// parameter given twice is refused, since which one wins would be a guess.
#[derive(Debug)]
pub(crate) struct Params(HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let Query(pairs) = Query::<Vec<(String, String)>>::try_from_uri(&parts.uri)
            .map_err(|_| ApiError::bad_parameter("query", "malformed query string"))?;
        let mut map = HashMap::new();
        for (name, value) in pairs.into_iter().filter(|(_, v)| !v.is_empty()) {
            if map.contains_key(&name) {
                return Err(ApiError::bad_parameter(&name, "given more than once"));
            }
            map.insert(name, value);
        }
        Ok(Self(map))
    }
}

impl Params {
    /// A text parameter, if given.
    pub(crate) fn text(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// A parameter read by `parse`; a value it refuses is a 400 saying what was `expected`.
    pub(crate) fn parse<T>(
        &self,
        name: &str,
        parse: impl FnOnce(&str) -> Option<T>,
        expected: &str,
    ) -> Result<Option<T>, ApiError> {
        self.text(name)
            .map(|value| parse(value).ok_or_else(|| ApiError::bad_parameter(name, expected)))
            .transpose()
    }

    /// The page asked for by `start` (rows to skip, default 0) and `size` (default 25, at most
    /// 1000).
    pub(crate) fn page(&self) -> Result<Page, ApiError> {
        let start = self
            .parse(
                "start",
                |v| v.parse().ok(),
                "must be a non-negative integer",
            )?
            .unwrap_or(0);
        let size = self
            .parse(
                "size",
                |v| v.parse().ok().filter(|n| (1..=MAX_SIZE).contains(n)),
                &format!("must be an integer from 1 to {MAX_SIZE}"),
            )?
            .unwrap_or(DEFAULT_SIZE);
        Ok(Page { start, size })
    }

    /// Checks `tenantId`, which the original requires and this single-tenant service accepts
    /// only for its own tenant: asking for another is a 404, not a silent answer about this one.
    pub(crate) fn check_tenant(&self, tenant: &Tenant) -> Result<(), ApiError> {
        match self.text("tenantId") {
            Some(asked) if asked != tenant.as_str() => {
                Err(ApiError::not_found(format!("no tenant {asked}")))
            }
            _ => Ok(()),
        }
    }
}
