//! `POST /webhooks/{project}`: one endpoint per project, for all four providers (told apart by headers).
//! 202 with the build ids, 200 for an ignored event with the reason, 401 bad signature, 400 malformed,
//! 404 unknown project, 413 over [`crate::MAX_WEBHOOK_BYTES`] (enforced by the route's body limit).
//!
//! An accepted delivery's builds are signalled to the dispatcher ([`WebhookState::dispatch`]); a redelivery
//! signals those still QUEUED again. When the signal is lost the answer is a 500, so the provider redelivers
//! and the redelivery signals the stored build.
//!
//! The route needs only a [`WebhookState`], so it is served by [`crate::app`] (`kiln serve`, the `api`
//! function) and, alone, by [`crate::webhook_app`] (the `webhook` function behind its Function URL), whose
//! other paths and methods answer JSON refusals ([`no_route`], [`not_allowed`]).

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRef, Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use kiln_core::ports::dispatch_signal::DispatchSignal;
use kiln_core::ports::secrets::SecretResolver;
use kiln_core::trigger::Headers;
use kiln_core::usecases::webhook::Delivery;
use kiln_core::usecases::{Services, UseCaseError};

use crate::error::AppError;
use crate::{AppState, Clock};

/// What the webhook route needs: the use cases, the projects' secrets, the dispatch signal and the clock.
#[derive(Clone)]
pub struct WebhookState {
    pub services: Services,
    /// Resolves projects' webhook secrets.
    pub secrets: Arc<dyn SecretResolver>,
    /// Told about accepted deliveries' builds.
    pub dispatch: Arc<dyn DispatchSignal>,
    pub clock: Clock,
}

impl FromRef<AppState> for WebhookState {
    fn from_ref(state: &AppState) -> WebhookState {
        WebhookState {
            services: state.services.clone(),
            secrets: state.secrets.clone(),
            dispatch: state.dispatch.clone(),
            clock: state.clock.clone(),
        }
    }
}

/// Handles one delivery.
pub async fn receive(
    State(state): State<WebhookState>,
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
        .accept_webhook(&project, &headers, &body, state.secrets.as_ref(), (state.clock)())
        .await
        .map_err(|err| match err {
            UseCaseError::Secret(err) => AppError::Internal(format!("webhook secret of {project:?}: {err}")),
            other => AppError::Internal(other.to_string()),
        })?;
    match &delivery {
        Delivery::Accepted {
            build_ids,
            redelivery,
        } => {
            tracing::info!(project = %project, builds = ?build_ids, redelivery, "delivery accepted");
            state
                .services
                .signal_started(state.dispatch.as_ref(), build_ids, *redelivery)
                .await
                .map_err(|err| AppError::Internal(err.to_string()))?;
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

/// The answer of the webhook edge to a path that is not a webhook's: 404 with the route to use.
pub async fn no_route(uri: Uri) -> AppError {
    AppError::http(
        StatusCode::NOT_FOUND,
        format!(
            "no route for {:?}; deliveries go to /webhooks/{{project}}",
            uri.path()
        ),
    )
}

/// The answer of the webhook edge to a method other than POST: 405.
pub async fn not_allowed(method: Method) -> AppError {
    AppError::http(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("{method} is not allowed; providers POST deliveries"),
    )
}
