//! Dispatching one build by id, for a dispatcher that is handed build ids one message at a time (the Lambda
//! `dispatch` function on the SQS dispatch queue) instead of walking the whole queue like
//! [`Services::dispatch_step`]: expire it if it waited too long, else claim its slot if the limits allow and
//! launch its runner, else say how long it may still wait.

use super::dispatch::{Launch, queued_deadline};
use super::{Services, UseCaseError};
use crate::build::{BuildId, ProjectName, Timestamp};
use crate::ports::build_store::{BuildState, ClaimOutcome};

/// What [`Services::dispatch_build`] did with one build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DispatchOutcome {
    /// Its runner was launched as this task.
    Launched { task: String },
    /// Nothing to do: the build already holds a slot, has ended, or ended while it was being launched.
    NotWaiting,
    /// It waited past its queued timeout and is now TIMED_OUT.
    Expired,
    /// The runner could not be started; the build is now FAULT.
    LaunchFailed,
    /// The launch failed for a passing reason; the build keeps its slot and the reconciler tries again.
    LaunchDeferred,
    /// No slot is free (its project's limit, or the global one): ask again later, before `deadline` (when the
    /// build's queued timeout ends it).
    Waiting { project_full: bool, deadline: Timestamp },
}

impl Services {
    /// Dispatches build `id`: TIMED_OUT past its queued timeout, launched if its project's and the global
    /// limits have room, [`DispatchOutcome::Waiting`] otherwise. Safe to call again for the same build (a
    /// redelivered message): a build that is no longer waiting is [`DispatchOutcome::NotWaiting`].
    pub async fn dispatch_build(
        &self,
        id: &BuildId,
        now: Timestamp,
    ) -> Result<DispatchOutcome, UseCaseError> {
        let stored = self.build(id).await?;
        if stored.state != BuildState::Queued {
            return Ok(DispatchOutcome::NotWaiting);
        }
        let deadline = queued_deadline(&stored.build);
        if now >= deadline {
            self.expire(id, now).await?;
            return Ok(DispatchOutcome::Expired);
        }
        let limits = self.limits_for(std::iter::once(stored.project())).await?;
        let full = |project_full| DispatchOutcome::Waiting {
            project_full,
            deadline,
        };
        match self.queue.claim_build(id, &limits).await? {
            ClaimOutcome::NotWaiting => Ok(DispatchOutcome::NotWaiting),
            ClaimOutcome::ProjectFull => Ok(full(true)),
            ClaimOutcome::GlobalFull => Ok(full(false)),
            ClaimOutcome::Claimed(_) => Ok(match self.launch(id, now).await? {
                Launch::Started(task) => DispatchOutcome::Launched { task },
                Launch::Ended => DispatchOutcome::NotWaiting,
                Launch::Failed => DispatchOutcome::LaunchFailed,
                Launch::Deferred => DispatchOutcome::LaunchDeferred,
            }),
        }
    }

    /// The builds to try when a slot of `project` was freed: its oldest waiting build and the oldest waiting
    /// build of any project (one id when they are the same), oldest first.
    pub async fn waiting_builds(&self, project: &ProjectName) -> Result<Vec<BuildId>, UseCaseError> {
        let entries = self.queue.entries().await?;
        let mut waiting = entries.iter().filter(|e| !e.claimed);
        let oldest = waiting.clone().next().map(|e| e.build_id.clone());
        let in_project = waiting
            .find(|e| e.project == *project)
            .map(|e| e.build_id.clone());
        let mut ids: Vec<BuildId> = oldest.into_iter().collect();
        if let Some(id) = in_project.filter(|id| !ids.contains(id)) {
            ids.push(id);
        }
        Ok(ids)
    }
}
