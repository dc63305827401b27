//! The CodeBuild JSON 1.1 API at `POST /` (reference §6): the operation comes from
//! `X-Amz-Target: CodeBuild_20161006.<Op>`, input and output are JSON, errors are `{"__type", "message"}`.
//! With credentials configured, every call must carry a valid SigV4 signature (403 otherwise), and a Kiln access
//! key may call only the operations and projects of its scope ([`crate::access`]).

mod builds;
mod project_webhooks;
mod projects;
mod unsupported;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, Uri, header};
use axum::response::{IntoResponse, Response};
use kiln_core::usecases::UseCaseError;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::AppState;
use crate::access::{self, IamCaller, SignedRequest};
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

/// Handles one API call.
pub async fn handle(
    State(state): State<AppState>,
    iam: Option<Extension<IamCaller>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    let signed = SignedRequest {
        method: &method,
        uri: &uri,
        headers: &headers,
        body: &body,
    };
    let caller = access::authenticate(&state, &signed, iam.as_ref().map(|Extension(c)| c)).await?;
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
    caller.authorise(
        operation,
        projects_named(operation, &input).iter().map(String::as_str),
    )?;
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

/// The projects an operation's input names, for the caller's scope: CodeBuild's resource-level permissions.
/// Operations with no project (`ListProjects`, `ListBuilds`) name none and are checked on the operation alone,
/// as CodeBuild's IAM checks them. Names may be ARNs (`…:project/<name>`, `…:build/<project>:<uuid>`).
fn projects_named(operation: &str, input: &Value) -> Vec<String> {
    let text = |member: &str| input.get(member).and_then(Value::as_str).map(str::to_owned);
    let list = |member: &str| -> Vec<String> {
        input
            .get(member)
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    };
    let of_build = |id: String| -> String {
        let id = id.rsplit_once(":build/").map_or(id.as_str(), |(_, rest)| rest);
        id.split_once(':').map_or(id, |(project, _)| project).to_owned()
    };
    let of_project = |name: String| -> String {
        name.rsplit_once(":project/")
            .map_or(name.as_str(), |(_, rest)| rest)
            .to_owned()
    };
    match operation {
        "CreateProject" | "UpdateProject" | "DeleteProject" => text("name").into_iter().collect(),
        "BatchGetProjects" => list("names").into_iter().map(of_project).collect(),
        "StartBuild"
        | "ListBuildsForProject"
        | "CreateWebhook"
        | "UpdateWebhook"
        | "DeleteWebhook"
        | "InvalidateProjectCache" => text("projectName").into_iter().map(of_project).collect(),
        "BatchGetBuilds" | "BatchDeleteBuilds" => list("ids").into_iter().map(of_build).collect(),
        "StopBuild" | "RetryBuild" => text("id").into_iter().map(of_build).collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod scope_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn each_operation_names_the_projects_it_touches() {
        let cases = [
            ("CreateProject", json!({"name": "web"}), vec!["web"]),
            ("StartBuild", json!({"projectName": "web"}), vec!["web"]),
            (
                "BatchGetProjects",
                json!({"names": ["web", "arn:aws:codebuild:us-east-1:1:project/api"]}),
                vec!["web", "api"],
            ),
            (
                "BatchGetBuilds",
                json!({"ids": ["web:1-2", "arn:aws:codebuild:us-east-1:1:build/api:3-4"]}),
                vec!["web", "api"],
            ),
            ("StopBuild", json!({"id": "web:1-2"}), vec!["web"]),
            ("ListProjects", json!({}), vec![]),
            ("ListBuilds", json!({}), vec![]),
        ];
        for (operation, input, expected) in cases {
            assert_eq!(projects_named(operation, &input), expected, "{operation}");
        }
    }
}
