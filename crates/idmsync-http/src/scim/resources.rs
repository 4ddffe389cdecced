//! `/Users` and `/Groups`: list, search, read, create, replace, patch and delete, each a thin
//! translation between SCIM's HTTP and the [`idmsync_ports::Provisioning`] port.
//!
//! The adapter checks only what is HTTP's business (the media type, JSON, the paging and
//! projection parameters) and checks it before the write, so that a request refused here has
//! changed nothing; bodies go to the service unread, since only it knows the stored resource
//! they apply to.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use idmsync_ports::{ScimQuery, ScimWrite};
use idmsync_scim::list::{list_response, parse_page, Page};
use idmsync_scim::{ResourceType, ScimError};
use serde_json::Value;

use super::wire::{created, scim_json, Failure, ScimBody, ScimParams, Segment as Id};
use super::ScimState;

/// The routes of one resource type: `/Users`, `/Users/.search` and `/Users/{id}` (or the same
/// for groups). The static `.search` segment wins over `{id}`, so no resource can be named
/// `.search`; ids are the service's, which never makes one.
pub(crate) fn routes(kind: ResourceType) -> Router<ScimState> {
    let endpoint = kind.endpoint();
    Router::new()
        .route(
            endpoint,
            get(move |State(s): State<ScimState>, p: ScimParams| list(s, kind, p)).post(
                move |State(s): State<ScimState>, p: ScimParams, ScimBody(b)| create(s, kind, p, b),
            ),
        )
        .route(
            &format!("{endpoint}/.search"),
            post(move |State(s): State<ScimState>, ScimBody(b)| search(s, kind, b)),
        )
        .route(
            &format!("{endpoint}/{{id}}"),
            get(move |State(s): State<ScimState>, Id(id), p: ScimParams| one(s, kind, id, p))
                .put(
                    move |State(s): State<ScimState>, Id(id), p: ScimParams, ScimBody(b)| {
                        write(s, kind, p, ScimWrite::Replace { kind, id, body: b })
                    },
                )
                .patch(
                    move |State(s): State<ScimState>, Id(id), p: ScimParams, ScimBody(b)| {
                        write(s, kind, p, ScimWrite::Patch { kind, id, body: b })
                    },
                )
                .delete(move |State(s): State<ScimState>, Id(id)| delete(s, kind, id)),
        )
}

/// The page a list asks for (`startIndex`, `count` cut to `max_results`).
fn requested_page(state: &ScimState, params: &ScimParams) -> Result<Page, ScimError> {
    parse_page(
        params.get("startindex"),
        params.get("count"),
        state.max_results,
    )
}

/// The service's query: the list's filter, `count` resources from `start_index`.
fn query(params: &ScimParams, start_index: usize, count: usize) -> ScimQuery {
    ScimQuery {
        filter: params.get("filter").map(str::to_string),
        start_index: Some(start_index.to_string()),
        count: Some(count.to_string()),
    }
}

/// `GET /Users?filter=…&startIndex=…&count=…`: one page of the matching resources.
async fn list(
    state: ScimState,
    kind: ResourceType,
    params: ScimParams,
) -> Result<Response, Failure> {
    let projection = params.projection(kind)?;
    let page = requested_page(&state, &params)?;
    // The service gets the page already normalised (a `count` above `max_results` cut to it),
    // so that it never reads more than one answer may carry.
    let query = query(&params, page.start_index, page.count);
    let (resources, total, start_index) = state.provisioning.list(kind, &query).await?;
    let shown = resources
        .iter()
        .take(page.count)
        .map(|r| projection.apply(r))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(scim_json(
        StatusCode::OK,
        &list_response(shown, total, start_index),
    ))
}

/// `POST /Users/.search` (RFC 7644 §3.4.3): a list whose parameters come in the body, for
/// filters too long or too sensitive for a URL.
async fn search(state: ScimState, kind: ResourceType, body: Value) -> Result<Response, Failure> {
    let params = ScimParams::from_search(&body)?;
    list(state, kind, params).await
}

/// `POST /.search` (RFC 7644 §3.4.3): one search across users and groups, users first. Each
/// type's matches are read up to `max_results`, so that the page is cut from both.
pub(crate) async fn search_all(
    State(state): State<ScimState>,
    ScimBody(body): ScimBody,
) -> Result<Response, Failure> {
    let params = ScimParams::from_search(&body)?;
    let page = requested_page(&state, &params)?;
    let mut found = Vec::new();
    let mut total = 0;
    for kind in ResourceType::ALL {
        let projection = params.projection(kind)?;
        let query = query(&params, 1, state.max_results);
        let (resources, matching, _) = state.provisioning.list(kind, &query).await?;
        total += matching;
        for resource in &resources {
            found.push(projection.apply(resource)?);
        }
    }
    let shown = found
        .into_iter()
        .skip(page.offset())
        .take(page.count)
        .collect();
    Ok(scim_json(
        StatusCode::OK,
        &list_response(shown, total, page.start_index),
    ))
}

/// `GET /Users/{id}`.
async fn one(
    state: ScimState,
    kind: ResourceType,
    id: String,
    params: ScimParams,
) -> Result<Response, Failure> {
    let projection = params.projection(kind)?;
    let resource = state.provisioning.get(kind, &id).await?;
    Ok(scim_json(StatusCode::OK, &projection.apply(&resource)?))
}

/// `POST /Users`: 201 with the stored resource and its `Location`.
async fn create(
    state: ScimState,
    kind: ResourceType,
    params: ScimParams,
    body: Value,
) -> Result<Response, Failure> {
    let projection = params.projection(kind)?;
    let resource = stored(
        state
            .provisioning
            .write(ScimWrite::Create { kind, body })
            .await?,
    )?;
    let location = location(&state, kind, &resource);
    Ok(created(&projection.apply(&resource)?, location.as_deref()))
}

/// `PUT` and `PATCH /Users/{id}`: 200 with the stored resource. RFC 7644 §3.5.2 lets a PATCH
/// answer 204, but providers differ in what they expect and a body satisfies them all.
async fn write(
    state: ScimState,
    kind: ResourceType,
    params: ScimParams,
    write: ScimWrite,
) -> Result<Response, Failure> {
    let projection = params.projection(kind)?;
    let resource = stored(state.provisioning.write(write).await?)?;
    Ok(scim_json(StatusCode::OK, &projection.apply(&resource)?))
}

/// `DELETE /Users/{id}`: 204 without a body.
async fn delete(state: ScimState, kind: ResourceType, id: String) -> Result<Response, Failure> {
    state
        .provisioning
        .write(ScimWrite::Delete { kind, id })
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The resource a create, replace or patch must return; a service that returned none broke
/// the port's contract, which is the server's fault, not the provider's.
fn stored(resource: Option<Value>) -> Result<Value, ScimError> {
    resource.ok_or_else(|| ScimError::new(500, None, "the service returned no resource"))
}

/// Where a created resource lives: its `meta.location`, or, should the service have left it
/// out, the URL built from the base URL and its `id`.
fn location(state: &ScimState, kind: ResourceType, resource: &Value) -> Option<String> {
    if let Some(location) = resource["meta"]["location"].as_str() {
        return Some(location.to_string());
    }
    let id = resource["id"].as_str()?;
    Some(format!(
        "{}{}/{id}",
        state.base_url.trim_end_matches('/'),
        kind.endpoint()
    ))
}
