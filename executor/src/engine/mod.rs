//! The phase engine: runs one build from SUBMITTED to COMPLETED with CodeBuild's semantics (reference §2).
//!
//! Phases follow the core state machine ([`next_phase`]); command phases run their `commands` then `finally`
//! in the build's one [`Session`]; `on-failure` decides what follows a failed phase, with RETRY re-running the
//! phase (at most [`DEFAULT_RETRIES`] times unless a count is given; with a pattern, only when the last
//! [`TAIL_BYTES`](crate::logs::pipeline::TAIL_BYTES) of the phase's output match it). Every phase end is sent
//! as a [`BuildEvent`] so a server can record it as it happens.

use std::sync::Arc;
use std::time::SystemTime;

use kiln_core::build::{FailureAction, PhaseType, StatusType, derive_build_status, next_phase};
use kiln_core::buildspec::Buildspec;
use tokio::sync::mpsc::UnboundedSender;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::env::BuildEnv;
use crate::logs::format as fmt;
use crate::logs::{LogPipeline, Masker};
use crate::outputs::{ArtifactTarget, CacheTarget};
use crate::record::{BuildEvent, BuildResult, PhaseContext, PhaseRecord, epoch_secs};
use crate::request::{BuildRequest, Ports};
use crate::session::{Interrupt, Session};
use crate::source::SourceFetcher;

/// How many times `on-failure: RETRY` (without a count) re-runs a phase.
pub const DEFAULT_RETRIES: u32 = 3;

mod commands;
mod download;
mod upload;

/// How a phase ended: its status, contexts, and what follows a failure.
struct PhaseEnd {
    status: StatusType,
    contexts: Vec<PhaseContext>,
    action: FailureAction,
}

impl PhaseEnd {
    fn ok() -> Self {
        Self {
            status: StatusType::Succeeded,
            contexts: Vec::new(),
            action: FailureAction::Default,
        }
    }

    fn failed(code: &str, message: String) -> Self {
        Self {
            status: StatusType::Failed,
            contexts: vec![PhaseContext {
                status_code: code.into(),
                message,
            }],
            action: FailureAction::Default,
        }
    }

    fn interrupted(interrupt: Interrupt) -> Self {
        let (status, code, message) = match interrupt {
            Interrupt::TimedOut => (StatusType::TimedOut, "BUILD_TIMED_OUT", "Build has timed out."),
            Interrupt::Stopped => (StatusType::Stopped, "BUILD_STOPPED", "Build was stopped."),
        };
        Self {
            status,
            contexts: vec![PhaseContext {
                status_code: code.into(),
                message: message.into(),
            }],
            action: FailureAction::Default,
        }
    }
}

/// Runs one build to its end and returns its record. Never panics and never returns while a process of the
/// build is still running. `stop` ends the build STOPPED; `events` receives each phase as it ends.
pub async fn run(
    request: BuildRequest,
    ports: Ports,
    events: Option<UnboundedSender<BuildEvent>>,
    stop: CancellationToken,
) -> BuildResult {
    let started = SystemTime::now();
    let id = request
        .build_id
        .clone()
        .unwrap_or_else(|| format!("{}:{}", request.project, uuid::Uuid::new_v4()));
    let arn = format!(
        "arn:aws:codebuild:{}:{}:build/{id}",
        request.region, request.account_id
    );
    let result = BuildResult {
        id: id.clone(),
        arn,
        build_number: request.build_number,
        project_name: request.project.clone(),
        build_status: StatusType::InProgress,
        current_phase: PhaseType::Submitted,
        start_time: epoch_secs(started),
        end_time: 0.0,
        source_version: request.source.version().map(str::to_owned),
        resolved_source_version: None,
        initiator: request.initiator.clone(),
        timeout_in_minutes: request.timeout.as_secs().div_ceil(60),
        phases: Vec::new(),
        exported_environment_variables: Vec::new(),
        runtime_versions: Vec::new(),
        artifacts: Vec::new(),
        reports: Vec::new(),
        log_location: None,
    };
    let log = match LogPipeline::start(Arc::clone(&ports.log), ports.terminal) {
        Ok(log) => log,
        Err(err) => return fault(result, &err.to_string()),
    };
    let engine = Engine {
        deadline: Instant::now() + request.timeout,
        request,
        ports_secrets: ports.secrets,
        source_fetcher: ports.source,
        artifact_target: ports.artifacts,
        cache_target: ports.cache,
        cache_spec: None,
        result,
        log,
        events,
        stop,
        started,
        masker: Masker::default(),
        env: BuildEnv::default(),
        buildspec: None,
        session: None,
        failing: false,
    };
    let _ = engine.send(BuildEvent::Started { build_id: id });
    engine.drive().await
}

fn fault(mut result: BuildResult, message: &str) -> BuildResult {
    result.build_status = StatusType::Fault;
    result.phases.push(PhaseRecord {
        phase_type: PhaseType::Submitted,
        phase_status: Some(StatusType::Fault),
        start_time: result.start_time,
        end_time: Some(result.start_time),
        duration_in_seconds: Some(0),
        contexts: vec![PhaseContext {
            status_code: "CLIENT_ERROR".into(),
            message: message.into(),
        }],
        action: FailureAction::Default,
    });
    result
}

