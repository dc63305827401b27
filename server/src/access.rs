//! Who may read the server's own GET endpoints (build logs, their live stream, the notice feed): anyone when
//! no credentials are configured (loopback only); otherwise a logged-in console session cookie or a request
//! signed with SigV4 for the server's credentials, as API calls are. Anything else gets 403 in the API's
//! error shape.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::AppState;
use crate::error::AppError;

/// Middleware of the logs and events routes.
pub async fn require(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if state.credentials.is_none() || crate::console::session::authenticated(&state, request.headers()).await
    {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    match crate::api::authenticate(&state, &parts.method, &parts.uri, &parts.headers, &[]) {
        Ok(()) => next.run(Request::from_parts(parts, body)).await,
        Err(AppError::Forbidden(reason)) => AppError::Forbidden(format!(
            "{reason}; sign the request with SigV4 (service codebuild) or log in to the console"
        ))
        .into_response(),
        Err(other) => other.into_response(),
    }
}
