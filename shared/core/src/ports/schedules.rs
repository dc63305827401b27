//! Where a deployment keeps projects' schedules when something other than Kiln fires them: EventBridge
//! Scheduler on AWS (one schedule per project schedule, `<project>.<schedule>`, in the stack's group). Locally
//! `kiln serve` reads the schedules from the stored projects itself, so there is nothing to keep in step and no
//! implementation is wired. The API calls [`ScheduleSync::sync`] after CreateProject, UpdateProject and
//! DeleteProject, as `kiln projects apply` does after writing the table.

use super::BoxFuture;
use crate::usecases::apply_projects::{DesiredSchedule, SchedulePlan};

/// Why the schedules could not be brought in step.
#[derive(Debug, thiserror::Error)]
#[error("the schedules of project {project:?} could not be updated: {message}")]
pub struct ScheduleSyncError {
    pub project: String,
    pub message: String,
}

/// Keeps the scheduler's schedules of one project equal to its definition.
pub trait ScheduleSync: Send + Sync {
    /// Creates, updates and deletes `project`'s schedules so that of `known` (the full names of the schedules
    /// its previous definition had) and `desired`, exactly `desired` exist (empty: all of them go); returns what
    /// was done.
    fn sync<'a>(
        &'a self,
        project: &'a str,
        known: &'a [String],
        desired: &'a [DesiredSchedule],
    ) -> BoxFuture<'a, Result<SchedulePlan, ScheduleSyncError>>;
}