struct Engine {
    request: BuildRequest,
    ports_secrets: Arc<dyn kiln_core::ports::secrets::SecretResolver>,
    source_fetcher: SourceFetcher,
    artifact_target: Option<ArtifactTarget>,
    cache_target: Option<CacheTarget>,
    cache_spec: Option<crate::cache::CacheSpec>,
    result: BuildResult,
    log: LogPipeline,
    events: Option<UnboundedSender<BuildEvent>>,
    stop: CancellationToken,
    deadline: Instant,
    started: SystemTime,
    masker: Masker,
    env: BuildEnv,
    buildspec: Option<Buildspec>,
    session: Option<Session>,
    failing: bool,
}

impl Engine {
    async fn drive(mut self) -> BuildResult {
        let mut phase = PhaseType::Submitted;
        loop {
            self.begin(phase).await;
            let end = match phase {
                PhaseType::Submitted | PhaseType::Queued => PhaseEnd::ok(),
                PhaseType::Provisioning => self.provision(),
                PhaseType::DownloadSource => self.download_source().await,
                PhaseType::Install => {
                    self.restore_cache().await;
                    self.command_phase(phase).await
                }
                PhaseType::PreBuild | PhaseType::Build | PhaseType::PostBuild => {
                    self.command_phase(phase).await
                }
                PhaseType::UploadArtifacts => self.upload_artifacts().await,
                PhaseType::Finalizing => self.finalize().await,
                PhaseType::Completed => break,
            };
            let next = next_phase(phase, end.status, end.action).ok().flatten();
            if end.status == StatusType::Failed {
                self.failing = true;
            }
            if phase.is_command_phase()
                && !next.is_some_and(PhaseType::is_command_phase)
                && matches!(end.status, StatusType::Succeeded | StatusType::Failed)
            {
                self.capture_exported().await;
            }
            let saves_cache =
                phase == PhaseType::PostBuild && end.status == StatusType::Succeeded && !self.failing;
            if saves_cache {
                self.save_cache().await;
            }
            self.end(end).await;
            let Some(next) = next else { break };
            phase = next;
        }
        self.finish().await
    }

    fn marker(&self) -> String {
        format!("CODEBUILD_BUILD_ID={}", self.result.id)
    }

    fn provision(&mut self) -> PhaseEnd {
        if let Err(err) = std::fs::create_dir_all(&self.request.work_dir) {
            return PhaseEnd::failed(
                "CLIENT_ERROR",
                format!(
                    "could not create work directory {}: {err}",
                    self.request.work_dir.display()
                ),
            );
        }
        if let Ok(canonical) = std::fs::canonicalize(&self.request.work_dir) {
            self.request.work_dir = canonical;
        }
        if self.request.sandbox.is_some()
            && let Err(err) = crate::sandbox::find_bwrap()
        {
            return PhaseEnd::failed("CLIENT_ERROR", err.to_string());
        }
        PhaseEnd::ok()
    }

    async fn finalize(&mut self) -> PhaseEnd {
        if let Some(session) = self.session.take() {
            session.shutdown(&self.marker()).await;
        }
        PhaseEnd::ok()
    }

    async fn begin(&mut self, phase: PhaseType) {
        self.result.current_phase = phase;
        self.result.phases.push(PhaseRecord {
            phase_type: phase,
            phase_status: None,
            start_time: epoch_secs(SystemTime::now()),
            end_time: None,
            duration_in_seconds: None,
            contexts: Vec::new(),
            action: FailureAction::Default,
        });
        if !matches!(
            phase,
            PhaseType::Submitted | PhaseType::Queued | PhaseType::Completed
        ) {
            let _ = self.log.line(&fmt::entering_phase(phase.as_str())).await;
        }
        self.send(BuildEvent::PhaseStarted { phase });
    }

    async fn end(&mut self, end: PhaseEnd) {
        let now = epoch_secs(SystemTime::now());
        let Some(record) = self.result.phases.last_mut() else {
            return;
        };
        record.phase_status = Some(end.status);
        record.end_time = Some(now);
        record.duration_in_seconds = Some((now - record.start_time).max(0.0).round() as u64);
        record.contexts = end.contexts;
        record.action = end.action;
        let record = record.clone();
        if !matches!(record.phase_type, PhaseType::Submitted | PhaseType::Queued) {
            let _ = self
                .log
                .line(&fmt::phase_complete(
                    record.phase_type.as_str(),
                    end.status.as_str(),
                ))
                .await;
            for context in &record.contexts {
                let _ = self
                    .log
                    .line(&fmt::phase_context(&context.status_code, &context.message))
                    .await;
            }
        }
        self.send(BuildEvent::PhaseEnded(record));
    }

    async fn finish(mut self) -> BuildResult {
        let status = derive_build_status(self.result.phases.iter().filter_map(|p| p.phase_status));
        self.result.build_status = status;
        self.result.end_time = epoch_secs(SystemTime::now());
        let _ = self
            .log
            .line(&format!("Build {} ended: {status}", self.result.id))
            .await;
        self.result.log_location = self.log.finish(std::time::Duration::from_secs(1)).await.ok();
        let result = self.result;
        if let Some(events) = &self.events {
            let _ = events.send(BuildEvent::Finished { status });
        }
        result
    }

    fn send(&self, event: BuildEvent) -> bool {
        self.events.as_ref().is_some_and(|tx| tx.send(event).is_ok())
    }
}

#[cfg(test)]
mod tests;
