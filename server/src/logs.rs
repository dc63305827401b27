//! Build logs: `GET /builds/{id}/logs?offset=N` returns the log from a byte offset (the next offset in the
//! `x-kiln-next-offset` header, `x-kiln-build-complete` says whether more can come), and
//! `GET /builds/{id}/logs/stream` follows it live as server-sent events until the build ends (without
//! [`AppState::follow`] it sends what there is and ends). Logs come from [`AppState::logs`].

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, Stream};
use kiln_core::build::BuildId;
use serde::Deserialize;

use crate::AppState;
use crate::error::AppError;

/// Query parameters of the log endpoints.
#[derive(Debug, Deserialize)]
pub struct LogQuery {
    #[serde(default)]
    pub offset: u64,
}

async fn checked(state: &AppState, id: &str) -> Result<(BuildId, bool), AppError> {
    let build_id = BuildId::parse(id).map_err(|e| AppError::http(StatusCode::BAD_REQUEST, e.to_string()))?;
    let stored = state
        .services
        .builds
        .get(&build_id)
        .await?
        .ok_or_else(|| AppError::http(StatusCode::NOT_FOUND, format!("build {id:?} cannot be found")))?;
    let complete = stored.build.is_complete();
    Ok((build_id, complete))
}

/// Reads up to 1 MiB of the log from `offset`; a missing log reads as empty.
async fn read_from(state: &AppState, id: &BuildId, offset: u64) -> Result<Vec<u8>, AppError> {
    let chunk = state
        .logs
        .read_at(id, offset, 1 << 20)
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?;
    Ok(chunk.bytes)
}

/// The log from `offset`.
pub async fn read(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<LogQuery>,
) -> Result<Response, AppError> {
    let (build_id, complete) = checked(&state, &id).await?;
    let bytes = read_from(&state, &build_id, query.offset).await?;
    let next = query.offset + bytes.len() as u64;
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert("x-kiln-next-offset", HeaderValue::from(next));
    headers.insert(
        "x-kiln-build-complete",
        HeaderValue::from_static(if complete { "true" } else { "false" }),
    );
    Ok(response)
}

/// Follows the log live: `data` events carry new text, a final `end` event carries the build status.
pub async fn stream(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<LogQuery>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, AppError> {
    let (build_id, _) = checked(&state, &id).await?;
    let start = Follow {
        state,
        build_id,
        offset: query.offset,
        done: false,
    };
    let events = stream::unfold(start, |mut f| async move {
        if f.done {
            return None;
        }
        loop {
            let chunk = read_from(&f.state, &f.build_id, f.offset)
                .await
                .unwrap_or_default();
            if !chunk.is_empty() {
                f.offset += chunk.len() as u64;
                let event = Event::default()
                    .id(f.offset.to_string())
                    .data(String::from_utf8_lossy(&chunk));
                return Some((Ok(event), f));
            }
            let build = f
                .state
                .services
                .builds
                .get(&f.build_id)
                .await
                .ok()
                .flatten()
                .map(|s| s.build);
            if let Some(build) = build.filter(|b| b.is_complete()) {
                // Read once more: the runner may have written its last lines just before finishing.
                if !read_from(&f.state, &f.build_id, f.offset)
                    .await
                    .unwrap_or_default()
                    .is_empty()
                {
                    continue;
                }
                f.done = true;
                let status = build.build_status().as_str().to_owned();
                return Some((Ok(Event::default().event("end").data(status)), f));
            }
            if !f.state.follow {
                // A buffered response cannot wait: end it; the client asks again.
                return None;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}

struct Follow {
    state: AppState,
    build_id: BuildId,
    offset: u64,
    done: bool,
}
