//! One build: summary, trigger details, phase timeline (status, duration, failing command and exit code),
//! the log (first page rendered on the server, the rest on demand, live tail over SSE), the [`super::details`]
//! known once it ends, and Stop and Retry.
//! `GET /console/builds/{id}/live` returns the changing parts as HTML for the script to swap in.

use axum::Extension;
use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use kiln_core::build::{BuildId, BuildPhase, PhaseType, StatusType};
use kiln_core::ports::build_store::StoredBuild;
use kiln_core::project::{Compute, ProjectEnvironment};
use maud::{Markup, html};
use serde_json::{Value, json};

use super::csrf::CsrfForm;
use super::html::{self, pct};
use super::log::{LogPage, LogQuery, PAGE_BYTES, read_page};
use super::session::Session;
use super::{ConsoleError, now_secs, trigger_text};
use crate::AppState;

/// The build `id` names; an id that cannot be a build's names none.
pub(crate) fn build_id(id: &str) -> Result<BuildId, ConsoleError> {
    BuildId::parse(id).map_err(|_| ConsoleError::NotFound(format!("build {id:?} cannot be found")))
}

pub(crate) async fn load(state: &AppState, id: &str) -> Result<StoredBuild, ConsoleError> {
    state
        .services
        .builds
        .get(&build_id(id)?)
        .await?
        .ok_or_else(|| ConsoleError::NotFound(format!("build {id:?} cannot be found")))
}

/// The named compute type of an environment (none for a custom size).
pub(crate) fn compute_name(environment: &ProjectEnvironment) -> Option<&'static str> {
    match environment.compute {
        Compute::Named(named) => Some(named.as_str()),
        Compute::Custom(_) => None,
    }
}

async fn compute_type(state: &AppState, build: &StoredBuild) -> String {
    if let Some(name) = build.build.environment.as_ref().and_then(compute_name) {
        return name.to_owned();
    }
    match state.services.projects.get_project(build.project()).await {
        Ok(Some(p)) => compute_name(&p.project.environment)
            .unwrap_or_default()
            .to_owned(),
        _ => String::new(),
    }
}

/// The summary list: status, times, duration, cost, versions.
fn summary(build: &StoredBuild, compute: &str) -> Markup {
    let r = &build.build;
    let secs = Some(html::seconds_between(r.start_time(), r.end_time(), now_secs()));
    html! {
        dl class="summary" {
            dt { "Status" } dd id="build-status" { (html::status(r.build_status().as_str())) }
            dt { "Current phase" } dd { (r.current_phase().as_str()) }
            dt { "Trigger" } dd { (trigger_text(r)) }
            dt { "Source version" } dd { code { (r.source_version.as_deref().unwrap_or_default()) } }
            dt { "Resolved commit" }
            dd { code { (r.resolved_source_version.as_deref().unwrap_or_default()) } }
            dt { "Started" } dd { (html::time(Some(r.start_time()))) }
            dt { "Ended" } dd { (html::time(r.end_time())) }
            dt { "Duration" } dd { (html::duration(secs)) }
            dt { "Estimated cost" } dd { (html::cost(compute, secs)) " " small { "(" (compute) ")" } }
        }
    }
}

/// The status a phase row shows: none for COMPLETED (it marks the end), IN_PROGRESS while it runs.
fn phase_status(phase: &BuildPhase) -> &'static str {
    match (phase.phase_type, phase.phase_status) {
        (PhaseType::Completed, _) => "",
        (_, None) if phase.end_time.is_none() => "IN_PROGRESS",
        (_, status) => status.map_or("", StatusType::as_str),
    }
}

/// The phase timeline, with the failing command and its exit code where a phase failed.
fn phases(build: &StoredBuild) -> Markup {
    let phases = build.build.phases();
    if phases.is_empty() {
        return html! { p { "No phases yet." } };
    }
    html! { ol class="phases" { @for phase in phases { (phase_row(phase)) } } }
}

/// One phase: name, status and duration (none for COMPLETED), and its contexts (the failing command).
fn phase_row(phase: &BuildPhase) -> Markup {
    let status = phase_status(phase);
    let secs = match (phase.phase_type, phase.duration_in_seconds) {
        (PhaseType::Completed, _) => None,
        (_, Some(d)) => Some(d as f64),
        (_, None) => Some(html::seconds_between(
            phase.start_time,
            phase.end_time,
            now_secs(),
        )),
    };
    let contexts = phase
        .contexts
        .iter()
        .flatten()
        .filter(|c| !c.message.is_empty() || !c.status_code.is_empty());
    html! {
        li class={ "phase phase-" (status.to_ascii_lowercase()) } {
            span class="name" { (phase.phase_type.as_str()) }
            @if !status.is_empty() { (html::status(status)) }
            span class="dur" { @if !status.is_empty() { (html::duration(secs)) } }
            @for c in contexts { div class="context" { code { (c.status_code) } " " (c.message) } }
        }
    }
}

