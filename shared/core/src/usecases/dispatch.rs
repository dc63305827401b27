//! Dispatch and reconciliation: take QUEUED builds within the concurrency limits and launch their runners;
//! expire builds past their queued timeout; end builds whose runner is gone (FAULT) or that ran past their
//! build timeout (TIMED_OUT). Each is one step the server loop calls repeatedly and tests call directly.
//!
//! A launch that fails for a passing reason (throttling, no Fargate capacity: the launcher says `retryable`)
//! does not end the build: it keeps its slot in PROVISIONING, marked `launchRetry` with the attempts and the
//! last error, and each reconciliation pass launches it again until it starts or its build timeout ends it.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use super::{Change, Services, UseCaseError};
use crate::build::{
    Build, BuildId, FailureAction, LaunchRetry, PhaseContext, PhaseType, ProjectName, StatusType, Timestamp,
};
use crate::ports::build_store::{BuildState, Limits, QueueEntry};
use crate::ports::launcher::LaunchError;

/// What one dispatch step did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dispatched {
    /// Builds whose runner was launched.
    pub launched: Vec<BuildId>,
    /// Builds that waited past their queued timeout.
    pub expired: Vec<BuildId>,
    /// Builds whose runner could not be launched (now FAULT).
    pub failed: Vec<BuildId>,
    /// Builds whose launch failed for a passing reason (throttling, no capacity): they keep their slot in
    /// PROVISIONING and the reconciler launches them again.
    pub deferred: Vec<BuildId>,
}

/// What one reconciliation pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reconciled {
    /// Builds whose runner was gone (now FAULT).
    pub faulted: Vec<BuildId>,
    /// Builds past their build timeout (now TIMED_OUT, runner killed).
    pub timed_out: Vec<BuildId>,
    /// Builds whose deferred launch was tried again and started.
    pub relaunched: Vec<BuildId>,
}

fn minutes(n: u32) -> Duration {
    Duration::from_secs(u64::from(n) * 60)
}

/// When a waiting build times out: its start plus `queuedTimeoutInMinutes`.
pub(super) fn queued_deadline(build: &Build) -> Timestamp {
    build.start_time().plus(minutes(build.queued_timeout_in_minutes))
}

/// What launching a claimed build did.
pub(super) enum Launch {
    /// The runner runs as this task.
    Started(String),
    /// The build had ended while it waited (stopped or expired); its slot was given back.
    Ended,
    /// The runner could not be started; the build is now FAULT.
    Failed,
    /// The launcher failed for a passing reason (throttling, no capacity); the build keeps its slot in
    /// PROVISIONING, marked with [`Build::launch_retry`], and the reconciler tries again.
    Deferred,
}

/// The record member that marks a build whose launch is to be tried again ([`Build::launch_retry`]):
/// `{"attempts": N, "lastError": "..."}`.
pub const LAUNCH_RETRY: &str = "launchRetry";

impl Services {
    /// Limits from each queued project's `concurrentBuildLimit` and the global limit.
    async fn limits(&self, entries: &[QueueEntry]) -> Result<Limits, UseCaseError> {
        self.limits_for(entries.iter().map(|e| &e.project)).await
    }

