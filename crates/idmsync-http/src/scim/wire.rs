//! SCIM on the wire: the `application/scim+json` answers, the SCIM error answer, and the
//! extractors of request bodies and query parameters, whose every refusal is a SCIM error.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::header::{CONTENT_TYPE, LOCATION, WWW_AUTHENTICATE};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use idmsync_scim::{project, ResourceType, ScimError};
use serde_json::Value;

/// The media type of every SCIM answer (RFC 7644 §3.1).
pub(crate) const SCIM_JSON: &str = "application/scim+json";

/// The largest request body accepted; a user or a group with thousands of members in one PUT
/// fits, and a provider that sends more gets a 413 it can log.
pub(crate) const MAX_BODY: usize = 1024 * 1024;

/// The challenge sent with every 401 of `/scim/v2`.
const BEARER_CHALLENGE: &str = r#"Bearer realm="idmsync""#;

/// A SCIM error answer: the status of the [`ScimError`] and its RFC 7644 §3.12 body. Every
/// handler, extractor and fallback under `/scim/v2` fails with this type, so that providers
/// always get the same shape.
#[derive(Debug)]
pub(crate) struct Failure(pub(crate) ScimError);

impl From<ScimError> for Failure {
    fn from(error: ScimError) -> Self {
        Self(error)
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.0.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if status.is_server_error() {
            tracing::warn!(status = self.0.status, detail = %self.0.detail, "SCIM request failed");
        }
        let mut response = scim_json(status, &self.0.to_json());
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(WWW_AUTHENTICATE, HeaderValue::from_static(BEARER_CHALLENGE));
        }
        response
    }
}

/// `body` as `application/scim+json` with `status`.
pub(crate) fn scim_json(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(CONTENT_TYPE, HeaderValue::from_static(SCIM_JSON))],
        body.to_string(),
    )
        .into_response()
}

/// 201 Created with the resource and its `Location` (RFC 7644 §3.3). A location that is not
/// a valid header value is left out rather than failing a write that is already committed.
pub(crate) fn created(body: &Value, location: Option<&str>) -> Response {
    let mut response = scim_json(StatusCode::CREATED, body);
    if let Some(value) = location.and_then(|l| HeaderValue::from_str(l).ok()) {
        response.headers_mut().insert(LOCATION, value);
    }
    response
}

/// A request body as JSON. Accepted media types are `application/scim+json` and
/// `application/json` (with any parameters), or none at all, as some providers send; anything
/// else is a 415. A body over [`MAX_BODY`] is a 413; one that is not JSON a 400
/// `invalidSyntax` whose detail says where parsing stopped, never what the body held.
#[derive(Debug)]
pub(crate) struct ScimBody(pub(crate) Value);

impl<S: Send + Sync> FromRequest<S> for ScimBody {
    type Rejection = Failure;

    async fn from_request(request: Request, state: &S) -> Result<Self, Failure> {
        if let Some(value) = request.headers().get(CONTENT_TYPE) {
            let accepted = value.to_str().ok().is_some_and(|v| {
                let essence = v.split(';').next().unwrap_or("").trim();
                essence.eq_ignore_ascii_case(SCIM_JSON)
                    || essence.eq_ignore_ascii_case("application/json")
            });
            if !accepted {
                return Err(Failure(ScimError::new(
                    415,
                    None,
                    "the body must be application/scim+json or application/json",
                )));
            }
        }
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ScimError::new(
                        413,
                        None,
                        format!("the body exceeds the limit of {MAX_BODY} bytes"),
                    )
                } else {
                    ScimError::invalid_syntax("the body could not be read")
                }
            })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(Failure(ScimError::invalid_syntax(
                "the body is empty; a JSON object is required",
            )));
        }
        // serde_json's messages name the position and the kind of error, not the input.
        let value = serde_json::from_slice(&bytes).map_err(|error| {
            ScimError::invalid_syntax(format!("the body is not valid JSON: {error}"))
        })?;
        Ok(Self(value))
    }
}

