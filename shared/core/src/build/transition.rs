//! Applying the phase state machine to a [`Build`]: end a phase (which starts the next), or finish the build
//! early (stop, timeout, fault). A completed build refuses every change, which is what makes two racing writers
//! safe once the store's write is conditional on `buildComplete = false`.

use super::ids::BuildId;
use super::phase::{FailureAction, NotAnEndStatus, PhaseType, StatusType, derive_build_status, next_phase};
use super::record::{Build, BuildPhase, PhaseContext};
use super::time::Timestamp;

/// Why a change to a build was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    /// The build already ended.
    #[error("build {id:?} already ended with status {status}; a finished build is never changed")]
    Terminal { id: BuildId, status: StatusType },
    /// The caller meant to end a phase other than the running one (a late or duplicate writer).
    #[error("build {id:?} is in phase {current}, not {requested}; refresh the build before changing it")]
    WrongPhase {
        id: BuildId,
        current: PhaseType,
        requested: PhaseType,
    },
    /// A phase was ended with IN_PROGRESS.
    #[error(transparent)]
    NotAnEndStatus(#[from] NotAnEndStatus),
    /// `finish` was called with a status that does not end a build early.
    #[error(
        "build {id:?} cannot be finished early with status {status}; use FAILED, FAULT, TIMED_OUT or STOPPED"
    )]
    NotAnEarlyEnd { id: BuildId, status: StatusType },
}

impl Build {
    /// Ends the running `phase` with `status` at `now`, starts the phase that follows (reference §2.3) and returns
    /// it; reaching COMPLETED sets the build status, `endTime` and `buildComplete`.
    ///
    /// `action` is the buildspec's `on-failure` for command phases (`FailureAction::Default` elsewhere).
    pub fn end_phase(
        &mut self,
        phase: PhaseType,
        status: StatusType,
        action: FailureAction,
        contexts: Vec<PhaseContext>,
        now: Timestamp,
    ) -> Result<PhaseType, TransitionError> {
        self.check_running(phase)?;
        let next = next_phase(phase, status, action)?.unwrap_or(PhaseType::Completed);
        self.close_running(status, contexts, now);
        self.open(next, now);
        Ok(next)
    }

    /// Ends the build early with `status` (FAILED, FAULT, TIMED_OUT or STOPPED) at `now`: the running phase ends
    /// with that status and `context`, and the build goes straight to COMPLETED. Used when the runner cannot
    /// report (task stopped, crash, reaper, queued timeout) and for `StopBuild` before the runner started.
    pub fn finish(
        &mut self,
        status: StatusType,
        context: Option<PhaseContext>,
        now: Timestamp,
    ) -> Result<(), TransitionError> {
        self.check_not_complete()?;
        match status {
            StatusType::Failed | StatusType::Fault | StatusType::TimedOut | StatusType::Stopped => {}
            StatusType::Succeeded | StatusType::InProgress => {
                return Err(TransitionError::NotAnEarlyEnd {
                    id: self.id.clone(),
                    status,
                });
            }
        }
        self.close_running(status, context.into_iter().collect(), now);
        self.open(PhaseType::Completed, now);
        Ok(())
    }

    /// When the build times out if it is still running: `startTime + queuedTimeoutInMinutes` while SUBMITTED or
    /// QUEUED, else the start of PROVISIONING `+ timeoutInMinutes` (the build clock starts when the build leaves
    /// the queue [I]); `None` once complete. The reaper ends overdue builds with `finish(TIMED_OUT, ..)`.
    pub fn deadline(&self) -> Option<Timestamp> {
        let minutes = |m: u32| std::time::Duration::from_secs(u64::from(m) * 60);
        if self.build_complete {
            return None;
        }
        match self.current_phase {
            PhaseType::Submitted | PhaseType::Queued => {
                Some(self.start_time.plus(minutes(self.queued_timeout_in_minutes)))
            }
            PhaseType::Provisioning
            | PhaseType::DownloadSource
            | PhaseType::Install
            | PhaseType::PreBuild
            | PhaseType::Build
            | PhaseType::PostBuild
            | PhaseType::UploadArtifacts
            | PhaseType::Finalizing
            | PhaseType::Completed => {
                let provisioning = self
                    .phases
                    .iter()
                    .find(|p| p.phase_type == PhaseType::Provisioning);
                let started = provisioning.map_or(self.start_time, |p| p.start_time);
                Some(started.plus(minutes(self.timeout_in_minutes)))
            }
        }
    }

    fn check_not_complete(&self) -> Result<(), TransitionError> {
        if self.build_complete {
            return Err(TransitionError::Terminal {
                id: self.id.clone(),
                status: self.build_status,
            });
        }
        Ok(())
    }

