//! The web console (`GET /` and `/console/...`): server-rendered HTML pages that read without JavaScript —
//! projects ([`pages::projects`]), a project's builds ([`pages::builds`]), one build with its live log
//! ([`build`], [`log`]) and the notice stream ([`events`]) — plus a small script that localises times
//! and keeps running parts live. Pages are maud `html!` templates, so every value from a build is escaped by
//! construction ([`html`]; the log's lines are the one hand-written HTML, [`ansi::log_lines_html`]); POSTs need
//! a same-origin request ([`session`]) and the session's CSRF token ([`csrf`]); with credentials configured a
//! login comes first.

pub mod ansi;
pub mod build;
pub mod csrf;
pub mod details;
pub mod events;
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
use kiln_core::build::{Build, TriggerProvider};
use kiln_core::ports::build_store::{StoreError, StoredBuild};
use kiln_core::usecases::UseCaseError;
use maud::{Markup, html};

use crate::AppState;
use html::pct;

const CSS: &str = include_str!("../../assets/console.css");
const JS: &str = include_str!("../../assets/console.js");

/// The console's routes; every one passes through [`session::guard`].
pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/", get(pages::projects))
        .route("/console/projects/{name}", get(pages::builds))
        .route("/console/projects/{name}/start", post(pages::start))
        .route("/console/events", get(events::events))
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
    /// The store is at capacity: 503 with `Retry-After`.
    #[error("{0}")]
    Unavailable(String),
}

impl From<StoreError> for ConsoleError {
    fn from(err: StoreError) -> ConsoleError {
        match err {
            StoreError::NotFound(_) => ConsoleError::NotFound(err.to_string()),
            StoreError::BadToken(_) | StoreError::AlreadyExists(_) => ConsoleError::Invalid(err.to_string()),
            StoreError::AtCapacity => ConsoleError::Unavailable(err.to_string()),
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
            ConsoleError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "Busy"),
        };
        let body = html! {
            h1 { (title) }
            p class="error" role="alert" { (self) }
            p { a href="/" { "Back to projects" } }
        };
        let mut response = (code, html::page(title, body)).into_response();
        if code == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, axum::http::HeaderValue::from_static("1"));
        }
        response
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

/// What started a build: webhook event and ref, schedule, or manual with the initiator.
pub(crate) fn trigger_text(build: &Build) -> Markup {
    let initiator = build.initiator.as_deref().unwrap_or_default();
    if let Some(trigger) = &build.trigger {
        match trigger.provider {
            TriggerProvider::Api => {}
            TriggerProvider::Schedule => {
                let name = initiator.strip_prefix("kiln-schedule/").unwrap_or(initiator);
                return html! { "schedule " (name) };
            }
            provider @ (TriggerProvider::Github
            | TriggerProvider::GithubEnterprise
            | TriggerProvider::Gitlab
            | TriggerProvider::Bitbucket
            | TriggerProvider::Gitea
            | TriggerProvider::Codecommit) => {
                return html! {
                    (provider.as_str().to_ascii_lowercase()) " "
                    (trigger.event.as_deref().unwrap_or_default()) " "
                    code { (trigger.head_ref.as_deref().unwrap_or_default()) }
                };
            }
        }
    }
    if let Some(schedule) = initiator.strip_prefix("kiln-schedule/") {
        return html! { "schedule " (schedule) };
    }
    let by = if initiator.is_empty() {
        "unknown"
    } else {
        initiator
    };
    html! { "manual by " (by) }
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
pub(crate) fn builds_table_head() -> Markup {
    html! {
        thead { tr {
            th scope="col" { "Build" } th scope="col" { "Status" } th scope="col" { "Trigger" }
            th scope="col" { "Source version" } th scope="col" { "Commit" } th scope="col" { "Started" }
            th scope="col" { "Duration" } th scope="col" { "Est. cost" }
        } }
    }
}

/// One row of the builds table; running rows carry `data-live` so the script refreshes them.
pub(crate) fn build_row(build: &StoredBuild, compute_type: &str, now: f64) -> Markup {
    let r = &build.build;
    let secs = Some(html::seconds_between(r.start_time(), r.end_time(), now));
    let commit = r.resolved_source_version.as_deref().unwrap_or_default();
    let id = pct(build.id().as_str());
    let live = (!r.is_complete()).then(|| format!("/console/builds/{id}/live"));
    html! {
        tr id={ "build-" (build.number()) } data-live=[live] {
            td { a href={ "/console/builds/" (id) } { "#" (build.number()) } }
            td { (html::status(r.build_status().as_str())) }
            td { (trigger_text(r)) }
            td { code { (short_sha(r.source_version.as_deref().unwrap_or_default())) } }
            td { code title=(commit) { (short_sha(commit)) } }
            td { (html::time(Some(r.start_time()))) }
            td { (html::duration(secs)) }
            td { (html::cost(compute_type, secs)) }
        }
    }
}

/// Helpers for the console's unit tests.
#[cfg(test)]
pub(crate) mod test_support {
    use kiln_core::ports::build_store::{BuildState, StoredBuild};
    use serde_json::{Value, json};

    /// A terminal build number 1 of project `web` whose record has `members` over a minimal one.
    pub(crate) fn stored(members: Value) -> StoredBuild {
        let mut record = json!({
            "id": "web:0b0e7a9c-6c1c-4c3a-9a57-1d2e3f405162",
            "arn": "arn:aws:codebuild:local:000000000000:build/web:0b0e7a9c-6c1c-4c3a-9a57-1d2e3f405162",
            "buildNumber": 1, "startTime": 1700000000.0, "currentPhase": "COMPLETED", "buildStatus": "FAILED",
            "projectName": "web", "phases": [], "timeoutInMinutes": 60, "queuedTimeoutInMinutes": 480,
            "buildComplete": true,
        });
        if let (Some(out), Some(add)) = (record.as_object_mut(), members.as_object()) {
            out.extend(add.clone());
        }
        StoredBuild {
            state: BuildState::Terminal,
            version: 1,
            build: serde_json::from_value(record).expect("a build record"),
        }
    }
}
