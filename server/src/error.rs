//! One error type for every handler, mapped to responses in one place: API errors in the AWS JSON 1.1 shape
//! (`{"__type", "message"}`), webhook refusals as plain statuses with a reason, and 5xx opaque and logged once.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// The JSON 1.1 content type, sent on every API response.
pub const AMZ_JSON: &str = "application/x-amz-json-1.1";

/// Everything a handler can answer with other than success.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// A CodeBuild API error: `__type` (e.g. `InvalidInputException`) and message, HTTP 400.
    #[error("{kind}: {message}")]
    Api { kind: &'static str, message: String },
    /// A refused API call (bad or missing SigV4 signature): HTTP 403 in the API's error shape.
    #[error("access denied: {0}")]
    Forbidden(String),
    /// A plain HTTP refusal with a reason (webhooks, logs, events).
    #[error("{status}: {message}")]
    Http { status: StatusCode, message: String },
    /// Anything we did not expect: logged once here, answered with an opaque 500.
    #[error("internal error: {0}")]
    Internal(String),
    /// The server is at capacity (its store's write queue is full): 503 with `Retry-After: 1`.
    #[error("at capacity: {0}")]
    Unavailable(String),
}

impl AppError {
    /// `InvalidInputException` with `message`.
    pub fn invalid(message: impl Into<String>) -> AppError {
        AppError::Api {
            kind: "InvalidInputException",
            message: message.into(),
        }
    }

    /// `ResourceNotFoundException` with `message`.
    pub fn not_found(message: impl Into<String>) -> AppError {
        AppError::Api {
            kind: "ResourceNotFoundException",
            message: message.into(),
        }
    }

    /// `ResourceAlreadyExistsException` with `message`.
    pub fn already_exists(message: impl Into<String>) -> AppError {
        AppError::Api {
            kind: "ResourceAlreadyExistsException",
            message: message.into(),
        }
    }

    /// A plain HTTP refusal.
    pub fn http(status: StatusCode, message: impl Into<String>) -> AppError {
        AppError::Http {
            status,
            message: message.into(),
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        match self {
            AppError::Api { kind, message } => amz_error(StatusCode::BAD_REQUEST, kind, &message),
            AppError::Forbidden(message) => {
                amz_error(StatusCode::FORBIDDEN, "AccessDeniedException", &message)
            }
            AppError::Http { status, message } => {
                (status, Json(json!({ "message": message }))).into_response()
            }
            AppError::Internal(message) => {
                tracing::error!(error = %message, "request failed");
                amz_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "InternalFailure",
                    "internal error; see the server log",
                )
            }
            AppError::Unavailable(message) => {
                let mut response = amz_error(StatusCode::SERVICE_UNAVAILABLE, "ServiceUnavailable", &message);
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
                response
            }
        }
    }
}

fn amz_error(status: StatusCode, kind: &str, message: &str) -> Response {
    let mut response = (status, Json(json!({ "__type": kind, "message": message }))).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(AMZ_JSON));
    response.headers_mut().insert(
        "x-amzn-errortype",
        HeaderValue::from_str(kind).unwrap_or(HeaderValue::from_static("InternalFailure")),
    );
    response
}

impl From<kiln_core::ports::build_store::StoreError> for AppError {
    fn from(err: kiln_core::ports::build_store::StoreError) -> AppError {
        use kiln_core::ports::build_store::StoreError;
        match err {
            StoreError::NotFound(what) => AppError::not_found(format!("{what} cannot be found")),
            StoreError::AlreadyExists(name) => {
                AppError::already_exists(format!("project {name:?} already exists"))
            }
            StoreError::BadToken(token) => AppError::invalid(format!("nextToken {token:?} is not valid")),
            StoreError::AtCapacity => AppError::Unavailable(err.to_string()),
            StoreError::Corrupt { .. } | StoreError::Backend { .. } => AppError::Internal(err.to_string()),
        }
    }
}
