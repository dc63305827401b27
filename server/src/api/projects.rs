//! Project operations: ListProjects, BatchGetProjects, CreateProject, UpdateProject, DeleteProject (the webhook
//! operations are in [`super::project_webhooks`]).

use kiln_core::build::{ProjectName, Timestamp};
use kiln_core::ports::build_store::PutMode;
use kiln_core::project::{FieldPath, Project, RawProject, StoredProject, ValidationOptions, Webhook};
use kiln_core::trigger::FilterGroups;
use kiln_core::usecases::apply_projects::{DesiredSchedule, project_schedules, schedule_name};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::input;
use crate::AppState;
use crate::error::AppError;

/// Validates a project definition sent to the API (no inline secrets) and returns it. A `webhook` member (a
/// stored project's, sent back by UpdateProject) keeps the secret CreateWebhook generated.
fn validated(mut body: Value) -> Result<Project, AppError> {
    super::unsupported::project(&mut body)?;
    if let Some(obj) = body.as_object_mut() {
        // Times are the server's, not the caller's; they are set again by the operation.
        for member in ["created", "lastModified", "arn"] {
            obj.remove(member);
        }
    }
    // A webhook set through CreateWebhook carries a generated secret; it is checked there, not here.
    let webhook: Option<Webhook> = match body.as_object_mut().and_then(|o| o.remove("webhook")) {
        Some(webhook) => {
            Some(serde_json::from_value(webhook).map_err(|e| AppError::invalid(format!("webhook: {e}")))?)
        }
        None => None,
    };
    let raw: RawProject = input(body)?;
    let options = ValidationOptions {
        allow_inline_secrets: false,
    };
    let mut project =
        Project::validate(raw, &FieldPath::root(), options).map_err(|e| AppError::invalid(e.to_string()))?;
    project.webhook = webhook;
    Ok(project)
}

/// A project as the API shows it: with its ARN, and the webhook with its URL and without its secret.
#[derive(Serialize)]
struct Shown {
    #[serde(flatten)]
    stored: StoredProject,
    arn: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    webhook: Option<ShownWebhook>,
}

/// A project's webhook as the API shows it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ShownWebhook {
    #[serde(skip_serializing_if = "filter_groups_empty")]
    filter_groups: FilterGroups,
    url: String,
    payload_url: String,
}

fn filter_groups_empty(groups: &FilterGroups) -> bool {
    groups.0.is_empty()
}

fn shown(state: &AppState, mut stored: StoredProject) -> Shown {
    let name = stored.name().clone();
    let webhook = stored.project.webhook.take().map(|w| ShownWebhook {
        filter_groups: w.filter_groups,
        url: payload_url(state, &name),
        payload_url: payload_url(state, &name),
    });
    Shown {
        arn: format!(
            "arn:aws:codebuild:{}:{}:project/{name}",
            state.services.account.region(),
            state.services.account.account()
        ),
        stored,
        webhook,
    }
}

