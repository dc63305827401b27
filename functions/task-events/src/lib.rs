//! The `task-events` function: EventBridge "ECS Task State Change" events for STOPPED tasks of the runner
//! cluster. The task's build (named by `KILN_BUILD_ID` in the task's container overrides, checked against
//! `startedBy` = the build uuid) ends through [`Services::task_stopped`] if it had not ended: FAULT, TIMED_OUT or
//! STOPPED as the stop code says, a Spot interruption retried once as a new build when allowed. Then the
//! dispatch queue is nudged — the retry, the oldest waiting build of the project and the oldest overall get a
//! dispatch message — so a build waiting for the freed slot starts now rather than at its next delayed try.
//!
//! Events of other tasks (not STOPPED, not a Kiln build, an unknown build) are ignored; errors are returned so
//! EventBridge's asynchronous invocation retries the event (handling it twice is harmless).

use std::sync::Arc;

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use kiln_aws::SettingsError;
use kiln_aws::ecs::BUILD_ID_VARIABLE;
use kiln_core::build::{BuildId, StatusType, Timestamp};
use kiln_core::ports::dispatch_signal::{DispatchSignal, SignalError};
use kiln_core::usecases::task_stopped::{StopCode, StoppedTask};
use kiln_core::usecases::{Services, UseCaseError};
use kiln_lambda::Wiring;
use serde::Deserialize;

/// The `detail-type` this function handles.
pub const DETAIL_TYPE: &str = "ECS Task State Change";

/// What the function needs: the use cases on AWS and the dispatch queue to nudge.
#[derive(Clone)]
pub struct TaskEvents {
    pub services: Services,
    pub dispatch: Arc<dyn DispatchSignal>,
}

impl TaskEvents {
    /// The function's state: the use cases and the dispatch queue to nudge (`KILN_DISPATCH_QUEUE_URL`).
    pub fn from_wiring(wiring: &Wiring) -> Result<TaskEvents, SettingsError> {
        Ok(TaskEvents {
            services: wiring.services.clone(),
            dispatch: Arc::new(wiring.dispatch_signal()?),
        })
    }
}

/// What one event did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Not an event about a Kiln build task that stopped.
    Ignored(String),
    /// The build's task stopped.
    Handled {
        build_id: BuildId,
        /// The status this event gave the build (`None`: it had already ended).
        ended: Option<StatusType>,
        /// The new build retrying a Spot interruption.
        retry: Option<BuildId>,
        /// Builds a dispatch message was sent for.
        nudged: Vec<BuildId>,
    },
}

