//! The runner: the process that runs one stored build end to end. [`run_build`] loads the build, runs the
//! executor on it (whose DOWNLOAD_SOURCE fetches the source), records each phase as it ends and the final
//! status through the use cases, so a STOPPED or TIMED_OUT build is never overwritten, and the notices follow
//! from those writes.
//!
//! The two deployments differ only in the [`RunnerPorts`] they pass in: `kiln runner --data-dir` (a child
//! process of `kiln serve`) passes the SQLite store, a log file, local secrets and directory object stores;
//! `kiln runner` in an ECS task passes DynamoDB, S3 (log, artifacts, cache, S3 sources), SSM and Secrets Manager,
//! the terminal (stdout, read by awslogs), and [`Extras`]: the task's log names and its cost estimate.
//!
//! Modules: [`load`] (the stored build, decoded once), [`request`] (the build as an executor request),
//! [`recorder`] (phase events to phase records), [`finish`] (what only the result knows, the final status),
//! [`fork`] (no secrets for pull requests from forks unless the project allows it), [`logs`] (log locations).

pub mod finish;
pub mod fork;
pub mod load;
pub mod logs;
pub mod recorder;
pub mod request;
#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use kiln_core::build::{Build, BuildId, EstimatedCost, LogsLocation, PhaseContext, StatusType, Timestamp};
use kiln_core::ports::build_store::StoreError;
use kiln_core::ports::logs::{LogSink, LogSinkError};
use kiln_core::ports::object_store::ObjectStore;
use kiln_core::ports::secrets::SecretResolver;
use kiln_core::usecases::{Services, UseCaseError};
use kiln_executor::logs::Terminal;
use kiln_executor::outputs::{ArtifactTarget, CacheTarget};
use kiln_executor::source::SourceFetcher;
use kiln_executor::{CancellationToken, Ports};

/// Opens the build's log sink; called only once the build is known to need running (a local log file is
/// truncated when it is opened).
pub type OpenLog = Box<dyn FnOnce() -> Result<Arc<dyn LogSink>, LogSinkError> + Send>;

/// Estimates what a build cost from the build and the runner's time so far.
pub type CostEstimate = Box<dyn Fn(&Build, Duration) -> EstimatedCost + Send + Sync>;

/// Everything a deployment passes in to run one build.
pub struct RunnerPorts {
    /// The use cases over the deployment's stores; every write goes through them. Their account gives the
    /// region and account id the build reports.
    pub services: Services,
    /// The build's log.
    pub log: OpenLog,
    /// Resolves the build's PARAMETER_STORE and SECRETS_MANAGER variables (the fork policy applies on top).
    pub secrets: Arc<dyn SecretResolver>,
    /// A live copy of the log, if any (stdout in the ECS task).
    pub terminal: Option<Terminal>,
    /// Where artifacts go; `None` skips the upload.
    pub artifacts: Option<ArtifactStore>,
    /// Where the cache lives; `None` disables it.
    pub cache: Option<CacheTarget>,
    /// What the source fetch may reach (S3 buckets, repository tokens, CodeCommit's credential helper).
    pub source: SourceFetcher,
    /// The build's scratch directory (source checkout and control files).
    pub work_dir: PathBuf,
    /// What this deployment adds to the record.
    pub extras: Extras,
}

/// Where a build's artifacts go: the store and this build's key prefix (the packaging is the project's).
pub struct ArtifactStore {
    /// The store.
    pub store: Arc<dyn ObjectStore>,
    /// The key prefix of this build's artifacts.
    pub key_prefix: String,
}

/// What a deployment adds to the record: data and small hooks, never a branch on the deployment.
#[derive(Default)]
pub struct Extras {
    /// Log locations recorded before the build starts, over the build's own (the S3 object and the task's
    /// CloudWatch stream on AWS).
    pub logs: Option<LogsLocation>,
    /// The cost estimate recorded when the build ends (`estimatedCost`).
    pub cost: Option<CostEstimate>,
}

/// How a run left the build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The build has its final status (it may have had it before the runner started).
    Ended,
    /// The build is still open: a write failed, and the deployment's reconciler will end it.
    Open,
}

/// Why the runner could not run the build.
#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    #[error("build {0:?} is not in the store")]
    NotFound(String),
    #[error(transparent)]
    UseCase(#[from] UseCaseError),
    #[error("could not read the build's project: {0}")]
    Project(#[from] StoreError),
    #[error("buildspec {0:?} is in S3, which the runner cannot read yet")]
    S3Buildspec(String),
    #[error("could not open the build log: {0}")]
    Log(#[from] LogSinkError),
    #[error("SECRETS_MANAGER variable {name} has the reference {value:?}: {source}")]
    SecretReference {
        name: String,
        value: String,
        source: kiln_core::buildspec::SecretRefError,
    },
    #[error("could not encode the record's members: {0}")]
    Encode(#[from] serde_json::Error),
}

/// The clock of the runner.
pub fn now() -> Timestamp {
    Timestamp::from(SystemTime::now())
}

/// Runs build `id` to its end with `ports`; `stop` (SIGTERM) ends it STOPPED. A build that has already ended is
/// left alone. If the runner fails after loading the build, the build ends FAULT with the reason.
pub async fn run_build(
    id: &BuildId,
    ports: RunnerPorts,
    stop: CancellationToken,
) -> Result<Outcome, RunnerError> {
    let started = Instant::now();
    let services = ports.services.clone();
    let Some(build) = load::build(&services, id).await? else {
        return Err(RunnerError::NotFound(id.to_string()));
    };
    if build.is_complete() {
        return Ok(Outcome::Ended);
    }
    if let Err(err) = run_open(build, ports, stop, started).await {
        tracing::error!(build_id = %id, error = %err, "the runner failed");
        let context = PhaseContext::new("CLIENT_ERROR", format!("the runner failed: {err}"));
        services
            .finish_early(id, StatusType::Fault, context, now())
            .await?;
    }
    let ended = load::build(&services, id).await?.is_some_and(|b| b.is_complete());
    Ok(if ended { Outcome::Ended } else { Outcome::Open })
}

/// Runs a build that has not ended: records the extra log locations, runs the executor with the phases
/// recorded as they end, then the final members and status.
async fn run_open(
    build: Build,
    ports: RunnerPorts,
    stop: CancellationToken,
    started: Instant,
) -> Result<(), RunnerError> {
    let RunnerPorts {
        services,
        log,
        secrets,
        terminal,
        artifacts,
        cache,
        source,
        work_dir,
        extras,
    } = ports;
    let id = build.id().clone();
    let project = load::project(&services, &id).await?;
    if let Some(extra) = &extras.logs {
        logs::record(&services, &id, build.logs.as_ref(), extra).await?;
    }
    let request = request::build_request(&build, &services.account, work_dir)?;
    let executor_ports = Ports {
        source,
        log: log()?,
        secrets: fork::guard(&build, &project, secrets),
        terminal,
        artifacts: artifacts.map(|a| ArtifactTarget {
            store: a.store,
            key_prefix: a.key_prefix,
            packaging: project.packaging(),
        }),
        cache,
    };
    let (events, received) = tokio::sync::mpsc::unbounded_channel();
    let recorder = recorder::spawn(services.clone(), id.clone(), received);
    let result = kiln_executor::run(request, executor_ports, Some(events), stop).await;
    let finalizing = recorder.await.ok().flatten();
    let cost = extras.cost.map(|estimate| estimate(&build, started.elapsed()));
    finish::finish(&services, &id, &result, finalizing, cost).await
}
