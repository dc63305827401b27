//! Phase and status enums and the pure phase-transition function (reference §2.3, §2.4).
//!
//! Nothing here knows about time or storage: [`next_phase`] maps "this phase ended with this status under this
//! failure action" to the phase that runs next, and [`derive_build_status`] folds phase statuses into the build
//! status. The [`Build`](super::Build) methods apply them to a record.

use serde::{Deserialize, Serialize};

/// A build phase, in execution order (CodeBuild's `BuildPhaseType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PhaseType {
    Submitted,
    Queued,
    Provisioning,
    DownloadSource,
    Install,
    PreBuild,
    Build,
    PostBuild,
    UploadArtifacts,
    Finalizing,
    Completed,
}

impl PhaseType {
    /// Every phase in execution order.
    pub const ALL: [PhaseType; 11] = [
        PhaseType::Submitted,
        PhaseType::Queued,
        PhaseType::Provisioning,
        PhaseType::DownloadSource,
        PhaseType::Install,
        PhaseType::PreBuild,
        PhaseType::Build,
        PhaseType::PostBuild,
        PhaseType::UploadArtifacts,
        PhaseType::Finalizing,
        PhaseType::Completed,
    ];

    /// CodeBuild's name for the phase, e.g. `PRE_BUILD`.
    pub fn as_str(self) -> &'static str {
        match self {
            PhaseType::Submitted => "SUBMITTED",
            PhaseType::Queued => "QUEUED",
            PhaseType::Provisioning => "PROVISIONING",
            PhaseType::DownloadSource => "DOWNLOAD_SOURCE",
            PhaseType::Install => "INSTALL",
            PhaseType::PreBuild => "PRE_BUILD",
            PhaseType::Build => "BUILD",
            PhaseType::PostBuild => "POST_BUILD",
            PhaseType::UploadArtifacts => "UPLOAD_ARTIFACTS",
            PhaseType::Finalizing => "FINALIZING",
            PhaseType::Completed => "COMPLETED",
        }
    }

    /// The phase that follows when this one succeeds; `None` after `COMPLETED`.
    pub fn successor(self) -> Option<PhaseType> {
        match self {
            PhaseType::Submitted => Some(PhaseType::Queued),
            PhaseType::Queued => Some(PhaseType::Provisioning),
            PhaseType::Provisioning => Some(PhaseType::DownloadSource),
            PhaseType::DownloadSource => Some(PhaseType::Install),
            PhaseType::Install => Some(PhaseType::PreBuild),
            PhaseType::PreBuild => Some(PhaseType::Build),
            PhaseType::Build => Some(PhaseType::PostBuild),
            PhaseType::PostBuild => Some(PhaseType::UploadArtifacts),
            PhaseType::UploadArtifacts => Some(PhaseType::Finalizing),
            PhaseType::Finalizing => Some(PhaseType::Completed),
            PhaseType::Completed => None,
        }
    }

    /// Whether the phase runs buildspec commands (and so honours `on-failure`).
    pub fn is_command_phase(self) -> bool {
        match self {
            PhaseType::Install | PhaseType::PreBuild | PhaseType::Build | PhaseType::PostBuild => true,
            PhaseType::Submitted
            | PhaseType::Queued
            | PhaseType::Provisioning
            | PhaseType::DownloadSource
            | PhaseType::UploadArtifacts
            | PhaseType::Finalizing
            | PhaseType::Completed => false,
        }
    }
}

impl std::fmt::Display for PhaseType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A build or phase status (CodeBuild's `StatusType`; the same enum serves both).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StatusType {
    Succeeded,
    Failed,
    Fault,
    TimedOut,
    InProgress,
    Stopped,
}

impl StatusType {
    /// CodeBuild's name for the status, e.g. `TIMED_OUT`.
    pub fn as_str(self) -> &'static str {
        match self {
            StatusType::Succeeded => "SUCCEEDED",
            StatusType::Failed => "FAILED",
            StatusType::Fault => "FAULT",
            StatusType::TimedOut => "TIMED_OUT",
            StatusType::InProgress => "IN_PROGRESS",
            StatusType::Stopped => "STOPPED",
        }
    }

    /// Whether a build with this status has ended (everything except `IN_PROGRESS`).
    pub fn is_terminal(self) -> bool {
        match self {
            StatusType::InProgress => false,
            StatusType::Succeeded
            | StatusType::Failed
            | StatusType::Fault
            | StatusType::TimedOut
            | StatusType::Stopped => true,
        }
    }

    /// Precedence when folding phase statuses into a build status: higher wins.
    fn severity(self) -> u8 {
        match self {
            StatusType::Succeeded | StatusType::InProgress => 0,
            StatusType::Failed => 1,
            StatusType::Fault => 2,
            StatusType::TimedOut => 3,
            StatusType::Stopped => 4,
        }
    }
}

