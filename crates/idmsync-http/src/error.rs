//! The errors of this crate: [`ApiError`], the one JSON error answer of every endpoint, and
//! [`HttpError`], why serving failed.

use std::path::PathBuf;

use axum::http::header::WWW_AUTHENTICATE;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use idmsync_ports::{StoreError, TriggerError};
use serde::Serialize;

/// Why [`crate::serve`] could not serve or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The certificate or key file could not be read or holds no usable PEM item.
    #[error("TLS file {}: {message}", path.display())]
    TlsFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// rustls refused the certificate and key (a key that does not match, say).
    #[error("invalid TLS configuration: {0}")]
    Tls(String),
    /// The listener failed.
    #[error("HTTP server failed: {0}")]
    Serve(#[from] std::io::Error),
}

/// The challenge sent with every 401, so that browsers and `curl --anyauth` know to send Basic
/// credentials.
const BASIC_CHALLENGE: &str = r#"Basic realm="idmsync""#;

/// An error answer: a status and a sentence, sent as `{"message": "..."}`. Every handler fails
/// with this type, so every error of the API has the same shape.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    message: String,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    message: &'a str,
}

impl ApiError {
    /// An error with any status.
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    /// 400 for a bad query or path parameter, naming it so that scripts can be fixed.
    pub(crate) fn bad_parameter(name: &str, problem: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            format!("invalid parameter `{name}`: {problem}"),
        )
    }

    /// 404 for something that does not exist.
    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    /// The status and the sentence, for the console, which shows them as a page.
    pub(crate) fn parts(&self) -> (StatusCode, &str) {
        (self.status, &self.message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Json(ErrorBody {
            message: &self.message,
        });
        if self.status == StatusCode::UNAUTHORIZED {
            (self.status, [(WWW_AUTHENTICATE, BASIC_CHALLENGE)], body).into_response()
        } else {
            (self.status, body).into_response()
        }
    }
}

/// A database that is down is worth retrying (503); anything else is the server's fault (500).
/// Store messages name hosts and files, never passwords, and only administrators see them.
impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        tracing::error!(%error, "API request failed in the store");
        let status = match error {
            StoreError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            StoreError::Schema(_) | StoreError::Corrupt(_) | StoreError::Failed(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        Self::new(status, error.to_string())
    }
}

/// A run in progress is a conflict the caller can wait out (409); a run that cannot start is
/// the service's trouble (503).
impl From<TriggerError> for ApiError {
    fn from(error: TriggerError) -> Self {
        let status = match error {
            TriggerError::AlreadyRunning(_) => StatusCode::CONFLICT,
            TriggerError::Failed(_) => StatusCode::SERVICE_UNAVAILABLE,
        };
        Self::new(status, error.to_string())
    }
}

/// The fallback for paths no route matches.
pub(crate) async fn not_found() -> ApiError {
    ApiError::not_found("no such resource")
}

/// The fallback for a known path asked with a method it does not support.
pub(crate) async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method not allowed for this resource",
    )
}
