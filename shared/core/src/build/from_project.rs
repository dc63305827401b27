//! Starting a build record from a project: the effective settings a new build copies from its project.

use super::ids::{AccountContext, BuildId};
use super::record::{Build, LogsLocation};
use super::time::Timestamp;
use crate::project::{LogsStatus, Project};

impl Build {
    /// A new build of `project` (SUBMITTED at `now`) carrying the project's source, source version, environment,
    /// cache, timeouts, service role and log location (group `/aws/codebuild/<project>` unless the project's
    /// `logsConfig` names one, stream = the build uuid, as CodeBuild does). Overrides are applied by the caller.
    pub fn for_project(
        project: &Project,
        id: BuildId,
        build_number: u64,
        account: &AccountContext,
        now: Timestamp,
    ) -> Self {
        let logs = logs_location(project, &id);
        let mut build = Build::new(id, build_number, account, now);
        build.source_version = project.source_version.clone();
        build.source = Some(project.source.clone());
        build.environment = Some(project.environment.clone());
        build.cache = project.cache.clone();
        build.service_role = project.service_role.clone();
        build.timeout_in_minutes = project.timeout_in_minutes;
        build.queued_timeout_in_minutes = project.queued_timeout_in_minutes;
        build.logs = Some(logs);
        build
    }
}

fn logs_location(project: &Project, id: &BuildId) -> LogsLocation {
    let cloud_watch = project
        .logs_config
        .as_ref()
        .and_then(|c| c.cloud_watch_logs.as_ref());
    let enabled = cloud_watch.is_none_or(|c| c.status == LogsStatus::Enabled);
    let group = cloud_watch.and_then(|c| c.group_name.clone());
    let stream = match cloud_watch.and_then(|c| c.stream_name.as_deref()) {
        Some(prefix) => format!("{prefix}/{}", id.uuid()),
        None => id.uuid().to_owned(),
    };
    LogsLocation {
        group_name: enabled.then(|| group.unwrap_or_else(|| format!("/aws/codebuild/{}", project.name))),
        stream_name: enabled.then_some(stream),
        cloud_watch_logs: cloud_watch.cloned(),
        s3_logs: project.logs_config.as_ref().and_then(|c| c.s3_logs.clone()),
        ..LogsLocation::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::{PhaseType, StatusType};
    use crate::project::KilnConfig;

    #[test]
    fn a_build_for_a_project_copies_its_effective_settings() {
        let config = KilnConfig::from_yaml(include_str!("../../../../examples/kiln.yaml")).unwrap();
        let web = config.project("web").unwrap();
        let id = BuildId::new(&web.name);
        let build = Build::for_project(
            web,
            id.clone(),
            3,
            &AccountContext::local(),
            Timestamp::from_epoch_millis(0),
        );
        assert_eq!(
            (build.current_phase(), build.build_status()),
            (PhaseType::Submitted, StatusType::InProgress)
        );
        assert_eq!(build.source_version.as_deref(), Some("main"));
        assert_eq!(build.timeout_in_minutes, 30);
        assert_eq!(build.environment.as_ref(), Some(&web.environment));
        let logs = build.logs.unwrap();
        assert_eq!(logs.group_name.as_deref(), Some("/aws/codebuild/web"));
        assert_eq!(logs.stream_name.as_deref(), Some(id.uuid()));
    }
}