fn actions(build: &StoredBuild, csrf: &str) -> Markup {
    let id = pct(build.id().as_str());
    html! {
        div class="actions" {
            @if !build.build.is_complete() {
                form method="post" action={ "/console/builds/" (id) "/stop" } {
                    (html::csrf_field(csrf)) button type="submit" class="danger" { "Stop" }
                }
            }
            form method="post" action={ "/console/builds/" (id) "/retry" } {
                (html::csrf_field(csrf)) button type="submit" { "Retry" }
            }
        }
    }
}

/// `GET /console/builds/{id}`.
pub async fn page(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
    Path(id): Path<String>,
) -> Result<Markup, ConsoleError> {
    let build = load(&state, &id).await?;
    let compute = compute_type(&state, &build).await;
    let complete = build.build.is_complete();
    let first = read_page(
        state.logs.as_ref(),
        build.id(),
        LogQuery { offset: 0, line: 1 },
        PAGE_BYTES,
        complete,
    )
    .await
    .map_err(|e| ConsoleError::Internal(e.to_string()))?;
    let (project, n, idp) = (build.project().as_str(), build.number(), pct(&id));
    let body = html! {
        p class="crumbs" {
            a href="/" { "Projects" } " › "
            a href={ "/console/projects/" (pct(project)) } { (project) } " › #" (n)
        }
        h1 { "Build #" (n) " of " (project) }
        p class="build-id" { code { (id) } }
        div id="build-live" data-live={ "/console/builds/" (idp) "/live" } data-complete=(complete) {
            section id="summary" { (summary(&build, &compute)) }
            (actions(&build, &session.csrf))
        }
        section { h2 { "Phases" } div id="phases" { (phases(&build)) } }
        section {
            h2 { "Log" }
            div id="log" class="log" role="log" aria-live="off" data-build=(idp) data-next=(first.next)
                data-line=(first.line) data-at-end=(first.at_end) data-complete=(complete) { (first.html) }
            (log_more(&idp, &first))
            p class="log-state" id="log-state" aria-live="polite" {}
        }
        div id="details" { (super::details::details(&state, &build)) }
    };
    Ok(html::page(&format!("Build #{n} of {project}"), body))
}

/// The links past the first page of the log (none when it holds the whole log).
fn log_more(idp: &str, first: &LogPage) -> Markup {
    let from = format!(
        "/console/builds/{idp}/log?offset={}&line={}",
        first.next, first.line
    );
    html! {
        @if !first.at_end {
            p id="log-more" {
                a class="log-more" href=(from) { "Load more of the log" } " · "
                a class="log-jump" href={ (from) "&tail=true" } { "Jump to the end" }
            }
        }
    }
}

/// `GET /console/builds/{id}/live`: status, summary, actions, phases and the builds-table row, as HTML.
pub async fn live(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ConsoleError> {
    let build = load(&state, &id).await?;
    let compute = compute_type(&state, &build).await;
    Ok(Json(json!({
        "status": build.build.build_status().as_str(),
        "complete": build.build.is_complete(),
        "summary": summary(&build, &compute).into_string(),
        "actions": actions(&build, &session.csrf).into_string(),
        "phases": phases(&build).into_string(),
        "details": super::details::details(&state, &build).into_string(),
        "row": super::build_row(&build, &compute, now_secs()).into_string(),
    })))
}

/// `POST /console/builds/{id}/stop`.
pub async fn stop(
    State(state): State<AppState>,
    Path(id): Path<String>,
    _form: CsrfForm,
) -> Result<Response, ConsoleError> {
    state.services.stop_build(&build_id(&id)?, state.now()).await?;
    Ok(Redirect::to(&format!("/console/builds/{}", pct(&id))).into_response())
}

/// `POST /console/builds/{id}/retry`: starts a new build like this one and goes to it.
pub async fn retry(
    State(state): State<AppState>,
    Path(id): Path<String>,
    _form: CsrfForm,
) -> Result<Response, ConsoleError> {
    let started = state
        .services
        .retry_build(&build_id(&id)?, None, state.now())
        .await?;
    state.signal_queued(&started.build).await;
    Ok(Redirect::to(&format!("/console/builds/{}", pct(started.build.id().as_str()))).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::console::test_support::stored;

    #[test]
    fn the_timeline_shows_the_failing_command_and_no_status_for_completed() {
        let build = stored(json!({"phases": [
            {"phaseType": "BUILD", "phaseStatus": "FAILED", "durationInSeconds": 2, "startTime": 1700000000.0,
             "endTime": 1700000002.0,
             "contexts": [{"statusCode": "COMMAND_EXECUTION_ERROR",
                           "message": "Error while executing command: echo \"<x>\"; exit 3. Reason: exit status 3"}]},
            {"phaseType": "COMPLETED", "startTime": 1700000002.0}
        ]}));
        let html = phases(&build).into_string();
        assert!(html.contains("<code>COMMAND_EXECUTION_ERROR</code> Error while executing command: echo &quot;&lt;x&gt;&quot;; exit 3. Reason: exit status 3"), "{html}");
        assert!(html.contains("<li class=\"phase phase-\"><span class=\"name\">COMPLETED</span><span class=\"dur\"></span></li>"), "{html}");
    }
}
