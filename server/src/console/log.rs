//! The build log for the console as rendered HTML: `GET /console/builds/{id}/log?offset=&line=` returns one
//! page (complete lines only, up to 512 KiB) as JSON `{html, next, line, complete}` so huge logs load on demand,
//! and `GET /console/builds/{id}/log/stream?offset=&line=` follows the log live as server-sent events
//! (`lines` with the same JSON, then `end` with the build status) through the one log-follow stream
//! ([`crate::follow`]); without [`AppState::follow`] (a buffered Lambda response) it answers at once, with the
//! rest of the log once the build has ended. The log comes from [`AppState::logs`]; its lines are rendered by
//! [`super::ansi::log_lines_html`].

use std::convert::Infallible;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::stream::{Stream, StreamExt};
use kiln_core::build::BuildId;
use kiln_core::ports::BoxFuture;
use kiln_core::ports::logs::{LogChunk, LogReadError, LogReader};
use maud::Markup;
use serde::Deserialize;
use serde_json::{Value, json};

use super::ConsoleError;
use super::ansi::log_lines_html;
use crate::AppState;
use crate::follow::{Buffered, Followed, LogBuildError, Pages, follow, log_build};

/// The most bytes one page carries.
pub const PAGE_BYTES: u64 = 512 * 1024;

/// Where to read from: a byte offset at a line start, and that line's number (1-based).
#[derive(Debug, Deserialize, Clone, Copy)]
pub struct LogQuery {
    #[serde(default)]
    pub offset: u64,
    #[serde(default = "first_line")]
    pub line: u64,
}

fn first_line() -> u64 {
    1
}

/// One rendered page of the log.
#[derive(Debug, Clone)]
pub struct LogPage {
    /// Rendered lines (empty when nothing new is complete).
    pub html: Markup,
    /// The offset after the last rendered line.
    pub next: u64,
    /// The number of the next line.
    pub line: u64,
    /// Whether the file ends at `next` (nothing more to read now).
    pub at_end: bool,
}

/// Reads up to `limit` bytes of build `id`'s log from `offset` and renders the complete lines; `complete` (the
/// build has ended) renders a trailing partial line too.
pub async fn read_page(
    logs: &dyn LogReader,
    id: &BuildId,
    q: LogQuery,
    limit: u64,
    complete: bool,
) -> Result<LogPage, LogReadError> {
    let LogChunk { bytes: buf, size } = logs.read_at(id, q.offset, limit).await?;
    let whole = q.offset + buf.len() as u64 >= size;
    let cut = match memchr_last_newline(&buf) {
        Some(i) => i + 1,
        None if complete && whole => buf.len(),
        None => 0,
    };
    let cut = if complete && whole { buf.len() } else { cut };
    let taken = &buf[..cut];
    if taken.is_empty() {
        return Ok(LogPage {
            html: Markup::default(),
            next: q.offset,
            line: q.line,
            at_end: whole,
        });
    }
    let body = taken.strip_suffix(b"\n").unwrap_or(taken);
    let count = memchr::memchr_iter(b'\n', body).count() as u64 + 1;
    Ok(LogPage {
        html: log_lines_html(body, q.line),
        next: q.offset + cut as u64,
        line: q.line + count,
        at_end: q.offset + cut as u64 >= size,
    })
}

fn memchr_last_newline(buf: &[u8]) -> Option<usize> {
    buf.iter().rposition(|b| *b == b'\n')
}

fn page_json(page: &LogPage, complete: bool) -> Value {
    json!({"html": page.html.0, "next": page.next, "line": page.line, "atEnd": page.at_end, "complete": complete})
}

async fn located(state: &AppState, id: &str) -> Result<(BuildId, bool), ConsoleError> {
    log_build(state, id).await.map_err(|err| match err {
        LogBuildError::BadId(e) => ConsoleError::Invalid(e.to_string()),
        LogBuildError::NotFound(_) => ConsoleError::NotFound(err.to_string()),
        LogBuildError::Store(e) => ConsoleError::from(e),
    })
}

/// Query of the page endpoint: where to start, and optionally where to stop or to read the end instead.
#[derive(Debug, Deserialize)]
pub struct PageQuery {
    // Not `#[serde(flatten)]`: flattened numbers do not parse from a query string.
    #[serde(default)]
    offset: u64,
    #[serde(default = "first_line")]
    line: u64,
    /// Read no further than this offset (the start of an already loaded tail).
    #[serde(default)]
    until: Option<u64>,
    /// Read the last page instead, numbering its lines by counting the newlines before it.
    #[serde(default)]
    tail: bool,
}

/// `GET /console/builds/{id}/log`: one page of rendered lines (`start`/`startLine` say where it begins).
pub async fn fragment(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<PageQuery>,
) -> Result<Json<Value>, ConsoleError> {
    let (build_id, complete) = located(&state, &id).await?;
    let logs = state.logs.as_ref();
    let io = |e: LogReadError| ConsoleError::Internal(e.to_string());
    let from = LogQuery {
        offset: q.offset,
        line: q.line,
    };
    let at = if q.tail {
        tail_start(logs, &build_id, from).await.map_err(io)?
    } else {
        from
    };
    let limit = match q.until {
        Some(until) => until.saturating_sub(at.offset).min(PAGE_BYTES),
        None => PAGE_BYTES,
    };
    let page = read_page(logs, &build_id, at, limit, complete)
        .await
        .map_err(io)?;
    let mut body = page_json(&page, complete);
    body["start"] = json!(at.offset);
    body["startLine"] = json!(at.line);
    Ok(Json(body))
}

