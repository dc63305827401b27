//! What the runner reads from the store: the typed [`Build`], and the few settings it needs of the build's
//! project ([`ProjectSettings`]).

use kiln_core::build::{Build, BuildId};
use kiln_core::project::{self, ForkPullRequests, StoredProject};
use kiln_core::usecases::{Services, UseCaseError};
use kiln_executor::artifacts::Packaging;

use crate::RunnerError;

/// The stored build `id`, typed; `None` when the store does not have it.
pub async fn build(services: &Services, id: &BuildId) -> Result<Option<Build>, RunnerError> {
    // A store error reads as the use cases report it (`BuildNotFound`, `Store`).
    let stored = services.builds.get(id).await.map_err(UseCaseError::from)?;
    Ok(stored.map(|stored| stored.build))
}

/// What the runner reads of a build's project: the artifact packaging and the fork policy.
#[derive(Debug, Default)]
pub struct ProjectSettings {
    packaging: Option<project::Packaging>,
    fork_pull_requests: ForkPullRequests,
}

impl ProjectSettings {
    /// The settings of a stored project.
    pub fn of(stored: &StoredProject) -> ProjectSettings {
        ProjectSettings {
            packaging: stored.project.artifacts.packaging,
            fork_pull_requests: stored.project.fork_pull_requests,
        }
    }

    /// The artifact packaging: a folder of files for `NONE`, else a ZIP.
    pub fn packaging(&self) -> Packaging {
        match self.packaging {
            Some(project::Packaging::None) => Packaging::None,
            Some(project::Packaging::Zip) | None => Packaging::Zip,
        }
    }

    /// What builds of pull requests from forks may do.
    pub fn fork_pull_requests(&self) -> ForkPullRequests {
        self.fork_pull_requests
    }
}

/// The settings of build `id`'s project; the defaults (ZIP, no secrets for forks) when the project is gone.
pub async fn project(services: &Services, id: &BuildId) -> Result<ProjectSettings, RunnerError> {
    let stored = services.projects.get_project(&id.project()).await?;
    Ok(stored.as_ref().map(ProjectSettings::of).unwrap_or_default())
}
