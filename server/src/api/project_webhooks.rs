//! The webhook operations: CreateWebhook, UpdateWebhook and DeleteWebhook give a project its filter groups and
//! a generated secret, shown once.

use kiln_core::ports::build_store::PutMode;
use kiln_core::project::{SecretRef, Webhook};
use kiln_core::trigger::FilterGroups;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::input;
use super::projects::{existing, payload_url};
use crate::AppState;
use crate::error::AppError;

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

fn check_groups(groups: Value) -> Result<FilterGroups, AppError> {
    let parsed: FilterGroups =
        serde_json::from_value(groups).map_err(|e| AppError::invalid(format!("filterGroups: {e}")))?;
    parsed
        .compile()
        .map_err(|e| AppError::invalid(format!("filterGroups: {e}")))?;
    Ok(parsed)
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
    let mut stored = existing(state, &name).await?;
    let mut webhook = match (mode, stored.project.webhook.take()) {
        (PutMode::Create, Some(_)) => {
            return Err(AppError::already_exists(format!(
                "project {name:?} already has a webhook"
            )));
        }
        (PutMode::Update, None) => {
            return Err(AppError::not_found(format!("project {name:?} has no webhook")));
        }
        (_, Some(w)) => w,
        (_, None) => Webhook {
            filter_groups: FilterGroups::default(),
            secret: None,
            allow_unsigned: false,
        },
    };
    if let Some(groups) = request.filter_groups {
        webhook.filter_groups = check_groups(groups)?;
    }
    let secret = match &webhook.secret {
        Some(SecretRef::Value(s)) if !request.rotate_secret && mode != PutMode::Create => s.clone(),
        _ => new_secret(),
    };
    webhook.secret = Some(SecretRef::Value(secret.clone()));
    let shown = ShownNewWebhook {
        url: payload_url(state, stored.name()),
        payload_url: payload_url(state, stored.name()),
        secret,
        filter_groups: webhook.filter_groups.clone(),
        manual_creation: true,
        build_type: request.build_type,
    };
    stored.project.webhook = Some(webhook);
    state
        .services
        .projects
        .put_project(&stored, PutMode::Update)
        .await?;
    Ok(json!({ "webhook": shown }))
}

/// A webhook as CreateWebhook and UpdateWebhook answer: the only time its secret is shown.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ShownNewWebhook {
    url: String,
    payload_url: String,
    secret: String,
    filter_groups: FilterGroups,
    manual_creation: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    build_type: Option<String>,
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
    let mut stored = existing(state, &name).await?;
    stored.project.webhook = None;
    state
        .services
        .projects
        .put_project(&stored, PutMode::Update)
        .await?;
    Ok(json!({}))
}