    fn check_running(&self, requested: PhaseType) -> Result<(), TransitionError> {
        self.check_not_complete()?;
        if self.current_phase != requested {
            let (id, current) = (self.id.clone(), self.current_phase);
            return Err(TransitionError::WrongPhase {
                id,
                current,
                requested,
            });
        }
        Ok(())
    }

    /// Gives the running phase its end (a no-op if none is running).
    fn close_running(&mut self, status: StatusType, contexts: Vec<PhaseContext>, now: Timestamp) {
        let Some(running) = self.phases.last_mut().filter(|p| p.phase_status.is_none()) else {
            return;
        };
        running.phase_status = Some(status);
        running.end_time = Some(now);
        running.duration_in_seconds = Some(running.start_time.whole_seconds_until(now));
        running.contexts = (!contexts.is_empty()).then_some(contexts);
    }

    /// Starts `phase` at `now`; COMPLETED (which has only a type and start, as in CodeBuild) also ends the build.
    fn open(&mut self, phase: PhaseType, now: Timestamp) {
        self.phases.push(BuildPhase::started(phase, now));
        self.current_phase = phase;
        if phase == PhaseType::Completed {
            self.build_status = derive_build_status(self.phases.iter().filter_map(|p| p.phase_status));
            self.build_complete = true;
            self.end_time = Some(now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Build as Record, *};
    use crate::build::ids::{AccountContext, ProjectName};
    use FailureAction::{Abort, Continue, Default};
    use PhaseType::*;
    use StatusType::*;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_epoch_millis(1_700_000_000_000 + seconds * 1000)
    }

    fn new_build() -> Record {
        let project = ProjectName::parse("web").unwrap();
        Record::new(BuildId::new(&project), 1, &AccountContext::local(), at(0))
    }

    type Step = (PhaseType, StatusType, FailureAction);

    /// Runs a build through `steps` (phase to end, its status, its action) and returns it.
    fn run(steps: &[(PhaseType, StatusType, FailureAction)]) -> Record {
        let mut build = new_build();
        for (i, (phase, status, action)) in steps.iter().enumerate() {
            let when = at(i64::try_from(i).unwrap() + 1);
            build.end_phase(*phase, *status, *action, vec![], when).unwrap();
        }
        build
    }

    fn phase_types(build: &Record) -> Vec<PhaseType> {
        build.phases().iter().map(|p| p.phase_type).collect()
    }

    const HAPPY_START: [(PhaseType, StatusType, FailureAction); 5] = [
        (Submitted, Succeeded, Default),
        (Queued, Succeeded, Default),
        (Provisioning, Succeeded, Default),
        (DownloadSource, Succeeded, Default),
        (Install, Succeeded, Default),
    ];

    #[test]
    fn a_build_whose_phases_all_succeed_ends_succeeded_with_every_phase_recorded() {
        let mut steps = HAPPY_START.to_vec();
        for phase in [PreBuild, Build, PostBuild, UploadArtifacts, Finalizing] {
            steps.push((phase, Succeeded, Default));
        }
        let build = run(&steps);
        assert_eq!(phase_types(&build), PhaseType::ALL.to_vec());
        assert_eq!(build.build_status(), Succeeded);
        assert!(build.is_complete());
        assert_eq!(build.end_time(), Some(at(10)));
        let completed = build.phases().last().unwrap();
        assert_eq!((completed.phase_status, completed.end_time), (None, None));
    }

    #[test]
    fn a_failing_build_phase_still_runs_post_build_and_upload_artifacts_and_ends_failed() {
        let mut steps = HAPPY_START.to_vec();
        steps.extend([
            (PreBuild, Succeeded, Default),
            (Build, Failed, Default),
            (PostBuild, Succeeded, Default),
            (UploadArtifacts, Succeeded, Default),
            (Finalizing, Succeeded, Default),
        ]);
        let build = run(&steps);
        assert_eq!(phase_types(&build), PhaseType::ALL.to_vec());
        assert_eq!(build.build_status(), Failed);
    }

    #[test]
    fn failures_skip_the_phases_the_reference_says_they_skip() {
        let table: [(&[Step], &[PhaseType]); 4] = [
            (
                &[
                    (Submitted, Succeeded, Default),
                    (Queued, Succeeded, Default),
                    (Provisioning, Failed, Default),
                ],
                &[Submitted, Queued, Provisioning, Finalizing],
            ),
            (
                &HAPPY_START[..4],
                &[Submitted, Queued, Provisioning, DownloadSource, Install],
            ),
            (
                &[
                    (Submitted, Succeeded, Default),
                    (Queued, Succeeded, Default),
                    (Provisioning, Succeeded, Default),
                    (DownloadSource, Failed, Default),
                ],
                &[Submitted, Queued, Provisioning, DownloadSource, Finalizing],
            ),
            (
                &[
                    (Submitted, Succeeded, Default),
                    (Queued, Succeeded, Default),
                    (Provisioning, Succeeded, Default),
                    (DownloadSource, Succeeded, Default),
                    (Install, Failed, Continue),
                    (PreBuild, Failed, Abort),
                ],
                &[
                    Submitted,
                    Queued,
                    Provisioning,
                    DownloadSource,
                    Install,
                    PreBuild,
                    Finalizing,
                ],
            ),
        ];
        for (steps, expected) in table {
            assert_eq!(phase_types(&run(steps)), expected.to_vec(), "{steps:?}");
        }
    }

    #[test]
    fn ending_a_phase_records_its_status_duration_and_contexts() {
        let mut build = new_build();
        let context = PhaseContext::new(
            "COMMAND_EXECUTION_ERROR",
            "Error while executing command: make. Reason: exit status 2",
        );
        build
            .end_phase(Submitted, Failed, Default, vec![context.clone()], at(37))
            .unwrap();
        let ended = &build.phases()[0];
        assert_eq!(ended.phase_status, Some(Failed));
        assert_eq!(ended.duration_in_seconds, Some(37));
        assert_eq!(ended.contexts, Some(vec![context]));
        assert_eq!(build.current_phase(), Finalizing);
        assert_eq!(build.build_status(), InProgress);
    }

    #[test]
    fn finishing_early_ends_the_running_phase_and_completes_the_build() {
        for status in [Failed, Fault, TimedOut, Stopped] {
            let mut build = run(&HAPPY_START[..2]);
            build
                .finish(
                    status,
                    Some(PhaseContext::new("", "Build stopped by user")),
                    at(9),
                )
                .unwrap();
            assert_eq!(
                phase_types(&build),
                vec![Submitted, Queued, Provisioning, Completed]
            );
            assert_eq!(build.phases()[2].phase_status, Some(status));
            assert_eq!(build.build_status(), status);
            assert!(build.is_complete());
        }
    }

    #[test]
    fn a_stop_after_a_failure_reports_stopped() {
        let mut steps = HAPPY_START.to_vec();
        steps.extend([(PreBuild, Succeeded, Default), (Build, Failed, Default)]);
        let mut build = run(&steps);
        build.finish(Stopped, None, at(30)).unwrap();
        assert_eq!(build.build_status(), Stopped);
    }

    #[test]
    fn the_deadline_is_the_queued_timeout_in_the_queue_and_the_build_timeout_after_it() {
        let mut build = new_build();
        build.queued_timeout_in_minutes = 5;
        build.timeout_in_minutes = 10;
        assert_eq!(build.deadline(), Some(at(300)));
        build
            .end_phase(Submitted, Succeeded, Default, vec![], at(1))
            .unwrap();
        build
            .end_phase(Queued, Succeeded, Default, vec![], at(100))
            .unwrap();
        assert_eq!(build.deadline(), Some(at(700)));
        build.finish(TimedOut, None, at(700)).unwrap();
        assert_eq!(build.deadline(), None);
    }

    #[test]
    fn a_completed_build_refuses_every_change() {
        let mut build = new_build();
        build.finish(TimedOut, None, at(1)).unwrap();
        let before = build.clone();
        let terminal = TransitionError::Terminal {
            id: build.id().clone(),
            status: TimedOut,
        };
        assert_eq!(build.finish(Stopped, None, at(2)), Err(terminal.clone()));
        assert_eq!(
            build.end_phase(Completed, Succeeded, Default, vec![], at(2)),
            Err(terminal)
        );
        assert_eq!(build, before);
    }

    #[test]
    fn ending_a_phase_that_is_not_running_or_with_in_progress_is_refused() {
        let mut build = new_build();
        assert!(matches!(
            build.end_phase(Build, Succeeded, Default, vec![], at(1)),
            Err(TransitionError::WrongPhase {
                current: Submitted,
                requested: Build,
                ..
            })
        ));
        assert!(matches!(
            build.end_phase(Submitted, InProgress, Default, vec![], at(1)),
            Err(TransitionError::NotAnEndStatus(_))
        ));
        assert!(matches!(
            build.finish(Succeeded, None, at(1)),
            Err(TransitionError::NotAnEarlyEnd { .. })
        ));
        assert_eq!(build.phases().len(), 1);
    }
}
