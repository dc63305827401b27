//! The web console (`GET /` and `/console/...`): server-rendered HTML pages that read without JavaScript —
//! projects ([`pages::projects`]), a project's builds ([`pages::builds`]), one build with its live log
//! ([`build`], [`log`]) and the notice stream ([`pages::events`]) — plus a small script that localises times
//! and keeps running parts live. Every value from a build is escaped ([`html::esc`]); POSTs need a same-origin
//! request ([`session`]) and the session's CSRF token ([`csrf`]); with credentials configured a login comes
//! first.

pub mod ansi;
pub mod build;
pub mod csrf;
pub mod details;
pub mod html;
pub mod log;
pub mod pages;
pub mod return_path;
pub mod session;
pub mod sessions;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use kiln_core::ports::build_store::{StoreError, StoredBuild};
use kiln_core::usecases::UseCaseError;

use crate::AppState;
use html::{esc, pct, s};

const CSS: &str = include_str!("../../assets/console.css");
const JS: &str = include_str!("../../assets/console.js");

/// The console's routes; every one passes through [`session::guard`].
pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/", get(pages::projects))
        .route("/console/projects/{name}", get(pages::builds))
        .route("/console/projects/{name}/start", post(pages::start))
        .route("/console/events", get(pages::events))
        .route("/console/builds/{id}", get(build::page))
        .route("/console/builds/{id}/live", get(build::live))
        .route("/console/builds/{id}/stop", post(build::stop))
        .route("/console/builds/{id}/retry", post(build::retry))
        .route("/console/builds/{id}/artifact", get(details::artifact))
        .route("/console/builds/{id}/log", get(log::fragment))
        .route("/console/builds/{id}/log/stream", get(log::stream))
        .route("/console/login", get(session::login_page).post(session::login))
        .route("/console/logout", post(session::logout))
        .route("/console/sessions", get(sessions::list))
        .route("/console/sessions/revoke", post(sessions::revoke))
        .route(
            "/console/assets/console.css",
            get(|| asset(CSS, "text/css; charset=utf-8")),
        )
        .route(
            "/console/assets/console.js",
            get(|| asset(JS, "text/javascript; charset=utf-8")),
        )
        .route_layer(axum::middleware::from_fn_with_state(state, session::guard))
}

async fn asset(body: &'static str, content_type: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// Why a console page could not be shown; rendered as a small HTML page.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Internal(String),
}

impl From<StoreError> for ConsoleError {
    fn from(err: StoreError) -> ConsoleError {
        match err {
            StoreError::NotFound(_) => ConsoleError::NotFound(err.to_string()),
            StoreError::BadToken(_) | StoreError::AlreadyExists(_) => ConsoleError::Invalid(err.to_string()),
            StoreError::Corrupt { .. } | StoreError::Backend { .. } => {
                ConsoleError::Internal(err.to_string())
            }
        }
    }
}

impl From<UseCaseError> for ConsoleError {
    fn from(err: UseCaseError) -> ConsoleError {
        match err {
            UseCaseError::ProjectNotFound(_) | UseCaseError::BuildNotFound(_) => {
                ConsoleError::NotFound(err.to_string())
            }
            UseCaseError::InvalidInput(_)
            | UseCaseError::Transition { .. }
            | UseCaseError::ProjectExists(_)
            | UseCaseError::IdempotentParameterMismatch(_) => ConsoleError::Invalid(err.to_string()),
            UseCaseError::Corrupt(_)
            | UseCaseError::Store(_)
            | UseCaseError::Launch(_)
            | UseCaseError::Secret(_) => ConsoleError::Internal(err.to_string()),
        }
    }
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        let (code, title) = match &self {
            ConsoleError::NotFound(_) => (StatusCode::NOT_FOUND, "Not found"),
            ConsoleError::Invalid(_) => (StatusCode::BAD_REQUEST, "Cannot do that"),
            ConsoleError::Forbidden(_) => (StatusCode::FORBIDDEN, "Forbidden"),
            ConsoleError::Internal(message) => {
                tracing::error!(error = %message, "console request failed");
                (StatusCode::INTERNAL_SERVER_ERROR, "Server error")
            }
        };
        let body = format!(
            "<h1>{title}</h1><p class=\"error\" role=\"alert\">{}</p><p><a href=\"/\">Back to projects</a></p>",
            esc(&self.to_string())
        );
        (code, axum::response::Html(html::page(title, &body))).into_response()
    }
}

