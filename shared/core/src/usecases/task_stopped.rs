//! A build's task stopped (ECS "Task State Change" to STOPPED on AWS): a build that has not ended yet ends
//! now, with the status and reason the stop code implies; a task reclaimed by Fargate Spot is retried once as
//! a new build when the build's environment allows it; the concurrency slot is given back.
//!
//! Spot retries are new builds (RetryBuild with the same settings), not a requeue of the interrupted one: a
//! build's phases only move forward, and CodeBuild's own retries are new builds too. The interrupted build ends
//! FAULT with the new build's id in its phase context; the new one carries `spotRetryOf` so it is never
//! retried again.

use super::{Change, Services, UseCaseError};
use crate::build::{Build, BuildId, PhaseContext, StatusType, Timestamp};
use crate::ports::build_store::BuildState;

/// The record member naming the interrupted build a Spot retry replaces ([`Build::spot_retry_of`]).
pub const SPOT_RETRY_OF: &str = "spotRetryOf";

/// Why a task stopped (ECS's `stopCode`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopCode {
    /// The task never started (image pull, network, secrets).
    TaskFailedToStart,
    /// The runner container exited.
    EssentialContainerExited,
    /// StopTask was called (StopBuild or the reaper).
    UserInitiated,
    /// Fargate Spot took the capacity back.
    SpotInterruption,
    /// A service or the platform stopped it.
    ServiceSchedulerInitiated,
    /// The host is being retired.
    TerminationNotice,
    /// A code this version does not know.
    Other(String),
}

impl StopCode {
    /// Reads ECS's `stopCode` value.
    pub fn parse(code: &str) -> StopCode {
        match code {
            "TaskFailedToStart" => StopCode::TaskFailedToStart,
            "EssentialContainerExited" => StopCode::EssentialContainerExited,
            "UserInitiated" => StopCode::UserInitiated,
            "SpotInterruption" => StopCode::SpotInterruption,
            "ServiceSchedulerInitiated" => StopCode::ServiceSchedulerInitiated,
            "TerminationNotice" => StopCode::TerminationNotice,
            other => StopCode::Other(other.to_owned()),
        }
    }

    /// ECS's spelling.
    pub fn as_str(&self) -> &str {
        match self {
            StopCode::TaskFailedToStart => "TaskFailedToStart",
            StopCode::EssentialContainerExited => "EssentialContainerExited",
            StopCode::UserInitiated => "UserInitiated",
            StopCode::SpotInterruption => "SpotInterruption",
            StopCode::ServiceSchedulerInitiated => "ServiceSchedulerInitiated",
            StopCode::TerminationNotice => "TerminationNotice",
            StopCode::Other(code) => code,
        }
    }
}

/// A stopped task of a build, as the platform reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoppedTask {
    pub build_id: BuildId,
    /// The task handle (ARN on AWS).
    pub task: String,
    pub stop_code: StopCode,
    /// The platform's `stoppedReason`.
    pub stopped_reason: String,
    /// The runner container's exit code, when it ran.
    pub exit_code: Option<i64>,
    /// The runner container's own reason (`CannotPullContainerError: ...`), when given.
    pub container_reason: Option<String>,
}

/// What [`Services::task_stopped`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskStopped {
    /// The build afterwards.
    pub build: Build,
    /// The status this event gave the build; `None` when it had already ended or runs on another task.
    pub ended: Option<StatusType>,
    /// The build started to retry a Spot interruption.
    pub retry: Option<BuildId>,
}

/// How a stop ends a build that was still running.
struct Verdict {
    status: StatusType,
    context: PhaseContext,
    retry: bool,
}

