//! `kiln runner`: runs one build to its end. Two modes:
//!
//! - local (`--build-id ID --data-dir DIR`): the child process `kiln serve` starts for each build, in its own
//!   process group. It reads the build and its project from SQLite, runs the executor, records each phase and
//!   the final status conditionally (a stopped or timed-out build is never overwritten), and writes the log to
//!   `<data-dir>/logs/<project>/<uuid>.log`. SIGTERM stops the build (STOPPED).
//! - AWS (no `--data-dir`): the ECS task's command; see [`aws`].

mod aws;
mod awslogs;
mod build;
mod fetch;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use kiln_core::build::BuildId;
use kiln_executor::outputs::{ArtifactTarget, CacheTarget};
use kiln_executor::source::SourceSpec;
use kiln_executor::{CancellationToken, Ports};
use kiln_local::log_file::FileLogSink;
use kiln_local::object_store::DirObjectStore;
use kiln_local::secrets::LocalSecrets;
use kiln_local::sqlite::SyncMode;
use serde_json::Value;

use super::serve::{DataDir, local_services};
use build::{
    build_request, cancel_on_sigterm, finish, git_source, guard_fork_secrets, packaging, spawn_recorder,
};

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
    match args.data_dir {
        Some(data_dir) => runtime.block_on(run_build(
            &args.build_id,
            data_dir,
            args.secrets_file,
            args.sqlite_sync,
        )),
        None => {
            // stdout carries the build log (to CloudWatch through awslogs); the runner's own lines go to stderr.
            tracing_subscriber::fmt()
                .with_env_filter(
                    tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
                )
                .with_writer(std::io::stderr)
                .init();
            runtime.block_on(aws::run_build(&args.build_id))
        }
    }
}

async fn run_build(
    build_id: &str,
    data_dir: PathBuf,
    secrets_file: Option<PathBuf>,
    sync: SyncMode,
) -> anyhow::Result<ExitCode> {
    let data = DataDir::new(data_dir);
    let (store, services) = local_services(&data, 1, None, sync)?;
    let id = BuildId::parse(build_id).context("--build-id")?;
    let Some(stored) = store.get_sync(&id)? else {
        bail!("build {:?} is not in {}", id.as_str(), data.db().display());
    };
    // The runner reads the record and project as JSON (the typed ports hand over a `Build`).
    let record = serde_json::to_value(&stored.build)?;
    if record["buildComplete"].as_bool() == Some(true) {
        return Ok(ExitCode::SUCCESS);
    }
    let project = match store.get_project_sync(stored.project())? {
        Some(project) => serde_json::to_value(project)?,
        None => Value::Null,
    };
    let log_path = data.log_path(&id);
    let source = match record["source"]["type"].as_str().unwrap_or("NO_SOURCE") {
        "NO_SOURCE" => {
            let empty = data.work_dir(&id).join("empty");
            std::fs::create_dir_all(&empty).ok();
            SourceSpec::Dir(empty)
        }
        _ => git_source(&record)?,
    };
    let request = build_request(&record, &id, stored.number(), source, data.work_dir(&id))?;
    let mut local_secrets = LocalSecrets::new();
    if let Some(file) = &secrets_file {
        local_secrets.load_file(file)?;
    }
    let store_dir: Arc<DirObjectStore> = Arc::new(DirObjectStore::new(data.root().join("objects")));
    let ports = Ports {
        log: Arc::new(FileLogSink::create(&log_path)?),
        secrets: guard_fork_secrets(&record, &project, Arc::new(local_secrets)),
        terminal: None,
        artifacts: Some(ArtifactTarget {
            store: store_dir.clone(),
            key_prefix: format!("artifacts/{}/{}", id.project(), id.uuid()),
            packaging: packaging(&project),
        }),
        cache: Some(CacheTarget {
            store: store_dir,
            location: kiln_executor::cache::CacheLocation::new("cache", id.project().as_str()),
        }),
    };
    let stop = CancellationToken::new();
    cancel_on_sigterm(stop.clone());
    let (events, received) = tokio::sync::mpsc::unbounded_channel();
    let recorder = spawn_recorder(services.clone(), id.clone(), received);
    let result = kiln_executor::run(request, ports, Some(events), stop).await;
    let finalizing = recorder.await.ok().flatten();
    finish(&services, &id, &result, finalizing, serde_json::Map::new()).await?;
    Ok(ExitCode::SUCCESS)
}