/// The first line start at most [`PAGE_BYTES`] before the end of the log (never before `from`), and its number.
pub async fn tail_start(
    logs: &dyn LogReader,
    id: &BuildId,
    from: LogQuery,
) -> Result<LogQuery, LogReadError> {
    const CHUNK: u64 = 1 << 20;
    let size = logs.read_at(id, from.offset, 0).await?.size;
    let target = size.saturating_sub(PAGE_BYTES).max(from.offset);
    if target == from.offset {
        return Ok(from);
    }
    // Count lines from `from` to `target`, remembering the last line start at or before `target`.
    let mut at = from;
    let mut pos = from.offset;
    while pos < target {
        let buf = logs.read_at(id, pos, (target - pos).min(CHUNK)).await?.bytes;
        if buf.is_empty() {
            break;
        }
        for i in memchr::memchr_iter(b'\n', &buf) {
            at = LogQuery {
                offset: pos + i as u64 + 1,
                line: at.line + 1,
            };
        }
        pos += buf.len() as u64;
    }
    // Move on to the first line start after `target`, so the tail fits in one page.
    while at.offset < target {
        let buf = logs.read_at(id, pos, CHUNK).await?.bytes;
        if buf.is_empty() {
            break;
        }
        if let Some(i) = memchr::memchr(b'\n', &buf) {
            at = LogQuery {
                offset: pos + i as u64 + 1,
                line: at.line + 1,
            };
            break;
        }
        pos += buf.len() as u64;
    }
    Ok(at)
}

/// The console's pages: rendered complete lines from where the last page ended (a trailing partial line once
/// the build has ended).
struct Lines {
    at: LogQuery,
}

impl Pages for Lines {
    type Page = LogPage;

    fn next<'a>(
        &'a mut self,
        logs: &'a dyn LogReader,
        id: &'a BuildId,
        ended: bool,
    ) -> BoxFuture<'a, Option<LogPage>> {
        Box::pin(async move {
            let page = read_page(logs, id, self.at, PAGE_BYTES, ended).await.ok()?;
            if page.html.0.is_empty() {
                return None;
            }
            self.at = LogQuery {
                offset: page.next,
                line: page.line,
            };
            Some(page)
        })
    }
}

/// `GET /console/builds/{id}/log/stream`: new lines as they are written (`lines`), then `end`, through the one
/// log-follow stream ([`crate::follow`]). A buffered answer sends nothing until the build has ended: the
/// browser's EventSource asks again from the same offset, so no line is sent twice.
pub async fn stream(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<LogQuery>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ConsoleError> {
    let (build_id, _) = located(&state, &id).await?;
    let events = follow(state, build_id, Lines { at: q }, Buffered::OnlyOnceEnded).map(|item| {
        Ok(match item {
            Followed::Page(page) => Event::default()
                .event("lines")
                .data(page_json(&page, false).to_string()),
            Followed::End(status) => Event::default().event("end").data(status),
        })
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}

#[cfg(test)]
mod tests {
    use super::*;

    use kiln_local::LogDir;

    /// A logs directory holding one build's log with `text`.
    fn log_with(text: &str) -> (tempfile::TempDir, LogDir, BuildId) {
        let dir = tempfile::tempdir().expect("temp dir");
        let logs = LogDir::new(dir.path());
        let id = BuildId::parse("web:0b0e7a9c-6c1c-4c3a-9a57-1d2e3f405162").expect("id");
        std::fs::create_dir_all(dir.path().join("web")).expect("mkdir");
        std::fs::write(logs.path(&id), text).expect("write");
        (dir, logs, id)
    }

    fn run<T>(f: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(f)
    }

    #[test]
    fn pages_end_at_line_boundaries_and_carry_the_next_line_number() {
        let (_dir, logs, id) = log_with("one\ntwo\nthr");
        let first = run(read_page(&logs, &id, LogQuery { offset: 0, line: 1 }, 6, false)).expect("page");
        assert_eq!((first.next, first.line, first.at_end), (4, 2, false));
        assert!(first.html.0.contains("id=\"L1\""));
        let second = run(read_page(&logs, &id, LogQuery { offset: 4, line: 2 }, 100, false)).expect("page");
        assert_eq!(
            (second.next, second.line),
            (8, 3),
            "the partial last line waits while running"
        );
        let last = run(read_page(&logs, &id, LogQuery { offset: 8, line: 3 }, 100, true)).expect("page");
        assert_eq!((last.next, last.line, last.at_end), (11, 4, true));
        assert!(last.html.0.contains("<code>thr</code>"), "{}", last.html.0);
    }

    #[test]
    fn the_tail_starts_at_a_line_start_with_its_number_counted() {
        let text: String = (1..=200_000).map(|i| format!("line {i}\n")).collect();
        let (_dir, logs, id) = log_with(&text);
        let start = run(tail_start(&logs, &id, LogQuery { offset: 0, line: 1 })).expect("tail");
        assert!(text.len() as u64 - start.offset <= PAGE_BYTES);
        let first = text[usize::try_from(start.offset).expect("fits")..]
            .lines()
            .next()
            .expect("a line");
        assert_eq!(
            first,
            format!("line {}", start.line),
            "the number matches the line"
        );
        let small = run(tail_start(
            &logs,
            &id,
            LogQuery {
                offset: text.len() as u64 - 10,
                line: 7,
            },
        ))
        .expect("tail");
        assert_eq!(
            (small.offset, small.line),
            (text.len() as u64 - 10, 7),
            "never before `from`"
        );
    }
}
