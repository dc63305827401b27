//! Kiln's additions to the build record: trigger details, estimated cost, test report summaries, webhook
//! variables and a deferred launch.
//!
//! They serialise as extra members of CodeBuild's `Build` object (`trigger`, `estimatedCost`,
//! `reportSummaries`, `webhookVariables`, `launchRetry`), which CodeBuild clients ignore.

use serde::{Deserialize, Serialize};

/// Which system delivered the event that started a build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TriggerProvider {
    Github,
    GithubEnterprise,
    Gitlab,
    Bitbucket,
    Gitea,
    /// An EventBridge "CodeCommit Repository State Change" event.
    Codecommit,
    Schedule,
    Api,
}

impl TriggerProvider {
    /// The provider's name as the record writes it, e.g. `GITHUB_ENTERPRISE`.
    pub fn as_str(self) -> &'static str {
        match self {
            TriggerProvider::Github => "GITHUB",
            TriggerProvider::GithubEnterprise => "GITHUB_ENTERPRISE",
            TriggerProvider::Gitlab => "GITLAB",
            TriggerProvider::Bitbucket => "BITBUCKET",
            TriggerProvider::Gitea => "GITEA",
            TriggerProvider::Codecommit => "CODECOMMIT",
            TriggerProvider::Schedule => "SCHEDULE",
            TriggerProvider::Api => "API",
        }
    }
}

/// Kiln: what started a build, kept on the record for the console, notices and `CODEBUILD_WEBHOOK_*` variables.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TriggerDetails {
    /// The delivering system.
    pub provider: TriggerProvider,
    /// CodeBuild's event type, e.g. `PUSH`, `PULL_REQUEST_UPDATED` (none for schedules and API calls).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    /// The idempotency key: webhook delivery id, schedule event id or API idempotency token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery_id: Option<String>,
    /// The repository's full name, e.g. `octo-org/web`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    /// `refs/heads/<branch>` or `refs/tags/<tag>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head_ref: Option<String>,
    /// The pull request's base ref.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_ref: Option<String>,
    /// The head commit the event names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head_sha: Option<String>,
    /// Push events: the commit before the push.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prev_commit: Option<String>,
    /// Squash merges (Bitbucket, GitLab): the merge commit (`CODEBUILD_WEBHOOK_MERGE_COMMIT`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merge_commit: Option<String>,
    /// The provider's account id of the actor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor_id: Option<String>,
    /// The actor's login name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor_login: Option<String>,
    /// The pull request number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pr_number: Option<u64>,
    /// Whether the pull request comes from a fork (decides whether secrets are given, see the project policy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_fork: Option<bool>,
    /// `CODEBUILD_WEBHOOK_TRIGGER`: `pr/<n>`, `branch/<name>` or `tag/<name>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_trigger: Option<String>,
    /// The schedule's name, for scheduled builds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_name: Option<String>,
}

impl TriggerDetails {
    /// Details with only the provider set.
    pub fn new(provider: TriggerProvider) -> Self {
        Self {
            provider,
            event: None,
            delivery_id: None,
            repository: None,
            head_ref: None,
            base_ref: None,
            head_sha: None,
            prev_commit: None,
            merge_commit: None,
            actor_id: None,
            actor_login: None,
            pr_number: None,
            from_fork: None,
            webhook_trigger: None,
            schedule_name: None,
        }
    }
}

/// Kiln: an estimate of what a build cost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EstimatedCost {
    /// The amount, e.g. `0.0123`.
    pub amount: f64,
    /// ISO currency code, e.g. `USD`.
    pub currency: String,
    /// How it was computed, e.g. `fargate-spot 2 vCPU/4 GB x 312 s at eu-west-1 prices`.
    pub basis: String,
}

/// Kiln: the outcome of one test report group, filled by the executor from the report files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportSummary {
    /// The report group name from the buildspec's `reports` section.
    pub name: String,
    /// The report file format, e.g. `JUNITXML`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_format: Option<String>,
    /// Test cases found.
    pub total: u64,
    /// Test cases that passed.
    pub passed: u64,
    /// Test cases that failed or errored.
    pub failed: u64,
    /// Test cases skipped.
    pub skipped: u64,
    /// Summed test duration in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_in_seconds: Option<f64>,
    /// Names of failing tests (the executor caps the list).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failing_tests: Vec<String>,
}

/// Kiln: one `CODEBUILD_WEBHOOK_*` variable of a webhook build (`webhookVariables` item).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookVariable {
    /// The variable's name, e.g. `CODEBUILD_WEBHOOK_HEAD_REF`.
    pub name: String,
    /// Its value.
    #[serde(default)]
    pub value: String,
}

/// Kiln: a launch that failed for a passing reason (throttling, no capacity) and is tried again
/// (`launchRetry`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LaunchRetry {
    /// How many launches failed so far.
    #[serde(default)]
    pub attempts: u64,
    /// The launcher's message for the last failure.
    #[serde(default)]
    pub last_error: String,
}