    /// Limits for the named projects (each read once) and the global limit.
    pub(super) async fn limits_for<'a>(
        &self,
        projects: impl Iterator<Item = &'a ProjectName>,
    ) -> Result<Limits, UseCaseError> {
        let mut per_project = HashMap::new();
        let mut seen = HashSet::new();
        for name in projects {
            if !seen.insert(name) {
                continue;
            }
            let project = self.projects.get_project(name).await?;
            if let Some(limit) = project.and_then(|p| p.project.concurrent_build_limit) {
                per_project.insert(name.clone(), usize::try_from(limit).unwrap_or(usize::MAX));
            }
        }
        Ok(Limits {
            global: self.global_limit,
            per_project,
            live: self.launcher.live_builds().await?,
        })
    }

    /// One dispatch step: expire builds past their queued timeout, then claim and launch what the limits allow.
    pub async fn dispatch_step(&self, now: Timestamp) -> Result<Dispatched, UseCaseError> {
        let entries = self.queue.entries().await?;
        let mut done = Dispatched {
            expired: self.expire_entries(&entries, now).await?,
            ..Dispatched::default()
        };
        let limits = self.limits(&entries).await?;
        for entry in self.queue.claim(&limits, usize::MAX).await? {
            match self.launch(&entry.build_id, now).await? {
                Launch::Started(_) => done.launched.push(entry.build_id),
                Launch::Ended | Launch::Failed => done.failed.push(entry.build_id),
                Launch::Deferred => done.deferred.push(entry.build_id),
            }
        }
        Ok(done)
    }

    /// Ends every waiting build past its queued timeout (TIMED_OUT); returns their ids.
    pub async fn expire_queued(&self, now: Timestamp) -> Result<Vec<BuildId>, UseCaseError> {
        let entries = self.queue.entries().await?;
        self.expire_entries(&entries, now).await
    }

    async fn expire_entries(
        &self,
        entries: &[QueueEntry],
        now: Timestamp,
    ) -> Result<Vec<BuildId>, UseCaseError> {
        let mut expired = Vec::new();
        for entry in entries.iter().filter(|e| !e.claimed) {
            let Some(stored) = self.builds.get(&entry.build_id).await? else {
                continue;
            };
            if stored.state != BuildState::Queued {
                continue;
            }
            if now >= queued_deadline(&stored.build) {
                self.expire(&entry.build_id, now).await?;
                expired.push(entry.build_id.clone());
            }
        }
        Ok(expired)
    }

    /// Ends a waiting build TIMED_OUT with CodeBuild's queued-timeout reason.
    pub(super) async fn expire(&self, id: &BuildId, now: Timestamp) -> Result<(), UseCaseError> {
        let context = PhaseContext::new("", "Build timed out while waiting in the queue");
        self.finish_early(id, StatusType::TimedOut, context, now).await?;
        Ok(())
    }

    /// Moves a claimed build to PROVISIONING and starts its runner.
    pub(super) async fn launch(&self, id: &BuildId, now: Timestamp) -> Result<Launch, UseCaseError> {
        let build = self
            .modify(id, now, |build| {
                if build.current_phase() != PhaseType::Queued {
                    return Ok(Change::Skip);
                }
                build
                    .end_phase(
                        PhaseType::Queued,
                        StatusType::Succeeded,
                        FailureAction::Default,
                        vec![],
                        now,
                    )
                    .map_err(|source| UseCaseError::Transition {
                        id: id.to_string(),
                        source,
                    })?;
                Ok(Change::Write(BuildState::InProgress))
            })
            .await?;
        if build.is_complete() {
            // Stopped or expired while waiting: the slot is free again.
            self.queue.release(id).await?;
            return Ok(Launch::Ended);
        }
        self.start_runner(&build, now).await
    }

    /// Starts the runner of a build in PROVISIONING that holds its slot: assigns the task; on a passing
    /// failure marks the build for another try ([`Build::launch_retry`]); on any other failure ends it FAULT.
    async fn start_runner(&self, build: &Build, now: Timestamp) -> Result<Launch, UseCaseError> {
        let id = build.id();
        match self.launcher.launch(id).await {
            Ok(task) => {
                self.queue.assign(id, &task).await?;
                tracing::info!(build_id = %id, task = %task, "runner launched");
                Ok(Launch::Started(task))
            }
            Err(LaunchError::Backend {
                message,
                retryable: true,
            }) => {
                let attempts = build.launch_retry.as_ref().map_or(0, |r| r.attempts) + 1;
                tracing::warn!(build_id = %id, attempts, error = %message, "runner launch deferred");
                let retry = LaunchRetry {
                    attempts,
                    last_error: message,
                };
                self.modify(id, now, |build| {
                    build.launch_retry = Some(retry.clone());
                    Ok(Change::Write(BuildState::InProgress))
                })
                .await?;
                Ok(Launch::Deferred)
            }
            Err(err) => {
                let context = PhaseContext::new("CLIENT_ERROR", format!("could not start the runner: {err}"));
                self.finish_early(id, StatusType::Fault, context, now).await?;
                Ok(Launch::Failed)
            }
        }
    }

    /// One reconciliation pass over the builds holding a slot: a runner that is gone ends its build FAULT,
    /// a build past its timeout is killed and ends TIMED_OUT. Runs on start-up and every few seconds.
    pub async fn reconcile(&self, now: Timestamp) -> Result<Reconciled, UseCaseError> {
        self.reconcile_with_grace(now, Duration::ZERO).await
    }

    /// [`Services::reconcile`] for a dispatcher that runs elsewhere (the Lambda reaper): a claimed build with
    /// no task yet is left alone for `grace` after it was created or left the queue, since its dispatcher may
    /// be between the claim and RunTask.
    pub async fn reconcile_with_grace(
        &self,
        now: Timestamp,
        grace: Duration,
    ) -> Result<Reconciled, UseCaseError> {
        let mut done = Reconciled::default();
        for entry in self.queue.entries().await?.into_iter().filter(|e| e.claimed) {
            let Some(stored) = self.builds.get(&entry.build_id).await? else {
                self.queue.release(&entry.build_id).await?;
                continue;
            };
            if stored.state == BuildState::Terminal {
                self.queue.release(&entry.build_id).await?;
                continue;
            }
            let build = &stored.build;
            let last_change = build.phases().last().map_or(build.start_time(), |p| p.start_time);
            let deferred = entry.task.is_none() && build.launch_retry.is_some();
            // The grace covers a dispatcher between its claim and its launch; a deferred launch has none.
            if entry.task.is_none() && !deferred && now < last_change.plus(grace) {
                continue;
            }
            let started = build
                .phases()
                .iter()
                .find(|p| p.phase_type == PhaseType::Provisioning)
                .map(|p| p.start_time)
                .unwrap_or(build.start_time());
            let timed_out = now >= started.plus(minutes(build.timeout_in_minutes));
            if deferred && !timed_out {
                // A launch deferred for a passing reason: try again (RunTask's client token makes a repeat of a
                // launch that did start return the same task).
                match self.start_runner(build, now).await? {
                    Launch::Started(_) => done.relaunched.push(entry.build_id),
                    Launch::Failed => done.faulted.push(entry.build_id),
                    Launch::Ended | Launch::Deferred => {}
                }
                continue;
            }
            let alive = match &entry.task {
                Some(task) => self.launcher.is_alive(task).await?,
                // A deferred launch that ran out of time ends TIMED_OUT below.
                None => deferred,
            };
            if !alive {
                let reason = match entry.task {
                    Some(_) => "the runner process exited before the build finished",
                    None => "the runner was never started (the server stopped while dispatching)",
                };
                self.finish_early(
                    &entry.build_id,
                    StatusType::Fault,
                    PhaseContext::new("CLIENT_ERROR", reason),
                    now,
                )
                .await?;
                done.faulted.push(entry.build_id);
                continue;
            }
            if timed_out {
                let context = PhaseContext::new(
                    "",
                    format!("Build timed out after {} minutes", build.timeout_in_minutes),
                );
                self.finish_early(&entry.build_id, StatusType::TimedOut, context, now)
                    .await?;
                if let Some(task) = &entry.task {
                    self.launcher.stop(task).await?;
                }
                done.timed_out.push(entry.build_id);
            }
        }
        Ok(done)
    }
}
