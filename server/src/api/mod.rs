//! The CodeBuild JSON 1.1 API at `POST /` (reference §6): the operation comes from
//! `X-Amz-Target: CodeBuild_20161006.<Op>`, input and output are JSON, errors are `{"__type", "message"}`.
//! With credentials configured, every call must carry a valid SigV4 signature (403 otherwise).

mod builds;
mod project_webhooks;
mod projects;
mod unsupported;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, Uri, header};
use axum::response::{IntoResponse, Response};
use kiln_core::sigv4::{AmzDate, HttpRequest, VerifyPolicy, verify};
use kiln_core::usecases::UseCaseError;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::AppState;
use crate::error::{AMZ_JSON, AppError};

const TARGET_PREFIX: &str = "CodeBuild_20161006.";

impl From<UseCaseError> for AppError {
    fn from(err: UseCaseError) -> AppError {
        match err {
            UseCaseError::InvalidInput(m) => AppError::invalid(m),
            UseCaseError::ProjectNotFound(_) | UseCaseError::BuildNotFound(_) => {
                AppError::not_found(err.to_string())
            }
            UseCaseError::ProjectExists(_) => AppError::already_exists(err.to_string()),
            UseCaseError::Transition { .. } => AppError::invalid(err.to_string()),
            UseCaseError::IdempotentParameterMismatch(_) => AppError::Api {
                kind: "IdempotentParameterMismatchException",
                message: err.to_string(),
            },
            UseCaseError::Store(kiln_core::ports::build_store::StoreError::AtCapacity) => {
                AppError::Unavailable(err.to_string())
            }
            UseCaseError::Corrupt(_)
            | UseCaseError::Store(_)
            | UseCaseError::Launch(_)
            | UseCaseError::Secret(_) => AppError::Internal(err.to_string()),
        }
    }
}

/// Reads an operation's input, naming the member that does not fit.
pub(crate) fn input<T: DeserializeOwned>(body: Value) -> Result<T, AppError> {
    serde_json::from_value(body).map_err(|e| AppError::invalid(format!("invalid input: {e}")))
}

/// Checks the SigV4 signature when credentials are configured.
pub(crate) fn authenticate(
    state: &AppState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), AppError> {
    let Some(credentials) = &state.credentials else {
        return Ok(());
    };
    let pairs: Vec<(&str, &str)> = headers
        .iter()
        .filter_map(|(n, v)| Some((n.as_str(), v.to_str().ok()?)))
        .collect();
    let request = HttpRequest {
        method: method.as_str(),
        path: uri.path(),
        query: uri.query().unwrap_or(""),
        headers: &pairs,
        body,
    };
    let now = AmzDate::from_system_time(std::time::SystemTime::now())
        .ok_or_else(|| AppError::Internal("the system clock is before 1970".into()))?;
    verify(&request, credentials, &VerifyPolicy::codebuild(), now)
        .map(|_| ())
        .map_err(|e| AppError::Forbidden(e.to_string()))
}

/// Handles one API call.
pub async fn handle(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    authenticate(&state, &method, &uri, &headers, &body)?;
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let Some(operation) = target.strip_prefix(TARGET_PREFIX) else {
        return Err(AppError::Api {
            kind: "UnknownOperationException",
            message: format!("X-Amz-Target {target:?} is not a CodeBuild_20161006 operation"),
        });
    };
    let input: Value = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Object(serde_json::Map::new())
    } else {
        serde_json::from_slice(&body).map_err(|e| AppError::Api {
            kind: "SerializationException",
            message: format!("the request body is not JSON: {e}"),
        })?
    };
    let output = match operation {
        "StartBuild" => builds::start_build(&state, input).await?,
        "BatchGetBuilds" => builds::batch_get_builds(&state, input).await?,
        "StopBuild" => builds::stop_build(&state, input).await?,
        "RetryBuild" => builds::retry_build(&state, input).await?,
        "ListBuildsForProject" => builds::list_builds_for_project(&state, input).await?,
        "ListBuilds" => builds::list_builds(&state, input).await?,
        "ListProjects" => projects::list_projects(&state, input).await?,
        "BatchGetProjects" => projects::batch_get_projects(&state, input).await?,
        "CreateProject" => projects::create_project(&state, input).await?,
        "UpdateProject" => projects::update_project(&state, input).await?,
        "DeleteProject" => projects::delete_project(&state, input).await?,
        "CreateWebhook" => project_webhooks::create_webhook(&state, input).await?,
        "UpdateWebhook" => project_webhooks::update_webhook(&state, input).await?,
        "DeleteWebhook" => project_webhooks::delete_webhook(&state, input).await?,
        other => {
            return Err(AppError::Api {
                kind: "UnknownOperationException",
                message: format!("operation {other:?} is not supported by Kiln"),
            });
        }
    };
    let mut response = axum::Json(output).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(AMZ_JSON));
    Ok(response)
}
