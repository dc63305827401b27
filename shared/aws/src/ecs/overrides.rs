//! What goes into RunTask for one build: the task size, the container overrides (only the build id and a few
//! variables — RunTask caps serialized overrides at 8,192 characters, so the buildspec and environment are read
//! by the runner from the store), the `clientToken` and the `startedBy` value.

use aws_sdk_ecs::types::{ContainerOverride, KeyValuePair, TaskOverride};
use sha2::{Digest, Sha256};

/// RunTask's limit on the serialized `overrides` member.
pub const MAX_OVERRIDES_CHARS: usize = 8192;
/// The environment variable carrying the build id into the runner.
pub const BUILD_ID_VARIABLE: &str = "KILN_BUILD_ID";

/// A Fargate task size: CPU units and memory in MiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskSize {
    pub cpu: u32,
    pub memory_mib: u32,
}

impl TaskSize {
    /// The nearest Fargate size for a CodeBuild compute type; `None` for types Fargate cannot run
    /// (`BUILD_GENERAL1_2XLARGE`, Lambda and GPU types).
    pub fn for_compute_type(compute_type: &str) -> Option<TaskSize> {
        let (cpu, memory_mib) = match compute_type {
            "BUILD_GENERAL1_SMALL" => (2048, 4096),
            "BUILD_GENERAL1_MEDIUM" => (4096, 8192),
            "BUILD_GENERAL1_LARGE" => (8192, 16384),
            "BUILD_GENERAL1_XLARGE" => (16384, 73728),
            _ => return None,
        };
        Some(TaskSize { cpu, memory_mib })
    }
}

/// The `startedBy` value of a build's task: the uuid part of `project:uuid` (ECS allows at most 36 characters
/// of letters, digits, `-`, `/` and `_`, which a uuid fills exactly).
pub fn started_by(build_id: &str) -> Option<&str> {
    let uuid = build_id.rsplit(':').next()?;
    let valid = !uuid.is_empty()
        && uuid.len() <= 36
        && uuid
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '/' | '_'));
    valid.then_some(uuid)
}

/// A RunTask `clientToken` derived from the build id and the capacity provider (≤ 64 ASCII characters): the
/// same launch retried is deduplicated by ECS, while the on-demand fallback after a Spot shortage is a
/// different request and must not reuse the Spot attempt's token (ECS would answer ConflictException).
pub fn client_token(build_id: &str, capacity_provider: &str) -> String {
    let digest = Sha256::digest(format!("{build_id}\n{capacity_provider}").as_bytes());
    hex::encode(&digest[..32])
}

/// The task overrides: size, and the runner container's environment (`KILN_BUILD_ID` plus `extra`).
pub fn task_override(
    container: &str,
    build_id: &str,
    size: TaskSize,
    extra: &[(String, String)],
) -> TaskOverride {
    let environment = std::iter::once((BUILD_ID_VARIABLE, build_id))
        .chain(extra.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .map(|(name, value)| KeyValuePair::builder().name(name).value(value).build())
        .collect();
    TaskOverride::builder()
        .container_overrides(
            ContainerOverride::builder()
                .name(container)
                .set_environment(Some(environment))
                .build(),
        )
        .cpu(size.cpu.to_string())
        .memory(size.memory_mib.to_string())
        .build()
}

/// The overrides as RunTask serializes them (the JSON whose length ECS limits).
pub fn overrides_json(overrides: &TaskOverride) -> String {
    let containers: Vec<serde_json::Value> = overrides
        .container_overrides()
        .iter()
        .map(|c| {
            let environment: Vec<serde_json::Value> = c
                .environment()
                .iter()
                .map(|kv| serde_json::json!({"name": kv.name(), "value": kv.value()}))
                .collect();
            serde_json::json!({"name": c.name(), "environment": environment})
        })
        .collect();
    serde_json::json!({
        "containerOverrides": containers,
        "cpu": overrides.cpu(),
        "memory": overrides.memory(),
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "web:8745a7a9-c340-456a-9166-edf953571bff";

    #[test]
    fn started_by_is_the_uuid_and_fits_ecs_limit() {
        assert_eq!(started_by(ID), Some("8745a7a9-c340-456a-9166-edf953571bff"));
        assert_eq!(started_by("web:not a uuid"), None);
    }

    #[test]
    fn client_tokens_are_stable_short_and_differ_per_capacity_provider() {
        let spot = client_token(ID, "FARGATE_SPOT");
        assert_eq!(spot, client_token(ID, "FARGATE_SPOT"));
        assert_ne!(spot, client_token(ID, "FARGATE"));
        assert!(spot.len() <= 64 && spot.is_ascii());
    }

    #[test]
    fn overrides_with_a_long_project_name_and_a_few_variables_stay_under_eight_kilobytes() {
        let id = format!("{}:8745a7a9-c340-456a-9166-edf953571bff", "p".repeat(255));
        let extra: Vec<(String, String)> = (0..8)
            .map(|i| (format!("KILN_VAR_{i}"), "v".repeat(256)))
            .collect();
        let size = TaskSize::for_compute_type("BUILD_GENERAL1_LARGE").expect("known type");
        let json = overrides_json(&task_override("runner", &id, size, &extra));
        assert!(json.len() < MAX_OVERRIDES_CHARS, "{} characters", json.len());
        assert!(json.contains(&id));
    }

    #[test]
    fn compute_types_map_to_fargate_sizes() {
        assert_eq!(
            TaskSize::for_compute_type("BUILD_GENERAL1_SMALL"),
            Some(TaskSize {
                cpu: 2048,
                memory_mib: 4096
            })
        );
        assert_eq!(TaskSize::for_compute_type("BUILD_GENERAL1_2XLARGE"), None);
    }
}
