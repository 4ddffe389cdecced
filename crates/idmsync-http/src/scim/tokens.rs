//! Bearer authentication of `/scim/v2`: the tokens the identity providers were given, and the
//! check in front of every SCIM route.
//!
//! Tokens are kept only as SHA-256 digests, so that no `Debug` output, error or memory dump of
//! the state shows one, and a presented token is compared with every configured digest in
//! constant time: how long a refusal takes says nothing about how close a guess was, nor which
//! of several tokens (one per provider) it resembled.

use std::fmt;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use idmsync_scim::ScimError;

use super::wire::Failure;
use super::ScimState;
use crate::secret::{digest, same_digest, Sha};

/// The bearer tokens that may use `/scim/v2`, one per identity provider (or a new and an old
/// one while a token is rotated). Built from the tokens in clear, it keeps only their digests,
/// shared, so that the per-request clone of the state costs a reference count.
#[derive(Clone, Default)]
pub struct ScimTokens {
    digests: Arc<[Sha]>,
}

impl ScimTokens {
    /// The tokens of `tokens`. Empty ones are dropped: an empty token would let in anyone who
    /// sends `Authorization: Bearer ` with nothing after it.
    pub fn new<T: AsRef<str>>(tokens: impl IntoIterator<Item = T>) -> Self {
        let digests = tokens
            .into_iter()
            .filter(|t| !t.as_ref().is_empty())
            .map(|t| digest(t.as_ref()))
            .collect();
        Self { digests }
    }

    /// How many tokens are configured.
    pub fn len(&self) -> usize {
        self.digests.len()
    }

    /// Whether no token is configured (then every request is refused).
    pub fn is_empty(&self) -> bool {
        self.digests.is_empty()
    }

    /// Whether `presented` is one of the tokens. Every configured digest is compared, whole,
    /// whatever the earlier comparisons found.
    pub fn accepts(&self, presented: &str) -> bool {
        if presented.is_empty() {
            return false;
        }
        let presented = digest(presented);
        let mut found = 0u8;
        for configured in self.digests.iter() {
            found |= u8::from(same_digest(&presented, configured));
        }
        found == 1
    }
}

/// Only how many tokens there are: the digests stay out of logs too.
impl fmt::Debug for ScimTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScimTokens")
            .field("count", &self.digests.len())
            .finish()
    }
}

/// The token of an `Authorization: Bearer` header (the scheme case-insensitive, as RFC 6750
/// and RFC 9110 allow), or `None` for a missing or malformed header.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// Lets a request through only with a configured bearer token. Every refusal gets the same
/// 401 (with the `Bearer` challenge), and nothing of the presented header is logged or echoed.
pub(crate) async fn require_token(
    State(state): State<ScimState>,
    request: Request,
    next: Next,
) -> Result<Response, Failure> {
    let accepted = bearer(request.headers()).is_some_and(|t| state.tokens.accepts(t));
    if !accepted {
        return Err(Failure::from(ScimError::new(
            401,
            None,
            "a valid bearer token is required",
        )));
    }
    Ok(next.run(request).await)
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn only_configured_tokens_are_accepted() {
        let tokens = ScimTokens::new(["okta-token", "entra-token"]);
        assert!(tokens.accepts("okta-token"));
        assert!(tokens.accepts("entra-token"));
        assert!(!tokens.accepts("okta-token "));
        assert!(!tokens.accepts("okta"));
        assert!(!tokens.accepts(""));
        assert!(!ScimTokens::default().accepts("okta-token"));
    }

    #[test]
    fn empty_tokens_are_dropped() {
        let tokens = ScimTokens::new(["", "t"]);
        assert_eq!(tokens.len(), 1);
        assert!(!tokens.accepts(""));
        assert!(ScimTokens::new([""]).is_empty());
    }

    #[test]
    fn debug_shows_only_the_count() {
        let shown = format!("{:?}", ScimTokens::new(["secret-one", "secret-two"]));
        assert_eq!(shown, "ScimTokens { count: 2 }");
    }

    #[test]
    fn bearer_header_forms() {
        let mut headers = HeaderMap::new();
        assert_eq!(bearer(&headers), None);
        for (value, expected) in [
            ("Bearer abc", Some("abc")),
            ("bearer  abc ", Some("abc")),
            ("BEARER abc", Some("abc")),
            ("Basic abc", None),
            ("Bearer", None),
            ("Bearer ", None),
        ] {
            headers.insert(AUTHORIZATION, HeaderValue::from_static(value));
            assert_eq!(bearer(&headers), expected, "{value}");
        }
    }
}
