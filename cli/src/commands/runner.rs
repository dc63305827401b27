//! `kiln runner --build-id ID --data-dir DIR`: the child process `kiln serve` starts for each build, in its
//! own process group. It reads the build and its project from SQLite, runs the executor, records each phase
//! and the final status conditionally (a stopped or timed-out build is never overwritten), and writes the log
//! to `<data-dir>/logs/<project>/<uuid>.log`. SIGTERM stops the build (STOPPED).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::{Context, bail};
use kiln_runner::artifacts::Packaging;
use kiln_runner::env::{EnvValue, EnvVarSpec};
use kiln_runner::outputs::{ArtifactTarget, CacheTarget};
use kiln_runner::source::SourceSpec;
use kiln_runner::{BuildEvent, BuildRequest, BuildResult, BuildspecSource, CancellationToken, Ports};
use kiln_shared::adapters::local::log_file::FileLogSink;
use kiln_shared::adapters::local::object_store::DirObjectStore;
use kiln_shared::adapters::local::secrets::LocalSecrets;
use kiln_shared::build::FailureAction;
use kiln_shared::build::{BuildId, PhaseContext, PhaseType, StatusType, Timestamp};
use kiln_shared::ports::secrets::SecretRef;
use kiln_shared::project::{BuildspecRef, ForkPullRequests};
use serde_json::{Value, json};

use super::serve::{DataDir, local_services};

/// Arguments of `kiln runner`.
#[derive(Debug, clap::Args)]
pub struct RunnerArgs {
    /// The build to run (`project:uuid`).
    #[arg(long)]
    pub build_id: String,
    /// The server's data directory.
    #[arg(long)]
    pub data_dir: PathBuf,
    /// Parameter Store / Secrets Manager values for builds (`kiln serve --secrets-file`).
    #[arg(long)]
    pub secrets_file: Option<PathBuf>,
}

/// The secrets a build may resolve: none for a pull request from a fork unless the project's
/// `forkPullRequests.secrets` allows it, else the server's secrets file.
fn secrets_for(
    record: &Value,
    project: &Value,
    file: Option<&std::path::Path>,
) -> anyhow::Result<Arc<dyn kiln_shared::ports::secrets::SecretResolver>> {
    let from_fork = record["trigger"]["fromFork"].as_bool() == Some(true);
    let policy: ForkPullRequests = project
        .get("forkPullRequests")
        .and_then(|p| serde_json::from_value(p.clone()).ok())
        .unwrap_or_default();
    if !policy.allows_secrets(from_fork) {
        return Ok(Arc::new(ForkNoSecrets));
    }
    let mut secrets = LocalSecrets::new();
    if let Some(file) = file {
        secrets.load_file(file)?;
    }
    Ok(Arc::new(secrets))
}

/// The resolver of a fork's pull-request build: every secret is refused, naming the policy.
struct ForkNoSecrets;

impl kiln_shared::ports::secrets::SecretResolver for ForkNoSecrets {
    fn resolve<'a>(
        &'a self,
        reference: &'a SecretRef,
    ) -> kiln_shared::ports::BoxFuture<'a, Result<String, kiln_shared::ports::secrets::SecretError>> {
        let name = match reference {
            SecretRef::Parameter(name) => name.clone(),
            SecretRef::Secret { secret_id, .. } => secret_id.clone(),
        };
        Box::pin(async move {
            Err(kiln_shared::ports::secrets::SecretError::NotFound {
                reference: name,
                hint: "builds of pull requests from forks get no secrets in this project; set \
                       forkPullRequests.secrets: true to allow it"
                    .into(),
            })
        })
    }
}

fn now() -> Timestamp {
    Timestamp::from(SystemTime::now())
}

/// Runs one build to its end.
pub fn run(args: RunnerArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(run_build(args))
}