impl std::fmt::Display for StatusType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What to do after a command phase fails: the buildspec's `on-failure`, minus `RETRY`.
///
/// The executor maps `on-failure: RETRY` by re-running the phase itself; once retries are exhausted it reports
/// the failure here with the action that follows the retries (default when none is given).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum FailureAction {
    /// No `on-failure`: CodeBuild's default transitions (reference §2.3 table).
    #[default]
    Default,
    /// `on-failure: CONTINUE`: the next phase runs regardless.
    Continue,
    /// `on-failure: ABORT`: skip the remaining command phases.
    Abort,
}

/// Asked for the next phase with a status that does not end a phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "phase {phase} cannot end with status IN_PROGRESS; end it with SUCCEEDED, FAILED, FAULT, TIMED_OUT or STOPPED"
)]
pub struct NotAnEndStatus {
    /// The phase that was being ended.
    pub phase: PhaseType,
}

/// The phase that runs after `completed` ended with `status` under `action`; `None` once `COMPLETED` is reached.
///
/// Rules (reference §2.3):
/// - success: the successor in [`PhaseType::ALL`] order;
/// - `TIMED_OUT`, `STOPPED`, `FAULT` in any phase before `FINALIZING`: go to `FINALIZING` (the build is over;
///   a stopped or timed-out build does not upload artifacts) [I];
/// - `FAILED` in `SUBMITTED`, `QUEUED`, `PROVISIONING` [I from diagram] or `DOWNLOAD_SOURCE` [O]: `FINALIZING`;
///   `on-failure` does not apply to these phases;
/// - `FAILED` in `INSTALL` or `PRE_BUILD`: `FINALIZING` by default and with `ABORT` [I], the next phase with
///   `CONTINUE` [D];
/// - `FAILED` in `BUILD`: `POST_BUILD` by default and with `CONTINUE` [O "POST_BUILD always runs if BUILD ran"];
///   with `ABORT`, `UPLOAD_ARTIFACTS` — the reference's abort path is FINALIZING [I], but "UPLOAD_ARTIFACTS is
///   always attempted, even when BUILD fails" is documented [D], so the documented rule wins;
/// - `FAILED` in `POST_BUILD`: `UPLOAD_ARTIFACTS` whatever the action (BUILD ran, so artifacts are attempted) [I];
/// - `FAILED` in `UPLOAD_ARTIFACTS`: `FINALIZING` [I]; any end of `FINALIZING`: `COMPLETED`.
///
/// Whether BUILD ran needs no extra input: every path into `POST_BUILD` passes through `BUILD`, so the phase that
/// ended tells it.
pub fn next_phase(
    completed: PhaseType,
    status: StatusType,
    action: FailureAction,
) -> Result<Option<PhaseType>, NotAnEndStatus> {
    let next = match status {
        StatusType::InProgress => return Err(NotAnEndStatus { phase: completed }),
        StatusType::Succeeded => completed.successor(),
        StatusType::TimedOut | StatusType::Stopped | StatusType::Fault => abandon(completed),
        StatusType::Failed => after_failure(completed, action),
    };
    Ok(next)
}

/// Where a build goes when it is stopped, timed out or faulted in `phase`.
fn abandon(phase: PhaseType) -> Option<PhaseType> {
    match phase {
        PhaseType::Finalizing => Some(PhaseType::Completed),
        PhaseType::Completed => None,
        PhaseType::Submitted
        | PhaseType::Queued
        | PhaseType::Provisioning
        | PhaseType::DownloadSource
        | PhaseType::Install
        | PhaseType::PreBuild
        | PhaseType::Build
        | PhaseType::PostBuild
        | PhaseType::UploadArtifacts => Some(PhaseType::Finalizing),
    }
}

/// Where a build goes when `phase` fails (a user-caused failure) under `action`.
fn after_failure(phase: PhaseType, action: FailureAction) -> Option<PhaseType> {
    match phase {
        PhaseType::Install | PhaseType::PreBuild => match action {
            FailureAction::Continue => phase.successor(),
            FailureAction::Default | FailureAction::Abort => Some(PhaseType::Finalizing),
        },
        PhaseType::Build => match action {
            FailureAction::Default | FailureAction::Continue => Some(PhaseType::PostBuild),
            FailureAction::Abort => Some(PhaseType::UploadArtifacts),
        },
        // BUILD ran, so artifacts are attempted whatever the action.
        PhaseType::PostBuild => Some(PhaseType::UploadArtifacts),
        // on-failure only applies to command phases.
        PhaseType::Submitted
        | PhaseType::Queued
        | PhaseType::Provisioning
        | PhaseType::DownloadSource
        | PhaseType::UploadArtifacts => Some(PhaseType::Finalizing),
        PhaseType::Finalizing => Some(PhaseType::Completed),
        PhaseType::Completed => None,
    }
}

