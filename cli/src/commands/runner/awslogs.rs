//! Where the awslogs driver writes this task's output: the build record's `logs.groupName`, `streamName`,
//! `deepLink` and `cloudWatchLogsArn`, as CodeBuild fills them.
//!
//! ECS gives every container the URL of its metadata in `ECS_CONTAINER_METADATA_URI_V4`; the container's
//! metadata names its log driver and, for awslogs, the group, the region and the stream
//! (`<prefix>/<container>/<task id>`). Outside ECS, or with another log driver, there is nothing to record.

use std::time::Duration;

use kiln_core::build::LogsLocation;
use kiln_core::project::{CloudWatchLogsConfig, LogsStatus};
use serde::Deserialize;

/// The environment variable ECS sets to the container's metadata URL.
pub const METADATA_VARIABLE: &str = "ECS_CONTAINER_METADATA_URI_V4";

/// What the runner reads of the container metadata (ECS task metadata endpoint v4).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerMetadata {
    #[serde(default)]
    log_driver: Option<String>,
    #[serde(default)]
    log_options: LogOptions,
}

/// The awslogs driver's options.
#[derive(Debug, Default, Deserialize)]
struct LogOptions {
    #[serde(rename = "awslogs-group")]
    group: Option<String>,
    #[serde(rename = "awslogs-stream")]
    stream: Option<String>,
    #[serde(rename = "awslogs-region")]
    region: Option<String>,
}

/// The `logs` members naming this container's CloudWatch Logs stream, for a build whose ARN is `build_arn`
/// (the account comes from it); `None` when there is no metadata endpoint or no awslogs driver. A metadata
/// endpoint that does not answer is logged and treated the same: the build does not depend on it.
pub async fn cloudwatch_logs(build_arn: &str) -> Option<LogsLocation> {
    let url = std::env::var(METADATA_VARIABLE).ok()?;
    let metadata = match fetch(&url).await {
        Ok(metadata) => metadata,
        Err(err) => {
            tracing::warn!(url = %url, error = %err, "no container metadata: the record keeps its log names");
            return None;
        }
    };
    logs_members(&metadata, build_arn)
}

async fn fetch(url: &str) -> Result<ContainerMetadata, reqwest::Error> {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()?
        .get(url)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await
}

/// The record's `logs` members from a container's metadata (see the module docs).
pub fn logs_members(metadata: &ContainerMetadata, build_arn: &str) -> Option<LogsLocation> {
    if metadata.log_driver.as_deref() != Some("awslogs") {
        return None;
    }
    let options = &metadata.log_options;
    let (group, stream, region) = (
        options.group.as_deref()?,
        options.stream.as_deref()?,
        options.region.as_deref()?,
    );
    let account = build_arn.split(':').nth(4).unwrap_or_default();
    Some(LogsLocation {
        group_name: Some(group.to_owned()),
        stream_name: Some(stream.to_owned()),
        deep_link: Some(format!(
            "https://console.aws.amazon.com/cloudwatch/home?region={region}#logEvent:group={group};stream={stream}"
        )),
        cloud_watch_logs_arn: Some(format!(
            "arn:aws:logs:{region}:{account}:log-group:{group}:log-stream:{stream}"
        )),
        cloud_watch_logs: Some(CloudWatchLogsConfig {
            status: LogsStatus::Enabled,
            group_name: None,
            stream_name: None,
        }),
        ..LogsLocation::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn metadata(value: serde_json::Value) -> ContainerMetadata {
        serde_json::from_value(value).expect("container metadata")
    }

    #[test]
    fn the_awslogs_options_of_the_container_become_codebuild_log_members() {
        let metadata = metadata(json!({
            "Name": "runner",
            "LogDriver": "awslogs",
            "LogOptions": {"awslogs-group": "/kiln/ci/builds", "awslogs-region": "eu-west-1",
                           "awslogs-stream": "build/runner/0f3c9d3e1a2b4c5d"}
        }));
        let logs = logs_members(
            &metadata,
            "arn:aws:codebuild:eu-west-1:123456789012:build/web:8745a7a9",
        )
        .unwrap();
        assert_eq!(logs.group_name.as_deref(), Some("/kiln/ci/builds"));
        assert_eq!(logs.stream_name.as_deref(), Some("build/runner/0f3c9d3e1a2b4c5d"));
        assert_eq!(
            logs.deep_link.as_deref(),
            Some(
                "https://console.aws.amazon.com/cloudwatch/home?region=eu-west-1#logEvent:group=/kiln/ci/builds;\
                 stream=build/runner/0f3c9d3e1a2b4c5d"
            )
        );
        assert_eq!(
            logs.cloud_watch_logs_arn.as_deref(),
            Some(
                "arn:aws:logs:eu-west-1:123456789012:log-group:/kiln/ci/builds:log-stream:build/runner/0f3c9d3e1a2b4c5d"
            )
        );
        assert_eq!(logs.cloud_watch_logs.map(|c| c.status), Some(LogsStatus::Enabled));
    }

    #[test]
    fn another_log_driver_or_missing_options_name_nothing() {
        assert!(logs_members(&metadata(json!({"LogDriver": "json-file"})), "arn").is_none());
        assert!(
            logs_members(
                &metadata(json!({"LogDriver": "awslogs", "LogOptions": {}})),
                "arn"
            )
            .is_none()
        );
    }
}