async fn run_build(args: RunnerArgs) -> anyhow::Result<ExitCode> {
    let data = DataDir::new(args.data_dir);
    let (store, services) = local_services(&data, 1, None)?;
    let id = BuildId::parse(&args.build_id).context("--build-id")?;
    let Some(stored) = store.get_sync(id.as_str())? else {
        bail!("build {:?} is not in {}", id.as_str(), data.db().display());
    };
    if stored.record["buildComplete"].as_bool() == Some(true) {
        return Ok(ExitCode::SUCCESS);
    }
    let project = store.get_project_sync(&stored.project)?.unwrap_or(Value::Null);
    let log_path = data.log_path(&id);
    let request = request(&stored.record, &data, &id, stored.number)?;
    let store_dir: Arc<DirObjectStore> = Arc::new(DirObjectStore::new(data.root().join("objects")));
    let packaging = project["artifacts"]["packaging"].as_str().map(|p| {
        if p == "NONE" {
            Packaging::None
        } else {
            Packaging::Zip
        }
    });
    let ports = Ports {
        log: Arc::new(FileLogSink::create(&log_path)?),
        secrets: secrets_for(&stored.record, &project, args.secrets_file.as_deref())?,
        terminal: None,
        artifacts: Some(ArtifactTarget {
            store: store_dir.clone(),
            key_prefix: format!("artifacts/{}/{}", id.project(), id.uuid()),
            packaging: packaging.unwrap_or(Packaging::Zip),
        }),
        cache: Some(CacheTarget {
            store: store_dir,
            location: kiln_runner::cache::CacheLocation::new("cache", id.project().as_str()),
        }),
    };
    let stop = CancellationToken::new();
    let on_term = stop.clone();
    tokio::spawn(async move {
        if let Ok(mut term) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            term.recv().await;
            on_term.cancel();
        }
    });
    let (events, mut received) = tokio::sync::mpsc::unbounded_channel();
    let recorder = {
        let services = services.clone();
        let id = id.to_string();
        tokio::spawn(async move {
            // FINALIZING's end completes the build, after which nothing may change it: hold it back until
            // the result's members (commit, artifacts, exported variables) are recorded.
            let mut finalizing = None;
            while let Some(event) = received.recv().await {
                // Each phase record carries the on-failure action that chose the next phase, so the store's
                // state machine follows the executor's; if they ever disagree, `finish` ends the build with the
                // executor's status.
                if let BuildEvent::PhaseEnded(phase) = event {
                    let Some(status) = phase.phase_status else {
                        continue;
                    };
                    let contexts: Vec<PhaseContext> = phase
                        .contexts
                        .iter()
                        .map(|c| PhaseContext::new(&c.status_code, &c.message))
                        .collect();
                    if phase.phase_type == PhaseType::Finalizing {
                        finalizing = Some((status, contexts));
                        continue;
                    }
                    let recorded = services
                        .record_phase(&id, phase.phase_type, status, phase.action, contexts, now())
                        .await;
                    if let Err(err) = recorded {
                        tracing::warn!(build_id = %id, error = %err, "phase not recorded");
                    }
                }
            }
            finalizing
        })
    };
    let result = kiln_runner::run(request, ports, Some(events), stop).await;
    let finalizing = recorder.await.ok().flatten();
    finish(&services, &id, &result, finalizing).await?;
    Ok(ExitCode::SUCCESS)
}

