//! ECS on this machine: moto records the tasks RunTask starts but runs no container, so the box watches each
//! cluster of the stack and, for every new task, runs what the runner image's entrypoint runs (`kiln runner`)
//! as a child process, with the task definition's container environment plus the task's container overrides,
//! and the box's keys, region and moto endpoint standing in for the task role. Its output goes to
//! `<dir>/tasks/<task id>.log` (CloudWatch Logs on AWS).
//!
//! When the runner exits, the task is marked STOPPED in moto and an "ECS Task State Change" event (stop code
//! `EssentialContainerExited`, the container's exit code) goes on the box's bus; when someone stops the task
//! (StopBuild, the reaper), the runner gets SIGTERM and, after the container's `stopTimeout`, SIGKILL, and the
//! event says `UserInitiated`. moto's own task state machine is turned off (`manual`), so a task stays
//! RUNNING while its runner runs, as on ECS.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use kiln_aws::AwsClients;
use kiln_aws::provision::tasks::{self, ContainerView, TaskView};
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use crate::rules::Bus;

/// How often the clusters are looked at.
const POLL: Duration = Duration::from_millis(250);
/// ECS's stop timeout when the container sets none.
const DEFAULT_STOP_TIMEOUT: i32 = 30;

/// Runs the stack's build tasks.
pub struct TaskRunner {
    pub clients: AwsClients,
    /// Cluster names (or ARNs).
    pub clusters: Vec<String>,
    /// The `kiln` executable.
    pub kiln: PathBuf,
    /// Where task logs and work directories go.
    pub dir: PathBuf,
    /// What the task role and the Fargate platform give the container (credentials, region, endpoint).
    pub platform: Vec<(String, String)>,
    pub bus: Arc<Bus>,
}

