//! The list pages: projects (last build, source, triggers, Start form), a project's builds (paging, status
//! filter, live rows) and the notice stream (newest first); and the Start action.

use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use kiln_core::build::ProjectName;
use kiln_core::notice::{NoticeDetail, NoticeEvent};
use kiln_core::ports::build_store::SortOrder;
use kiln_core::project::Project;
use kiln_core::usecases::start::{EnvVar, Origin, StartBuildInput};
use serde::Deserialize;

use super::build::compute_name;
use super::csrf::CsrfForm;
use super::html::{self, esc, pct};
use super::session::Session;
use super::{ConsoleError, build_row, builds_table_head, now_secs};
use crate::AppState;

fn triggers(project: &Project) -> String {
    let mut out = String::new();
    match &project.webhook {
        Some(webhook) if !webhook.filter_groups.0.is_empty() => {
            out.push_str("<div>Webhook filter groups:<ul>");
            for group in &webhook.filter_groups.0 {
                let filters: Vec<String> = group
                    .iter()
                    .map(|f| {
                        let negate = if f.exclude_matched_pattern { "not " } else { "" };
                        format!(
                            "{} {negate}<code>{}</code>",
                            esc(f.filter_type.as_str()),
                            esc(&f.pattern)
                        )
                    })
                    .collect();
                out.push_str(&format!("<li>{}</li>", filters.join(" and ")));
            }
            out.push_str("</ul></div>");
        }
        Some(_) => out.push_str("<div>Webhook: every event</div>"),
        None => {}
    }
    for schedule in &project.schedules {
        let zone = match schedule.timezone.as_deref() {
            None | Some("") => String::new(),
            Some(zone) => format!(" ({})", esc(zone)),
        };
        out.push_str(&format!(
            "<div>Schedule {} <code>{}</code>{zone}</div>",
            esc(&schedule.name),
            esc(&schedule.expression)
        ));
    }
    if out.is_empty() {
        out.push_str("<div>Manual only</div>");
    }
    out
}

fn start_form(name: &str, csrf: &str) -> String {
    format!(
        "<form method=\"post\" action=\"/console/projects/{p}/start\" class=\"start\">{c}\
<label>Source version <input name=\"source_version\" placeholder=\"branch, tag or commit\"></label>\
<label>Variables <textarea name=\"variables\" rows=\"2\" placeholder=\"NAME=value, one a line\"></textarea></label>\
<button type=\"submit\">Start build</button></form>",
        p = pct(name),
        c = html::csrf_field(csrf)
    )
}

/// `GET /`: every project with its last build, source, triggers and a Start form.
pub async fn projects(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
) -> Result<Html<String>, ConsoleError> {
    let names = state.services.projects.project_names().await?;
    let mut body = format!(
        "<h1>Projects</h1>{}",
        super::session::logout_form(&state, &session)
    );
    if names.is_empty() {
        body.push_str("<p>No projects yet: add them to kiln.yaml or call CreateProject.</p>");
    }
    body.push_str("<div class=\"cards\">");
    for name in names {
        let Some(stored) = state.services.projects.get_project(&name).await? else {
            continue;
        };
        let project = &stored.project;
        let last = state
            .services
            .builds
            .list(Some(&name), SortOrder::Descending, None, 1)
            .await?;
        let last = match last.ids.first() {
            Some(id) => state.services.builds.get(id).await?,
            None => None,
        };
        let last_html = match last {
            Some(b) => format!(
                "<a href=\"/console/builds/{}\">#{}</a> {} {}",
                pct(b.id().as_str()),
                b.number(),
                html::status(b.build.build_status().as_str()),
                html::time(Some(b.build.start_time()))
            ),
            None => "no builds yet".into(),
        };
        body.push_str(&format!(
            "<section class=\"card\"><h2><a href=\"/console/projects/{p}\">{n}</a></h2>\
<dl><dt>Last build</dt><dd>{last_html}</dd><dt>Source</dt><dd>{t} <code>{loc}</code></dd>\
<dt>Triggers</dt><dd>{trig}</dd></dl>{form}</section>",
            p = pct(name.as_str()),
            n = esc(name.as_str()),
            t = esc(project.source.source_type.as_str()),
            loc = esc(project.source.location.as_deref().unwrap_or_default()),
            trig = triggers(project),
            form = start_form(name.as_str(), &session.csrf),
        ));
    }
    body.push_str("</div>");
    Ok(Html(html::page("Projects", &body)))
}

/// Query of the builds page.
#[derive(Debug, Deserialize)]
pub struct BuildsQuery {
    #[serde(default)]
    status: String,
    #[serde(default)]
    page: Option<String>,
}