/// The query parameters of a SCIM request (RFC 7644 §3.4.2, §3.9). Names are matched
/// case-insensitively, as providers vary; an empty value counts as absent, and a parameter
/// given twice is a 400, since which one wins would be a guess.
#[derive(Debug, Default)]
pub(crate) struct ScimParams(HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for ScimParams {
    type Rejection = Failure;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Failure> {
        let Query(pairs) = Query::<Vec<(String, String)>>::try_from_uri(&parts.uri)
            .map_err(|_| ScimError::invalid_value("the query string is malformed"))?;
        let mut map = HashMap::new();
        for (name, value) in pairs.into_iter().filter(|(_, v)| !v.is_empty()) {
            let key = name.to_ascii_lowercase();
            if map.contains_key(&key) {
                return Err(Failure(ScimError::invalid_value(format!(
                    "the parameter `{name}` is given more than once"
                ))));
            }
            map.insert(key, value);
        }
        Ok(Self(map))
    }
}

impl ScimParams {
    /// The parameters of a search body (RFC 7644 §3.4.3): `filter`, `startIndex`, `count`,
    /// `attributes` and `excludedAttributes`, as if they had come in the query string.
    pub(crate) fn from_search(body: &Value) -> Result<Self, ScimError> {
        let Value::Object(request) = body else {
            return Err(ScimError::invalid_syntax(
                "a search request must be a JSON object",
            ));
        };
        let mut map = HashMap::new();
        for (name, value) in request {
            let key = name.to_ascii_lowercase();
            let text = match (key.as_str(), value) {
                ("filter", Value::String(s)) => s.clone(),
                ("startindex" | "count", Value::Number(n)) => n.to_string(),
                ("attributes" | "excludedattributes", Value::Array(items)) => items
                    .iter()
                    .map(|item| item.as_str().map(str::to_string))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| {
                        ScimError::invalid_syntax(format!("`{name}` must be a list of strings"))
                    })?
                    .join(","),
                ("attributes" | "excludedattributes", Value::String(s)) => s.clone(),
                ("filter" | "startindex" | "count" | "attributes" | "excludedattributes", _) => {
                    return Err(ScimError::invalid_syntax(format!(
                        "`{name}` has the wrong type"
                    )));
                }
                // `schemas`, `sortBy`, `sortOrder`: sorting is not supported, and says so in
                // the service provider configuration.
                _ => continue,
            };
            map.insert(key, text);
        }
        Ok(Self(map))
    }

    /// A parameter, by its lower-case name.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// The `attributes` / `excludedAttributes` of the request, checked against `kind` before
    /// anything is done, so that a malformed list fails a write before it is applied.
    pub(crate) fn projection(&self, kind: ResourceType) -> Result<Projection<'_>, ScimError> {
        let projection = Projection {
            kind,
            attributes: self.get("attributes"),
            excluded: self.get("excludedattributes"),
        };
        projection.apply(&Value::Object(serde_json::Map::new()))?;
        Ok(projection)
    }
}

/// Which attributes an answer shows (RFC 7644 §3.9).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Projection<'a> {
    kind: ResourceType,
    attributes: Option<&'a str>,
    excluded: Option<&'a str>,
}

impl Projection<'_> {
    /// `resource` as the answer shows it.
    pub(crate) fn apply(&self, resource: &Value) -> Result<Value, ScimError> {
        project::project(resource, self.kind, self.attributes, self.excluded)
    }
}

/// The one parameter of a path (`{id}`, `{name}`, `{urn}`), with a SCIM 404 for a segment
/// that is not UTF-8 (no resource can have such a name).
#[derive(Debug)]
pub(crate) struct Segment(pub(crate) String);

impl<S: Send + Sync> FromRequestParts<S> for Segment {
    type Rejection = Failure;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Failure> {
        let Path(segment) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| ScimError::not_found("no such resource"))?;
        Ok(Self(segment))
    }
}
