//! Use cases: what the orchestrator does (accept a delivery, start, stop, retry, dispatch, record a phase,
//! finish, reconcile), written against the [`crate::ports`] traits so `kiln serve` (SQLite, child processes)
//! and the Lambda functions (DynamoDB, ECS) run the same code. The clock is a parameter: nothing here reads it.
//!
//! Records travel as typed [`Build`]s; every change goes through the build's state machine and a conditional
//! store write ([`Services::modify`]), and publishes the notices it causes.

pub mod apply_projects;
pub mod codecommit;
pub mod dispatch;
pub mod dispatch_one;
pub mod keys;
pub mod lifecycle;
pub mod notices;
pub mod schedules;
pub mod signal;
pub mod start;
pub mod task_stopped;
pub mod webhook;

use std::sync::Arc;

use crate::build::{AccountContext, Build, BuildId, Timestamp, TransitionError};
use crate::ports::build_store::{
    BuildState, BuildStore, DispatchQueue, ProjectStore, StoreError, StoredBuild, UpdateOutcome,
};
use crate::ports::launcher::{LaunchError, TaskLauncher};
use crate::ports::notifier::Notifier;
use crate::ports::secrets::SecretError;
use notices::{NoticeSource, notices_for};

/// The ports a use case reaches, built once at start-up and shared.
#[derive(Clone)]
pub struct Services {
    pub builds: Arc<dyn BuildStore>,
    pub queue: Arc<dyn DispatchQueue>,
    pub projects: Arc<dyn ProjectStore>,
    pub launcher: Arc<dyn TaskLauncher>,
    pub notifier: Arc<dyn Notifier>,
    /// Region and account for ARNs.
    pub account: AccountContext,
    /// Envelope fields of the notices.
    pub notice_source: NoticeSource,
    /// How many builds may run at once across all projects.
    pub global_limit: usize,
}

/// Why a use case could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum UseCaseError {
    #[error("{0}")]
    InvalidInput(String),
    #[error("project {0:?} cannot be found; create it first or check the name")]
    ProjectNotFound(String),
    #[error("build {0:?} cannot be found")]
    BuildNotFound(String),
    #[error("project {0:?} already exists")]
    ProjectExists(String),
    #[error(
        "idempotencyToken {0:?} was used within the last 5 minutes with different parameters; \
         use a new token or repeat the same request"
    )]
    IdempotentParameterMismatch(String),
    #[error("build {id:?}: {source}")]
    Transition { id: String, source: TransitionError },
    #[error("stored record is not a build: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Store(StoreError),
    #[error(transparent)]
    Launch(#[from] LaunchError),
    /// A secret the use case needs (a project's webhook secret) could not be resolved.
    #[error(transparent)]
    Secret(#[from] SecretError),
}

impl From<StoreError> for UseCaseError {
    fn from(err: StoreError) -> UseCaseError {
        match err {
            StoreError::NotFound(id) => UseCaseError::BuildNotFound(id),
            StoreError::AlreadyExists(name) => UseCaseError::ProjectExists(name),
            other @ (StoreError::BadToken(_)
            | StoreError::Corrupt { .. }
            | StoreError::Backend { .. }
            | StoreError::AtCapacity) => UseCaseError::Store(other),
        }
    }
}

/// What a change to a build decided.
pub enum Change {
    /// Write the build (already changed) in this state.
    Write(BuildState),
    /// Leave it as it is.
    Skip,
}

impl Services {
    /// Applies `change` to build `id` with a conditional write, retrying on a concurrent write; publishes the
    /// notices the change causes. Returns the stored build afterwards (unchanged if terminal or skipped).
    pub async fn modify(
        &self,
        id: &BuildId,
        now: Timestamp,
        mut change: impl FnMut(&mut Build) -> Result<Change, UseCaseError>,
    ) -> Result<Build, UseCaseError> {
        loop {
            let stored = self
                .builds
                .get(id)
                .await?
                .ok_or_else(|| UseCaseError::BuildNotFound(id.to_string()))?;
            if stored.state == BuildState::Terminal {
                return Ok(stored.build);
            }
            let mut build = stored.build.clone();
            let Change::Write(state) = change(&mut build)? else {
                return Ok(stored.build);
            };
            let state = if build.is_complete() {
                BuildState::Terminal
            } else {
                state
            };
            match self.builds.update(stored.version, state, build).await? {
                UpdateOutcome::Updated(updated) => {
                    self.publish(Some(&stored.build), &updated.build, now).await;
                    return Ok(updated.build);
                }
                UpdateOutcome::Terminal(current) => return Ok(current.build),
                UpdateOutcome::Conflict(_) => continue,
            }
        }
    }

    /// Reads build `id`, or says it cannot be found.
    pub async fn build(&self, id: &BuildId) -> Result<StoredBuild, UseCaseError> {
        self.builds
            .get(id)
            .await?
            .ok_or_else(|| UseCaseError::BuildNotFound(id.to_string()))
    }

    /// Publishes the notices for a change from `before` to `after`; a failure is logged, not returned, since
    /// the build change itself is already durable.
    pub async fn publish(&self, before: Option<&Build>, after: &Build, now: Timestamp) {
        for notice in notices_for(&self.notice_source, before, after, now.epoch_millis()) {
            if let Err(err) = self.notifier.publish(&notice).await {
                tracing::warn!(project = %notice.project, error = %err, "notice not published");
            }
        }
    }
}
