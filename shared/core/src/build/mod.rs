//! The build record (CodeBuild's `Build` object) and its phase state machine.
//!
//! [`phase`] holds the enums and the pure transition function, [`transition`] applies it to a [`Build`],
//! [`record`] is the record itself with CodeBuild's JSON names ([`extras`] Kiln's members), [`ids`] the identifiers and ARNs, [`time`] the
//! epoch-seconds timestamps.

pub mod cost;
pub mod extras;
mod from_project;
pub mod ids;
pub mod phase;
pub mod record;
pub mod time;
pub mod transition;

pub use extras::{
    EstimatedCost, LaunchRetry, ReportSummary, TriggerDetails, TriggerProvider, WebhookVariable,
};
pub use ids::{AccountContext, BuildArn, BuildId, CommitSha, IdError, ProjectName};
pub use phase::{FailureAction, NotAnEndStatus, PhaseType, StatusType, derive_build_status, next_phase};
pub use record::{
    Build, BuildArtifacts, BuildPhase, DEFAULT_QUEUED_TIMEOUT_MINUTES, DEFAULT_TIMEOUT_MINUTES,
    ExportedEnvironmentVariable, LogsLocation, PhaseContext,
};
pub use time::Timestamp;
pub use transition::TransitionError;

#[cfg(test)]
mod tests;
