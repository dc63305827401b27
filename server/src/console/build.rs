//! One build: summary, trigger details, phase timeline (status, duration, failing command and exit code),
//! the log (first page rendered on the server, the rest on demand, live tail over SSE), artifacts with
//! sha256 and a download link, report summaries with failing tests, exported variables, Stop and Retry.
//! `GET /console/builds/{id}/live` returns the changing parts as HTML for the script to swap in.

use axum::Extension;
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Redirect, Response};
use kiln_shared::build::BuildId;
use kiln_shared::ports::build_store::StoredBuild;
use serde_json::{Value, json};

use super::html::{self, esc, pct, s};
use super::log::{LogQuery, PAGE_BYTES, read_page};
use super::session::Session;
use super::{ConsoleError, now_secs, trigger_text};
use crate::AppState;

async fn load(state: &AppState, id: &str) -> Result<StoredBuild, ConsoleError> {
    state
        .services
        .builds
        .get(id)
        .await?
        .ok_or_else(|| ConsoleError::NotFound(format!("build {id:?} cannot be found")))
}

async fn compute_type(state: &AppState, build: &StoredBuild) -> String {
    let from_record = s(&build.record["environment"], "computeType");
    if !from_record.is_empty() {
        return from_record.to_owned();
    }
    match state.services.projects.get_project(&build.project).await {
        Ok(Some(p)) => s(&p["environment"], "computeType").to_owned(),
        _ => String::new(),
    }
}

/// The summary list: status, times, duration, cost, versions.
fn summary(build: &StoredBuild, compute: &str) -> String {
    let r = &build.record;
    let secs = html::seconds_between(&r["startTime"], &r["endTime"], now_secs());
    format!(
        "<dl class=\"summary\"><dt>Status</dt><dd id=\"build-status\">{st}</dd>\
<dt>Current phase</dt><dd>{phase}</dd><dt>Trigger</dt><dd>{tr}</dd>\
<dt>Source version</dt><dd><code>{sv}</code></dd><dt>Resolved commit</dt><dd><code>{rc}</code></dd>\
<dt>Started</dt><dd>{start}</dd><dt>Ended</dt><dd>{end}</dd><dt>Duration</dt><dd>{d}</dd>\
<dt>Estimated cost</dt><dd>{cost} <small>({ct})</small></dd></dl>",
        st = html::status(s(r, "buildStatus")),
        phase = esc(s(r, "currentPhase")),
        tr = trigger_text(r),
        sv = esc(s(r, "sourceVersion")),
        rc = esc(s(r, "resolvedSourceVersion")),
        start = html::time(&r["startTime"]),
        end = html::time(&r["endTime"]),
        d = html::duration(secs),
        cost = html::cost(compute, secs),
        ct = esc(compute),
    )
}

/// The phase timeline, with the failing command and its exit code where a phase failed.
fn phases(build: &StoredBuild) -> String {
    let r = &build.record;
    let mut rows = String::new();
    let empty = Vec::new();
    for phase in r["phases"].as_array().unwrap_or(&empty) {
        let status = match (s(phase, "phaseType"), s(phase, "phaseStatus")) {
            // COMPLETED marks the end; it has no status or duration of its own.
            ("COMPLETED", _) => "",
            (_, "") if phase["endTime"].is_null() => "IN_PROGRESS",
            (_, other) => other,
        };
        let secs = match phase["durationInSeconds"].as_f64() {
            Some(d) => Some(d),
            None => html::seconds_between(&phase["startTime"], &phase["endTime"], now_secs()),
        };
        let secs = if s(phase, "phaseType") == "COMPLETED" {
            None
        } else {
            secs
        };
        let contexts: Vec<String> = phase["contexts"]
            .as_array()
            .unwrap_or(&empty)
            .iter()
            .filter(|c| !s(c, "message").is_empty() || !s(c, "statusCode").is_empty())
            .map(|c| {
                format!(
                    "<div class=\"context\"><code>{}</code> {}</div>",
                    esc(s(c, "statusCode")),
                    esc(s(c, "message"))
                )
            })
            .collect();
        rows.push_str(&format!(
            "<li class=\"phase phase-{cls}\"><span class=\"name\">{name}</span>{st}<span class=\"dur\">{d}</span>{ctx}</li>",
            cls = esc(&status.to_ascii_lowercase()),
            name = esc(s(phase, "phaseType")),
            st = if status.is_empty() { String::new() } else { html::status(status) },
            d = if status.is_empty() { String::new() } else { html::duration(secs) },
            ctx = contexts.join(""),
        ));
    }
    if rows.is_empty() {
        return "<p>No phases yet.</p>".into();
    }
    format!("<ol class=\"phases\">{rows}</ol>")
}

