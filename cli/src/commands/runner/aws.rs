//! `kiln runner` in its ECS task (no `--data-dir`): the build id from `KILN_BUILD_ID` (or `--build-id`), the
//! deployment from the environment ([`AwsSettings`]). It loads the build and project from DynamoDB, fetches the
//! source, runs the executor with the log going to stdout (CloudWatch through awslogs) and to one S3 object,
//! records each phase through the use cases as it ends, uploads artifacts and the cache to S3, writes the final
//! status conditionally (never over a STOPPED or TIMED_OUT build) and publishes the notices to SQS and SNS.
//!
//! SIGTERM (ECS StopTask) cancels the build: the executor kills the commands and the build ends STOPPED well
//! inside the task's stop timeout. The exit code is 0 once the build has a final status, 1 otherwise.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use kiln_aws::{AwsClients, AwsSecretResolver, AwsSettings, S3LogSink, S3ObjectStore, settings::log_key};
use kiln_core::build::{BuildId, PhaseContext, StatusType};
use kiln_core::ports::object_store::ObjectStore;
use kiln_core::usecases::Services;
use kiln_executor::outputs::{ArtifactTarget, CacheTarget};
use kiln_executor::source::SourceSpec;
use kiln_executor::{CancellationToken, Ports};
use serde_json::{Value, json};

use super::build::{
    build_request, cancel_on_sigterm, finish, guard_fork_secrets, now, packaging, spawn_recorder,
};
use super::fetch::fetch_source;
use kiln_aws::ecs::{Capacity, TaskSize};
use kiln_core::build::EstimatedCost;
use kiln_core::build::cost::{self, TaskUsage};

