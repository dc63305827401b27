//! Changes to a running build: StopBuild, recording a phase the runner ended, and finishing early.

use serde_json::Value;

use super::{Change, Services, UseCaseError};
use crate::build::{FailureAction, PhaseContext, PhaseType, StatusType, Timestamp};
use crate::ports::build_store::BuildState;

impl Services {
    /// StopBuild: the build ends STOPPED and its runner, if any, is killed. A build that already ended is
    /// returned as it is.
    pub async fn stop_build(&self, id: &str, now: Timestamp) -> Result<Value, UseCaseError> {
        let task = self
            .queue
            .entries()
            .await?
            .into_iter()
            .find(|e| e.build_id == id)
            .and_then(|e| e.task);
        let record = self
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
        Ok(record)
    }

    /// Ends build `id` now with `status` (FAILED, FAULT, TIMED_OUT or STOPPED) and `context`, unless it has
    /// already ended.
    pub async fn finish_early(
        &self,
        id: &str,
        status: StatusType,
        context: PhaseContext,
        now: Timestamp,
    ) -> Result<Value, UseCaseError> {
        self.modify(id, now, |build, _| {
            build
                .finish(status, Some(context.clone()), now)
                .map_err(|source| UseCaseError::Transition {
                    id: id.to_owned(),
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
        id: &str,
        phase: PhaseType,
        status: StatusType,
        action: FailureAction,
        contexts: Vec<PhaseContext>,
        now: Timestamp,
    ) -> Result<Value, UseCaseError> {
        self.modify(id, now, |build, _| {
            if build.current_phase() != phase {
                return Ok(Change::Skip);
            }
            build
                .end_phase(phase, status, action, contexts.clone(), now)
                .map_err(|source| UseCaseError::Transition {
                    id: id.to_owned(),
                    source,
                })?;
            Ok(Change::Write(BuildState::InProgress))
        })
        .await
    }

    /// Sets descriptive members the runner learns (resolved commit, artifacts, exported variables) by merging
    /// `members` into the record; never touches a finished build.
    pub async fn annotate(&self, id: &str, members: Value, now: Timestamp) -> Result<Value, UseCaseError> {
        self.modify(id, now, |build, extra| {
            let mut merged = super::encode(build, extra)?;
            if let (Some(out), Some(add)) = (merged.as_object_mut(), members.as_object()) {
                for (k, v) in add {
                    out.insert(k.clone(), v.clone());
                }
            }
            *build = super::decode(&merged)?;
            *extra = merged;
            Ok(Change::Write(BuildState::InProgress))
        })
        .await
    }
}
