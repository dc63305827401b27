//! The task-launcher port: starts the runner for a build somewhere (a child process locally, an ECS task on
//! AWS), stops it, and says whether it is still there.

use super::BoxFuture;
use crate::build::BuildId;

/// Why the launcher could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    #[error("could not launch the runner for build {build_id:?}: {message}")]
    Launch { build_id: String, message: String },
    #[error("task {task:?} is not one this launcher knows: {reason}")]
    BadTask { task: String, reason: String },
    #[error("launcher error: {message}")]
    Backend { message: String, retryable: bool },
}

/// Starts and stops the runners that execute builds.
pub trait TaskLauncher: Send + Sync {
    /// Starts a runner for `build_id`; returns an opaque task handle (a pid locally, a task ARN on AWS).
    fn launch<'a>(&'a self, build_id: &'a BuildId) -> BoxFuture<'a, Result<String, LaunchError>>;

    /// Stops the task and everything it started; stopping a task that is gone is not an error.
    fn stop<'a>(&'a self, task: &'a str) -> BoxFuture<'a, Result<(), LaunchError>>;

    /// Whether the task is still running.
    fn is_alive<'a>(&'a self, task: &'a str) -> BoxFuture<'a, Result<bool, LaunchError>>;

    /// The builds whose runner this launcher started and is still running (exiting runners included); the
    /// dispatcher counts them against the limits. Launchers whose slots are released elsewhere return none.
    fn live_builds(&self) -> BoxFuture<'_, Result<Vec<BuildId>, LaunchError>> {
        Box::pin(async { Ok(Vec::new()) })
    }
}