impl TaskRunner {
    /// Watches the clusters until `shutdown`, then stops every runner still running.
    pub async fn run(self, shutdown: CancellationToken) {
        let this = Arc::new(self);
        let mut seen: HashSet<String> = HashSet::new();
        let mut stops: BTreeMap<String, oneshot::Sender<()>> = BTreeMap::new();
        let mut running = tokio::task::JoinSet::new();
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep(POLL) => {}
            }
            for cluster in &this.clusters {
                let tasks = match tasks::list_tasks(&this.clients, cluster).await {
                    Ok(tasks) => tasks,
                    Err(err) => {
                        tracing::warn!(cluster = %cluster, error = %err, "could not list the cluster's tasks");
                        continue;
                    }
                };
                for task in tasks {
                    if task.desired_status == "STOPPED" {
                        if let Some(stop) = stops.remove(&task.arn) {
                            let _ = stop.send(());
                        }
                    } else if seen.insert(task.arn.clone()) {
                        let (stop, stopped) = oneshot::channel();
                        stops.insert(task.arn.clone(), stop);
                        running.spawn(Arc::clone(&this).run_task(cluster.clone(), task, stopped));
                    }
                }
            }
            while running.try_join_next().is_some() {}
            stops.retain(|_, stop| !stop.is_closed());
        }
        for (_, stop) in std::mem::take(&mut stops) {
            let _ = stop.send(());
        }
        while running.join_next().await.is_some() {}
    }

    /// Runs one task's runner to its end, then reports the task stopped.
    async fn run_task(self: Arc<Self>, cluster: String, task: TaskView, stopped: oneshot::Receiver<()>) {
        let id = task.arn.rsplit('/').next().unwrap_or("task").to_owned();
        let containers = match tasks::containers(&self.clients, &task.task_definition_arn).await {
            Ok(containers) => containers,
            Err(err) => {
                tracing::error!(task = %task.arn, error = %err, "could not read the task definition");
                return;
            }
        };
        let Some(container) = containers
            .iter()
            .find(|c| c.essential)
            .or(containers.first())
            .cloned()
        else {
            tracing::error!(task = %task.arn, "the task definition has no container");
            return;
        };
        tracing::info!(task = %task.arn, container = %container.name, "build task started");
        let (exit_code, stopped_by_request) = match self.spawn(&id, &task, &container) {
            Ok(child) => self.wait(child, stopped, &container).await,
            Err(err) => {
                tracing::error!(task = %task.arn, error = %err, "could not start the runner");
                (None, false)
            }
        };
        let (stop_code, reason) = if stopped_by_request {
            (
                "UserInitiated",
                task.stopped_reason
                    .clone()
                    .unwrap_or_else(|| "Task stopped by user".into()),
            )
        } else {
            (
                "EssentialContainerExited",
                "Essential container in task exited".to_owned(),
            )
        };
        if !stopped_by_request
            && let Err(err) = tasks::stop_task(&self.clients, &cluster, &task.arn, &reason).await
        {
            tracing::warn!(task = %task.arn, error = %err, "could not mark the task stopped");
        }
        let event = self.bus.envelope(
            "aws.ecs",
            "ECS Task State Change",
            std::slice::from_ref(&task.arn),
            detail(&task, &container, exit_code, stop_code, &reason),
        );
        let rules = self.bus.put(&event);
        tracing::info!(task = %task.arn, exit_code = ?exit_code, stop_code, rules, "build task stopped");
    }

    fn spawn(
        &self,
        id: &str,
        task: &TaskView,
        container: &ContainerView,
    ) -> std::io::Result<tokio::process::Child> {
        let home = self.dir.join("tasks").join(id);
        std::fs::create_dir_all(&home)?;
        let log = std::fs::File::create(self.dir.join("tasks").join(format!("{id}.log")))?;
        let overrides = task
            .overrides
            .iter()
            .filter(|(name, _)| *name == container.name)
            .flat_map(|(_, env)| env.iter());
        let mut command = tokio::process::Command::new(&self.kiln);
        command
            .arg("runner")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", &home)
            .env("TMPDIR", &home)
            .envs(self.platform.iter().map(|(k, v)| (k, v)))
            .envs(container.environment.iter().map(|(k, v)| (k, v)))
            .envs(overrides.map(|(k, v)| (k, v)))
            .current_dir(&home)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true);
        command.spawn()
    }

    /// Waits for the runner; a stop request sends SIGTERM, then SIGKILL after the stop timeout. Returns the
    /// exit code and whether the task was stopped on request.
    async fn wait(
        &self,
        mut child: tokio::process::Child,
        stopped: oneshot::Receiver<()>,
        container: &ContainerView,
    ) -> (Option<i32>, bool) {
        tokio::select! {
            status = child.wait() => (status.ok().and_then(|s| s.code()), false),
            Ok(()) = stopped => {
                if let Some(pid) = child.id().and_then(|p| i32::try_from(p).ok()) {
                    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGTERM);
                }
                let timeout = u64::try_from(container.stop_timeout.unwrap_or(DEFAULT_STOP_TIMEOUT)).unwrap_or(30);
                let status = match tokio::time::timeout(Duration::from_secs(timeout), child.wait()).await {
                    Ok(status) => status.ok(),
                    Err(_) => {
                        let _ = child.kill().await;
                        child.wait().await.ok()
                    }
                };
                (status.and_then(|s| s.code()).or(Some(137)), true)
            }
        }
    }
}

/// The `detail` of ECS's "ECS Task State Change" event for a stopped task.
fn detail(
    task: &TaskView,
    container: &ContainerView,
    exit_code: Option<i32>,
    stop_code: &str,
    reason: &str,
) -> Value {
    let now = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
    let overrides: Vec<Value> = task
        .overrides
        .iter()
        .map(|(name, env)| {
            let environment: Vec<Value> = env.iter().map(|(k, v)| json!({"name": k, "value": v})).collect();
            json!({"name": name, "environment": environment})
        })
        .collect();
    let mut container_detail = json!({"name": container.name, "lastStatus": "STOPPED", "taskArn": task.arn});
    if let Some(code) = exit_code {
        container_detail["exitCode"] = json!(code);
    }
    json!({
        "clusterArn": task.cluster_arn,
        "taskArn": task.arn,
        "taskDefinitionArn": task.task_definition_arn,
        "group": task.group,
        "launchType": "FARGATE",
        "capacityProviderName": task.capacity_provider,
        "lastStatus": "STOPPED",
        "desiredStatus": "STOPPED",
        "startedBy": task.started_by,
        "stopCode": stop_code,
        "stoppedReason": reason,
        "stoppingAt": now,
        "stoppedAt": now,
        "containers": [container_detail],
        "overrides": {"containerOverrides": overrides},
        "version": 4
    })
}