/// Runs build `build_id` in AWS mode; see the module docs.
pub async fn run_build(build_id: &str) -> anyhow::Result<ExitCode> {
    let settings = AwsSettings::from_env()?;
    let id = BuildId::parse(build_id).with_context(|| format!("build id {build_id:?} (KILN_BUILD_ID)"))?;
    let clients = settings.clients().await;
    let services = settings.services(&clients)?;
    let stop = CancellationToken::new();
    cancel_on_sigterm(stop.clone());
    let Some(stored) = services.builds.get(&id).await? else {
        bail!("build {:?} is not in table {}", id.as_str(), settings.table);
    };
    // The runner reads the record as JSON (the typed ports hand over a `Build`).
    let record = serde_json::to_value(&stored.build)?;
    if record["buildComplete"].as_bool() != Some(true) {
        let work = tempfile::Builder::new().prefix("kiln-build-").tempdir()?;
        let task = Task {
            settings: &settings,
            clients: &clients,
            services: &services,
            id: &id,
            started: std::time::Instant::now(),
        };
        if let Err(err) = task.run(&record, stored.number(), work.path(), stop).await {
            tracing::error!(build_id = %id, error = format!("{err:#}"), "the runner failed");
            let context = PhaseContext::new("CLIENT_ERROR", format!("the runner failed: {err:#}"));
            services
                .finish_early(&id, StatusType::Fault, context, now())
                .await?;
        }
    }
    let ended = services
        .builds
        .get(&id)
        .await?
        .is_some_and(|b| b.build.is_complete());
    Ok(if ended {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// One build in this task: what every step needs.
struct Task<'a> {
    settings: &'a AwsSettings,
    clients: &'a AwsClients,
    services: &'a Services,
    id: &'a BuildId,
    /// When the runner started, for the cost estimate.
    started: std::time::Instant,
}

impl Task<'_> {
    async fn run(
        &self,
        record: &Value,
        number: u64,
        work: &Path,
        stop: CancellationToken,
    ) -> anyhow::Result<()> {
        let project = match self.services.projects.get_project(&self.id.project()).await? {
            Some(project) => serde_json::to_value(project)?,
            None => Value::Null,
        };
        let secrets = Arc::new(AwsSecretResolver::new(
            self.clients.ssm.clone(),
            self.clients.secrets_manager.clone(),
        ));
        let logs_bucket = self.settings.logs_bucket()?;
        let log_key = log_key(self.id);
        let logs = json!({"s3LogsArn": format!("arn:aws:s3:::{logs_bucket}/{log_key}"),
            "s3Logs": {"status": "ENABLED", "location": format!("{logs_bucket}/{log_key}")}});
        let mut merged = record["logs"].clone();
        if let (Some(out), Some(add)) = (merged.as_object_mut(), logs.as_object()) {
            out.extend(add.clone());
            // The real CloudWatch names replace the ones the build was created with.
            let arn = record["arn"].as_str().unwrap_or_default();
            if let Some(cloudwatch) = super::awslogs::cloudwatch_logs(arn).await
                && let Some(cloudwatch) = cloudwatch.as_object()
            {
                out.extend(cloudwatch.clone());
            }
        }
        let merged = if merged.is_object() { merged } else { logs };
        self.services
            .annotate(self.id, json!({ "logs": merged }), now())
            .await?;

        let dir = match self
            .fetch(record, secrets.as_ref(), &work.join("src"), &stop)
            .await
        {
            Ok(dir) => dir,
            Err(ended) => return ended,
        };
        let request = {
            let mut request =
                build_request(record, self.id, number, SourceSpec::Dir(dir), work.join("work"))?;
            request.region.clone_from(&self.settings.region);
            request.account_id.clone_from(&self.settings.account_id);
            request
        };
        let build_arn = self.services.account.build_arn(self.id).to_string();
        let ports = Ports {
            log: Arc::new(S3LogSink::new(self.clients.s3.clone(), logs_bucket, log_key)),
            secrets: guard_fork_secrets(record, &project, secrets),
            terminal: Some(Box::new(std::io::stdout())),
            artifacts: Some(ArtifactTarget {
                store: Arc::new(
                    S3ObjectStore::new(self.clients.s3.clone(), self.settings.artifacts_bucket()?, "")
                        .with_build_arn(build_arn),
                ),
                key_prefix: format!("{}/{}", self.id.project(), self.id.uuid()),
                packaging: packaging(&project),
            }),
            cache: self.settings.cache_bucket.as_ref().map(|bucket| CacheTarget {
                store: Arc::new(S3ObjectStore::new(self.clients.s3.clone(), bucket, "")),
                location: kiln_executor::cache::CacheLocation::new("cache", self.id.project().as_str()),
            }),
        };
        let (events, received) = tokio::sync::mpsc::unbounded_channel();
        let recorder = spawn_recorder(self.services.clone(), self.id.clone(), received);
        let result = kiln_executor::run(request, ports, Some(events), stop).await;
        let finalizing = recorder.await.ok().flatten();
        let mut members = serde_json::Map::new();
        members.insert(
            "estimatedCost".into(),
            json!(self.estimated_cost(record, self.started.elapsed())),
        );
        finish(self.services, self.id, &result, finalizing, members).await
    }

    /// What this task costs at Fargate list prices: its size from the build's compute type, its capacity from
    /// the settings, this machine's architecture, and the runner's time so far (the image pull is not seen
    /// from inside the task, so the estimate is a little low).
    fn estimated_cost(&self, record: &Value, elapsed: std::time::Duration) -> EstimatedCost {
        let compute = record["environment"]["computeType"]
            .as_str()
            .unwrap_or("BUILD_GENERAL1_SMALL");
        let size = TaskSize::for_compute_type(compute).unwrap_or(TaskSize {
            cpu: 2048,
            memory_mib: 4096,
        });
        cost::estimate(TaskUsage {
            arm64: cfg!(target_arch = "aarch64"),
            spot: matches!(self.settings.capacity, Capacity::Spot { .. }),
            vcpu: f64::from(size.cpu) / 1024.0,
            memory_gib: f64::from(size.memory_mib) / 1024.0,
            seconds: elapsed.as_secs(),
        })
    }

    /// Fetches the source, within the build timeout and until SIGTERM; a failure ends the build (FAILED, or
    /// STOPPED/TIMED_OUT), given back as `Err(Ok(()))`.
    async fn fetch(
        &self,
        record: &Value,
        secrets: &AwsSecretResolver,
        dest: &Path,
        stop: &CancellationToken,
    ) -> Result<std::path::PathBuf, anyhow::Result<()>> {
        let minutes = record["timeoutInMinutes"].as_u64().unwrap_or(60);
        let s3 = |bucket: &str| -> Box<dyn ObjectStore> {
            Box::new(S3ObjectStore::new(self.clients.s3.clone(), bucket, ""))
        };
        let fetched = tokio::select! {
            fetched = tokio::time::timeout(
                std::time::Duration::from_secs(minutes * 60),
                fetch_source(record, s3, secrets, dest),
            ) => fetched,
            () = stop.cancelled() => {
                let context = PhaseContext::new("", "Build stopped while its source was downloaded");
                return Err(self.end(StatusType::Stopped, context).await);
            }
        };
        match fetched {
            Ok(Ok(dir)) => Ok(dir),
            Ok(Err(err)) => {
                tracing::warn!(build_id = %self.id, error = %err, "the source could not be fetched");
                let context = PhaseContext::new("CLIENT_ERROR", err.to_string());
                Err(self.end(StatusType::Failed, context).await)
            }
            Err(_) => {
                let context = PhaseContext::new("", "Build timed out while its source was downloaded");
                Err(self.end(StatusType::TimedOut, context).await)
            }
        }
    }

    async fn end(&self, status: StatusType, context: PhaseContext) -> anyhow::Result<()> {
        self.services
            .finish_early(self.id, status, context, now())
            .await?;
        Ok(())
    }
}