const STATUSES: [&str; 6] = [
    "IN_PROGRESS",
    "SUCCEEDED",
    "FAILED",
    "FAULT",
    "STOPPED",
    "TIMED_OUT",
];
const PAGE_SIZE: usize = 20;

/// `GET /console/projects/{name}`: the builds, newest first, 20 a page, optionally of one status.
pub async fn builds(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(query): Query<BuildsQuery>,
) -> Result<Response, ConsoleError> {
    let missing = || ConsoleError::NotFound(format!("project {name:?} cannot be found"));
    let project_name = ProjectName::parse(&name).map_err(|_| missing())?;
    let Some(stored) = state.services.projects.get_project(&project_name).await? else {
        return Err(missing());
    };
    let compute = compute_name(&stored.project.environment)
        .unwrap_or_default()
        .to_owned();
    let mut rows = String::new();
    let mut token = query.page.clone().filter(|t| !t.is_empty());
    let mut shown = 0;
    let mut scanned_pages = 0;
    let now = now_secs();
    // A status filter scans pages until it has a page of matches (or 50 pages).
    let next = loop {
        let listed = state
            .services
            .builds
            .list(
                Some(&project_name),
                SortOrder::Descending,
                token.as_deref(),
                PAGE_SIZE,
            )
            .await?;
        for id in &listed.ids {
            if let Some(b) = state.services.builds.get(id).await?
                && (query.status.is_empty() || b.build.build_status().as_str() == query.status)
            {
                rows.push_str(&build_row(&b, &compute, now));
                shown += 1;
            }
        }
        scanned_pages += 1;
        if shown >= PAGE_SIZE || listed.next_token.is_none() || scanned_pages >= 50 {
            break listed.next_token;
        }
        token = listed.next_token;
    };
    let options: String = std::iter::once(("", "any status"))
        .chain(STATUSES.iter().map(|s| (*s, *s)))
        .map(|(value, label)| {
            let selected = if value == query.status { " selected" } else { "" };
            format!("<option value=\"{value}\"{selected}>{label}</option>")
        })
        .collect();
    let mut body = format!(
        "<p class=\"crumbs\"><a href=\"/\">Projects</a> › {n}</p><h1>Builds of {n}</h1>\
<form method=\"get\" class=\"filter\"><label>Status <select name=\"status\">{options}</select></label>\
<button type=\"submit\">Filter</button></form>",
        n = esc(&name)
    );
    if shown == 0 {
        body.push_str("<p>No builds match.</p>");
    } else {
        body.push_str(&format!(
            "<div class=\"scroll\"><table class=\"builds\">{}<tbody>{rows}</tbody></table></div>",
            builds_table_head()
        ));
    }
    if let Some(next) = next {
        body.push_str(&format!(
            "<p><a rel=\"next\" href=\"/console/projects/{}?status={}&amp;page={}\">Older builds →</a></p>",
            pct(&name),
            pct(&query.status),
            pct(&next)
        ));
    }
    Ok(Html(html::page(&format!("Builds of {name}"), &body)).into_response())
}

/// How many notices the events page shows.
const EVENTS_SHOWN: usize = 200;

/// The largest cursor in the feed (0 when empty): doubling, then bisection, over "is there a notice after c?".
async fn last_cursor(feed: &dyn kiln_core::ports::notifier::NoticeFeed) -> Result<u64, ConsoleError> {
    let exists_after = |c: u64| async move { Ok::<_, ConsoleError>(!feed.after(c, 1).await?.is_empty()) };
    if !exists_after(0).await? {
        return Ok(0);
    }
    let mut low = 0; // a notice exists after `low`
    let mut high = 1024; // none after `high`, once found
    while exists_after(high).await? {
        low = high;
        high = high.saturating_mul(2);
    }
    while high - low > 1 {
        let mid = low + (high - low) / 2;
        if exists_after(mid).await? {
            low = mid;
        } else {
            high = mid;
        }
    }
    Ok(high)
}

