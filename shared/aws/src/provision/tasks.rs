//! The tasks ECS (moto) recorded on a cluster, read as plain values, and stopping one: what the box needs to
//! run each task's container itself.

use aws_sdk_ecs::types::Task;

use super::{ProvisionError, backend};
use crate::AwsClients;

/// One task as DescribeTasks reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskView {
    pub arn: String,
    pub cluster_arn: String,
    pub task_definition_arn: String,
    pub started_by: Option<String>,
    pub group: Option<String>,
    pub desired_status: String,
    pub last_status: String,
    pub stopped_reason: Option<String>,
    pub capacity_provider: Option<String>,
    /// The container overrides: container name and its environment overrides.
    pub overrides: Vec<(String, Vec<(String, String)>)>,
}

/// One container of a task definition, as the box runs it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerView {
    pub name: String,
    pub essential: bool,
    pub environment: Vec<(String, String)>,
    /// Seconds between SIGTERM and SIGKILL (ECS's default is 30).
    pub stop_timeout: Option<i32>,
}

/// Every task of `cluster` ECS knows, whatever its status.
pub async fn list_tasks(clients: &AwsClients, cluster: &str) -> Result<Vec<TaskView>, ProvisionError> {
    let listed = clients
        .ecs
        .list_tasks()
        .cluster(cluster)
        .send()
        .await
        .map_err(backend("list the tasks of cluster", cluster))?;
    let arns = listed.task_arns().to_vec();
    if arns.is_empty() {
        return Ok(Vec::new());
    }
    let mut views = Vec::new();
    for chunk in arns.chunks(100) {
        let described = clients
            .ecs
            .describe_tasks()
            .cluster(cluster)
            .set_tasks(Some(chunk.to_vec()))
            .send()
            .await
            .map_err(backend("describe the tasks of cluster", cluster))?;
        views.extend(described.tasks().iter().map(view));
    }
    Ok(views)
}

fn view(task: &Task) -> TaskView {
    let owned = |s: Option<&str>| s.map(str::to_owned);
    let overrides = task
        .overrides()
        .map(|o| o.container_overrides())
        .unwrap_or_default()
        .iter()
        .map(|c| {
            let environment = c
                .environment()
                .iter()
                .filter_map(|kv| Some((kv.name()?.to_owned(), kv.value().unwrap_or_default().to_owned())))
                .collect();
            (c.name().unwrap_or_default().to_owned(), environment)
        })
        .collect();
    TaskView {
        arn: task.task_arn().unwrap_or_default().to_owned(),
        cluster_arn: task.cluster_arn().unwrap_or_default().to_owned(),
        task_definition_arn: task.task_definition_arn().unwrap_or_default().to_owned(),
        started_by: owned(task.started_by()),
        group: owned(task.group()),
        desired_status: task.desired_status().unwrap_or_default().to_owned(),
        last_status: task.last_status().unwrap_or_default().to_owned(),
        stopped_reason: owned(task.stopped_reason()),
        capacity_provider: owned(task.capacity_provider_name()),
        overrides,
    }
}

/// The containers of a task definition.
pub async fn containers(
    clients: &AwsClients,
    task_definition: &str,
) -> Result<Vec<ContainerView>, ProvisionError> {
    let output = clients
        .ecs
        .describe_task_definition()
        .task_definition(task_definition)
        .send()
        .await
        .map_err(backend("describe task definition", task_definition))?;
    let definitions = output
        .task_definition()
        .map(|t| t.container_definitions())
        .unwrap_or_default();
    Ok(definitions
        .iter()
        .map(|c| ContainerView {
            name: c.name().unwrap_or_default().to_owned(),
            essential: c.essential().unwrap_or(true),
            environment: c
                .environment()
                .iter()
                .filter_map(|kv| Some((kv.name()?.to_owned(), kv.value().unwrap_or_default().to_owned())))
                .collect(),
            stop_timeout: c.stop_timeout(),
        })
        .collect())
}

/// Marks a task STOPPED with `reason` (what ECS records once the task's essential container has exited).
pub async fn stop_task(
    clients: &AwsClients,
    cluster: &str,
    task: &str,
    reason: &str,
) -> Result<(), ProvisionError> {
    clients
        .ecs
        .stop_task()
        .cluster(cluster)
        .task(task)
        .reason(reason)
        .send()
        .await
        .map_err(backend("stop task", task))?;
    Ok(())
}
