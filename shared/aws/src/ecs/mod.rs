//! The ECS launcher: one Fargate task per build, on FARGATE or FARGATE_SPOT through a capacity provider
//! strategy, with an on-demand fallback when Spot has no capacity and the project allows it.
//!
//! RunTask reports capacity and placement problems in its `failures` list with HTTP 200; those are classified
//! by [`super::retry::is_capacity_failure`] and, like throttling, come back as retryable errors.

mod overrides;

pub use overrides::{
    BUILD_ID_VARIABLE, MAX_OVERRIDES_CHARS, TaskSize, client_token, overrides_json, started_by, task_override,
};

use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, CapacityProviderStrategyItem, NetworkConfiguration,
};

use super::retry::{describe, is_capacity_failure, is_retryable};
use kiln_core::build::BuildId;
use kiln_core::ports::BoxFuture;
use kiln_core::ports::launcher::{LaunchError, TaskLauncher};

/// Which Fargate capacity a build runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capacity {
    /// FARGATE.
    OnDemand,
    /// FARGATE_SPOT; with `fallback`, FARGATE when Spot has no capacity.
    Spot { fallback: bool },
}

/// Where and how build tasks run: cluster, task definition, network, defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcsSettings {
    pub cluster: String,
    /// `family[:revision]` or ARN of the runner task definition.
    pub task_definition: String,
    /// The runner container's name in the task definition.
    pub container: String,
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
    pub assign_public_ip: bool,
    /// Capacity for [`TaskLauncher::launch`], which knows only the build id.
    pub capacity: Capacity,
    /// Size for [`TaskLauncher::launch`].
    pub size: TaskSize,
    /// A few variables every runner gets (table name, queue URLs), beside `KILN_BUILD_ID`.
    pub environment: Vec<(String, String)>,
}

/// One task to start: the build and the project's size and capacity choice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskRequest {
    pub build_id: String,
    pub size: TaskSize,
    pub capacity: Capacity,
}

/// Starts, stops and watches build tasks on ECS.
#[derive(Debug, Clone)]
pub struct EcsLauncher {
    client: aws_sdk_ecs::Client,
    settings: EcsSettings,
}

impl EcsLauncher {
    /// A launcher for the cluster and task definition in `settings`.
    pub fn new(client: aws_sdk_ecs::Client, settings: EcsSettings) -> EcsLauncher {
        EcsLauncher { client, settings }
    }

    /// Starts the task for `request`; returns its ARN.
    pub async fn run(&self, request: &TaskRequest) -> Result<String, LaunchError> {
        match request.capacity {
            Capacity::OnDemand => self.run_on(request, "FARGATE").await,
            Capacity::Spot { fallback } => match self.run_on(request, "FARGATE_SPOT").await {
                Err(LaunchError::Backend {
                    message,
                    retryable: true,
                }) if fallback && is_capacity_failure(&message) => {
                    tracing::warn!(build_id = %request.build_id, reason = %message, "no FARGATE_SPOT capacity; falling back to FARGATE");
                    self.run_on(request, "FARGATE").await
                }
                other => other,
            },
        }
    }

