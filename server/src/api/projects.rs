//! Project operations: ListProjects, BatchGetProjects, CreateProject, UpdateProject, DeleteProject, and the
//! webhook operations (CreateWebhook, UpdateWebhook, DeleteWebhook) that give a project its filter groups
//! and a generated secret.

use kiln_core::ports::build_store::PutMode;
use kiln_core::project::{FieldPath, Project, RawProject, ValidationOptions};
use kiln_core::trigger::FilterGroups;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::input;
use crate::AppState;
use crate::error::AppError;

/// Members CodeBuild accepts that Kiln has no use for; they are dropped rather than refused.
const IGNORED_MEMBERS: [&str; 11] = [
    "badgeEnabled",
    "encryptionKey",
    "vpcConfig",
    "fileSystemLocations",
    "buildBatchConfig",
    "secondarySources",
    "secondarySourceVersions",
    "projectVisibility",
    "resourceAccessRole",
    "autoRetryLimit",
    "secondaryArtifacts",
];

/// Validates a project definition sent to the API (no inline secrets) and returns its stored form.
fn validated(mut body: Value) -> Result<(String, Value), AppError> {
    if let Some(obj) = body.as_object_mut() {
        for member in IGNORED_MEMBERS {
            obj.remove(member);
        }
    }
    // Times are the server's, not the caller's; they are set again by the operation.
    if let Some(obj) = body.as_object_mut() {
        for member in ["created", "lastModified", "arn"] {
            obj.remove(member);
        }
    }
    // A webhook set through CreateWebhook carries a generated secret; it is checked there, not here.
    let webhook = body.as_object_mut().and_then(|o| o.remove("webhook"));
    let raw: RawProject = input(body)?;
    let options = ValidationOptions {
        allow_inline_secrets: false,
    };
    let project =
        Project::validate(raw, &FieldPath::root(), options).map_err(|e| AppError::invalid(e.to_string()))?;
    let name = project.name.to_string();
    let mut stored = serde_json::to_value(&project).map_err(|e| AppError::Internal(e.to_string()))?;
    if let (Some(obj), Some(webhook)) = (stored.as_object_mut(), webhook) {
        obj.insert("webhook".into(), webhook);
    }
    Ok((name, stored))
}

/// The project as the API shows it: with its ARN, and the webhook without its secret.
fn shown(state: &AppState, mut project: Value) -> Value {
    let name = project["name"].as_str().unwrap_or_default().to_owned();
    if let Some(obj) = project.as_object_mut() {
        obj.insert(
            "arn".into(),
            json!(format!(
                "arn:aws:codebuild:{}:{}:project/{name}",
                state.services.account.region(),
                state.services.account.account()
            )),
        );
        if let Some(webhook) = obj.get_mut("webhook").and_then(Value::as_object_mut) {
            webhook.remove("secret");
            webhook.insert("url".into(), json!(payload_url(state, &name)));
            webhook.insert("payloadUrl".into(), json!(payload_url(state, &name)));
        }
    }
    project
}