/// Why an event could not be handled (EventBridge retries it).
#[derive(Debug, thiserror::Error)]
pub enum TaskEventError {
    #[error("the task state change detail is not the documented shape: {0}")]
    Detail(serde_json::Error),
    #[error(transparent)]
    UseCase(#[from] UseCaseError),
    #[error(transparent)]
    Nudge(#[from] SignalError),
}

/// The members of an "ECS Task State Change" detail this function reads.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawDetail {
    task_arn: String,
    last_status: String,
    #[serde(default)]
    started_by: Option<String>,
    #[serde(default)]
    stop_code: Option<String>,
    #[serde(default)]
    stopped_reason: Option<String>,
    #[serde(default)]
    containers: Vec<RawContainer>,
    #[serde(default)]
    overrides: RawOverrides,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawContainer {
    name: String,
    #[serde(default)]
    exit_code: Option<i64>,
    #[serde(default)]
    reason: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawOverrides {
    #[serde(default)]
    container_overrides: Vec<RawContainerOverride>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawContainerOverride {
    name: String,
    #[serde(default)]
    environment: Vec<RawVariable>,
}

#[derive(Debug, Clone, Deserialize)]
struct RawVariable {
    name: String,
    #[serde(default)]
    value: String,
}

/// Handles one EventBridge event.
pub async fn handle(
    f: &TaskEvents,
    event: EventBridgeEvent,
    now: Timestamp,
) -> Result<Outcome, TaskEventError> {
    if event.detail_type != DETAIL_TYPE {
        return Ok(Outcome::Ignored(format!("detail-type {:?}", event.detail_type)));
    }
    let detail: RawDetail = serde_json::from_value(event.detail).map_err(TaskEventError::Detail)?;
    if detail.last_status != "STOPPED" {
        return Ok(Outcome::Ignored(format!("task is {}", detail.last_status)));
    }
    let Some((build_id, container)) = resolve(f, &detail).await? else {
        return Ok(Outcome::Ignored(format!(
            "task {} is not a Kiln build task",
            detail.task_arn
        )));
    };
    let runner = detail
        .containers
        .iter()
        .find(|c| Some(c.name.as_str()) == container.as_deref())
        .or_else(|| detail.containers.iter().find(|c| c.exit_code.is_some()))
        .or_else(|| detail.containers.first());
    let task = StoppedTask {
        build_id: build_id.clone(),
        task: detail.task_arn.clone(),
        stop_code: StopCode::parse(detail.stop_code.as_deref().unwrap_or_default()),
        stopped_reason: detail.stopped_reason.clone().unwrap_or_default(),
        exit_code: runner.and_then(|c| c.exit_code),
        container_reason: runner.and_then(|c| c.reason.clone()),
    };
    let stopped = match f.services.task_stopped(&task, now).await {
        Ok(stopped) => stopped,
        Err(UseCaseError::BuildNotFound(id)) => {
            return Ok(Outcome::Ignored(format!("build {id} is unknown")));
        }
        Err(err) => return Err(err.into()),
    };
    tracing::info!(build_id = %build_id, stop_code = task.stop_code.as_str(), ended = ?stopped.ended,
        retry = ?stopped.retry, "build task stopped");
    let mut nudged = Vec::new();
    if let Some(retry) = &stopped.retry {
        nudge(f, retry, &mut nudged).await?;
    }
    for waiting in f.services.waiting_builds(&build_id.project()).await? {
        nudge(f, &waiting, &mut nudged).await?;
    }
    Ok(Outcome::Handled {
        build_id,
        ended: stopped.ended,
        retry: stopped.retry,
        nudged,
    })
}

async fn nudge(f: &TaskEvents, id: &BuildId, nudged: &mut Vec<BuildId>) -> Result<(), TaskEventError> {
    if nudged.contains(id) {
        return Ok(());
    }
    f.dispatch.queued(std::slice::from_ref(id)).await?;
    nudged.push(id.clone());
    Ok(())
}

/// The build of a task and the name of the container that carries its id: `KILN_BUILD_ID` from the task's
/// overrides when it agrees with `startedBy`, else the queued or running build whose uuid is `startedBy`.
async fn resolve(
    f: &TaskEvents,
    detail: &RawDetail,
) -> Result<Option<(BuildId, Option<String>)>, TaskEventError> {
    let from_overrides = detail.overrides.container_overrides.iter().find_map(|o| {
        o.environment
            .iter()
            .find(|v| v.name == BUILD_ID_VARIABLE)
            .and_then(|v| BuildId::parse(&v.value).ok())
            .map(|id| (id, Some(o.name.clone())))
    });
    let started_by = detail.started_by.as_deref().filter(|s| !s.is_empty());
    match (from_overrides, started_by) {
        (Some((id, container)), Some(uuid)) if id.uuid() == uuid => Ok(Some((id, container))),
        (Some(_), Some(_)) => Ok(None),
        (Some(found), None) => Ok(Some(found)),
        (None, Some(uuid)) => {
            let entries = f.services.queue.entries().await.map_err(UseCaseError::from)?;
            Ok(entries
                .into_iter()
                .find(|e| e.build_id.uuid() == uuid)
                .map(|e| (e.build_id, None)))
        }
        (None, None) => Ok(None),
    }
}