/// `GET /console/events`: the latest notices, newest first.
pub async fn events(State(state): State<AppState>) -> Result<Html<String>, ConsoleError> {
    // The feed reads forwards only: find the last cursor in O(log n) probes, then read the last 200 from there.
    let Some(feed) = &state.feed else {
        return Err(ConsoleError::NotFound(
            "this deployment keeps no notice feed; notices go to the notice topic and queue".into(),
        ));
    };
    let last = last_cursor(feed.as_ref()).await?;
    let recent = feed
        .after(last.saturating_sub(EVENTS_SHOWN as u64), EVENTS_SHOWN)
        .await?;
    let mut rows = String::new();
    for (cursor, event) in recent.iter().rev() {
        rows.push_str(&event_row(*cursor, event));
    }
    let body = format!(
        "<h1>Events</h1><p>Build state and phase changes, newest first (the last 200).</p>\
<div class=\"scroll\"><table><thead><tr><th scope=\"col\">#</th><th scope=\"col\">Time</th><th scope=\"col\">Type</th>\
<th scope=\"col\">Project</th><th scope=\"col\">Build</th><th scope=\"col\">State</th></tr></thead><tbody>{rows}</tbody></table></div>"
    );
    Ok(Html(html::page("Events", &body)))
}

/// One row of the events table: cursor, time, type, project, build and what changed.
fn event_row(cursor: u64, event: &NoticeEvent) -> String {
    let detail = &event.detail;
    let id = detail.build_arn().as_str();
    let build_link = match id.rsplit_once('/') {
        Some((_, short)) => format!("<a href=\"/console/builds/{}\">{}</a>", pct(short), esc(short)),
        None => esc(id),
    };
    let (phase, state_text) = match detail {
        NoticeDetail::State(d) => ("", d.build_status.as_str()),
        NoticeDetail::Phase(d) => (d.completed_phase.as_str(), d.completed_phase_status.as_str()),
    };
    format!(
        "<tr><td>{cursor}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} {}</td></tr>",
        html::time(html::parse_iso(&event.time)),
        esc(&event.detail_type),
        esc(detail.project_name().as_str()),
        build_link,
        esc(phase),
        html::status(state_text),
    )
}

/// `POST /console/projects/{name}/start`: starts a build and goes to its page.
pub async fn start(
    State(state): State<AppState>,
    Path(name): Path<String>,
    form: CsrfForm,
) -> Result<Response, ConsoleError> {
    let mut overrides = Vec::new();
    for line in form
        .field("variables")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
    {
        let Some((k, v)) = line.split_once('=') else {
            return Err(ConsoleError::Invalid(format!(
                "variable line {line:?} has no '='; write NAME=value"
            )));
        };
        overrides.push(EnvVar {
            name: k.trim().to_owned(),
            value: v.to_owned(),
            var_type: "PLAINTEXT".into(),
        });
    }
    let source_version = form.field("source_version").trim();
    let input = StartBuildInput {
        project_name: name,
        source_version: (!source_version.is_empty()).then(|| source_version.to_owned()),
        environment_variables_override: overrides,
        ..StartBuildInput::default()
    };
    let origin = Origin {
        initiator: Some("kiln-console".into()),
        ..Origin::default()
    };
    let started = state.services.start_build(input, origin, state.now()).await?;
    state.signal_queued(&started.build).await;
    let id = started.build.id().as_str();
    Ok(Redirect::to(&format!("/console/builds/{}", pct(id))).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_core::build::{AccountContext, Build, BuildId, Timestamp};
    use kiln_core::ports::BoxFuture;
    use kiln_core::ports::build_store::StoreError;
    use kiln_core::usecases::notices::{NoticeSource, notices_for};

    struct Cursors(Vec<u64>);

    /// Some notice (the probe only counts them).
    fn event() -> NoticeEvent {
        let id = BuildId::parse("web:0b0e7a9c-6c1c-4c3a-9a57-1d2e3f405162").expect("id");
        let build = Build::new(id, 1, &AccountContext::local(), Timestamp::from_epoch_millis(0));
        notices_for(&NoticeSource::default(), None, &build, 0)
            .remove(0)
            .event
    }

    impl kiln_core::ports::notifier::NoticeFeed for Cursors {
        fn after(
            &self,
            cursor: u64,
            limit: usize,
        ) -> BoxFuture<'_, Result<Vec<(u64, NoticeEvent)>, StoreError>> {
            let found = self
                .0
                .iter()
                .filter(|c| **c > cursor)
                .take(limit)
                .map(|c| (*c, event()));
            let found: Vec<_> = found.collect();
            Box::pin(async move { Ok(found) })
        }
    }

    #[test]
    fn the_last_cursor_is_found_by_probing_whatever_the_gaps() {
        let cases: [(Vec<u64>, u64); 5] = [
            (vec![], 0),
            (vec![1], 1),
            ((1..=5000).collect(), 5000),
            (vec![3, 1500, 70_000], 70_000),
            ((1..=1024).collect(), 1024),
        ];
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        for (cursors, expected) in cases {
            let feed = Cursors(cursors);
            let last = runtime.block_on(last_cursor(&feed)).expect("probe");
            assert_eq!(last, expected);
        }
    }
}
