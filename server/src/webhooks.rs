//! `POST /webhooks/{project}`: one endpoint per project, for all four providers (told apart by headers).
//! 202 with the build ids, 200 for an ignored event with the reason, 401 bad signature, 400 malformed,
//! 404 unknown project, 413 over [`crate::MAX_WEBHOOK_BYTES`] (enforced by the route's body limit).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use kiln_core::trigger::Headers;
use kiln_core::usecases::UseCaseError;
use kiln_core::usecases::webhook::Delivery;

use crate::AppState;
use crate::error::AppError;

/// Handles one delivery.
pub async fn receive(
    State(state): State<AppState>,
    Path(project): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    let pairs = headers
        .iter()
        .filter_map(|(n, v)| Some((n.as_str(), v.to_str().ok()?)));
    let headers = Headers::from_pairs(pairs);
    let delivery = state
        .services
        .accept_webhook(&project, &headers, &body, state.secrets.as_ref(), state.now())
        .await
        .map_err(|err| match err {
            UseCaseError::InvalidInput(m) => {
                AppError::Internal(format!("webhook secret of {project:?}: {m}"))
            }
            other => AppError::Internal(other.to_string()),
        })?;
    match &delivery {
        Delivery::Accepted {
            build_ids,
            redelivery,
        } => {
            let ids: Vec<String> = build_ids.iter().map(ToString::to_string).collect();
            state.queued.queued(&ids).await;
            tracing::info!(project = %project, builds = ?build_ids, redelivery, "delivery accepted");
        }
        Delivery::Unauthenticated { reason } => {
            tracing::warn!(project = %project, reason = %reason, "delivery refused: bad signature");
        }
        Delivery::Ignored { .. } | Delivery::Malformed { .. } | Delivery::UnknownProject { .. } => {}
    }
    let (status, body) = delivery.response();
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    Ok((status, Json(body)).into_response())
}
