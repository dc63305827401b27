//! Changes to a running build: StopBuild, recording a phase the runner ended, and finishing early.

use serde_json::Value;

use super::{Change, Services, UseCaseError};
use crate::build::{Build, BuildId, FailureAction, PhaseContext, PhaseType, StatusType, Timestamp};
use crate::ports::build_store::BuildState;

impl Services {
    /// StopBuild: the build ends STOPPED and its runner, if any, is killed. A build that already ended is
    /// returned as it is.
    pub async fn stop_build(&self, id: &BuildId, now: Timestamp) -> Result<Build, UseCaseError> {
        let task = self
            .queue
            .entries()
            .await?
            .into_iter()
            .find(|e| e.build_id == *id)
            .and_then(|e| e.task);
        let build = self
            .finish_early(
                id,
                StatusType::Stopped,
                PhaseContext::new("", "Build stopped by user"),
                now,
            )
            .await?;
        if let Some(task) = task {
            self.launcher.stop(&task).await?;
        }
        Ok(build)
    }

    /// Ends build `id` now with `status` (FAILED, FAULT, TIMED_OUT or STOPPED) and `context`, unless it has
    /// already ended.
    pub async fn finish_early(
        &self,
        id: &BuildId,
        status: StatusType,
        context: PhaseContext,
        now: Timestamp,
    ) -> Result<Build, UseCaseError> {
        self.modify(id, now, |build| {
            build
                .finish(status, Some(context.clone()), now)
                .map_err(|source| UseCaseError::Transition {
                    id: id.to_string(),
                    source,
                })?;
            Ok(Change::Write(BuildState::Terminal))
        })
        .await
    }

    /// Records that the runner ended `phase` with `status`; the next phase starts. A phase that is not the
    /// running one (a late or repeated report) is ignored.
    pub async fn record_phase(
        &self,
        id: &BuildId,
        phase: PhaseType,
        status: StatusType,
        action: FailureAction,
        contexts: Vec<PhaseContext>,
        now: Timestamp,
    ) -> Result<Build, UseCaseError> {
        self.modify(id, now, |build| {
            if build.current_phase() != phase {
                return Ok(Change::Skip);
            }
            build
                .end_phase(phase, status, action, contexts.clone(), now)
                .map_err(|source| UseCaseError::Transition {
                    id: id.to_string(),
                    source,
                })?;
            Ok(Change::Write(BuildState::InProgress))
        })
        .await
    }

    /// Sets descriptive members the runner learns (resolved commit, artifacts, exported variables), given as
    /// JSON members in CodeBuild's names, by merging them into the record; never touches a finished build.
    pub async fn annotate(
        &self,
        id: &BuildId,
        members: Value,
        now: Timestamp,
    ) -> Result<Build, UseCaseError> {
        self.modify(id, now, |build| {
            *build = merged(build, &members)?;
            Ok(Change::Write(BuildState::InProgress))
        })
        .await
    }
}

/// `build` with the JSON `members` set over its own (the serde boundary of [`Services::annotate`]).
fn merged(build: &Build, members: &Value) -> Result<Build, UseCaseError> {
    let corrupt = |e: serde_json::Error| UseCaseError::Corrupt(e.to_string());
    let mut record = serde_json::to_value(build).map_err(corrupt)?;
    if let (Some(out), Some(add)) = (record.as_object_mut(), members.as_object()) {
        out.extend(add.clone());
    }
    serde_json::from_value(record).map_err(corrupt)
}
