//! Build logs: `GET /builds/{id}/logs?offset=N` returns the log from a byte offset (the next offset in the
//! `x-kiln-next-offset` header, `x-kiln-build-complete` says whether more can come), and
//! `GET /builds/{id}/logs/stream` follows it live as server-sent events until the build ends, through the one
//! log-follow stream ([`crate::follow`]; without [`AppState::follow`] it sends what there is and ends). Logs
//! come from [`AppState::logs`].

use std::convert::Infallible;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{Stream, StreamExt};
use kiln_core::build::BuildId;
use kiln_core::ports::BoxFuture;
use kiln_core::ports::logs::LogReader;
use serde::Deserialize;

use crate::AppState;
use crate::error::AppError;
use crate::follow::{Buffered, Followed, LogBuildError, Pages, follow, log_build};

/// Query parameters of the log endpoints.
#[derive(Debug, Deserialize)]
pub struct LogQuery {
    #[serde(default)]
    pub offset: u64,
}

async fn checked(state: &AppState, id: &str) -> Result<(BuildId, bool), AppError> {
    log_build(state, id).await.map_err(|err| match err {
        LogBuildError::BadId(e) => AppError::http(StatusCode::BAD_REQUEST, e.to_string()),
        LogBuildError::NotFound(_) => AppError::http(StatusCode::NOT_FOUND, err.to_string()),
        LogBuildError::Store(e) => AppError::from(e),
    })
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

/// The API's pages: raw chunks of up to 1 MiB from where the last one ended (`id` is that offset).
struct Chunks {
    offset: u64,
}

impl Pages for Chunks {
    type Page = (u64, Vec<u8>);

    fn next<'a>(
        &'a mut self,
        logs: &'a dyn LogReader,
        id: &'a BuildId,
        _ended: bool,
    ) -> BoxFuture<'a, Option<(u64, Vec<u8>)>> {
        Box::pin(async move {
            let chunk = logs.read_at(id, self.offset, 1 << 20).await.ok()?.bytes;
            if chunk.is_empty() {
                return None;
            }
            self.offset += chunk.len() as u64;
            Some((self.offset, chunk))
        })
    }
}

/// Follows the log live ([`crate::follow`]): `data` events carry new text with the next offset as their id, a
/// final `end` event carries the build status; a buffered answer sends what there is.
pub async fn stream(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<LogQuery>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, AppError> {
    let (build_id, _) = checked(&state, &id).await?;
    let chunks = Chunks { offset: query.offset };
    let events = follow(state, build_id, chunks, Buffered::WhatThereIs).map(|item| {
        Ok(match item {
            Followed::Page((next, chunk)) => Event::default()
                .id(next.to_string())
                .data(String::from_utf8_lossy(&chunk)),
            Followed::End(status) => Event::default().event("end").data(status),
        })
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}
