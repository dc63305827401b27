//! Webhook filter groups in CodeBuild's shape: OR across groups, AND within a group.

use serde::{Deserialize, Serialize};

/// What a filter tests (CodeBuild's `WebhookFilterType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FilterType {
    Event,
    ActorAccountId,
    HeadRef,
    BaseRef,
    FilePath,
    CommitMessage,
    TagName,
    ReleaseName,
    RepositoryName,
    OrganizationName,
    WorkflowName,
}

/// One filter as CodeBuild's API spells it: `{type, pattern, excludeMatchedPattern}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookFilter {
    #[serde(rename = "type")]
    pub filter_type: FilterType,
    pub pattern: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub exclude_matched_pattern: bool,
}

/// A project's filter groups: `[[WebhookFilter, ..], ..]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FilterGroups(pub Vec<Vec<WebhookFilter>>);
