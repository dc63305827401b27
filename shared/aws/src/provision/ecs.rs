//! The ECS cluster, its capacity providers and the task definition.

use aws_sdk_ecs::types::{
    CapacityProviderStrategyItem, Compatibility, ContainerDefinition, CpuArchitecture, KeyValuePair,
    NetworkMode, OsFamily, RuntimePlatform,
};

use super::{ProvisionError, backend, invalid};
use crate::AwsClients;

/// A task definition as `AWS::ECS::TaskDefinition` declares it (the members Kiln's template uses).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskDefinitionSpec {
    pub family: String,
    pub cpu: Option<String>,
    pub memory: Option<String>,
    pub network_mode: Option<String>,
    pub requires_compatibilities: Vec<String>,
    pub task_role_arn: Option<String>,
    pub execution_role_arn: Option<String>,
    /// `X86_64` or `ARM64`.
    pub cpu_architecture: Option<String>,
    /// `LINUX`, ...
    pub operating_system_family: Option<String>,
    pub containers: Vec<ContainerSpec>,
}

/// One container definition.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerSpec {
    pub name: String,
    pub image: String,
    pub essential: Option<bool>,
    /// Hard memory limit (MiB).
    pub memory: Option<i32>,
    /// Seconds between SIGTERM and SIGKILL when the task stops.
    pub stop_timeout: Option<i32>,
    pub environment: Vec<(String, String)>,
    pub command: Vec<String>,
}

/// Creates a cluster; returns its ARN.
pub async fn create_cluster(clients: &AwsClients, name: &str) -> Result<String, ProvisionError> {
    let output = clients
        .ecs
        .create_cluster()
        .cluster_name(name)
        .send()
        .await
        .map_err(backend("create cluster", name))?;
    Ok(output
        .cluster()
        .and_then(|c| c.cluster_arn())
        .unwrap_or_default()
        .to_owned())
}

/// Associates capacity providers with a cluster, with a default strategy of (provider, weight) items.
pub async fn put_capacity_providers(
    clients: &AwsClients,
    cluster: &str,
    providers: &[String],
    default_strategy: &[(String, i32)],
) -> Result<(), ProvisionError> {
    const ACTION: &str = "associate capacity providers with cluster";
    let strategy = default_strategy
        .iter()
        .map(|(provider, weight)| {
            CapacityProviderStrategyItem::builder()
                .capacity_provider(provider)
                .weight(*weight)
                .build()
                .map_err(|e| invalid(ACTION, cluster, e))
        })
        .collect::<Result<Vec<_>, _>>()?;
    clients
        .ecs
        .put_cluster_capacity_providers()
        .cluster(cluster)
        .set_capacity_providers(Some(providers.to_vec()))
        .set_default_capacity_provider_strategy(Some(strategy))
        .send()
        .await
        .map_err(backend(ACTION, cluster))?;
    Ok(())
}

/// Registers the task definition; returns its ARN (with the revision).
pub async fn register_task_definition(
    clients: &AwsClients,
    spec: &TaskDefinitionSpec,
) -> Result<String, ProvisionError> {
    const ACTION: &str = "register task definition";
    let family = spec.family.as_str();
    let containers = spec
        .containers
        .iter()
        .map(container)
        .collect::<Vec<ContainerDefinition>>();
    let mut request = clients
        .ecs
        .register_task_definition()
        .family(family)
        .set_cpu(spec.cpu.clone())
        .set_memory(spec.memory.clone())
        .set_task_role_arn(spec.task_role_arn.clone())
        .set_execution_role_arn(spec.execution_role_arn.clone())
        .set_container_definitions(Some(containers));
    if let Some(mode) = &spec.network_mode {
        request = request.network_mode(NetworkMode::from(mode.as_str()));
    }
    for compatibility in &spec.requires_compatibilities {
        request = request.requires_compatibilities(Compatibility::from(compatibility.as_str()));
    }
    if spec.cpu_architecture.is_some() || spec.operating_system_family.is_some() {
        request = request.runtime_platform(
            RuntimePlatform::builder()
                .set_cpu_architecture(spec.cpu_architecture.as_deref().map(CpuArchitecture::from))
                .set_operating_system_family(spec.operating_system_family.as_deref().map(OsFamily::from))
                .build(),
        );
    }
    let output = request.send().await.map_err(backend(ACTION, family))?;
    output
        .task_definition()
        .and_then(|t| t.task_definition_arn())
        .map(str::to_owned)
        .ok_or_else(|| invalid(ACTION, family, "ECS answered no task definition ARN"))
}

fn container(spec: &ContainerSpec) -> ContainerDefinition {
    let environment = spec
        .environment
        .iter()
        .map(|(name, value)| KeyValuePair::builder().name(name).value(value).build())
        .collect();
    ContainerDefinition::builder()
        .name(&spec.name)
        .image(&spec.image)
        .set_essential(spec.essential)
        .set_memory(spec.memory)
        .set_stop_timeout(spec.stop_timeout)
        .set_environment(Some(environment))
        .set_command((!spec.command.is_empty()).then(|| spec.command.clone()))
        .build()
}
