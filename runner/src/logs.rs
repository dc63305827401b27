//! Where a build's logs are, as a deployment knows them before the build starts (on AWS: the S3 object the log
//! sink writes and the awslogs stream of the task): recorded over the locations the build was created with.

use kiln_core::build::{BuildId, LogsLocation};
use kiln_core::usecases::Services;
use serde::Serialize;

use crate::{RunnerError, now};

/// The `logs` member, serialised once for the `annotate` use case.
#[derive(Serialize)]
struct LogsMember<'a> {
    logs: &'a LogsLocation,
}

/// Records `extra`'s locations over `current` (the build's own) on build `id`.
pub async fn record(
    services: &Services,
    id: &BuildId,
    current: Option<&LogsLocation>,
    extra: &LogsLocation,
) -> Result<(), RunnerError> {
    let logs = overlay(current.cloned().unwrap_or_default(), extra);
    let member = serde_json::to_value(LogsMember { logs: &logs })?;
    services.annotate(id, member, now()).await?;
    Ok(())
}

/// `base` with every location `over` gives replacing its own.
pub fn overlay(base: LogsLocation, over: &LogsLocation) -> LogsLocation {
    let LogsLocation {
        group_name,
        stream_name,
        deep_link,
        s3_deep_link,
        cloud_watch_logs_arn,
        s3_logs_arn,
        cloud_watch_logs,
        s3_logs,
    } = over.clone();
    LogsLocation {
        group_name: group_name.or(base.group_name),
        stream_name: stream_name.or(base.stream_name),
        deep_link: deep_link.or(base.deep_link),
        s3_deep_link: s3_deep_link.or(base.s3_deep_link),
        cloud_watch_logs_arn: cloud_watch_logs_arn.or(base.cloud_watch_logs_arn),
        s3_logs_arn: s3_logs_arn.or(base.s3_logs_arn),
        cloud_watch_logs: cloud_watch_logs.or(base.cloud_watch_logs),
        s3_logs: s3_logs.or(base.s3_logs),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_core::project::{LogsStatus, S3LogsConfig};

    #[test]
    fn the_deployments_locations_replace_the_builds_own_and_keep_the_rest() {
        let base = LogsLocation {
            group_name: Some("/aws/codebuild/web".into()),
            stream_name: Some("uuid".into()),
            s3_deep_link: Some("kept".into()),
            ..LogsLocation::default()
        };
        let over = LogsLocation {
            group_name: Some("/kiln/builds".into()),
            s3_logs_arn: Some("arn:aws:s3:::logs/web/uuid.log".into()),
            s3_logs: Some(S3LogsConfig {
                status: LogsStatus::Enabled,
                location: Some("logs/web/uuid.log".into()),
                encryption_disabled: None,
                bucket_owner_access: None,
            }),
            ..LogsLocation::default()
        };
        let merged = overlay(base, &over);
        assert_eq!(merged.group_name.as_deref(), Some("/kiln/builds"));
        assert_eq!(merged.stream_name.as_deref(), Some("uuid"));
        assert_eq!(merged.s3_deep_link.as_deref(), Some("kept"));
        assert_eq!(merged.s3_logs_arn, over.s3_logs_arn);
        assert_eq!(merged.s3_logs, over.s3_logs);
    }
}