/// Records what only the result knows, then makes sure the build has ended with the executor's status.
async fn finish(
    services: &kiln_shared::usecases::Services,
    id: &BuildId,
    result: &BuildResult,
    finalizing: Option<(StatusType, Vec<PhaseContext>)>,
) -> anyhow::Result<()> {
    let mut members = serde_json::Map::new();
    if let Some(commit) = &result.resolved_source_version {
        members.insert("resolvedSourceVersion".into(), json!(commit));
    }
    let exported: Vec<Value> = result
        .exported_environment_variables
        .iter()
        .map(|v| json!({"name": v.name, "value": v.value}))
        .collect();
    members.insert("exportedEnvironmentVariables".into(), Value::Array(exported));
    let reports = kiln_runner::build_record::report_summaries(result);
    if !reports.is_empty() {
        members.insert("reportSummaries".into(), json!(reports));
    }
    if let Some(primary) = result.artifacts.first() {
        let mut artifact = json!({"location": primary.location, "sha256sum": primary.sha256sum});
        if let Some(md5) = &primary.md5sum {
            artifact["md5sum"] = json!(md5);
        }
        members.insert("artifacts".into(), artifact);
    }
    services
        .annotate(id.as_str(), Value::Object(members), now())
        .await?;
    if let Some((status, contexts)) = finalizing {
        services
            .record_phase(
                id.as_str(),
                PhaseType::Finalizing,
                status,
                FailureAction::Default,
                contexts,
                now(),
            )
            .await?;
    }
    let record = services
        .builds
        .get(id.as_str())
        .await?
        .map(|s| s.record)
        .unwrap_or(Value::Null);
    if record["buildComplete"].as_bool() != Some(true) {
        // The phase records and the store disagreed somewhere: end the build with the executor's verdict.
        let status = match result.build_status {
            StatusType::Failed | StatusType::Fault | StatusType::TimedOut | StatusType::Stopped => {
                result.build_status
            }
            StatusType::Succeeded | StatusType::InProgress => StatusType::Fault,
        };
        let context = PhaseContext::new(
            "CLIENT_ERROR",
            format!("the executor ended with {}", result.build_status.as_str()),
        );
        services.finish_early(id.as_str(), status, context, now()).await?;
    }
    Ok(())
}

fn request(record: &Value, data: &DataDir, id: &BuildId, number: u64) -> anyhow::Result<BuildRequest> {
    let source = &record["source"];
    let location = source["location"].as_str().unwrap_or_default();
    let source_spec = match source["type"].as_str().unwrap_or("NO_SOURCE") {
        "NO_SOURCE" => SourceSpec::Dir(data.work_dir(id).join("empty")),
        _ => SourceSpec::Git {
            url: location.to_owned(),
            version: record["sourceVersion"].as_str().map(str::to_owned),
            depth: source["gitCloneDepth"]
                .as_u64()
                .and_then(|d| u32::try_from(d).ok())
                .unwrap_or(0),
        },
    };
    if let SourceSpec::Dir(dir) = &source_spec {
        std::fs::create_dir_all(dir).ok();
    }
    let buildspec = match BuildspecRef::classify(source["buildspec"].as_str().unwrap_or_default()) {
        BuildspecRef::Default => BuildspecSource::Default,
        BuildspecRef::Inline(text) => BuildspecSource::Inline(text),
        BuildspecRef::Path(path) => BuildspecSource::Path(path),
        BuildspecRef::S3(arn) => bail!("buildspec {arn:?} is in S3, which `kiln serve` cannot read"),
    };
    let mut request = BuildRequest::local(source_spec, data.work_dir(id));
    request.project = id.project().to_string();
    request.build_id = Some(id.to_string());
    request.build_number = number;
    request.initiator = record["initiator"].as_str().unwrap_or("kiln").to_owned();
    request.buildspec = buildspec;
    request.override_env = env_specs(&record["environment"]["environmentVariables"]);
    request.webhook_env = record["webhookVariables"]
        .as_array()
        .map(|vars| {
            vars.iter()
                .filter_map(|v| Some((v["name"].as_str()?.to_owned(), v["value"].as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default();
    request.timeout = Duration::from_secs(record["timeoutInMinutes"].as_u64().unwrap_or(60) * 60);
    request.image = record["environment"]["image"]
        .as_str()
        .unwrap_or("kiln/local")
        .to_owned();
    request.region = "local".into();
    Ok(request)
}

fn env_specs(vars: &Value) -> Vec<EnvVarSpec> {
    let Some(vars) = vars.as_array() else {
        return Vec::new();
    };
    vars.iter()
        .filter_map(|v| {
            let name = v["name"].as_str()?.to_owned();
            let value = v["value"].as_str().unwrap_or_default().to_owned();
            let value = match v["type"].as_str() {
                Some("PARAMETER_STORE") => EnvValue::Secret(SecretRef::Parameter(value)),
                Some("SECRETS_MANAGER") => EnvValue::Secret(SecretRef::Secret {
                    secret_id: value,
                    json_key: None,
                    version_stage: None,
                    version_id: None,
                }),
                _ => EnvValue::Plain(value),
            };
            Some(EnvVarSpec { name, value })
        })
        .collect()
}
