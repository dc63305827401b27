//! What the executor reports: phase records as they end ([`BuildEvent`]) and the final [`BuildResult`], in
//! CodeBuild's shapes (`BuildPhase`, the `Build` fields the executor owns). The integrator maps the result onto
//! the core build record; secret values never appear here.

use std::time::{SystemTime, UNIX_EPOCH};

use kiln_core::build::{FailureAction, PhaseType, StatusType};
use serde::Serialize;

use crate::artifacts::ArtifactOutcome;
use crate::reports::ReportGroupSummary;

/// One context of a phase (`statusCode`, `message`), e.g. the failing command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PhaseContext {
    /// `COMMAND_EXECUTION_ERROR`, `YAML_FILE_ERROR`, `CLIENT_ERROR`, `BUILD_TIMED_OUT`, `BUILD_STOPPED`.
    pub status_code: String,
    /// What happened.
    pub message: String,
}

/// One phase as CodeBuild's `BuildPhase` reports it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PhaseRecord {
    /// The phase.
    pub phase_type: PhaseType,
    /// Its status; `None` while it runs (and for `COMPLETED`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phase_status: Option<StatusType>,
    /// When it started (epoch seconds).
    pub start_time: f64,
    /// When it ended (epoch seconds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_time: Option<f64>,
    /// Whole seconds it took.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_in_seconds: Option<u64>,
    /// Why it ended as it did.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub contexts: Vec<PhaseContext>,
    /// The `on-failure` action that chose the next phase (not part of CodeBuild's record).
    #[serde(skip)]
    pub action: FailureAction,
}

/// Something that happened during a build, sent as it happens.
#[derive(Debug, Clone, PartialEq)]
pub enum BuildEvent {
    /// The source is downloaded and the build's id and environment are known.
    Started { build_id: String },
    /// A phase began.
    PhaseStarted { phase: PhaseType },
    /// A phase ended (its record is final).
    PhaseEnded(PhaseRecord),
    /// The build ended with this status.
    Finished { status: StatusType },
}

/// One requested runtime and what was found for it on this machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RuntimeRecord {
    /// The runtime (`nodejs`).
    pub runtime: String,
    /// The requested version (`18`).
    pub requested: String,
    /// The first line of `<tool> --version`, or `None` when the tool is missing.
    pub found: Option<String>,
}

/// A variable exported at the end of the build (`exportedEnvironmentVariables`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExportedVariable {
    /// The name.
    pub name: String,
    /// The final value.
    pub value: String,
}

/// The outcome of one build: the `Build` fields the executor knows.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildResult {
    /// `<project>:<uuid>`.
    pub id: String,
    /// The build ARN.
    pub arn: String,
    /// The per-project build number.
    pub build_number: u64,
    /// The project name.
    pub project_name: String,
    /// The final status.
    pub build_status: StatusType,
    /// The last phase (`COMPLETED` once finished).
    pub current_phase: PhaseType,
    /// When the build started (epoch seconds).
    pub start_time: f64,
    /// When it ended (epoch seconds).
    pub end_time: f64,
    /// The requested source version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_version: Option<String>,
    /// The commit built.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolved_source_version: Option<String>,
    /// Who started it.
    pub initiator: String,
    /// The build timeout in minutes.
    pub timeout_in_minutes: u64,
    /// Every phase, in order.
    pub phases: Vec<PhaseRecord>,
    /// Exported variables, in buildspec order.
    pub exported_environment_variables: Vec<ExportedVariable>,
    /// Runtime versions requested by the install phase.
    pub runtime_versions: Vec<RuntimeRecord>,
    /// Artifacts uploaded (primary first), with sizes and SHA-256.
    pub artifacts: Vec<ArtifactOutcome>,
    /// Report group summaries.
    pub reports: Vec<ReportGroupSummary>,
    /// Where the log was written (the log sink's location).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_location: Option<String>,
}

/// Seconds since the epoch, as CodeBuild's JSON timestamps.
pub fn epoch_secs(time: SystemTime) -> f64 {
    time.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}