fn payload_url(state: &AppState, name: &str) -> String {
    format!("{}/webhooks/{name}", state.base_url.trim_end_matches('/'))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NameInput {
    #[serde(alias = "projectName")]
    name: String,
}

/// Sets `created` (kept from `previous` when there is one) and `lastModified` to now.
fn stamp(state: &AppState, stored: &mut Value, previous: Option<&Value>) {
    let now = json!(state.now());
    let created = previous
        .and_then(|p| p.get("created").cloned())
        .unwrap_or_else(|| now.clone());
    if let Some(obj) = stored.as_object_mut() {
        obj.insert("created".into(), created);
        obj.insert("lastModified".into(), now);
    }
}

pub(super) async fn create_project(state: &AppState, body: Value) -> Result<Value, AppError> {
    let (name, mut stored) = validated(body)?;
    stamp(state, &mut stored, None);
    state
        .services
        .projects
        .put_project(&name, stored.clone(), PutMode::Create)
        .await?;
    Ok(json!({ "project": shown(state, stored) }))
}

pub(super) async fn update_project(state: &AppState, body: Value) -> Result<Value, AppError> {
    let NameInput { name } = input(body.clone())?;
    let current = state
        .services
        .projects
        .get_project(&name)
        .await?
        .ok_or_else(|| AppError::not_found(format!("project {name:?} cannot be found")))?;
    let mut merged = current.as_object().cloned().unwrap_or_default();
    for (k, v) in body.as_object().cloned().unwrap_or_default() {
        if k == "concurrentBuildLimit" && v.as_i64() == Some(-1) {
            merged.remove(&k);
            continue;
        }
        merged.insert(k, v);
    }
    let (name, mut stored) = validated(Value::Object(merged))?;
    stamp(state, &mut stored, Some(&current));
    state
        .services
        .projects
        .put_project(&name, stored.clone(), PutMode::Update)
        .await?;
    Ok(json!({ "project": shown(state, stored) }))
}

pub(super) async fn delete_project(state: &AppState, body: Value) -> Result<Value, AppError> {
    let NameInput { name } = input(body)?;
    state.services.projects.delete_project(&name).await?;
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
    let time_member = match request.sort_by.as_deref() {
        None | Some("NAME") => None,
        Some("CREATED_TIME") => Some("created"),
        Some("LAST_MODIFIED_TIME") => Some("lastModified"),
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
                .and_then(|p| p.get(member).and_then(Value::as_f64))
                .unwrap_or(0.0),
            None => 0.0,
        };
        keyed.push((time, name));
    }
    keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
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
        let short = name.rsplit("project/").next().unwrap_or(&name).to_owned();
        match state.services.projects.get_project(&short).await? {
            Some(project) => projects.push(shown(state, project)),
            None => missing.push(name),
        }
    }
    Ok(json!({ "projects": projects, "projectsNotFound": missing }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WebhookInput {
    project_name: String,
    #[serde(default)]
    filter_groups: Option<Value>,
    #[serde(default)]
    rotate_secret: bool,
    #[serde(default)]
    build_type: Option<String>,
}

fn check_groups(groups: &Value) -> Result<(), AppError> {
    let parsed: FilterGroups = serde_json::from_value(groups.clone())
        .map_err(|e| AppError::invalid(format!("filterGroups: {e}")))?;
    parsed
        .compile()
        .map_err(|e| AppError::invalid(format!("filterGroups: {e}")))?;
    Ok(())
}

fn new_secret() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

async fn write_webhook(state: &AppState, request: WebhookInput, mode: PutMode) -> Result<Value, AppError> {
    let name = request.project_name;
    let mut project = state
        .services
        .projects
        .get_project(&name)
        .await?
        .ok_or_else(|| AppError::not_found(format!("project {name:?} cannot be found")))?;
    let existing = project.get("webhook").filter(|w| w.is_object()).cloned();
    let mut webhook: Map<String, Value> = match (mode, existing) {
        (PutMode::Create, Some(_)) => {
            return Err(AppError::already_exists(format!(
                "project {name:?} already has a webhook"
            )));
        }
        (PutMode::Update, None) => {
            return Err(AppError::not_found(format!("project {name:?} has no webhook")));
        }
        (_, Some(w)) => w.as_object().cloned().unwrap_or_default(),
        (_, None) => Map::new(),
    };
    if let Some(groups) = request.filter_groups {
        check_groups(&groups)?;
        webhook.insert("filterGroups".into(), groups);
    }
    let secret = match webhook
        .get("secret")
        .and_then(|s| s.get("value"))
        .and_then(Value::as_str)
    {
        Some(s) if !request.rotate_secret && mode != PutMode::Create => s.to_owned(),
        _ => new_secret(),
    };
    webhook.insert("secret".into(), json!({ "value": secret }));
    project["webhook"] = Value::Object(webhook.clone());
    state
        .services
        .projects
        .put_project(&name, project, PutMode::Update)
        .await?;
    let mut shown = json!({
        "url": payload_url(state, &name),
        "payloadUrl": payload_url(state, &name),
        "secret": secret,
        "filterGroups": webhook.get("filterGroups").cloned().unwrap_or(json!([])),
        "manualCreation": true,
    });
    if let Some(build_type) = request.build_type {
        shown["buildType"] = json!(build_type);
    }
    Ok(json!({ "webhook": shown }))
}

pub(super) async fn create_webhook(state: &AppState, body: Value) -> Result<Value, AppError> {
    write_webhook(state, input(body)?, PutMode::Create).await
}

pub(super) async fn update_webhook(state: &AppState, body: Value) -> Result<Value, AppError> {
    write_webhook(state, input(body)?, PutMode::Update).await
}

pub(super) async fn delete_webhook(state: &AppState, body: Value) -> Result<Value, AppError> {
    let WebhookInput {
        project_name: name, ..
    } = input(body)?;
    let mut project = state
        .services
        .projects
        .get_project(&name)
        .await?
        .ok_or_else(|| AppError::not_found(format!("project {name:?} cannot be found")))?;
    if let Some(obj) = project.as_object_mut() {
        obj.remove("webhook");
    }
    state
        .services
        .projects
        .put_project(&name, project, PutMode::Update)
        .await?;
    Ok(json!({}))
}
