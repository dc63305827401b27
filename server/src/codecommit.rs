//! `POST /codecommit/events`: the EventBridge "CodeCommit Repository State Change" event JSON, as the
//! `codecommit` Lambda receives it, so `kiln serve` can run the CodeCommit trigger end to end. Authenticated
//! like the API (SigV4 when credentials are configured, open without them).
//!
//! 202 `{"buildIds", "projects": [{"project", "buildIds", "redelivery"} | {"project", "ignored", "reason"}]}`
//! when projects name the repository; 200 `{"ignored": true, "kind", "reason"}` for a deletion, another event
//! or an unknown repository; 400 for a body that is not the event's shape; 403 for a bad signature.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use kiln_core::build::ProjectName;
use kiln_core::usecases::codecommit::CodeCommitDelivery;
use kiln_core::usecases::webhook::Delivery;
use serde_json::{Value, json};

use crate::AppState;
use crate::error::AppError;

/// Handles one event.
pub async fn receive(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    let signed = crate::access::SignedRequest {
        method: &method,
        uri: &uri,
        headers: &headers,
        body: &body,
    };
    // The event may start builds of any project naming the repository.
    crate::access::authenticate(&state, &signed, None)
        .await?
        .authorise_all_projects("StartBuild")?;
    let event: Value = serde_json::from_slice(&body).map_err(|e| {
        AppError::http(
            StatusCode::BAD_REQUEST,
            format!(
                "the body is not JSON (line {}, column {}): {e}",
                e.line(),
                e.column()
            ),
        )
    })?;
    let delivery = state
        .services
        .accept_codecommit_event(&event, state.now())
        .await
        .map_err(|err| AppError::Internal(err.to_string()))?;
    let build_ids = delivery.build_ids();
    Ok(match delivery {
        CodeCommitDelivery::Routed(projects) => {
            if !build_ids.is_empty()
                && let Err(err) = state.dispatch.queued(&build_ids).await
            {
                tracing::error!(builds = ?build_ids, error = %err, "the dispatcher was not told; the builds stay QUEUED");
            }
            tracing::info!(builds = ?build_ids, "codecommit event accepted");
            let projects: Vec<Value> = projects.iter().map(|(name, d)| project_json(name, d)).collect();
            (
                StatusCode::ACCEPTED,
                Json(json!({"buildIds": build_ids, "projects": projects})),
            )
                .into_response()
        }
        CodeCommitDelivery::Ignored(reason) => (
            StatusCode::OK,
            Json(json!({"ignored": true, "kind": reason.kind(), "reason": reason.to_string()})),
        )
            .into_response(),
        CodeCommitDelivery::Malformed { message } => {
            return Err(AppError::http(StatusCode::BAD_REQUEST, message));
        }
    })
}

fn project_json(name: &ProjectName, delivery: &Delivery) -> Value {
    match delivery {
        Delivery::Accepted {
            build_ids,
            redelivery,
        } => json!({"project": name, "buildIds": build_ids, "redelivery": redelivery}),
        Delivery::Ignored { reason }
        | Delivery::Unauthenticated { reason }
        | Delivery::UnknownProject { reason } => json!({"project": name, "ignored": true, "reason": reason}),
        Delivery::Malformed { message } => json!({"project": name, "ignored": true, "reason": message}),
    }
}
