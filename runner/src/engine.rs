//! The phase engine: runs one build from SUBMITTED to COMPLETED with CodeBuild's semantics (reference §2).
//!
//! Phases follow the core state machine ([`next_phase`]); command phases run their `commands` then `finally`
//! in the build's one [`Session`]; `on-failure` decides what follows a failed phase, with RETRY re-running the
//! phase (at most [`DEFAULT_RETRIES`] times unless a count is given; with a pattern, only when the last
//! [`TAIL_BYTES`](crate::logs::pipeline::TAIL_BYTES) of the phase's output match it). Every phase end is sent
//! as a [`BuildEvent`] so a server can record it as it happens.

use std::sync::Arc;
use std::time::SystemTime;

use kiln_shared::build::{FailureAction, PhaseType, StatusType, derive_build_status, next_phase};
use kiln_shared::buildspec::{Buildspec, OnFailure, Phase, PhaseName};
use tokio::sync::mpsc::UnboundedSender;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::env::{self, BuildEnv, Builtins};
use crate::logs::format as fmt;
use crate::logs::{LogPipeline, Masker};
use crate::outputs::{self, ArtifactTarget, CacheTarget};
use crate::record::{BuildEvent, BuildResult, ExportedVariable, PhaseContext, PhaseRecord, epoch_secs};
use crate::request::{BuildRequest, Ports};
use crate::session::{ExecError, Interrupt, Session, resolve_user};
use crate::shell::{RunAs, ShellSpec};
use crate::source::{self, PreparedSource, SourceSpec};
use crate::{buildspec_file, runtime};

/// How many times `on-failure: RETRY` (without a count) re-runs a phase.
pub const DEFAULT_RETRIES: u32 = 3;

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
        source_version: match &request.source {
            SourceSpec::Git { version, .. } => version.clone(),
            SourceSpec::Dir(_) => None,
        },
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
    });
    result
}

struct Engine {
    request: BuildRequest,
    ports_secrets: Arc<dyn kiln_shared::ports::secrets::SecretResolver>,
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

    async fn download_source(&mut self) -> PhaseEnd {
        let dest = self.request.work_dir.join("src");
        let prepared = tokio::select! {
            prepared = source::prepare(&self.request.source, &dest) => prepared,
            _ = tokio::time::sleep_until(self.deadline) => return PhaseEnd::interrupted(Interrupt::TimedOut),
            _ = self.stop.cancelled() => return PhaseEnd::interrupted(Interrupt::Stopped),
        };
        let prepared = match prepared {
            Ok(prepared) => prepared,
            Err(err) => return PhaseEnd::failed("CLIENT_ERROR", err.to_string()),
        };
        self.result.resolved_source_version = prepared.resolved_version.clone();
        let buildspec = match buildspec_file::load(&self.request.buildspec, &prepared.dir) {
            Ok(buildspec) => buildspec,
            Err(message) => return PhaseEnd::failed("YAML_FILE_ERROR", message),
        };
        for warning in &buildspec.warnings {
            let text = format!(
                "WARNING: buildspec {} (line {}): {}",
                warning.path, warning.line, warning.message
            );
            let _ = self.log.line(&text).await;
        }
        if let Err(message) = self.prepare_env(&buildspec, &prepared).await {
            return PhaseEnd::failed("CLIENT_ERROR", message);
        }
        self.buildspec = Some(buildspec);
        PhaseEnd::ok()
    }

