//! Accepting a CodeCommit "Repository State Change" event: normalise it into a push, find every project whose
//! primary source names the repository (see [`source_names_repository`]), and start each one's build through
//! its own webhook filter groups, idempotently on the event id.
//!
//! A project opts in by naming the repository; its `webhook.filterGroups`, when present, decide which pushes
//! build (without a webhook every branch and tag push builds, as a CodeBuild project targeted by an EventBridge
//! rule does). CodeCommit events carry no signature: EventBridge delivers them on AWS, and `kiln serve`
//! authenticates its endpoint like the API.

use serde_json::Value;

use super::webhook::Delivery;
use super::{Services, UseCaseError};
use crate::build::{BuildId, ProjectName, Timestamp};
use crate::project::Project;
use crate::trigger::codecommit::{
    CodeCommitIgnore, CodeCommitParse, parse_codecommit_event, source_names_repository,
};

/// What became of a CodeCommit event.
#[derive(Debug, Clone, PartialEq)]
pub enum CodeCommitDelivery {
    /// One entry per project whose source names the repository: its builds, or why it did not build.
    Routed(Vec<(ProjectName, Delivery)>),
    /// A well-formed event that starts nothing (a deletion, another event, an unknown repository).
    Ignored(CodeCommitIgnore),
    /// Not the documented event shape; the message names the field.
    Malformed { message: String },
}

impl CodeCommitDelivery {
    /// The ids of every build the event started or found again.
    pub fn build_ids(&self) -> Vec<BuildId> {
        match self {
            CodeCommitDelivery::Routed(projects) => projects
                .iter()
                .flat_map(|(_, delivery)| match delivery {
                    Delivery::Accepted { build_ids, .. } => build_ids.clone(),
                    Delivery::Ignored { .. }
                    | Delivery::Unauthenticated { .. }
                    | Delivery::Malformed { .. }
                    | Delivery::UnknownProject { .. } => Vec::new(),
                })
                .collect(),
            CodeCommitDelivery::Ignored(_) | CodeCommitDelivery::Malformed { .. } => Vec::new(),
        }
    }
}

impl Services {
    /// Handles one EventBridge event: builds each project whose source is the event's repository.
    pub async fn accept_codecommit_event(
        &self,
        event: &Value,
        now: Timestamp,
    ) -> Result<CodeCommitDelivery, UseCaseError> {
        let push = match parse_codecommit_event(event) {
            Ok(CodeCommitParse::Push(push)) => push,
            Ok(CodeCommitParse::Ignored(reason)) => return Ok(CodeCommitDelivery::Ignored(reason)),
            Err(err) => return Ok(CodeCommitDelivery::Malformed { message: err.message }),
        };
        let mut routed = Vec::new();
        for name in self.projects.project_names().await? {
            let Some(stored) = self.projects.get_project(&name).await? else {
                continue; // deleted since it was listed
            };
            if !names_repository(&stored.project, &push.repository_name, &push.region) {
                continue;
            }
            let delivery = self
                .build_for_event(&stored.project, &push.event, "codecommit", now)
                .await?;
            routed.push((name, delivery));
        }
        if routed.is_empty() {
            return Ok(CodeCommitDelivery::Ignored(CodeCommitIgnore::UnknownRepository {
                repository: push.repository_name.clone(),
                region: push.region.clone(),
            }));
        }
        Ok(CodeCommitDelivery::Routed(routed))
    }
}

/// Whether the project's primary source is repository `name` in `region`.
fn names_repository(project: &Project, name: &str, region: &str) -> bool {
    let source = &project.source;
    match &source.location {
        Some(location) => source_names_repository(source.source_type.as_str(), location, name, region),
        None => false,
    }
}
