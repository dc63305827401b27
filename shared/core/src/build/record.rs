//! The build record: CodeBuild's `Build` object (reference §6.4) plus Kiln's extra members.
//!
//! Serde gives CodeBuild's JSON member names (camelCase), timestamps as epoch seconds, and omits absent
//! optionals. Kiln's additions (`trigger`, `estimatedCost`, `reportSummaries`, `webhookVariables`,
//! `idempotencyFingerprint`, `launchRetry`, `spotRetryOf`) are extra members that CodeBuild clients ignore;
//! members this version does not know are kept in [`Build::other`] and written back as they were, so a record
//! round-trips whatever wrote it. The fields that the state machine owns (phases, status, end time) are private;
//! the methods in [`super::transition`] change them.

use serde::{Deserialize, Serialize};

pub use super::extras::{
    EstimatedCost, LaunchRetry, ReportSummary, TriggerDetails, TriggerProvider, WebhookVariable,
};
use super::ids::{AccountContext, BuildArn, BuildId, ProjectName};
use super::phase::{PhaseType, StatusType};
use super::time::Timestamp;
use crate::project::{CloudWatchLogsConfig, ProjectCache, ProjectEnvironment, ProjectSource, S3LogsConfig};

/// Default build timeout in minutes (reference §2.5).
pub const DEFAULT_TIMEOUT_MINUTES: u32 = 60;
/// Default queued timeout in minutes (reference §2.5).
pub const DEFAULT_QUEUED_TIMEOUT_MINUTES: u32 = 480;

/// One build, as `BatchGetBuilds` returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Build {
    pub(super) id: BuildId,
    pub(super) arn: BuildArn,
    pub(super) build_number: u64,
    pub(super) start_time: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) end_time: Option<Timestamp>,
    pub(super) current_phase: PhaseType,
    pub(super) build_status: StatusType,
    /// The version asked for: `pr/12`, a branch, a tag or a SHA.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_version: Option<String>,
    /// The commit actually built (unset for S3 sources), known after DOWNLOAD_SOURCE.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_source_version: Option<String>,
    pub(super) project_name: ProjectName,
    pub(super) phases: Vec<BuildPhase>,
    /// Effective source after overrides.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<ProjectSource>,
    /// Where the primary artifact went.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifacts: Option<BuildArtifacts>,
    /// Where the secondary artifacts went (at most 12).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secondary_artifacts: Option<Vec<BuildArtifacts>>,
    /// Effective cache settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache: Option<ProjectCache>,
    /// Effective environment after overrides.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<ProjectEnvironment>,
    /// The role the build ran with (AWS only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_role: Option<String>,
    /// Where the logs are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logs: Option<LogsLocation>,
    /// Effective build timeout in minutes.
    pub timeout_in_minutes: u32,
    /// Effective queued timeout in minutes.
    pub queued_timeout_in_minutes: u32,
    pub(super) build_complete: bool,
    /// Who started the build: a user name, `codepipeline/<name>`, a webhook's user agent, `kiln-schedule/<name>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initiator: Option<String>,
    /// KMS key for artifacts (AWS only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption_key: Option<String>,
    /// Values of the buildspec's `exported-variables` at the end of the build.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exported_environment_variables: Option<Vec<ExportedEnvironmentVariable>>,
    /// ARNs (or local ids) of the test reports the build produced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_arns: Option<Vec<String>>,
    /// Kiln: what started the build (webhook delivery, schedule, API).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger: Option<TriggerDetails>,
    /// Kiln: what the build cost, estimated from its size and duration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimated_cost: Option<EstimatedCost>,
    /// Kiln: one summary per test report group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_summaries: Option<Vec<ReportSummary>>,
    /// Kiln: the `CODEBUILD_WEBHOOK_*` variables of a webhook build, given to its environment by the runner.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub webhook_variables: Vec<WebhookVariable>,
    /// Kiln: the fingerprint of the StartBuild request made under an idempotency token, to tell a repeat from
    /// a different request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_fingerprint: Option<String>,
    /// Kiln: a launch deferred for a passing reason, to be tried again by the reconciler.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launch_retry: Option<LaunchRetry>,
    /// Kiln: the Spot-interrupted build this build retries (a retry is never retried again).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spot_retry_of: Option<BuildId>,
    /// Members this version does not know, kept as they were read and written back unchanged.
    #[serde(flatten)]
    pub other: serde_json::Map<String, serde_json::Value>,
}

impl Build {
    /// A new build of `id`'s project, just submitted at `now`: status IN_PROGRESS, phase SUBMITTED running,
    /// default timeouts. The caller fills the descriptive fields (source, environment, trigger, ...).
    pub fn new(id: BuildId, build_number: u64, account: &AccountContext, now: Timestamp) -> Self {
        Self {
            arn: account.build_arn(&id),
            project_name: id.project(),
            id,
            build_number,
            start_time: now,
            end_time: None,
            current_phase: PhaseType::Submitted,
            build_status: StatusType::InProgress,
            source_version: None,
            resolved_source_version: None,
            phases: vec![BuildPhase::started(PhaseType::Submitted, now)],
            source: None,
            artifacts: None,
            secondary_artifacts: None,
            cache: None,
            environment: None,
            service_role: None,
            logs: None,
            timeout_in_minutes: DEFAULT_TIMEOUT_MINUTES,
            queued_timeout_in_minutes: DEFAULT_QUEUED_TIMEOUT_MINUTES,
            build_complete: false,
            initiator: None,
            encryption_key: None,
            exported_environment_variables: None,
            report_arns: None,
            trigger: None,
            estimated_cost: None,
            report_summaries: None,
            webhook_variables: Vec::new(),
            idempotency_fingerprint: None,
            launch_retry: None,
            spot_retry_of: None,
            other: serde_json::Map::new(),
        }
    }