    async fn run_on(&self, request: &TaskRequest, provider: &str) -> Result<String, LaunchError> {
        let launch_error = |message: String| LaunchError::Launch {
            build_id: request.build_id.clone(),
            message,
        };
        let started_by = started_by(&request.build_id).ok_or_else(|| {
            launch_error(
                "the build id does not end in a uuid, so it cannot be the task's startedBy".to_owned(),
            )
        })?;
        let overrides = task_override(
            &self.settings.container,
            &request.build_id,
            request.size,
            &self.settings.environment,
        );
        let size = overrides_json(&overrides).len();
        if size >= MAX_OVERRIDES_CHARS {
            return Err(launch_error(format!(
                "the task overrides are {size} characters, over RunTask's {MAX_OVERRIDES_CHARS}; pass fewer or \
                 shorter runner variables"
            )));
        }
        let strategy = CapacityProviderStrategyItem::builder()
            .capacity_provider(provider)
            .weight(1)
            .build()
            .map_err(|e| launch_error(e.to_string()))?;
        let output = self
            .client
            .run_task()
            .cluster(&self.settings.cluster)
            .task_definition(&self.settings.task_definition)
            .capacity_provider_strategy(strategy)
            .count(1)
            .started_by(started_by)
            .client_token(client_token(&request.build_id, provider))
            .overrides(overrides)
            .network_configuration(self.network()?)
            .send()
            .await
            .map_err(|e| LaunchError::Backend {
                message: describe(&e),
                retryable: is_retryable(&e),
            })?;
        if let Some(arn) = output.tasks().first().and_then(|t| t.task_arn()) {
            return Ok(arn.to_owned());
        }
        let reasons: Vec<String> = output
            .failures()
            .iter()
            .map(|f| {
                format!(
                    "{} {}",
                    f.reason().unwrap_or("unknown"),
                    f.detail().unwrap_or_default()
                )
            })
            .collect();
        let message = format!("RunTask on {provider} started no task: {}", reasons.join("; "));
        Err(LaunchError::Backend {
            retryable: reasons.iter().any(|r| is_capacity_failure(r)),
            message,
        })
    }

    fn network(&self) -> Result<NetworkConfiguration, LaunchError> {
        let vpc = AwsVpcConfiguration::builder()
            .set_subnets(Some(self.settings.subnets.clone()))
            .set_security_groups(Some(self.settings.security_groups.clone()))
            .assign_public_ip(if self.settings.assign_public_ip {
                AssignPublicIp::Enabled
            } else {
                AssignPublicIp::Disabled
            })
            .build()
            .map_err(|e| LaunchError::Backend {
                message: format!("network configuration: {e}"),
                retryable: false,
            })?;
        Ok(NetworkConfiguration::builder().awsvpc_configuration(vpc).build())
    }

    /// Stops a task with CodeBuild's StopBuild reason; a task ECS no longer knows is already stopped.
    pub async fn stop_task(&self, task: &str) -> Result<(), LaunchError> {
        let result = self
            .client
            .stop_task()
            .cluster(&self.settings.cluster)
            .task(task)
            .reason("Build stopped by user")
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_invalid_parameter_exception()) =>
            {
                let message = describe(&err);
                if message.to_ascii_lowercase().contains("not found") {
                    Ok(())
                } else {
                    Err(LaunchError::BadTask {
                        task: task.to_owned(),
                        reason: message,
                    })
                }
            }
            Err(err) => Err(LaunchError::Backend {
                message: describe(&err),
                retryable: is_retryable(&err),
            }),
        }
    }

    /// Whether ECS still reports the task as not STOPPED.
    pub async fn task_alive(&self, task: &str) -> Result<bool, LaunchError> {
        let output = self
            .client
            .describe_tasks()
            .cluster(&self.settings.cluster)
            .tasks(task)
            .send()
            .await
            .map_err(|e| LaunchError::Backend {
                message: describe(&e),
                retryable: is_retryable(&e),
            })?;
        Ok(output
            .tasks()
            .first()
            .and_then(|t| t.last_status())
            .is_some_and(|status| status != "STOPPED" && status != "DELETED"))
    }
}

impl TaskLauncher for EcsLauncher {
    fn launch<'a>(&'a self, build_id: &'a BuildId) -> BoxFuture<'a, Result<String, LaunchError>> {
        Box::pin(async move {
            let request = TaskRequest {
                build_id: build_id.to_string(),
                size: self.settings.size,
                capacity: self.settings.capacity,
            };
            self.run(&request).await
        })
    }

    fn stop<'a>(&'a self, task: &'a str) -> BoxFuture<'a, Result<(), LaunchError>> {
        Box::pin(self.stop_task(task))
    }

    fn is_alive<'a>(&'a self, task: &'a str) -> BoxFuture<'a, Result<bool, LaunchError>> {
        Box::pin(self.task_alive(task))
    }
}
