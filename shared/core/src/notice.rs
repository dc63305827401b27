//! The build notice as it leaves Kiln: an EventBridge event in CodeBuild's shape (reference §7), "CodeBuild
//! Build State Change" or "CodeBuild Build Phase Change".
//!
//! The body is JSON by nature, so these are serde types with CodeBuild's member names (`detail-type`,
//! `build-status`, ...); [`crate::usecases::notices`] fills them from a typed build, the notifiers send them, and
//! the notice feed reads them back. Absent values serialise as `null`, as CodeBuild's events have them.

use serde::{Deserialize, Serialize};

use crate::build::{BuildArn, PhaseType, ProjectName, StatusType};

/// The `detail-type` of a build state change.
pub const STATE_CHANGE: &str = "CodeBuild Build State Change";
/// The `detail-type` of a phase change.
pub const PHASE_CHANGE: &str = "CodeBuild Build Phase Change";

/// One EventBridge event about a build.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NoticeEvent {
    /// Always `"0"`.
    pub version: String,
    /// A fresh uuid per event (consumers deduplicate on it).
    pub id: String,
    /// [`STATE_CHANGE`] or [`PHASE_CHANGE`].
    #[serde(rename = "detail-type")]
    pub detail_type: String,
    /// `aws.codebuild` by default.
    pub source: String,
    /// The account in the envelope.
    pub account: String,
    /// When the change happened, ISO-8601 UTC to the second.
    pub time: String,
    /// The region in the envelope.
    pub region: String,
    /// The build's ARN.
    pub resources: Vec<String>,
    /// What changed.
    pub detail: NoticeDetail,
}

/// The `detail` of a notice: a state change or a phase change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum NoticeDetail {
    /// The build was created or reached its final status.
    State(StateDetail),
    /// A phase ended.
    Phase(PhaseDetail),
}

impl NoticeDetail {
    /// The build's ARN.
    pub fn build_arn(&self) -> &BuildArn {
        match self {
            NoticeDetail::State(d) => &d.build_id,
            NoticeDetail::Phase(d) => &d.build_id,
        }
    }

    /// The build's project.
    pub fn project_name(&self) -> &ProjectName {
        match self {
            NoticeDetail::State(d) => &d.project_name,
            NoticeDetail::Phase(d) => &d.project_name,
        }
    }
}

/// The detail of a "CodeBuild Build State Change".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct StateDetail {
    pub build_status: StatusType,
    pub project_name: ProjectName,
    /// The build's ARN (CodeBuild names it `build-id`).
    pub build_id: BuildArn,
    pub current_phase: PhaseType,
    /// The running phase's contexts as CodeBuild writes them, a string holding a list (`"[]"`).
    pub current_phase_context: String,
    /// Always `"1"`.
    pub version: String,
    pub additional_information: AdditionalInformation,
}

/// The detail of a "CodeBuild Build Phase Change".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct PhaseDetail {
    pub completed_phase: PhaseType,
    pub completed_phase_status: StatusType,
    /// The phase's contexts as a string holding a list, e.g. `"[COMMAND_EXECUTION_ERROR: exit status 2]"`.
    pub completed_phase_context: String,
    pub completed_phase_duration_seconds: Option<i64>,
    /// CodeBuild's human-style time, e.g. `Sep 1, 2017 4:12:29 PM`.
    pub completed_phase_start: Option<String>,
    pub completed_phase_end: Option<String>,
    pub project_name: ProjectName,
    /// The build's ARN.
    pub build_id: BuildArn,
    /// Always `"1"`.
    pub version: String,
    pub additional_information: AdditionalInformation,
}

/// `additional-information`: the build as a notice shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct AdditionalInformation {
    pub artifact: ArtifactInformation,
    pub environment: EnvironmentInformation,
    pub timeout_in_minutes: u32,
    pub build_complete: bool,
    pub initiator: Option<String>,
    pub build_start_time: Option<String>,
    pub source: SourceInformation,
    pub source_version: Option<String>,
    pub logs: LogsInformation,
    pub phases: Vec<PhaseInformation>,
}

/// The primary artifact in a notice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtifactInformation {
    pub md5sum: Option<String>,
    pub sha256sum: Option<String>,
    pub location: Option<String>,
}

/// The build environment in a notice (its variables are never shown).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct EnvironmentInformation {
    pub image: Option<String>,
    pub privileged_mode: bool,
    pub compute_type: Option<String>,
    #[serde(rename = "type")]
    pub environment_type: Option<String>,
    /// Always empty.
    pub environment_variables: Vec<String>,
}

/// The source in a notice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceInformation {
    pub location: Option<String>,
    #[serde(rename = "type")]
    pub source_type: Option<String>,
}

/// The logs in a notice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct LogsInformation {
    pub group_name: Option<String>,
    pub stream_name: Option<String>,
    pub deep_link: Option<String>,
}

/// One phase in a notice; an ended phase has its status, contexts, end and duration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct PhaseInformation {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase_context: Option<Vec<String>>,
    pub start_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_in_seconds: Option<i64>,
    pub phase_type: PhaseType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase_status: Option<StatusType>,
}