/// The build status implied by the statuses of its ended phases (reference §2.4).
///
/// `SUCCEEDED` when every phase succeeded; otherwise the most specific failure, in the order
/// `STOPPED` > `TIMED_OUT` > `FAULT` > `FAILED` (a stop or timeout explains any failure it caused).
pub fn derive_build_status(phase_statuses: impl IntoIterator<Item = StatusType>) -> StatusType {
    phase_statuses
        .into_iter()
        .fold(StatusType::Succeeded, |worst, status| {
            if status.severity() > worst.severity() {
                status
            } else {
                worst
            }
        })
}

#[cfg(test)]
mod tests {
    use super::FailureAction::{Abort, Continue, Default};
    use super::PhaseType::*;
    use super::StatusType::*;
    use super::*;

    #[test]
    fn each_phase_that_succeeds_hands_over_to_the_next_in_order() {
        for pair in PhaseType::ALL.windows(2) {
            assert_eq!(
                next_phase(pair[0], Succeeded, Default),
                Ok(Some(pair[1])),
                "{}",
                pair[0]
            );
        }
        assert_eq!(next_phase(Completed, Succeeded, Default), Ok(None));
    }

    #[test]
    fn failures_follow_the_reference_transition_table() {
        // (failing phase, action, next phase): reference §2.3 "Default transitions" and on-failure rules.
        let table = [
            (Submitted, Default, Finalizing),
            (Queued, Default, Finalizing),
            (Provisioning, Default, Finalizing),
            (DownloadSource, Default, Finalizing),
            (DownloadSource, Continue, Finalizing),
            (Install, Default, Finalizing),
            (Install, Continue, PreBuild),
            (Install, Abort, Finalizing),
            (PreBuild, Default, Finalizing),
            (PreBuild, Continue, Build),
            (PreBuild, Abort, Finalizing),
            (Build, Default, PostBuild),
            (Build, Continue, PostBuild),
            (Build, Abort, UploadArtifacts),
            (PostBuild, Default, UploadArtifacts),
            (PostBuild, Continue, UploadArtifacts),
            (PostBuild, Abort, UploadArtifacts),
            (UploadArtifacts, Default, Finalizing),
            (Finalizing, Default, Completed),
        ];
        for (phase, action, expected) in table {
            assert_eq!(
                next_phase(phase, Failed, action),
                Ok(Some(expected)),
                "{phase} {action:?}"
            );
        }
    }

    #[test]
    fn timeouts_stops_and_faults_go_straight_to_finalizing_whatever_the_action() {
        for status in [TimedOut, Stopped, Fault] {
            for action in [Default, Continue, Abort] {
                for phase in &PhaseType::ALL[..9] {
                    assert_eq!(
                        next_phase(*phase, status, action),
                        Ok(Some(Finalizing)),
                        "{phase} {status}"
                    );
                }
                assert_eq!(next_phase(Finalizing, status, action), Ok(Some(Completed)));
                assert_eq!(next_phase(Completed, status, action), Ok(None));
            }
        }
    }

    #[test]
    fn in_progress_is_not_a_way_to_end_a_phase() {
        assert_eq!(
            next_phase(Build, InProgress, Default),
            Err(NotAnEndStatus { phase: Build })
        );
    }

    #[test]
    fn build_status_is_the_most_specific_phase_failure() {
        let table: [(&[StatusType], StatusType); 9] = [
            (&[], Succeeded),
            (&[Succeeded, Succeeded], Succeeded),
            (&[Succeeded, InProgress], Succeeded),
            (&[Succeeded, Failed, Succeeded], Failed),
            (&[Failed, Fault], Fault),
            (&[Failed, TimedOut], TimedOut),
            (&[Fault, TimedOut, Failed], TimedOut),
            (&[Failed, Stopped], Stopped),
            (&[TimedOut, Stopped], Stopped),
        ];
        for (phases, expected) in table {
            assert_eq!(
                derive_build_status(phases.iter().copied()),
                expected,
                "{phases:?}"
            );
        }
    }

    #[test]
    fn statuses_and_phases_serialise_to_codebuild_names() {
        for phase in PhaseType::ALL {
            assert_eq!(
                serde_json::to_value(phase).ok(),
                Some(serde_json::json!(phase.as_str()))
            );
        }
        for status in [Succeeded, Failed, Fault, TimedOut, InProgress, Stopped] {
            assert_eq!(
                serde_json::to_value(status).ok(),
                Some(serde_json::json!(status.as_str()))
            );
        }
    }
}