fn actions(build: &StoredBuild, csrf: &str) -> String {
    let done = build.record["buildComplete"].as_bool() == Some(true);
    let id = pct(&build.id);
    let field = html::csrf_field(csrf);
    let stop = if done {
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

fn artifacts(state: &AppState, build: &StoredBuild) -> String {
    let a = &build.record["artifacts"];
    let location = s(a, "location");
    if location.is_empty() {
        return "<p>None.</p>".into();
    }
    let size = artifact_file(state, location)
        .and_then(|p| std::fs::metadata(p).ok())
        .map(|m| html::bytes(m.len()));
    let link = match &size {
        Some(_) => format!(
            " <a href=\"/console/builds/{}/artifact\" download>Download</a>",
            pct(&build.id)
        ),
        None => String::new(),
    };
    format!(
        "<dl><dt>Location</dt><dd><code>{}</code>{link}</dd><dt>Size</dt><dd>{}</dd>\
<dt>SHA-256</dt><dd><code class=\"hash\">{}</code></dd><dt>MD5</dt><dd><code class=\"hash\">{}</code></dd></dl>",
        esc(location),
        esc(size.as_deref().unwrap_or("—")),
        esc(s(a, "sha256sum")),
        esc(s(a, "md5sum")),
    )
}

fn reports(build: &StoredBuild) -> String {
    let Some(list) = build.record["reports"].as_array().filter(|l| !l.is_empty()) else {
        return "<p>None.</p>".into();
    };
    let mut out = String::from("<ul class=\"reports\">");
    for report in list {
        let n = |k: &str| report[k].as_u64().unwrap_or(0);
        let failing: Vec<String> = report["failing"]
            .as_array()
            .map(|f| {
                f.iter()
                    .filter_map(Value::as_str)
                    .map(|t| format!("<li><code>{}</code></li>", esc(t)))
                    .collect()
            })
            .unwrap_or_default();
        let coverage = report["lineCoveragePercent"]
            .as_f64()
            .map(|c| format!(", line coverage {c:.1}%"))
            .unwrap_or_default();
        out.push_str(&format!(
            "<li><strong>{}</strong> {} — {} total, {} passed, {} failed, {} skipped, {} errors{coverage}{}</li>",
            esc(s(report, "name")),
            html::status(s(report, "status")),
            n("total"),
            n("passed"),
            n("failed"),
            n("skipped"),
            n("errors"),
            if failing.is_empty() { String::new() } else { format!("<ul class=\"failing\">{}</ul>", failing.join("")) }
        ));
    }
    out.push_str("</ul>");
    out
}

fn pairs(list: &Value) -> String {
    let Some(list) = list.as_array().filter(|l| !l.is_empty()) else {
        return "<p>None.</p>".into();
    };
    let rows: String = list
        .iter()
        .map(|v| {
            format!(
                "<dt><code>{}</code></dt><dd><code>{}</code></dd>",
                esc(s(v, "name")),
                esc(s(v, "value"))
            )
        })
        .collect();
    format!("<dl class=\"vars\">{rows}</dl>")
}

fn trigger_details(r: &Value) -> String {
    let Some(t) = r["trigger"].as_object().filter(|t| !t.is_empty()) else {
        return format!("<p>{}</p>", trigger_text(r));
    };
    let rows: String = t
        .iter()
        .map(|(k, v)| {
            let text = match v {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            format!("<dt>{}</dt><dd><code>{}</code></dd>", esc(k), esc(&text))
        })
        .collect();
    format!(
        "<p>{}</p><dl>{rows}<dt>initiator</dt><dd><code>{}</code></dd></dl>",
        trigger_text(r),
        esc(s(r, "initiator"))
    )
}

/// Artifacts, reports, exported variables and trigger details (known once the build ends).
fn details(state: &AppState, build: &StoredBuild) -> String {
    format!(
        "<section><h2>Artifacts</h2>{}</section><section><h2>Reports</h2>{}</section>\
<section><h2>Exported variables</h2>{}</section><section><h2>Trigger</h2>{}</section>",
        artifacts(state, build),
        reports(build),
        pairs(&build.record["exportedEnvironmentVariables"]),
        trigger_details(&build.record),
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
    let r = &build.record;
    let complete = r["buildComplete"].as_bool() == Some(true);
    let build_id = BuildId::parse(&id).map_err(|e| ConsoleError::Invalid(e.to_string()))?;
    let path = crate::logs::log_path(&state, &build_id);
    let first = read_page(&path, LogQuery { offset: 0, line: 1 }, PAGE_BYTES, complete)
        .await
        .map_err(|e| ConsoleError::Internal(format!("reading the log: {e}")))?;
    let more = if first.at_end {
        String::new()
    } else {
        format!(
            "<p id=\"log-more\"><a href=\"/console/builds/{}/log?offset={}&amp;line={}\">Load more of the log</a></p>",
            pct(&id),
            first.next,
            first.line
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
        pp = pct(&build.project),
        p = esc(&build.project),
        n = build.number,
        idt = esc(&id),
        idp = pct(&id),
        sum = summary(&build, &compute),
        act = actions(&build, &session.csrf),
        ph = phases(&build),
        next = first.next,
        line = first.line,
        at_end = first.at_end,
        lines = first.html,
        details = details(&state, &build),
    );
    Ok(Html(html::page(
        &format!("Build #{} of {}", build.number, build.project),
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
        "status": s(&build.record, "buildStatus"),
        "complete": build.record["buildComplete"].as_bool() == Some(true),
        "summary": summary(&build, &compute),
        "actions": actions(&build, &session.csrf),
        "phases": phases(&build),
        "details": details(&state, &build),
        "row": super::build_row(&build, &compute, now_secs()),
    })))
}

/// `POST /console/builds/{id}/stop`.
pub async fn stop(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, ConsoleError> {
    if !session.check(super::field(&super::form(&body), "csrf")) {
        return Err(ConsoleError::Forbidden(
            "the form's CSRF token is missing or stale; reload the page".into(),
        ));
    }
    state.services.stop_build(&id, state.now()).await?;
    Ok(Redirect::to(&format!("/console/builds/{}", pct(&id))).into_response())
}

/// `POST /console/builds/{id}/retry`: starts a new build like this one and goes to it.
pub async fn retry(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, ConsoleError> {
    if !session.check(super::field(&super::form(&body), "csrf")) {
        return Err(ConsoleError::Forbidden(
            "the form's CSRF token is missing or stale; reload the page".into(),
        ));
    }
    let started = state.services.retry_build(&id, None, state.now()).await?;
    Ok(Redirect::to(&format!("/console/builds/{}", pct(s(&started.record, "id")))).into_response())
}

/// The local file behind an artifact location, if it is in the data dir's object store.
fn artifact_file(state: &AppState, location: &str) -> Option<std::path::PathBuf> {
    let data = state.logs_dir.parent()?;
    let key = location
        .strip_prefix("arn:aws:s3:::")
        .or_else(|| location.strip_prefix("s3://"))
        .or_else(|| location.strip_prefix("file://"))
        .unwrap_or(location);
    let candidates = [
        std::path::PathBuf::from(key),
        data.join("objects").join(key.trim_start_matches('/')),
    ];
    let objects = data.join("objects").canonicalize().ok();
    let data = data.canonicalize().ok()?;
    candidates.into_iter().find_map(|c| {
        let c = c.canonicalize().ok()?;
        let inside = c.starts_with(&data) || objects.as_ref().is_some_and(|o| c.starts_with(o));
        (inside && c.is_file()).then_some(c)
    })
}

/// `GET /console/builds/{id}/artifact`: the primary artifact from the local object store.
pub async fn artifact(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ConsoleError> {
    let build = load(&state, &id).await?;
    let location = s(&build.record["artifacts"], "location");
    let path = artifact_file(&state, location).ok_or_else(|| {
        ConsoleError::NotFound(format!("artifact {location:?} is not in the local object store"))
    })?;
    let file = tokio::fs::File::open(&path)
        .await
        .map_err(|e| ConsoleError::Internal(format!("opening the artifact: {e}")))?;
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("artifact")
        .replace(['"', '\\'], "_");
    let body = Body::from_stream(tokio_util::io::ReaderStream::new(file));
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        body,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_shared::ports::build_store::BuildState;

    fn stored(record: Value) -> StoredBuild {
        StoredBuild {
            id: "web:1".into(),
            project: "web".into(),
            number: 1,
            state: BuildState::Terminal,
            version: 1,
            record,
        }
    }

    #[test]
    fn report_summaries_list_the_failing_tests_as_text() {
        let build = stored(json!({"reports": [{
            "name": "unit", "status": "FAILED", "total": 3, "passed": 1, "failed": 1, "skipped": 0, "errors": 1,
            "failing": ["test <b>one</b>", "suite.two"], "lineCoveragePercent": null
        }]}));
        let html = reports(&build);
        assert!(html.contains("<strong>unit</strong>"), "{html}");
        assert!(
            html.contains("3 total, 1 passed, 1 failed, 0 skipped, 1 errors"),
            "{html}"
        );
        assert!(
            html.contains("<li><code>test &lt;b&gt;one&lt;/b&gt;</code></li>"),
            "{html}"
        );
        assert!(html.contains("status-failed"), "{html}");
    }

    #[test]
    fn the_timeline_shows_the_failing_command_and_no_status_for_completed() {
        let build = stored(json!({"phases": [
            {"phaseType": "BUILD", "phaseStatus": "FAILED", "durationInSeconds": 2,
             "contexts": [{"statusCode": "COMMAND_EXECUTION_ERROR",
                           "message": "Error while executing command: echo \"<x>\"; exit 3. Reason: exit status 3"}]},
            {"phaseType": "COMPLETED"}
        ]}));
        let html = phases(&build);
        assert!(html.contains("<code>COMMAND_EXECUTION_ERROR</code> Error while executing command: echo &quot;&lt;x&gt;&quot;; exit 3. Reason: exit status 3"), "{html}");
        assert!(html.contains("<li class=\"phase phase-\"><span class=\"name\">COMPLETED</span><span class=\"dur\"></span></li>"), "{html}");
    }

    #[test]
    fn exported_variables_and_trigger_details_are_escaped() {
        let vars = pairs(&json!([{"name": "A", "value": "<script>alert(1)</script>"}]));
        assert!(vars.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{vars}");
        let record = json!({"initiator": "GitHub-Hookshot", "trigger": {
            "provider": "GITHUB", "event": "PUSH", "headRef": "refs/heads/\"><img src=x onerror=alert(1)>"}});
        let html = trigger_details(&record);
        assert!(!html.contains("<img"), "{html}");
        assert!(
            html.contains("github PUSH <code>refs/heads/&quot;&gt;&lt;img src=x onerror=alert(1)&gt;</code>"),
            "{html}"
        );
    }
}
