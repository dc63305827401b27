//! `GET /events?after=CURSOR&limit=N`: the notice outbox in order, each notice with its cursor (404 where there
//! is no feed: on AWS notices go to EventBridge-shaped SNS/SQS targets instead).

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::error::AppError;

/// Query parameters of `GET /events`.
#[derive(Debug, Deserialize)]
pub struct EventsQuery {
    #[serde(default)]
    pub after: u64,
    #[serde(default)]
    pub limit: Option<usize>,
}

/// Lists notices after a cursor; `next` is the cursor to pass next time.
pub async fn list(
    State(state): State<AppState>,
    Query(query): Query<EventsQuery>,
) -> Result<Json<Value>, AppError> {
    let limit = query.limit.unwrap_or(100).clamp(1, 1000);
    let Some(feed) = &state.feed else {
        return Err(AppError::http(
            StatusCode::NOT_FOUND,
            "this deployment has no notice feed; subscribe to the notice topic or queue instead",
        ));
    };
    let notices = feed.after(query.after, limit).await?;
    let next = notices.last().map(|(c, _)| *c).unwrap_or(query.after);
    let events: Vec<Value> = notices
        .into_iter()
        .map(|(cursor, event)| json!({"cursor": cursor, "event": event}))
        .collect();
    Ok(Json(json!({"events": events, "next": next})))
}
