//! Command phases: `commands` then `finally` in the build's session, `run-as`, runtime versions, the
//! `on-failure` policy (RETRY re-runs the phase), and the exported variables at the end.

use kiln_core::build::{FailureAction, PhaseType, StatusType};
use kiln_core::buildspec::{OnFailure, Phase, PhaseName};

use super::{DEFAULT_RETRIES, Engine, PhaseEnd};
use crate::logs::format as fmt;
use crate::record::{ExportedVariable, PhaseContext};
use crate::runtime;
use crate::session::{ExecError, Interrupt, resolve_user};
use crate::shell::RunAs;

impl Engine {
    pub(super) async fn command_phase(&mut self, phase_type: PhaseType) -> PhaseEnd {
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
                Err(refused) => {
                    return PhaseEnd {
                        action,
                        ..PhaseEnd::failed("CLIENT_ERROR", refused.to_string())
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

    pub(super) async fn probe_runtimes(&mut self, phase: &Phase) {
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
    pub(super) async fn run_commands(
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

    pub(super) async fn run_one(
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

    pub(super) async fn capture_exported(&mut self) {
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
}

pub(super) fn phase_name(phase: PhaseType) -> Option<PhaseName> {
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
pub(super) fn failure_policy(on_failure: Option<&OnFailure>) -> (u32, Option<regex::Regex>, FailureAction) {
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
