//! The list pages: projects (last build, source, triggers, Start form) and a project's builds (paging, status
//! filter, live rows); and the Start action. The notice stream's page is [`super::events`].

use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use kiln_core::build::ProjectName;
use kiln_core::ports::build_store::{SortOrder, StoredBuild};
use kiln_core::project::Project;
use kiln_core::usecases::start::{EnvVar, Origin, StartBuildInput};
use maud::{Markup, html};
use serde::Deserialize;

use super::build::compute_name;
use super::csrf::CsrfForm;
use super::html::{self, pct};
use super::session::Session;
use super::{ConsoleError, build_row, builds_table_head, now_secs};
use crate::AppState;

fn triggers(project: &Project) -> Markup {
    let manual_only = project.webhook.is_none() && project.schedules.is_empty();
    html! {
        @match &project.webhook {
            Some(webhook) if !webhook.filter_groups.0.is_empty() => div {
                "Webhook filter groups:"
                ul { @for group in &webhook.filter_groups.0 { li {
                    @for (i, f) in group.iter().enumerate() {
                        @if i > 0 { " and " }
                        (f.filter_type.as_str()) " "
                        @if f.exclude_matched_pattern { "not " }
                        code { (f.pattern) }
                    }
                } } }
            },
            Some(_) => div { "Webhook: every event" },
            None => {},
        }
        @for schedule in &project.schedules {
            div {
                "Schedule " (schedule.name) " " code { (schedule.expression) }
                @if let Some(zone) = schedule.timezone.as_deref().filter(|z| !z.is_empty()) {
                    " (" (zone) ")"
                }
            }
        }
        @if manual_only { div { "Manual only" } }
    }
}

fn start_form(name: &str, csrf: &str) -> Markup {
    html! {
        form method="post" action={ "/console/projects/" (pct(name)) "/start" } class="start" {
            (html::csrf_field(csrf))
            label { "Source version " input name="source_version" placeholder="branch, tag or commit"; }
            label { "Variables " textarea name="variables" rows="2" placeholder="NAME=value, one a line" {} }
            button type="submit" { "Start build" }
        }
    }
}

/// One project's card: its last build, source, triggers and a Start form.
fn project_card(name: &ProjectName, project: &Project, last: Option<&StoredBuild>, csrf: &str) -> Markup {
    html! {
        section class="card" {
            h2 { a href={ "/console/projects/" (pct(name.as_str())) } { (name.as_str()) } }
            dl {
                dt { "Last build" }
                dd {
                    @match last {
                        Some(b) => {
                            a href={ "/console/builds/" (pct(b.id().as_str())) } { "#" (b.number()) } " "
                            (html::status(b.build.build_status().as_str())) " "
                            (html::time(Some(b.build.start_time())))
                        },
                        None => "no builds yet",
                    }
                }
                dt { "Source" }
                dd {
                    (project.source.source_type.as_str()) " "
                    code { (project.source.location.as_deref().unwrap_or_default()) }
                }
                dt { "Triggers" }
                dd { (triggers(project)) }
            }
            (start_form(name.as_str(), csrf))
        }
    }
}

/// `GET /`: every project with its last build, source, triggers and a Start form.
pub async fn projects(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
) -> Result<Markup, ConsoleError> {
    let names = state.services.projects.project_names().await?;
    let mut cards = Vec::with_capacity(names.len());
    for name in &names {
        let Some(stored) = state.services.projects.get_project(name).await? else {
            continue;
        };
        let last = state
            .services
            .builds
            .list(Some(name), SortOrder::Descending, None, 1)
            .await?;
        let last = match last.ids.first() {
            Some(id) => state.services.builds.get(id).await?,
            None => None,
        };
        cards.push(project_card(name, &stored.project, last.as_ref(), &session.csrf));
    }
    let body = html! {
        h1 { "Projects" }
        (super::session::logout_form(&state, &session))
        @if names.is_empty() { p { "No projects yet: add them to kiln.yaml or call CreateProject." } }
        div class="cards" { @for card in cards { (card) } }
    };
    Ok(html::page("Projects", body))
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
    let mut rows = Vec::new();
    let mut token = query.page.clone().filter(|t| !t.is_empty());
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
                rows.push(build_row(&b, &compute, now));
            }
        }
        scanned_pages += 1;
        if rows.len() >= PAGE_SIZE || listed.next_token.is_none() || scanned_pages >= 50 {
            break listed.next_token;
        }
        token = listed.next_token;
    };
    let body = builds_body(&name, &query.status, &rows, next.as_deref());
    Ok(html::page(&format!("Builds of {name}"), body).into_response())
}

/// The builds page: the status filter, the table of `rows` and a link to the builds after `next`.
fn builds_body(name: &str, status: &str, rows: &[Markup], next: Option<&str>) -> Markup {
    let options = std::iter::once(("", "any status")).chain(STATUSES.iter().map(|s| (*s, *s)));
    let older = |next| {
        format!(
            "/console/projects/{}?status={}&page={}",
            pct(name),
            pct(status),
            pct(next)
        )
    };
    html! {
        p class="crumbs" { a href="/" { "Projects" } " › " (name) }
        h1 { "Builds of " (name) }
        form method="get" class="filter" {
            label { "Status " select name="status" {
                @for (value, label) in options { option value=(value) selected[value == status] { (label) } }
            } }
            button type="submit" { "Filter" }
        }
        @if rows.is_empty() {
            p { "No builds match." }
        } @else {
            div class="scroll" { table class="builds" {
                (builds_table_head())
                tbody { @for row in rows { (row) } }
            } }
        }
        @if let Some(next) = next {
            p {
                a rel="next" href=(older(next)) { "Older builds →" }
            }
        }
    }
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
