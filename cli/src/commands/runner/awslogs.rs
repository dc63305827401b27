//! Where the awslogs driver writes this task's output: the build record's `logs.groupName`, `streamName`,
//! `deepLink` and `cloudWatchLogsArn`, as CodeBuild fills them.
//!
//! ECS gives every container the URL of its metadata in `ECS_CONTAINER_METADATA_URI_V4`; the container's
//! metadata names its log driver and, for awslogs, the group, the region and the stream
//! (`<prefix>/<container>/<task id>`). Outside ECS, or with another log driver, there is nothing to record.

use std::time::Duration;

use serde_json::{Value, json};

/// The environment variable ECS sets to the container's metadata URL.
pub const METADATA_VARIABLE: &str = "ECS_CONTAINER_METADATA_URI_V4";

/// The `logs` members naming this container's CloudWatch Logs stream, for a build whose ARN is `build_arn`
/// (the account comes from it); `None` when there is no metadata endpoint or no awslogs driver. A metadata
/// endpoint that does not answer is logged and treated the same: the build does not depend on it.
pub async fn cloudwatch_logs(build_arn: &str) -> Option<Value> {
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

async fn fetch(url: &str) -> Result<Value, reqwest::Error> {
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
pub fn logs_members(metadata: &Value, build_arn: &str) -> Option<Value> {
    if metadata["LogDriver"].as_str() != Some("awslogs") {
        return None;
    }
    let options = &metadata["LogOptions"];
    let group = options["awslogs-group"].as_str()?;
    let stream = options["awslogs-stream"].as_str()?;
    let region = options["awslogs-region"].as_str()?;
    let account = build_arn.split(':').nth(4).unwrap_or_default();
    Some(json!({
        "groupName": group,
        "streamName": stream,
        "deepLink": format!(
            "https://console.aws.amazon.com/cloudwatch/home?region={region}#logEvent:group={group};stream={stream}"
        ),
        "cloudWatchLogsArn": format!("arn:aws:logs:{region}:{account}:log-group:{group}:log-stream:{stream}"),
        "cloudWatchLogs": {"status": "ENABLED"},
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_awslogs_options_of_the_container_become_codebuild_log_members() {
        let metadata = json!({
            "Name": "runner",
            "LogDriver": "awslogs",
            "LogOptions": {"awslogs-group": "/kiln/ci/builds", "awslogs-region": "eu-west-1",
                           "awslogs-stream": "build/runner/0f3c9d3e1a2b4c5d"}
        });
        let logs = logs_members(
            &metadata,
            "arn:aws:codebuild:eu-west-1:123456789012:build/web:8745a7a9",
        )
        .unwrap();
        assert_eq!(logs["groupName"], "/kiln/ci/builds");
        assert_eq!(logs["streamName"], "build/runner/0f3c9d3e1a2b4c5d");
        assert_eq!(
            logs["deepLink"],
            "https://console.aws.amazon.com/cloudwatch/home?region=eu-west-1#logEvent:group=/kiln/ci/builds;\
             stream=build/runner/0f3c9d3e1a2b4c5d"
        );
        assert_eq!(
            logs["cloudWatchLogsArn"],
            "arn:aws:logs:eu-west-1:123456789012:log-group:/kiln/ci/builds:log-stream:build/runner/0f3c9d3e1a2b4c5d"
        );
        assert_eq!(logs["cloudWatchLogs"]["status"], "ENABLED");
    }

    #[test]
    fn another_log_driver_or_missing_options_name_nothing() {
        assert!(logs_members(&json!({"LogDriver": "json-file"}), "arn").is_none());
        assert!(logs_members(&json!({"LogDriver": "awslogs", "LogOptions": {}}), "arn").is_none());
    }
}
