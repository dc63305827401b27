//! The ports of `kiln runner` in its ECS task (no `--data-dir`), from the task's `KILN_*` environment
//! ([`AwsSettings`]): DynamoDB and the use cases (notices to SQS and SNS), the log to one S3 object and to
//! stdout (CloudWatch through awslogs), SSM and Secrets Manager for variables and repository tokens, S3 for
//! artifacts, cache and S3 sources, a temporary scratch directory; and the extras: the task's log names
//! ([`super::awslogs`]) recorded before the build starts, and its cost at Fargate list prices when it ends.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use kiln_aws::ecs::Capacity;
use kiln_aws::{AwsClients, AwsSecretResolver, AwsSettings, S3LogSink, S3ObjectStore, settings::log_key};
use kiln_core::build::cost::{self, TaskUsage};
use kiln_core::build::{Build, BuildId, EstimatedCost, LogsLocation};
use kiln_core::ports::logs::LogSink;
use kiln_core::ports::object_store::ObjectStore;
use kiln_core::project::{ComputeType, FargateSize, LogsStatus, S3LogsConfig};
use kiln_core::usecases::Services;
use kiln_executor::CancellationToken;
use kiln_executor::cache::CacheLocation;
use kiln_executor::outputs::CacheTarget;
use kiln_executor::source::Buckets;
use kiln_runner::{ArtifactStore, Extras, Outcome, RunnerPorts};

use super::{awslogs, located, source_fetcher};

/// Runs build `build_id` in this task.
pub async fn run_build(build_id: &str, stop: CancellationToken) -> anyhow::Result<Outcome> {
    let settings = AwsSettings::from_env()?;
    let id = super::build_id(build_id)?;
    let clients = settings.clients().await;
    let services = settings.services(&clients)?;
    let work = tempfile::Builder::new()
        .prefix("kiln-build-")
        .tempdir()
        .context("could not create the build's scratch directory")?;
    let ports = ports(&settings, &clients, services, &id, work.path()).await?;
    kiln_runner::run_build(&id, ports, stop)
        .await
        .map_err(|err| located(err, &id, &format!("table {}", settings.table)))
}

/// The ports of build `id` in this task, working in `work`.
async fn ports(
    settings: &AwsSettings,
    clients: &AwsClients,
    services: Services,
    id: &BuildId,
    work: &Path,
) -> anyhow::Result<RunnerPorts> {
    let secrets = Arc::new(AwsSecretResolver::new(
        clients.ssm.clone(),
        clients.secrets_manager.clone(),
    ));
    let (logs_bucket, log_key) = (settings.logs_bucket()?.to_owned(), log_key(id));
    let build_arn = services.account.build_arn(id).to_string();
    let mut logs = s3_logs(&logs_bucket, &log_key);
    if let Some(task) = awslogs::cloudwatch_logs(&build_arn).await {
        logs = kiln_runner::logs::overlay(logs, &task);
    }
    let s3 = clients.s3.clone();
    let spot = matches!(settings.capacity, Capacity::Spot { .. });
    Ok(RunnerPorts {
        services,
        log: Box::new(move || Ok(Arc::new(S3LogSink::new(s3, logs_bucket, log_key)) as Arc<dyn LogSink>)),
        secrets: secrets.clone(),
        terminal: Some(Box::new(std::io::stdout())),
        artifacts: Some(ArtifactStore {
            store: Arc::new(
                S3ObjectStore::new(clients.s3.clone(), settings.artifacts_bucket()?, "")
                    .with_build_arn(build_arn),
            ),
            key_prefix: format!("{}/{}", id.project(), id.uuid()),
        }),
        cache: settings.cache_bucket.as_ref().map(|bucket| CacheTarget {
            store: Arc::new(S3ObjectStore::new(clients.s3.clone(), bucket, "")),
            location: CacheLocation::new("cache", id.project().as_str()),
        }),
        source: source_fetcher()?
            .with_buckets(buckets(clients))
            .with_tokens(secrets),
        work_dir: work.join("work"),
        extras: Extras {
            logs: Some(logs),
            cost: Some(Box::new(move |build: &Build, elapsed| {
                estimated_cost(build, spot, elapsed)
            })),
        },
    })
}

/// Every bucket's objects through S3, for S3 sources.
fn buckets(clients: &AwsClients) -> Buckets {
    let s3 = clients.s3.clone();
    Arc::new(move |bucket: &str| -> Arc<dyn ObjectStore> {
        Arc::new(S3ObjectStore::new(s3.clone(), bucket, ""))
    })
}

/// The `logs` members naming the S3 object the log sink writes.
fn s3_logs(bucket: &str, key: &str) -> LogsLocation {
    LogsLocation {
        s3_logs_arn: Some(format!("arn:aws:s3:::{bucket}/{key}")),
        s3_logs: Some(S3LogsConfig {
            status: LogsStatus::Enabled,
            location: Some(format!("{bucket}/{key}")),
            encryption_disabled: None,
            bucket_owner_access: None,
        }),
        ..LogsLocation::default()
    }
}

/// What this task costs at Fargate list prices: its size from the build's environment, its capacity from the
/// settings, this machine's architecture, and the runner's time so far (the image pull is not seen from inside
/// the task, so the estimate is a little low).
fn estimated_cost(build: &Build, spot: bool, elapsed: Duration) -> EstimatedCost {
    let size = build
        .environment
        .as_ref()
        .map_or(ComputeType::Small.fargate_size(), |e| e.compute.fargate_size());
    let FargateSize { cpu, memory } = size;
    cost::estimate(TaskUsage {
        arm64: cfg!(target_arch = "aarch64"),
        spot,
        vcpu: f64::from(cpu) / 1024.0,
        memory_gib: f64::from(memory) / 1024.0,
        seconds: elapsed.as_secs(),
    })
}
