//! What both runner modes share: turning a stored build record into the executor's [`BuildRequest`], recording
//! the executor's phase events through the use cases as they happen, and the final writes (descriptive members,
//! FINALIZING, and the executor's verdict if the phase records and the store ever disagree). Every write is a
//! use case, so a STOPPED or TIMED_OUT build is never overwritten.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::{Context, bail};
use kiln_core::build::{BuildId, FailureAction, PhaseContext, PhaseType, StatusType, Timestamp};
use kiln_core::ports::BoxFuture;
use kiln_core::ports::secrets::{SecretError, SecretRef, SecretResolver};
use kiln_core::project::{BuildspecRef, ForkPullRequests};
use kiln_core::usecases::Services;
use kiln_executor::artifacts::Packaging;
use kiln_executor::env::{EnvValue, EnvVarSpec};
use kiln_executor::source::{SourceSpec, codecommit_git_config};
use kiln_executor::{BuildEvent, BuildRequest, BuildResult, BuildspecSource, CancellationToken};
use serde_json::{Value, json};
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::task::JoinHandle;

/// The clock of the runner.
pub fn now() -> Timestamp {
    Timestamp::from(SystemTime::now())
}

/// The FINALIZING phase's end, held back until the result's members are recorded.
pub type Finalizing = Option<(StatusType, Vec<PhaseContext>)>;

/// The executor request for a stored build: buildspec, environment, timeout and identity from the record;
/// `source` and `work_dir` from the caller (each mode fetches differently).
pub fn build_request(
    record: &Value,
    id: &BuildId,
    number: u64,
    source: SourceSpec,
    work_dir: PathBuf,
) -> anyhow::Result<BuildRequest> {
    let buildspec = match BuildspecRef::classify(record["source"]["buildspec"].as_str().unwrap_or_default()) {
        BuildspecRef::Default => BuildspecSource::Default,
        BuildspecRef::Inline(text) => BuildspecSource::Inline(text),
        BuildspecRef::Path(path) => BuildspecSource::Path(path),
        BuildspecRef::S3(arn) => bail!("buildspec {arn:?} is in S3, which the runner cannot read yet"),
    };
    let mut request = BuildRequest::local(source, work_dir);
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

/// The git source of a record: repository URL (`source.location`), version and clone depth; CODECOMMIT
/// sources are fetched with this very binary as git's credential helper (`kiln git-credential-codecommit`).
pub fn git_source(record: &Value) -> anyhow::Result<SourceSpec> {
    let source = &record["source"];
    let git_config = if source["type"].as_str() == Some("CODECOMMIT") {
        let kiln =
            std::env::current_exe().context("cannot find the kiln executable for git's credential helper")?;
        codecommit_git_config(&kiln)
    } else {
        Vec::new()
    };
    Ok(SourceSpec::Git {
        url: source["location"].as_str().unwrap_or_default().to_owned(),
        version: record["sourceVersion"].as_str().map(str::to_owned),
        depth: clone_depth(record),
        git_config,
    })
}

/// The record's `source.gitCloneDepth` (0 = full history, which the executor treats as depth 1 for fetches).
pub fn clone_depth(record: &Value) -> u32 {
    record["source"]["gitCloneDepth"]
        .as_u64()
        .and_then(|d| u32::try_from(d).ok())
        .unwrap_or(0)
}

/// The project's artifact packaging (`NONE` = a folder of files, anything else ZIP).
pub fn packaging(project: &Value) -> Packaging {
    match project["artifacts"]["packaging"].as_str() {
        Some("NONE") => Packaging::None,
        _ => Packaging::Zip,
    }
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

/// Cancels `stop` on SIGTERM (what `kiln serve` and ECS StopTask send).
pub fn cancel_on_sigterm(stop: CancellationToken) {
    tokio::spawn(async move {
        if let Ok(mut term) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            term.recv().await;
            stop.cancel();
        }
    });
}

/// Records each phase the executor ends as it happens; returns FINALIZING's end, which [`finish`] records.
pub fn spawn_recorder(
    services: Services,
    id: BuildId,
    mut received: UnboundedReceiver<BuildEvent>,
) -> JoinHandle<Finalizing> {
    tokio::spawn(async move {
        // FINALIZING's end completes the build, after which nothing may change it: hold it back until the
        // result's members (commit, artifacts, exported variables) are recorded.
        let mut finalizing = None;
        while let Some(event) = received.recv().await {
            // Each phase record carries the on-failure action that chose the next phase, so the store's state
            // machine follows the executor's; if they ever disagree, `finish` ends the build with the
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
}

/// Records what only the result knows, then makes sure the build has ended with the executor's status.
/// `extra` members (e.g. the log location) are merged into the record with the result's.
pub async fn finish(
    services: &Services,
    id: &BuildId,
    result: &BuildResult,
    finalizing: Finalizing,
    extra: serde_json::Map<String, Value>,
) -> anyhow::Result<()> {
    let mut members = extra;
    if let Some(commit) = &result.resolved_source_version {
        members.insert("resolvedSourceVersion".into(), json!(commit));
    }
    let exported: Vec<Value> = result
        .exported_environment_variables
        .iter()
        .map(|v| json!({"name": v.name, "value": v.value}))
        .collect();
    members.insert("exportedEnvironmentVariables".into(), Value::Array(exported));
    let reports = kiln_executor::build_record::report_summaries(result);
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
    services.annotate(id, Value::Object(members), now()).await?;
    if let Some((status, contexts)) = finalizing {
        services
            .record_phase(
                id,
                PhaseType::Finalizing,
                status,
                FailureAction::Default,
                contexts,
                now(),
            )
            .await?;
    }
    let complete = services
        .builds
        .get(id)
        .await?
        .is_some_and(|s| s.build.is_complete());
    if !complete {
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
        services.finish_early(id, status, context, now()).await?;
    }
    Ok(())
}

/// The secrets a build's environment may resolve: `secrets`, unless the build is a pull request from a fork
/// and the project's `forkPullRequests.secrets` does not allow it — then every lookup is refused, naming the
/// policy. (The source credential is not affected: it reaches git only, never the build.)
pub fn guard_fork_secrets(
    record: &Value,
    project: &Value,
    secrets: Arc<dyn SecretResolver>,
) -> Arc<dyn SecretResolver> {
    let from_fork = record["trigger"]["fromFork"].as_bool() == Some(true);
    let policy: ForkPullRequests = project
        .get("forkPullRequests")
        .and_then(|p| serde_json::from_value(p.clone()).ok())
        .unwrap_or_default();
    if policy.allows_secrets(from_fork) {
        secrets
    } else {
        Arc::new(ForkNoSecrets)
    }
}

/// The resolver of a fork's pull-request build: every secret is refused, naming the policy.
struct ForkNoSecrets;

impl SecretResolver for ForkNoSecrets {
    fn resolve<'a>(&'a self, reference: &'a SecretRef) -> BoxFuture<'a, Result<String, SecretError>> {
        let name = match reference {
            SecretRef::Parameter(name) => name.clone(),
            SecretRef::Secret { secret_id, .. } => secret_id.clone(),
        };
        Box::pin(async move {
            Err(SecretError::NotFound {
                reference: name,
                hint: "builds of pull requests from forks get no secrets in this project; set \
                       forkPullRequests.secrets: true to allow it"
                    .into(),
            })
        })
    }
}