/// The URL a project's webhook deliveries go to.
pub(super) fn payload_url(state: &AppState, name: &ProjectName) -> String {
    format!("{}/webhooks/{name}", state.base_url.trim_end_matches('/'))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NameInput {
    #[serde(alias = "projectName")]
    name: String,
}

/// The stored project `name`, or a not-found error (a name that cannot be a project's names none).
pub(super) async fn existing(state: &AppState, name: &str) -> Result<StoredProject, AppError> {
    let missing = || AppError::not_found(format!("project {name:?} cannot be found"));
    let name = ProjectName::parse(name).map_err(|_| missing())?;
    state
        .services
        .projects
        .get_project(&name)
        .await?
        .ok_or_else(missing)
}

/// `project` as stored now: `created` kept from `previous` when there is one, `lastModified` now.
fn stamped(state: &AppState, project: Project, previous: Option<&StoredProject>) -> StoredProject {
    let now = state.now();
    StoredProject {
        project,
        created: Some(previous.and_then(|p| p.created).unwrap_or(now)),
        last_modified: Some(now),
    }
}

/// The project's schedules as the deployment's scheduler should hold them; a schedule whose full name is too
/// long for EventBridge Scheduler is refused before anything is stored.
fn schedules_of(project: &Project) -> Result<Vec<DesiredSchedule>, AppError> {
    project_schedules(project).map_err(|e| AppError::invalid(e.to_string()))
}

/// Brings the deployment's scheduler in step with `project`'s schedules (`desired`), where one is wired (on
/// AWS). The project is stored already: a failure says so, and calling UpdateProject again repairs it.
async fn sync_schedules(
    state: &AppState,
    project: &str,
    previous: Option<&Project>,
    desired: &[DesiredSchedule],
) -> Result<(), AppError> {
    let Some(sync) = &state.schedules else {
        return Ok(());
    };
    // The previous definition's schedules, by full name (a name too long to exist is not looked for).
    let known: Vec<String> = previous
        .map(|p| {
            p.schedules
                .iter()
                .filter_map(|s| schedule_name(project, &s.name).ok())
                .collect()
        })
        .unwrap_or_default();
    match sync.sync(project, &known, desired).await {
        Ok(plan) => {
            tracing::info!(
                project,
                created = plan.create.len(),
                updated = plan.update.len(),
                deleted = plan.delete.len(),
                "project schedules in step"
            );
            Ok(())
        }
        Err(err) => Err(AppError::Internal(format!(
            "{err}; the project itself is stored: call UpdateProject again to retry"
        ))),
    }
}

pub(super) async fn create_project(state: &AppState, body: Value) -> Result<Value, AppError> {
    let stored = stamped(state, validated(body)?, None);
    let schedules = schedules_of(&stored.project)?;
    state
        .services
        .projects
        .put_project(&stored, PutMode::Create)
        .await?;
    sync_schedules(state, stored.project.name.as_str(), None, &schedules).await?;
    Ok(json!({ "project": shown(state, stored) }))
}

pub(super) async fn update_project(state: &AppState, body: Value) -> Result<Value, AppError> {
    let NameInput { name } = input(body.clone())?;
    let current = existing(state, &name).await?;
    let mut merged = match serde_json::to_value(&current).map_err(|e| AppError::Internal(e.to_string()))? {
        Value::Object(members) => members,
        _ => Map::new(),
    };
    for (k, v) in body.as_object().cloned().unwrap_or_default() {
        if k == "concurrentBuildLimit" && v.as_i64() == Some(-1) {
            merged.remove(&k);
            continue;
        }
        merged.insert(k, v);
    }
    let stored = stamped(state, validated(Value::Object(merged))?, Some(&current));
    let schedules = schedules_of(&stored.project)?;
    state
        .services
        .projects
        .put_project(&stored, PutMode::Update)
        .await?;
    sync_schedules(
        state,
        stored.project.name.as_str(),
        Some(&current.project),
        &schedules,
    )
    .await?;
    Ok(json!({ "project": shown(state, stored) }))
}

pub(super) async fn delete_project(state: &AppState, body: Value) -> Result<Value, AppError> {
    let NameInput { name } = input(body)?;
    // A name that cannot be a project's names none, and deleting a missing project is not an error.
    if let Ok(name) = ProjectName::parse(&name) {
        let previous = match &state.schedules {
            Some(_) => state.services.projects.get_project(&name).await?,
            None => None,
        };
        state.services.projects.delete_project(&name).await?;
        sync_schedules(state, name.as_str(), previous.as_ref().map(|p| &p.project), &[]).await?;
    }
    Ok(json!({}))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListProjectsInput {
    #[serde(default)]
    sort_by: Option<String>,
    #[serde(default)]
    sort_order: Option<String>,
    #[serde(default)]
    next_token: Option<String>,
}

/// Projects per ListProjects page (CodeBuild's maximum).
const PROJECTS_PAGE: usize = 100;

pub(super) async fn list_projects(state: &AppState, body: Value) -> Result<Value, AppError> {
    let request: ListProjectsInput = input(body)?;
    let names = state.services.projects.project_names().await?;
    let time_member: Option<fn(&StoredProject) -> Option<Timestamp>> = match request.sort_by.as_deref() {
        None | Some("NAME") => None,
        Some("CREATED_TIME") => Some(|p| p.created),
        Some("LAST_MODIFIED_TIME") => Some(|p| p.last_modified),
        Some(other) => {
            return Err(AppError::invalid(format!(
                "sortBy {other:?} is not NAME, CREATED_TIME or LAST_MODIFIED_TIME"
            )));
        }
    };
    let descending = match request.sort_order.as_deref() {
        None | Some("ASCENDING") => false,
        Some("DESCENDING") => true,
        Some(other) => {
            return Err(AppError::invalid(format!(
                "sortOrder {other:?} is not ASCENDING or DESCENDING"
            )));
        }
    };
    // Sorted by (time, name); projects from kiln.yaml have no times and sort first.
    let mut keyed = Vec::with_capacity(names.len());
    for name in names {
        let time = match time_member {
            Some(member) => state
                .services
                .projects
                .get_project(&name)
                .await?
                .and_then(|p| member(&p))
                .map_or(0, Timestamp::epoch_millis),
            None => 0,
        };
        keyed.push((time, name));
    }
    keyed.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
    if descending {
        keyed.reverse();
    }
    let start = match request.next_token.as_deref() {
        None => 0,
        Some(token) => token
            .parse::<usize>()
            .ok()
            .filter(|n| *n <= keyed.len())
            .ok_or_else(|| AppError::invalid(format!("nextToken {token:?} is not valid")))?,
    };
    let end = (start + PROJECTS_PAGE).min(keyed.len());
    let projects: Vec<&str> = keyed[start..end].iter().map(|(_, n)| n.as_str()).collect();
    Ok(if end < keyed.len() {
        json!({ "projects": projects, "nextToken": end.to_string() })
    } else {
        json!({ "projects": projects })
    })
}

#[derive(Deserialize)]
struct NamesInput {
    names: Vec<String>,
}

pub(super) async fn batch_get_projects(state: &AppState, body: Value) -> Result<Value, AppError> {
    let NamesInput { names } = input(body)?;
    if names.is_empty() || names.len() > 100 {
        return Err(AppError::invalid(format!(
            "names must hold 1 to 100 names, not {}",
            names.len()
        )));
    }
    let mut projects = Vec::new();
    let mut missing = Vec::new();
    for name in names {
        let short = name.rsplit("project/").next().unwrap_or(&name);
        let stored = match ProjectName::parse(short) {
            Ok(short) => state.services.projects.get_project(&short).await?,
            Err(_) => None,
        };
        match stored {
            Some(stored) => projects.push(shown(state, stored)),
            None => missing.push(name),
        }
    }
    Ok(json!({ "projects": projects, "projectsNotFound": missing }))
}
