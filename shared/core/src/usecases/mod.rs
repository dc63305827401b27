//! Use cases: what the orchestrator does (accept a delivery, start, stop, retry, dispatch, record a phase,
//! finish, reconcile), written against the [`crate::ports`] traits so `kiln serve` (SQLite, child processes)
//! and the Lambda functions (DynamoDB, ECS) run the same code. The clock is a parameter: nothing here reads it.
//!
//! Records travel as JSON in CodeBuild's `Build` shape; every change goes through [`crate::build::Build`]'s
//! state machine and a conditional store write ([`Services::modify`]), and publishes the notices it causes.

pub mod apply_projects;
pub mod codecommit;
pub mod dispatch;
pub mod dispatch_one;
pub mod lifecycle;
pub mod notices;
pub mod schedules;
pub mod signal;
pub mod start;
pub mod task_stopped;
pub mod webhook;

use std::sync::Arc;

use serde_json::Value;

use crate::build::{AccountContext, Build, Timestamp, TransitionError};
use crate::ports::build_store::{
    BuildState, BuildStore, DispatchQueue, ProjectStore, StoreError, UpdateOutcome,
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
            other @ (StoreError::BadToken(_) | StoreError::Corrupt { .. } | StoreError::Backend { .. }) => {
                UseCaseError::Store(other)
            }
        }
    }
}

/// Reads a stored record as a [`Build`].
pub fn decode(record: &Value) -> Result<Build, UseCaseError> {
    serde_json::from_value(record.clone()).map_err(|e| UseCaseError::Corrupt(e.to_string()))
}

/// Writes a [`Build`] as a record, keeping members the record has and `Build` does not know.
pub fn encode(build: &Build, previous: &Value) -> Result<Value, UseCaseError> {
    let mut value = serde_json::to_value(build).map_err(|e| UseCaseError::Corrupt(e.to_string()))?;
    if let (Some(out), Some(old)) = (value.as_object_mut(), previous.as_object()) {
        for (key, v) in old {
            out.entry(key.clone()).or_insert_with(|| v.clone());
        }
    }
    Ok(value)
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
        id: &str,
        now: Timestamp,
        mut change: impl FnMut(&mut Build, &mut Value) -> Result<Change, UseCaseError>,
    ) -> Result<Value, UseCaseError> {
        loop {
            let stored = self
                .builds
                .get(id)
                .await?
                .ok_or_else(|| UseCaseError::BuildNotFound(id.to_owned()))?;
            if stored.state == BuildState::Terminal {
                return Ok(stored.record);
            }
            let mut build = decode(&stored.record)?;
            let mut extra = stored.record.clone();
            let Change::Write(state) = change(&mut build, &mut extra)? else {
                return Ok(stored.record);
            };
            let state = if build.is_complete() {
                BuildState::Terminal
            } else {
                state
            };
            let record = encode(&build, &extra)?;
            match self.builds.update(id, stored.version, state, record).await? {
                UpdateOutcome::Updated(updated) => {
                    self.publish(Some(&stored.record), &updated.record, now).await;
                    return Ok(updated.record);
                }
                UpdateOutcome::Terminal(current) => return Ok(current.record),
                UpdateOutcome::Conflict(_) => continue,
            }
        }
    }

    /// Publishes the notices for a change from `before` to `after`; a failure is logged, not returned, since
    /// the build change itself is already durable.
    pub async fn publish(&self, before: Option<&Value>, after: &Value, now: Timestamp) {
        for notice in notices_for(&self.notice_source, before, after, now.epoch_millis()) {
            if let Err(err) = self.notifier.publish(&notice).await {
                tracing::warn!(project = %notice.project, error = %err, "notice not published");
            }
        }
    }
}
