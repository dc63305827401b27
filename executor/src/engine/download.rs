//! DOWNLOAD_SOURCE: the source (fetched through the build's [`crate::source::SourceFetcher`], within the
//! phase's timing, timeout and stop), the buildspec (failures are `YAML_FILE_ERROR`), the environment with its
//! secrets, and the build's shell session.

use kiln_core::buildspec::Buildspec;

use super::{Engine, Interrupt, PhaseEnd};
use crate::buildspec_file;
use crate::env::{self, Builtins, EnvError};
use crate::logs::{LogError, Masker};
use crate::session::Session;
use crate::shell::ShellSpec;
use crate::source::PreparedSource;

/// Why the build's environment or shell could not be prepared (a `CLIENT_ERROR`).
#[derive(Debug, thiserror::Error)]
pub(super) enum PrepareError {
    #[error(transparent)]
    Env(#[from] EnvError),
    #[error(transparent)]
    Log(#[from] LogError),
    #[error(transparent)]
    Output(std::io::Error),
    #[error("env.shell names a Windows shell; kiln runs Linux builds with sh or bash")]
    WindowsShell,
}

impl Engine {
    pub(super) async fn download_source(&mut self) -> PhaseEnd {
        let dest = self.request.work_dir.join("src");
        let prepared = tokio::select! {
            prepared = self.source_fetcher.fetch(&self.request.source, &dest) => prepared,
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
            Err(err) => return PhaseEnd::failed("YAML_FILE_ERROR", err.to_string()),
        };
        for warning in &buildspec.warnings {
            let text = format!(
                "WARNING: buildspec {} (line {}): {}",
                warning.path, warning.line, warning.message
            );
            let _ = self.log.line(&text).await;
        }
        if let Err(err) = self.prepare_env(&buildspec, &prepared).await {
            return PhaseEnd::failed("CLIENT_ERROR", err.to_string());
        }
        self.buildspec = Some(buildspec);
        PhaseEnd::ok()
    }

    pub(super) async fn prepare_env(
        &mut self,
        buildspec: &Buildspec,
        prepared: &PreparedSource,
    ) -> Result<(), PrepareError> {
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
        .await?;
        let mut assembled = assembled;
        // CodeBuild also redacts AWS credentials that reach the build's environment.
        for name in env::AWS_CREDENTIALS {
            if let Some(value) = assembled.get(name).map(str::to_owned) {
                assembled.secret_values.push(value);
            }
        }
        self.masker = Masker::new(&assembled.secret_values);
        self.log.set_secrets(assembled.secret_values.clone()).await?;
        for warning in &assembled.warnings {
            let _ = self.log.line(&format!("WARNING: {warning}")).await;
        }
        let program = match buildspec.env.shell {
            None | Some(kiln_core::buildspec::Shell::Sh) => "sh",
            Some(kiln_core::buildspec::Shell::Bash) => "bash",
            Some(kiln_core::buildspec::Shell::PowerShell | kiln_core::buildspec::Shell::Cmd) => {
                return Err(PrepareError::WindowsShell);
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
        let output = self.log.output_writer().map_err(PrepareError::Output)?;
        let work = self.request.work_dir.clone();
        self.session = Some(Session::new(spec, work, output, self.deadline, self.stop.clone()));
        self.env = assembled;
        Ok(())
    }
}