    /// The build id, `project:uuid`.
    pub fn id(&self) -> &BuildId {
        &self.id
    }

    /// The build ARN.
    pub fn arn(&self) -> &BuildArn {
        &self.arn
    }

    /// The per-project build number (1, 2, 3...).
    pub fn build_number(&self) -> u64 {
        self.build_number
    }

    /// Sets the build number: the build store does it once, when it creates the build (numbers count per
    /// project, atomically).
    pub fn set_build_number(&mut self, number: u64) {
        self.build_number = number;
    }

    /// The project the build belongs to.
    pub fn project_name(&self) -> &ProjectName {
        &self.project_name
    }

    /// When the build was submitted.
    pub fn start_time(&self) -> Timestamp {
        self.start_time
    }

    /// When the build reached COMPLETED; `None` while it runs.
    pub fn end_time(&self) -> Option<Timestamp> {
        self.end_time
    }

    /// The phase running now (`COMPLETED` at the end).
    pub fn current_phase(&self) -> PhaseType {
        self.current_phase
    }

    /// The build status (`IN_PROGRESS` until COMPLETED).
    pub fn build_status(&self) -> StatusType {
        self.build_status
    }

    /// Ended phases plus the running one, in order.
    pub fn phases(&self) -> &[BuildPhase] {
        &self.phases
    }

    /// Whether the build has ended; an ended build is never changed again.
    pub fn is_complete(&self) -> bool {
        self.build_complete
    }
}

/// One phase of a build (CodeBuild's `BuildPhase`); a running phase has no status or end yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildPhase {
    /// Which phase.
    pub phase_type: PhaseType,
    /// How it ended; `None` while it runs (and for the COMPLETED entry).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase_status: Option<StatusType>,
    /// When it started.
    pub start_time: Timestamp,
    /// When it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<Timestamp>,
    /// Whole seconds between start and end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_in_seconds: Option<i64>,
    /// Why it ended as it did, e.g. the failing command and its exit code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contexts: Option<Vec<PhaseContext>>,
}

impl BuildPhase {
    /// A phase that started at `at` and is still running.
    pub fn started(phase_type: PhaseType, at: Timestamp) -> Self {
        Self {
            phase_type,
            phase_status: None,
            start_time: at,
            end_time: None,
            duration_in_seconds: None,
            contexts: None,
        }
    }
}

/// A reason attached to a phase (CodeBuild's `PhaseContext`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PhaseContext {
    /// A code such as `COMMAND_EXECUTION_ERROR`, `YAML_FILE_ERROR`, `CLIENT_ERROR` (may be empty).
    pub status_code: String,
    /// A human-readable reason (may be empty).
    pub message: String,
}

impl PhaseContext {
    /// A context with the given code and message.
    pub fn new(status_code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            status_code: status_code.into(),
            message: message.into(),
        }
    }
}

/// Where a build's artifact went (CodeBuild's `BuildArtifacts`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildArtifacts {
    /// `arn:aws:s3:::bucket/key` (AWS) or the local store's URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// SHA-256 of the ZIP (ZIP packaging only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256sum: Option<String>,
    /// MD5 of the ZIP (ZIP packaging only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub md5sum: Option<String>,
    /// Whether the buildspec's `name` was allowed to name the artifact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub override_artifact_name: Option<bool>,
    /// Whether S3 encryption was disabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption_disabled: Option<bool>,
    /// The secondary artifact's identifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_identifier: Option<String>,
    /// `NONE`, `READ_ONLY` or `FULL`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket_owner_access: Option<String>,
}

/// Where a build's logs are (CodeBuild's `LogsLocation`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogsLocation {
    /// CloudWatch log group, `/aws/codebuild/<project>` by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_name: Option<String>,
    /// CloudWatch log stream, the build uuid by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_name: Option<String>,
    /// Console URL of the CloudWatch logs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deep_link: Option<String>,
    /// Console URL of the S3 logs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3_deep_link: Option<String>,
    /// ARN of the CloudWatch log stream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_watch_logs_arn: Option<String>,
    /// ARN (or local URL) of the S3 log object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3_logs_arn: Option<String>,
    /// The CloudWatch logs settings in force.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_watch_logs: Option<CloudWatchLogsConfig>,
    /// The S3 logs settings in force.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3_logs: Option<S3LogsConfig>,
}

/// One exported variable (`exported-variables` in the buildspec).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportedEnvironmentVariable {
    /// Variable name.
    pub name: String,
    /// Its value at the end of the build.
    #[serde(default)]
    pub value: String,
}
