//! HTTP Basic authentication of the API: only active tenant administrators get in.
//!
//! The password is wrapped in [`Password`] as soon as it is decoded, so that no `Debug` output,
//! error or log line of this crate can contain it.

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use idmsync_domain::Password;
use idmsync_ports::{AuthError, Principal};

use crate::error::ApiError;
use crate::ApiState;

/// Login and password from an `Authorization: Basic` header.
#[derive(Debug)]
struct Credentials {
    login: String,
    password: Password,
}

impl Credentials {
    /// The credentials, or `None` when the header is missing or is not well-formed Basic
    /// (another scheme, bad base64, not UTF-8, no colon).
    fn from_headers(headers: &HeaderMap) -> Option<Self> {
        let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
        let (scheme, token) = value.trim().split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("basic") {
            return None;
        }
        let decoded = String::from_utf8(STANDARD.decode(token.trim()).ok()?).ok()?;
        let (login, password) = decoded.split_once(':')?;
        Some(Self {
            login: login.to_string(),
            password: Password::new(password),
        })
    }
}

/// Lets a request through only with the credentials of an active tenant administrator; puts the
/// [`idmsync_ports::Principal`] in the request's extensions for handlers that record who acted.
///
/// Every refusal of the credentials gets the same 401, whatever the reason, so that callers
/// cannot probe for logins; a valid non-admin gets 403; an authenticator that cannot check
/// anything gets 503 (its reason is logged, not shown to an unauthenticated caller).
pub(crate) async fn require_admin(
    State(state): State<ApiState>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let unauthorized = || ApiError::new(StatusCode::UNAUTHORIZED, "valid credentials required");
    let credentials = Credentials::from_headers(request.headers()).ok_or_else(unauthorized)?;
    let local = state
        .auth
        .authenticate(&state.tenant, &credentials.login, &credentials.password)
        .await;
    let principal = match local {
        Ok(principal) if principal.admin => principal,
        Err(AuthError::Unavailable(reason)) => return Err(unavailable(&reason)),
        other => match manager(&state, &credentials, other.is_ok()).await? {
            Some(principal) => principal,
            None if other.is_ok() => {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "only tenant administrators may use this API",
                ))
            }
            None => return Err(unauthorized()),
        },
    };
    request.extensions_mut().insert(principal);
    Ok(next.run(request).await)
}

fn unavailable(reason: &str) -> ApiError {
    tracing::warn!(%reason, "API authentication unavailable");
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "authentication is unavailable, try again later",
    )
}

/// The caller as a tenant manager, if a served tenant names the login one and the password is
/// right in that tenant (`here`: already checked in this one).
async fn manager(
    state: &ApiState,
    credentials: &Credentials,
    here: bool,
) -> Result<Option<Principal>, ApiError> {
    for tenant in state.managers.tenants_of(&credentials.login) {
        let valid = if *tenant == state.tenant {
            here
        } else {
            match state
                .auth
                .authenticate(tenant, &credentials.login, &credentials.password)
                .await
            {
                Ok(_) => true,
                Err(AuthError::Rejected) => false,
                Err(AuthError::Unavailable(reason)) => return Err(unavailable(&reason)),
            }
        };
        if valid {
            tracing::info!(login = %credentials.login, manager_of = %tenant, tenant = %state.tenant, "a tenant manager uses the API");
            return Ok(Some(Principal {
                external_id: credentials.login.clone(),
                admin: true,
            }));
        }
    }
    Ok(None)
}
