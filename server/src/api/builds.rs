//! Build operations: StartBuild, BatchGetBuilds, StopBuild, RetryBuild, ListBuildsForProject, ListBuilds.

use kiln_core::build::{BuildId, ProjectName};
use kiln_core::ports::build_store::SortOrder;
use kiln_core::usecases::UseCaseError;
use kiln_core::usecases::start::{Origin, StartBuildInput};
use serde::Deserialize;
use serde_json::{Value, json};

use super::input;
use crate::AppState;
use crate::error::AppError;

const PAGE: usize = 100;

pub(super) async fn start_build(state: &AppState, mut body: Value) -> Result<Value, AppError> {
    super::unsupported::start_build(&mut body)?;
    let request: StartBuildInput = input(body)?;
    let origin = Origin {
        initiator: Some("kiln-api".into()),
        ..Origin::default()
    };
    let started = state.services.start_build(request, origin, state.now()).await?;
    state.signal_queued(&started.build).await;
    Ok(json!({ "build": started.build }))
}

/// A build id from the request; one that cannot be an id names no build.
fn build_id(id: &str) -> Result<BuildId, AppError> {
    BuildId::parse(id).map_err(|_| UseCaseError::BuildNotFound(id.to_owned()).into())
}

#[derive(Deserialize)]
struct Ids {
    ids: Vec<String>,
}

pub(super) async fn batch_get_builds(state: &AppState, body: Value) -> Result<Value, AppError> {
    let Ids { ids } = input(body)?;
    if ids.is_empty() || ids.len() > 100 {
        return Err(AppError::invalid(format!(
            "ids must hold 1 to 100 build ids, not {}",
            ids.len()
        )));
    }
    let mut builds = Vec::new();
    let mut missing = Vec::new();
    for id in ids {
        let stored = match BuildId::parse(&id) {
            Ok(build_id) => state.services.builds.get(&build_id).await?,
            Err(_) => None,
        };
        match stored {
            Some(stored) => builds.push(stored.build),
            None => missing.push(id),
        }
    }
    Ok(json!({ "builds": builds, "buildsNotFound": missing }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct IdInput {
    id: String,
    #[serde(default)]
    idempotency_token: Option<String>,
}

pub(super) async fn stop_build(state: &AppState, body: Value) -> Result<Value, AppError> {
    let IdInput { id, .. } = input(body)?;
    let build = state.services.stop_build(&build_id(&id)?, state.now()).await?;
    Ok(json!({ "build": build }))
}

pub(super) async fn retry_build(state: &AppState, body: Value) -> Result<Value, AppError> {
    let IdInput {
        id,
        idempotency_token,
    } = input(body)?;
    let started = state
        .services
        .retry_build(&build_id(&id)?, idempotency_token.as_deref(), state.now())
        .await?;
    state.signal_queued(&started.build).await;
    Ok(json!({ "build": started.build }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListInput {
    #[serde(default)]
    project_name: Option<String>,
    #[serde(default)]
    sort_order: Option<String>,
    #[serde(default)]
    next_token: Option<String>,
}

fn order(value: Option<&str>) -> Result<SortOrder, AppError> {
    match value {
        None | Some("DESCENDING") => Ok(SortOrder::Descending),
        Some("ASCENDING") => Ok(SortOrder::Ascending),
        Some(other) => Err(AppError::invalid(format!(
            "sortOrder {other:?} is not ASCENDING or DESCENDING"
        ))),
    }
}

fn page(ids: Vec<BuildId>, next: Option<String>) -> Value {
    match next {
        Some(token) => json!({ "ids": ids, "nextToken": token }),
        None => json!({ "ids": ids }),
    }
}

pub(super) async fn list_builds_for_project(state: &AppState, body: Value) -> Result<Value, AppError> {
    let request: ListInput = input(body)?;
    let Some(name) = request.project_name else {
        return Err(AppError::invalid("projectName is required"));
    };
    let missing = || AppError::not_found(format!("project {name:?} cannot be found"));
    let project = ProjectName::parse(&name).map_err(|_| missing())?;
    if state.services.projects.get_project(&project).await?.is_none() {
        return Err(missing());
    }
    let order = order(request.sort_order.as_deref())?;
    let listed = state
        .services
        .builds
        .list(Some(&project), order, request.next_token.as_deref(), PAGE)
        .await?;
    Ok(page(listed.ids, listed.next_token))
}

pub(super) async fn list_builds(state: &AppState, body: Value) -> Result<Value, AppError> {
    let request: ListInput = input(body)?;
    let order = order(request.sort_order.as_deref())?;
    let listed = state
        .services
        .builds
        .list(None, order, request.next_token.as_deref(), PAGE)
        .await?;
    Ok(page(listed.ids, listed.next_token))
}
