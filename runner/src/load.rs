//! What the runner reads from the store: the build, decoded once to the typed [`Build`] here and nowhere else
//! (when the store returns a `Build` itself, [`build`] becomes its one call), and the few settings it needs of
//! the build's project ([`ProjectSettings`]).

use kiln_core::build::{Build, BuildId};
use kiln_core::project::ForkPullRequests;
use kiln_core::usecases::{Services, UseCaseError, decode};
use kiln_executor::artifacts::Packaging;
use serde::Deserialize;

use crate::RunnerError;

/// The stored build `id`, typed; `None` when the store does not have it.
pub async fn build(services: &Services, id: &BuildId) -> Result<Option<Build>, RunnerError> {
    // A store error reads as the use cases report it (`BuildNotFound`, `Store`).
    let stored = services
        .builds
        .get(id.as_str())
        .await
        .map_err(UseCaseError::from)?;
    let Some(stored) = stored else {
        return Ok(None);
    };
    Ok(Some(decode(&stored.record)?))
}

/// What the runner reads of a build's project: the artifact packaging and the fork policy. A view rather
/// than the validated `Project`: stored projects also carry members the API adds (`created`, `lastModified`).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ProjectSettings {
    artifacts: ArtifactSettings,
    fork_pull_requests: ForkPullRequests,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ArtifactSettings {
    packaging: Option<String>,
}

impl ProjectSettings {
    /// The artifact packaging: a folder of files for `NONE`, else a ZIP.
    pub fn packaging(&self) -> Packaging {
        match self.artifacts.packaging.as_deref() {
            Some("NONE") => Packaging::None,
            Some(_) | None => Packaging::Zip,
        }
    }

    /// What builds of pull requests from forks may do.
    pub fn fork_pull_requests(&self) -> ForkPullRequests {
        self.fork_pull_requests
    }
}

/// The settings of build `id`'s project; the defaults (ZIP, no secrets for forks) when the project is gone or
/// its settings cannot be read (logged).
pub async fn project(services: &Services, id: &BuildId) -> Result<ProjectSettings, RunnerError> {
    let project = id.project();
    let Some(stored) = services.projects.get_project(project.as_str()).await? else {
        return Ok(ProjectSettings::default());
    };
    Ok(serde_json::from_value(stored).unwrap_or_else(|err| {
        tracing::warn!(project = %project, error = %err, "project settings unreadable: ZIP artifacts, no fork secrets");
        ProjectSettings::default()
    }))
}
