//! The parts of a build page known once it ends: artifacts (size, SHA-256, MD5 and a download route served from
//! the local object store), report summaries with failing test names, exported variables and trigger details.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use kiln_core::build::{Build, ExportedEnvironmentVariable, ReportSummary};
use kiln_core::ports::build_store::StoredBuild;
use maud::{Markup, html};
use serde_json::Value;

use super::html::{self, pct};
use super::{ConsoleError, trigger_text};
use crate::AppState;

/// Artifacts, reports, exported variables and trigger details (known once the build ends).
pub(crate) fn details(state: &AppState, build: &StoredBuild) -> Markup {
    let exported = build
        .build
        .exported_environment_variables
        .as_deref()
        .unwrap_or_default();
    html! {
        section { h2 { "Artifacts" } (artifacts(state, build)) }
        section { h2 { "Reports" } (reports(&build.build)) }
        section { h2 { "Exported variables" } (pairs(exported)) }
        section { h2 { "Trigger" } (trigger_details(&build.build)) }
    }
}

/// The primary artifact's location, if the build made one.
fn artifact_location(build: &Build) -> &str {
    build
        .artifacts
        .as_ref()
        .and_then(|a| a.location.as_deref())
        .unwrap_or_default()
}

fn none() -> Markup {
    html! { p { "None." } }
}

fn artifacts(state: &AppState, build: &StoredBuild) -> Markup {
    let Some(a) = build.build.artifacts.as_ref() else {
        return none();
    };
    let location = artifact_location(&build.build);
    if location.is_empty() {
        return none();
    }
    let size = artifact_file(state, location)
        .and_then(|p| std::fs::metadata(p).ok())
        .map(|m| html::bytes(m.len()));
    let download = format!("/console/builds/{}/artifact", pct(build.id().as_str()));
    html! {
        dl {
            dt { "Location" }
            dd {
                code { (location) }
                @if size.is_some() {
                    " "
                    a href=(download) download { "Download" }
                }
            }
            dt { "Size" } dd { (size.as_deref().unwrap_or("—")) }
            dt { "SHA-256" } dd { code class="hash" { (a.sha256sum.as_deref().unwrap_or_default()) } }
            dt { "MD5" } dd { code class="hash" { (a.md5sum.as_deref().unwrap_or_default()) } }
        }
    }
}

/// The build record's `reportSummaries` (written by the executor): totals and the failing test names.
fn reports(build: &Build) -> Markup {
    let Some(list) = build.report_summaries.as_ref().filter(|l| !l.is_empty()) else {
        return none();
    };
    html! { ul class="reports" { @for report in list { (report_item(report)) } } }
}

fn report_item(report: &ReportSummary) -> Markup {
    let status = if report.failed > 0 { "FAILED" } else { "SUCCEEDED" };
    html! {
        li {
            strong { (report.name) }
            @if let Some(format) = &report.file_format { " (" (format) ")" }
            " " (html::status(status))
            " — " (report.total) " total, " (report.passed) " passed, " (report.failed) " failed, "
            (report.skipped) " skipped"
            @if !report.failing_tests.is_empty() {
                ul class="failing" { @for test in &report.failing_tests { li { code { (test) } } } }
            }
        }
    }
}

fn pairs(list: &[ExportedEnvironmentVariable]) -> Markup {
    if list.is_empty() {
        return none();
    }
    html! { dl class="vars" { @for v in list { dt { code { (v.name) } } dd { code { (v.value) } } } } }
}

fn trigger_details(build: &Build) -> Markup {
    // Every member the trigger has, in name order: its JSON form is what lists them.
    let members = build
        .trigger
        .as_ref()
        .and_then(|t| serde_json::to_value(t).ok())
        .and_then(|v| match v {
            Value::Object(members) => Some(members),
            _ => None,
        })
        .filter(|members| !members.is_empty());
    let Some(members) = members else {
        return html! { p { (trigger_text(build)) } };
    };
    html! {
        p { (trigger_text(build)) }
        dl {
            @for (k, v) in &members {
                dt { (k) }
                dd { code { @match v { Value::String(text) => (text), other => (other.to_string()) } } }
            }
            dt { "initiator" } dd { code { (build.initiator.as_deref().unwrap_or_default()) } }
        }
    }
}

/// The local file behind an artifact location, if it is in the data dir's object store.
fn artifact_file(state: &AppState, location: &str) -> Option<std::path::PathBuf> {
    let data = state.data_dir.as_deref()?;
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
    let build = super::build::load(&state, &id).await?;
    let location = artifact_location(&build.build);
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
    use crate::console::test_support::stored;
    use serde_json::json;

    #[test]
    fn report_summaries_list_the_failing_tests_as_text() {
        let build = stored(json!({"reportSummaries": [{
            "name": "unit", "fileFormat": "JUNITXML", "total": 3, "passed": 1, "failed": 2, "skipped": 0,
            "failingTests": ["test <b>one</b>", "suite.two"]
        }]}));
        let html = reports(&build.build).into_string();
        assert!(html.contains("<strong>unit</strong>"), "{html}");
        assert!(html.contains("3 total, 1 passed, 2 failed, 0 skipped"), "{html}");
        assert!(
            html.contains("<li><code>test &lt;b&gt;one&lt;/b&gt;</code></li>"),
            "{html}"
        );
        assert!(html.contains("status-failed"), "{html}");
    }

    #[test]
    fn exported_variables_and_trigger_details_are_escaped() {
        let vars = pairs(&[ExportedEnvironmentVariable {
            name: "A".into(),
            value: "<script>alert(1)</script>".into(),
        }])
        .into_string();
        assert!(vars.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{vars}");
        let record = stored(json!({"initiator": "GitHub-Hookshot", "trigger": {
            "provider": "GITHUB", "event": "PUSH", "headRef": "refs/heads/\"><img src=x onerror=alert(1)>"}}));
        let html = trigger_details(&record.build).into_string();
        assert!(!html.contains("<img"), "{html}");
        assert!(
            html.contains("github PUSH <code>refs/heads/&quot;&gt;&lt;img src=x onerror=alert(1)&gt;</code>"),
            "{html}"
        );
    }
}