    async fn prepare_env(&mut self, buildspec: &Buildspec, prepared: &PreparedSource) -> Result<(), String> {
        let uuid = self.result.id.rsplit(':').next().unwrap_or_default().to_owned();
        let builtins = Builtins {
            build_id: self.result.id.clone(),
            build_arn: self.result.arn.clone(),
            build_number: self.request.build_number,
            initiator: self.request.initiator.clone(),
            src_dir: prepared.dir.display().to_string(),
            source_version: self.result.source_version.clone(),
            resolved_source_version: prepared.resolved_version.clone(),
            source_repo_url: prepared.repo_url.clone(),
            start_time_ms: self
                .started
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis())
                .unwrap_or(0),
            image: self.request.image.clone(),
            log_path: uuid,
            project_arn: format!(
                "arn:aws:codebuild:{}:{}:project/{}",
                self.request.region, self.request.account_id, self.request.project
            ),
            region: self.request.region.clone(),
            webhook: self.request.webhook_env.clone(),
        };
        let spec_vars = env::buildspec_vars(&buildspec.env);
        let layers: [&[env::EnvVarSpec]; 3] =
            [&spec_vars, &self.request.project_env, &self.request.override_env];
        let assembled = env::assemble(
            &self.request.base_env,
            &builtins,
            &layers,
            self.ports_secrets.as_ref(),
        )
        .await
        .map_err(|e| e.to_string())?;
        self.masker = Masker::new(&assembled.secret_values);
        self.log
            .set_secrets(assembled.secret_values.clone())
            .await
            .map_err(|e| e.to_string())?;
        for warning in &assembled.warnings {
            let _ = self.log.line(&format!("WARNING: {warning}")).await;
        }
        let program = match buildspec.env.shell {
            None | Some(kiln_shared::buildspec::Shell::Sh) => "sh",
            Some(kiln_shared::buildspec::Shell::Bash) => "bash",
            Some(kiln_shared::buildspec::Shell::PowerShell | kiln_shared::buildspec::Shell::Cmd) => {
                return Err("env.shell names a Windows shell; kiln runs Linux builds with sh or bash".into());
            }
        };
        let spec = ShellSpec {
            program: program.into(),
            env: assembled.vars.clone(),
            cwd: prepared.dir.clone(),
            user: None,
            sandbox: self
                .request
                .sandbox
                .clone()
                .map(|config| (config, vec![prepared.dir.clone(), self.request.work_dir.clone()])),
        };
        let output = self.log.output_writer().map_err(|e| e.to_string())?;
        let work = self.request.work_dir.clone();
        self.session = Some(Session::new(spec, work, output, self.deadline, self.stop.clone()));
        self.env = assembled;
        Ok(())
    }

    async fn command_phase(&mut self, phase_type: PhaseType) -> PhaseEnd {
        let Some(name) = phase_name(phase_type) else {
            return PhaseEnd::ok();
        };
        let Some(phase) = self.buildspec.as_ref().and_then(|b| b.phase(name)).cloned() else {
            return PhaseEnd::ok();
        };
        let (retries, pattern, action) = failure_policy(phase.on_failure.as_ref());
        let user = match phase
            .run_as
            .clone()
            .or_else(|| self.buildspec.as_ref().and_then(|b| b.run_as.clone()))
        {
            Some(name) => match resolve_user(&name) {
                Ok(user) => Some(user),
                Err(message) => {
                    return PhaseEnd {
                        action,
                        ..PhaseEnd::failed("CLIENT_ERROR", message)
                    };
                }
            },
            None => None,
        };
        if !phase.runtime_versions.is_empty() {
            self.probe_runtimes(&phase).await;
        }
        let mut attempt = 0;
        loop {
            let _ = self.log.capture(pattern.is_some()).await;
            match self.run_commands(&phase, user.as_ref()).await {
                Ok(None) => return PhaseEnd::ok(),
                Err(interrupt) => return PhaseEnd::interrupted(interrupt),
                Ok(Some(context)) => {
                    let tail = self.log.capture(false).await.unwrap_or_default();
                    let matches = pattern
                        .as_ref()
                        .is_none_or(|re| re.is_match(&String::from_utf8_lossy(&tail)));
                    if attempt < retries && matches {
                        attempt += 1;
                        let line =
                            format!("Phase {phase_type} failed; retrying (attempt {attempt} of {retries})",);
                        let _ = self.log.line(&line).await;
                        if !self.failing
                            && let Some(session) = self.session.as_mut()
                        {
                            let _ = session.set_succeeding(true).await;
                        }
                        continue;
                    }
                    return PhaseEnd {
                        status: StatusType::Failed,
                        contexts: vec![context],
                        action,
                    };
                }
            }
        }
    }

    async fn probe_runtimes(&mut self, phase: &Phase) {
        let path = self
            .env
            .get("PATH")
            .unwrap_or("/usr/local/bin:/usr/bin:/bin")
            .to_owned();
        for requested in &phase.runtime_versions {
            let record = runtime::probe(&requested.runtime, &requested.version, &path).await;
            let _ = self.log.line(&runtime::describe(&record)).await;
            self.result.runtime_versions.push(record);
        }
    }

    /// Runs `commands` then `finally`; `Some(context)` names the first failure.
    async fn run_commands(
        &mut self,
        phase: &Phase,
        user: Option<&RunAs>,
    ) -> Result<Option<PhaseContext>, Interrupt> {
        let mut failure = None;
        for (list, is_finally) in [(&phase.commands, false), (&phase.finally, true)] {
            if is_finally && list.is_empty() {
                break;
            }
            for command in list.iter() {
                if let Some(context) = self.run_one(command, user).await? {
                    failure.get_or_insert(context);
                    break;
                }
            }
        }
        Ok(failure)
    }

    async fn run_one(
        &mut self,
        command: &str,
        user: Option<&RunAs>,
    ) -> Result<Option<PhaseContext>, Interrupt> {
        let _ = self.log.line(&fmt::running_command(command)).await;
        let Some(session) = self.session.as_mut() else {
            return Ok(Some(PhaseContext {
                status_code: "CLIENT_ERROR".into(),
                message: "no shell session: the source was not downloaded".into(),
            }));
        };
        let context = match session.exec(command, user).await {
            Ok(outcome) if outcome.status() == 0 => return Ok(None),
            Ok(outcome) => PhaseContext {
                status_code: "COMMAND_EXECUTION_ERROR".into(),
                message: format!(
                    "Error while executing command: {}. Reason: exit status {}",
                    self.masker.mask_str(command),
                    outcome.status()
                ),
            },
            Err(ExecError::Interrupted(interrupt)) => return Err(interrupt),
            Err(ExecError::Shell(err)) => PhaseContext {
                status_code: "CLIENT_ERROR".into(),
                message: format!("could not run command {}: {err}", self.masker.mask_str(command)),
            },
        };
        let _ = session.set_succeeding(false).await;
        Ok(Some(context))
    }

    async fn capture_exported(&mut self) {
        let Some(buildspec) = &self.buildspec else { return };
        let names: Vec<String> = buildspec
            .env
            .exported_variables
            .iter()
            .filter(|n| !n.starts_with("AWS_") && !self.env.secret_names.contains(*n))
            .cloned()
            .collect();
        let Some(session) = self.session.as_mut() else {
            return;
        };
        let Ok(values) = session.read_vars(&names).await else {
            return;
        };
        self.result.exported_environment_variables = names
            .iter()
            .filter_map(|name| values.iter().find(|(n, _)| n == name))
            .map(|(name, value)| ExportedVariable {
                name: name.clone(),
                value: self.masker.mask_str(value),
            })
            .collect();
    }

    async fn upload_artifacts(&mut self) -> PhaseEnd {
        let Some(buildspec) = self.buildspec.clone() else {
            return PhaseEnd::ok();
        };
        let Some(src) = self.src_dir() else {
            return PhaseEnd::ok();
        };
        for spec in outputs::report_specs(&buildspec) {
            let dir = src.clone();
            let summary = tokio::task::spawn_blocking(move || crate::reports::summarise(&spec, &dir)).await;
            if let Ok(summary) = summary {
                let line = format!(
                    "Report {}: {} ({} tests: {} passed, {} failed, {} skipped)",
                    summary.name,
                    summary.status,
                    summary.total,
                    summary.passed,
                    summary.failed,
                    summary.skipped
                );
                let _ = self.log.line(&line).await;
                self.result.reports.push(summary);
            }
        }
        let specs = outputs::artifact_specs(&buildspec);
        if specs.is_empty() {
            return PhaseEnd::ok();
        }
        let Some(target) = self.artifact_target.clone() else {
            let _ = self
                .log
                .line("Skipping artifact upload: no artifact location was given")
                .await;
            return PhaseEnd::ok();
        };
        for mut spec in specs {
            if let Some(name) = spec.name.clone().filter(|n| outputs::needs_shell(n))
                && let Some(session) = self.session.as_mut()
            {
                spec.name = session.eval_text(&name).await.ok();
            }
            let uploaded = crate::artifacts::package_and_upload(
                &spec,
                &src,
                target.packaging,
                target.store.as_ref(),
                &target.key_prefix,
            )
            .await;
            match uploaded {
                Ok(outcome) => {
                    for note in &outcome.notes {
                        let _ = self.log.line(note).await;
                    }
                    let line = format!(
                        "Uploaded artifact {} ({} files, {} bytes, sha256 {})",
                        outcome.location, outcome.files, outcome.size, outcome.sha256sum
                    );
                    let _ = self.log.line(&line).await;
                    self.result.artifacts.push(outcome);
                }
                Err(err) => return PhaseEnd::failed("CLIENT_ERROR", err.to_string()),
            }
        }
        PhaseEnd::ok()
    }

    fn src_dir(&self) -> Option<std::path::PathBuf> {
        self.env.get("CODEBUILD_SRC_DIR").map(std::path::PathBuf::from)
    }

    /// The cache spec with `key` and `fallback-keys` evaluated in the build's shell (once).
    async fn evaluated_cache_spec(&mut self) -> Option<crate::cache::CacheSpec> {
        if self.cache_spec.is_none() {
            let mut spec = outputs::cache_spec(self.buildspec.as_ref()?)?;
            let session = self.session.as_mut()?;
            if let Some(key) = spec.key.clone().filter(|k| outputs::needs_shell(k)) {
                spec.key = session.eval_text(&key).await.ok();
            }
            for fallback in &mut spec.fallback_keys {
                if outputs::needs_shell(fallback) {
                    *fallback = session.eval_text(fallback).await.unwrap_or_default();
                }
            }
            self.cache_spec = Some(spec);
        }
        self.cache_spec.clone()
    }

    async fn restore_cache(&mut self) {
        let Some(target) = self.cache_target.clone() else {
            return;
        };
        let (Some(spec), Some(src)) = (self.evaluated_cache_spec().await, self.src_dir()) else {
            return;
        };
        let outcome = crate::cache::restore(&spec, &target.location, &src, target.store.as_ref()).await;
        let text = serde_json::to_string(&outcome).unwrap_or_default();
        let _ = self.log.line(&format!("Cache restore: {text}")).await;
    }

    async fn save_cache(&mut self) {
        let Some(target) = self.cache_target.clone() else {
            return;
        };
        let (Some(spec), Some(src)) = (self.evaluated_cache_spec().await, self.src_dir()) else {
            return;
        };
        let outcome = crate::cache::save(&spec, &target.location, &src, target.store.as_ref()).await;
        let text = serde_json::to_string(&outcome).unwrap_or_default();
        let _ = self.log.line(&format!("Cache save: {text}")).await;
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

fn phase_name(phase: PhaseType) -> Option<PhaseName> {
    match phase {
        PhaseType::Install => Some(PhaseName::Install),
        PhaseType::PreBuild => Some(PhaseName::PreBuild),
        PhaseType::Build => Some(PhaseName::Build),
        PhaseType::PostBuild => Some(PhaseName::PostBuild),
        PhaseType::Submitted
        | PhaseType::Queued
        | PhaseType::Provisioning
        | PhaseType::DownloadSource
        | PhaseType::UploadArtifacts
        | PhaseType::Finalizing
        | PhaseType::Completed => None,
    }
}

/// Retries, retry pattern and the action after the last failure, from `on-failure`.
fn failure_policy(on_failure: Option<&OnFailure>) -> (u32, Option<regex::Regex>, FailureAction) {
    match on_failure {
        None => (0, None, FailureAction::Default),
        Some(OnFailure::Abort) => (0, None, FailureAction::Abort),
        Some(OnFailure::Continue) => (0, None, FailureAction::Continue),
        Some(OnFailure::Retry { count, pattern }) => (
            count.unwrap_or(DEFAULT_RETRIES),
            pattern.as_deref().and_then(|p| regex::Regex::new(p).ok()),
            FailureAction::Default,
        ),
    }
}

#[cfg(test)]
#[path = "engine_tests.rs"]
mod tests;
