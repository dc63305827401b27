//! One build: summary, trigger details, phase timeline (status, duration, failing command and exit code),
//! the log (first page rendered on the server, the rest on demand, live tail over SSE), the [`super::details`]
//! known once it ends, and Stop and Retry.
//! `GET /console/builds/{id}/live` returns the changing parts as HTML for the script to swap in.

use axum::Extension;
use axum::Json;
use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use kiln_core::build::{BuildId, BuildPhase, PhaseType, StatusType};
use kiln_core::ports::build_store::StoredBuild;
use kiln_core::project::{Compute, ProjectEnvironment};
use serde_json::{Value, json};

use super::csrf::CsrfForm;
use super::html::{self, esc, pct};
use super::log::{LogQuery, PAGE_BYTES, read_page};
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
fn summary(build: &StoredBuild, compute: &str) -> String {
    let r = &build.build;
    let secs = Some(html::seconds_between(r.start_time(), r.end_time(), now_secs()));
    format!(
        "<dl class=\"summary\"><dt>Status</dt><dd id=\"build-status\">{st}</dd>\
<dt>Current phase</dt><dd>{phase}</dd><dt>Trigger</dt><dd>{tr}</dd>\
<dt>Source version</dt><dd><code>{sv}</code></dd><dt>Resolved commit</dt><dd><code>{rc}</code></dd>\
<dt>Started</dt><dd>{start}</dd><dt>Ended</dt><dd>{end}</dd><dt>Duration</dt><dd>{d}</dd>\
<dt>Estimated cost</dt><dd>{cost} <small>({ct})</small></dd></dl>",
        st = html::status(r.build_status().as_str()),
        phase = esc(r.current_phase().as_str()),
        tr = trigger_text(r),
        sv = esc(r.source_version.as_deref().unwrap_or_default()),
        rc = esc(r.resolved_source_version.as_deref().unwrap_or_default()),
        start = html::time(Some(r.start_time())),
        end = html::time(r.end_time()),
        d = html::duration(secs),
        cost = html::cost(compute, secs),
        ct = esc(compute),
    )
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
fn phases(build: &StoredBuild) -> String {
    let mut rows = String::new();
    for phase in build.build.phases() {
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
        let contexts: String = phase
            .contexts
            .iter()
            .flatten()
            .filter(|c| !c.message.is_empty() || !c.status_code.is_empty())
            .map(|c| {
                format!(
                    "<div class=\"context\"><code>{}</code> {}</div>",
                    esc(&c.status_code),
                    esc(&c.message)
                )
            })
            .collect();
        rows.push_str(&format!(
            "<li class=\"phase phase-{cls}\"><span class=\"name\">{name}</span>{st}<span class=\"dur\">{d}</span>{contexts}</li>",
            cls = esc(&status.to_ascii_lowercase()),
            name = esc(phase.phase_type.as_str()),
            st = if status.is_empty() { String::new() } else { html::status(status) },
            d = if status.is_empty() { String::new() } else { html::duration(secs) },
        ));
    }
    if rows.is_empty() {
        return "<p>No phases yet.</p>".into();
    }
    format!("<ol class=\"phases\">{rows}</ol>")
}

fn actions(build: &StoredBuild, csrf: &str) -> String {
    let id = pct(build.id().as_str());
    let field = html::csrf_field(csrf);
    let stop = if build.build.is_complete() {
        String::new()
    } else {
        format!(
            "<form method=\"post\" action=\"/console/builds/{id}/stop\">{field}<button type=\"submit\" class=\"danger\">Stop</button></form>"
        )
    };
    format!(
        "<div class=\"actions\">{stop}<form method=\"post\" action=\"/console/builds/{id}/retry\">{field}<button type=\"submit\">Retry</button></form></div>"
    )
}

/// `GET /console/builds/{id}`.
pub async fn page(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
    Path(id): Path<String>,
) -> Result<Html<String>, ConsoleError> {
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
    let more = if first.at_end {
        String::new()
    } else {
        format!(
            "<p id=\"log-more\"><a class=\"log-more\" href=\"/console/builds/{id}/log?offset={n}&amp;line={l}\">Load more \
of the log</a> · <a class=\"log-jump\" href=\"/console/builds/{id}/log?offset={n}&amp;line={l}&amp;tail=true\">Jump to \
the end</a></p>",
            id = pct(&id),
            n = first.next,
            l = first.line
        )
    };
    let body = format!(
        "<p class=\"crumbs\"><a href=\"/\">Projects</a> › <a href=\"/console/projects/{pp}\">{p}</a> › #{n}</p>\
<h1>Build #{n} of {p}</h1><p class=\"build-id\"><code>{idt}</code></p>\
<div id=\"build-live\" data-live=\"/console/builds/{idp}/live\" data-complete=\"{complete}\">\
<section id=\"summary\">{sum}</section>{act}</div>\
<section><h2>Phases</h2><div id=\"phases\">{ph}</div></section>\
<section><h2>Log</h2><div id=\"log\" class=\"log\" role=\"log\" aria-live=\"off\" data-build=\"{idp}\" \
data-next=\"{next}\" data-line=\"{line}\" data-at-end=\"{at_end}\" data-complete=\"{complete}\">{lines}</div>{more}\
<p class=\"log-state\" id=\"log-state\" aria-live=\"polite\"></p></section>\
<div id=\"details\">{details}</div>",
        pp = pct(build.project().as_str()),
        p = esc(build.project().as_str()),
        n = build.number(),
        idt = esc(&id),
        idp = pct(&id),
        sum = summary(&build, &compute),
        act = actions(&build, &session.csrf),
        ph = phases(&build),
        next = first.next,
        line = first.line,
        at_end = first.at_end,
        lines = first.html,
        details = super::details::details(&state, &build),
    );
    Ok(Html(html::page(
        &format!("Build #{} of {}", build.number(), build.project()),
        &body,
    )))
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
        "summary": summary(&build, &compute),
        "actions": actions(&build, &session.csrf),
        "phases": phases(&build),
        "details": super::details::details(&state, &build),
        "row": super::build_row(&build, &compute, now_secs()),
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
        let html = phases(&build);
        assert!(html.contains("<code>COMMAND_EXECUTION_ERROR</code> Error while executing command: echo &quot;&lt;x&gt;&quot;; exit 3. Reason: exit status 3"), "{html}");
        assert!(html.contains("<li class=\"phase phase-\"><span class=\"name\">COMPLETED</span><span class=\"dur\"></span></li>"), "{html}");
    }
}
