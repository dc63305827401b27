//! `kiln runner`: runs one build to its end with the runner library ([`kiln_runner::run_build`]). The two modes
//! differ only in the ports they build and pass in:
//!
//! - local (`--build-id ID --data-dir DIR`, [`local`]): the child process `kiln serve` starts for each build,
//!   in its own process group, over the server's SQLite store, log files, secrets file and object directory.
//! - AWS (no `--data-dir`, [`aws`]): the ECS task's command, configured by the task's `KILN_*` environment.
//!
//! SIGTERM (`kiln serve` stopping a build, ECS StopTask) stops the build: it ends STOPPED. The exit code is 0
//! once the build has a final status, 1 otherwise.

mod aws;
mod awslogs;
mod local;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use kiln_core::build::BuildId;
use kiln_executor::CancellationToken;
use kiln_executor::source::SourceFetcher;
use kiln_local::sqlite::SyncMode;
use kiln_runner::{Outcome, RunnerError};

/// Arguments of `kiln runner`.
#[derive(Debug, clap::Args)]
pub struct RunnerArgs {
    /// The build to run (`project:uuid`).
    #[arg(long, env = "KILN_BUILD_ID")]
    pub build_id: String,
    /// The server's data directory (local mode); without it the runner runs in AWS mode, configured by the
    /// `KILN_*` environment of its ECS task.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Parameter Store / Secrets Manager values for builds in local mode (`kiln serve --secrets-file`).
    #[arg(long)]
    pub secrets_file: Option<PathBuf>,
    /// When the runner's writes are on disk (local mode; `kiln serve --sqlite-sync` passes its own).
    #[arg(long, default_value = "normal")]
    pub sqlite_sync: SyncMode,
}

/// Runs one build to its end.
pub fn run(args: RunnerArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    if args.data_dir.is_none() {
        // stdout carries the build log (to CloudWatch through awslogs); the runner's own lines go to stderr.
        tracing_subscriber::fmt()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
            )
            .with_writer(std::io::stderr)
            .init();
    }
    let outcome = runtime.block_on(async {
        let stop = CancellationToken::new();
        cancel_on_sigterm(stop.clone());
        match args.data_dir {
            Some(data_dir) => {
                local::run_build(
                    &args.build_id,
                    data_dir,
                    args.secrets_file,
                    args.sqlite_sync,
                    stop,
                )
                .await
            }
            None => aws::run_build(&args.build_id, stop).await,
        }
    })?;
    Ok(match outcome {
        Outcome::Ended => ExitCode::SUCCESS,
        Outcome::Open => ExitCode::FAILURE,
    })
}

/// The build id of `--build-id` / `KILN_BUILD_ID`.
fn build_id(text: &str) -> anyhow::Result<BuildId> {
    BuildId::parse(text).with_context(|| format!("build id {text:?} (--build-id or KILN_BUILD_ID)"))
}

/// What the source fetch may reach in both modes: this executable as CodeCommit's credential helper.
fn source_fetcher() -> anyhow::Result<SourceFetcher> {
    let kiln =
        std::env::current_exe().context("cannot find the kiln executable for git's credential helper")?;
    Ok(SourceFetcher::default().with_codecommit_helper(kiln))
}

/// The library's error, with a missing build named by where the mode looked (`in`).
fn located(err: RunnerError, id: &BuildId, place: &str) -> anyhow::Error {
    match err {
        RunnerError::NotFound(_) => anyhow::anyhow!("build {:?} is not in {place}", id.as_str()),
        other => anyhow::Error::new(other),
    }
}

/// Cancels `stop` on SIGTERM (what `kiln serve` and ECS StopTask send).
fn cancel_on_sigterm(stop: CancellationToken) {
    tokio::spawn(async move {
        if let Ok(mut term) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            term.recv().await;
            stop.cancel();
        }
    });
}
