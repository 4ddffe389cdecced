//! The discovery endpoints: `/ServiceProviderConfig`, `/ResourceTypes` and `/Schemas`
//! (RFC 7644 §4), served from `idmsync_scim::discovery` so that what is advertised is what the
//! protocol crate does.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use idmsync_scim::discovery::{self, ProviderOptions};
use idmsync_scim::list::list_response;
use idmsync_scim::{ResourceType, ScimError};
use serde_json::Value;

use super::wire::{scim_json, Failure, Segment};
use super::ScimState;

/// `GET /ServiceProviderConfig`. ETags are not advertised: the adapter does not honour
/// `If-Match`.
pub(crate) async fn config(State(state): State<ScimState>) -> Response {
    let options = ProviderOptions {
        max_results: state.max_results,
        etag: false,
    };
    scim_json(
        StatusCode::OK,
        &discovery::service_provider_config(&state.base_url, options),
    )
}

/// `GET /ResourceTypes`: a ListResponse of both.
pub(crate) async fn resource_types(State(state): State<ScimState>) -> Response {
    all(discovery::resource_types(&state.base_url))
}

/// `GET /ResourceTypes/{name}` (`User`, `Group`).
pub(crate) async fn resource_type(
    State(state): State<ScimState>,
    Segment(name): Segment,
) -> Result<Response, Failure> {
    let kind = ResourceType::ALL
        .into_iter()
        .find(|k| k.name() == name)
        .ok_or_else(|| ScimError::not_found("no such resource type"))?;
    Ok(scim_json(
        StatusCode::OK,
        &discovery::resource_type(kind, &state.base_url),
    ))
}

/// `GET /Schemas`: a ListResponse of the core User and Group schemas.
pub(crate) async fn schemas(State(state): State<ScimState>) -> Response {
    all(discovery::schemas(&state.base_url))
}

/// `GET /Schemas/{urn}`.
pub(crate) async fn schema(
    State(state): State<ScimState>,
    Segment(urn): Segment,
) -> Result<Response, Failure> {
    let kind = ResourceType::ALL
        .into_iter()
        .find(|k| k.schema_urn() == urn)
        .ok_or_else(|| ScimError::not_found("no such schema"))?;
    Ok(scim_json(
        StatusCode::OK,
        &discovery::schema(kind, &state.base_url),
    ))
}

/// Every document of a discovery list, as one ListResponse page.
fn all(resources: Vec<Value>) -> Response {
    let total = resources.len();
    scim_json(StatusCode::OK, &list_response(resources, total, 1))
}
