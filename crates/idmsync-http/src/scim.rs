//! The SCIM 2.0 service provider under `/scim/v2` (RFC 7643, RFC 7644): identity providers
//! (Okta, Microsoft Entra ID) push users and groups here, with a bearer token.
//!
//! The adapter speaks SCIM's HTTP only: routes, media type, bearer authentication, paging and
//! projection parameters, the `Location` of a created resource, and SCIM error bodies for every
//! refusal, unknown paths and wrong methods included. What a write means is the business of
//! the [`Provisioning`] port; what a filter, a projection or a discovery document is, of the
//! protocol crate `idmsync-scim`.

mod discovery;
mod resources;
mod tokens;
mod wire;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::middleware::from_fn_with_state;
use axum::routing::{get, post};
use axum::Router;
use idmsync_ports::Provisioning;
use idmsync_scim::{ResourceType, ScimError};

pub use tokens::ScimTokens;

use wire::{Failure, MAX_BODY};

/// Where the SCIM endpoints live: the path providers are configured with (the base URL's path).
pub const SCIM_PREFIX: &str = "/scim/v2";

/// Everything the SCIM handlers need. The binary builds it once; handlers clone it per
/// request.
#[derive(Clone)]
pub struct ScimState {
    /// The service that keeps the pushed tenant.
    pub provisioning: Arc<dyn Provisioning>,
    /// The bearer tokens that may use the endpoints, discovery included.
    pub tokens: ScimTokens,
    /// The SCIM root as providers reach it, such as `https://idm.example.com/scim/v2`; the
    /// discovery documents' `meta.location`s start with it. It is configured rather than read
    /// from the request's `Host`, which a client chooses.
    pub base_url: String,
    /// The most resources one list answers (`filter.maxResults`); a larger `count` is cut to it.
    pub max_results: usize,
}

/// The SCIM endpoints, nested under [`SCIM_PREFIX`], behind the bearer check. The check wraps
/// the nested router's fallbacks too, so that without a token nothing under the prefix (not
/// even which paths exist) is revealed. The router has no fallback of its own outside the
/// prefix, so that it can be merged into [`crate::app_router`] or [`crate::api_router`].
pub fn scim_router(state: ScimState) -> Router {
    scim_router_at(state, SCIM_PREFIX)
}

/// As [`scim_router`], nested under `path`: a service of several tenants serves each pushed
/// tenant under `/scim/v2/NAME`, each behind its own tokens.
pub fn scim_router_at(state: ScimState, path: &str) -> Router {
    let mut scim = Router::new()
        .route("/ServiceProviderConfig", get(discovery::config))
        .route("/ResourceTypes", get(discovery::resource_types))
        .route("/ResourceTypes/{name}", get(discovery::resource_type))
        .route("/Schemas", get(discovery::schemas))
        .route("/Schemas/{urn}", get(discovery::schema))
        .route("/.search", post(resources::search_all));
    for kind in ResourceType::ALL {
        scim = scim.merge(resources::routes(kind));
    }
    let scim = scim
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(from_fn_with_state(state.clone(), tokens::require_token))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(state);
    Router::new().nest(path, scim)
}

/// The fallback for paths under the prefix that no route matches.
async fn not_found() -> Failure {
    Failure(ScimError::not_found("no such endpoint"))
}

/// The fallback for a known path asked with a method it does not support.
async fn method_not_allowed() -> Failure {
    Failure(ScimError::new(
        405,
        None,
        "method not allowed for this endpoint",
    ))
}