fn verdict(task: &StoppedTask, build: &Build, now: Timestamp) -> Verdict {
    let reason = match &task.container_reason {
        Some(container) if !container.is_empty() && !task.stopped_reason.contains(container.as_str()) => {
            format!("{} ({container})", task.stopped_reason)
        }
        _ => task.stopped_reason.clone(),
    };
    let fault = |code: &str, message: String| Verdict {
        status: StatusType::Fault,
        context: PhaseContext::new(code, message),
        retry: false,
    };
    match &task.stop_code {
        StopCode::UserInitiated => {
            let overdue = build.deadline().is_some_and(|deadline| now >= deadline);
            let (status, message) = if overdue {
                (
                    StatusType::TimedOut,
                    format!("Build timed out after {} minutes", build.timeout_in_minutes),
                )
            } else {
                (StatusType::Stopped, format!("Build stopped: {reason}"))
            };
            Verdict {
                status,
                context: PhaseContext::new("", message),
                retry: false,
            }
        }
        StopCode::TaskFailedToStart => {
            let code = if reason.contains("CannotPullContainer") {
                "BUILD_CONTAINER_UNABLE_TO_PULL_IMAGE"
            } else {
                "CLIENT_ERROR"
            };
            fault(code, format!("The build task failed to start: {reason}"))
        }
        StopCode::EssentialContainerExited => {
            let code = task
                .exit_code
                .map_or_else(|| "unknown".to_owned(), |c| c.to_string());
            fault(
                "CLIENT_ERROR",
                format!("The runner exited with code {code} before the build finished: {reason}"),
            )
        }
        StopCode::SpotInterruption => Verdict {
            retry: spot_retry_allowed(build),
            ..fault(
                "CLIENT_ERROR",
                format!("Fargate Spot reclaimed the build task (SpotInterruption): {reason}"),
            )
        },
        StopCode::ServiceSchedulerInitiated | StopCode::TerminationNotice | StopCode::Other(_) => fault(
            "CLIENT_ERROR",
            format!("The build task stopped ({}): {reason}", task.stop_code.as_str()),
        ),
    }
}

/// A build ran on Spot with `spotFallbackToOnDemand` (default true) and is not itself a Spot retry.
fn spot_retry_allowed(build: &Build) -> bool {
    let spot = build.environment.as_ref().map(|e| e.spot).unwrap_or_default();
    spot.enabled && spot.fallback_to_on_demand && build.spot_retry_of.is_none()
}

impl Services {
    /// Handles the stop of `task`'s task: ends its build if it has not ended (see the module doc for the
    /// statuses and the Spot retry), frees its slot, publishes the notices. Repeating the call is harmless.
    pub async fn task_stopped(
        &self,
        task: &StoppedTask,
        now: Timestamp,
    ) -> Result<TaskStopped, UseCaseError> {
        let id = &task.build_id;
        let stored = self.build(id).await?;
        let unchanged = |build: Build| TaskStopped {
            build,
            ended: None,
            retry: None,
        };
        if stored.state == BuildState::Terminal {
            self.queue.release(id).await?;
            return Ok(unchanged(stored.build));
        }
        let current = self
            .queue
            .entries()
            .await?
            .into_iter()
            .find(|e| e.build_id == *id)
            .and_then(|e| e.task);
        if current.as_ref().is_some_and(|current| *current != task.task) {
            tracing::info!(build_id = %id, task = %task.task, "a stale task of the build stopped; ignored");
            return Ok(unchanged(stored.build));
        }
        let mut verdict = verdict(task, &stored.build, now);
        let retry = if verdict.retry {
            let new_id = self.start_spot_retry(id, now).await?;
            verdict
                .context
                .message
                .push_str(&format!("; retried as build {new_id}"));
            Some(new_id)
        } else {
            None
        };
        let build = self
            .finish_early(id, verdict.status, verdict.context, now)
            .await?;
        // A terminal write gives the slot back itself; this covers a build that ended without holding one.
        self.queue.release(id).await?;
        Ok(TaskStopped {
            ended: Some(build.build_status()),
            build,
            retry,
        })
    }

    /// Starts (idempotently, once per interrupted build) the retry of a Spot-interrupted build.
    async fn start_spot_retry(&self, id: &BuildId, now: Timestamp) -> Result<BuildId, UseCaseError> {
        let started = self.retry_build(id, Some("spot-interruption"), now).await?;
        let new_id = started.build.id().clone();
        self.modify(&new_id, now, |build| {
            if build.spot_retry_of.is_some() {
                return Ok(Change::Skip);
            }
            build.spot_retry_of = Some(id.clone());
            Ok(Change::Write(BuildState::Queued))
        })
        .await?;
        tracing::info!(build_id = %id, retry = %new_id, "spot interruption retried as a new build");
        Ok(new_id)
    }
}