/// The fields of an `application/x-www-form-urlencoded` body (the last value of a repeated name wins).
pub(crate) fn form(body: &[u8]) -> std::collections::HashMap<String, String> {
    form_urlencoded::parse(body).into_owned().collect()
}

/// The field `name` of a form, or "".
pub(crate) fn field<'a>(form: &'a std::collections::HashMap<String, String>, name: &str) -> &'a str {
    form.get(name).map(String::as_str).unwrap_or_default()
}

/// Seconds since the epoch now.
pub(crate) fn now_secs() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// What started a build, as text: webhook event and ref, schedule, or manual with the initiator.
pub(crate) fn trigger_text(record: &serde_json::Value) -> String {
    let trigger = &record["trigger"];
    let initiator = s(record, "initiator");
    match s(trigger, "provider") {
        "" | "API" => {}
        "SCHEDULE" => {
            let name = initiator.strip_prefix("kiln-schedule/").unwrap_or(initiator);
            return format!("schedule {}", esc(name));
        }
        provider => {
            return format!(
                "{} {} <code>{}</code>",
                esc(&provider.to_ascii_lowercase()),
                esc(s(trigger, "event")),
                esc(s(trigger, "headRef"))
            );
        }
    }
    if let Some(schedule) = initiator.strip_prefix("kiln-schedule/") {
        return format!("schedule {}", esc(schedule));
    }
    format!(
        "manual by {}",
        esc(if initiator.is_empty() {
            "unknown"
        } else {
            initiator
        })
    )
}

/// A 40-hex commit id shortened to 12 characters; anything else as is.
fn short_sha(text: &str) -> &str {
    if text.len() == 40 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        &text[..12]
    } else {
        text
    }
}

/// The header of the builds table.
pub(crate) fn builds_table_head() -> &'static str {
    "<thead><tr><th scope=\"col\">Build</th><th scope=\"col\">Status</th><th scope=\"col\">Trigger</th>\
<th scope=\"col\">Source version</th><th scope=\"col\">Commit</th><th scope=\"col\">Started</th>\
<th scope=\"col\">Duration</th><th scope=\"col\">Est. cost</th></tr></thead>"
}

/// One row of the builds table; running rows carry `data-live` so the script refreshes them.
pub(crate) fn build_row(build: &StoredBuild, compute_type: &str, now: f64) -> String {
    let r = &build.record;
    let done = r["buildComplete"].as_bool() == Some(true);
    let secs = html::seconds_between(&r["startTime"], &r["endTime"], now);
    let commit = s(r, "resolvedSourceVersion");
    let live = if done {
        String::new()
    } else {
        format!(" data-live=\"/console/builds/{}/live\"", pct(&build.id))
    };
    format!(
        "<tr id=\"build-{n}\"{live}><td><a href=\"/console/builds/{id}\">#{n}</a></td><td>{st}</td><td>{tr}</td>\
<td><code>{sv}</code></td><td><code title=\"{c}\">{cs}</code></td><td>{t}</td><td>{d}</td><td>{cost}</td></tr>",
        n = build.number,
        id = pct(&build.id),
        st = html::status(s(r, "buildStatus")),
        tr = trigger_text(r),
        sv = esc(short_sha(s(r, "sourceVersion"))),
        c = esc(commit),
        cs = esc(short_sha(commit)),
        t = html::time(&r["startTime"]),
        d = html::duration(secs),
        cost = html::cost(compute_type, secs),
    )
}

/// Helpers for the console's unit tests.
#[cfg(test)]
pub(crate) mod test_support {
    use kiln_core::ports::build_store::{BuildState, StoredBuild};
    use serde_json::Value;

    /// A terminal build `web:1` holding `record`.
    pub(crate) fn stored(record: Value) -> StoredBuild {
        StoredBuild {
            id: "web:1".into(),
            project: "web".into(),
            number: 1,
            state: BuildState::Terminal,
            version: 1,
            record,
        }
    }
}
