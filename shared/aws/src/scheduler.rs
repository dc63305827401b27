//! EventBridge Scheduler: the schedules of one schedule group (the stack's), read and written for
//! `kiln projects apply` ([`kiln_core::usecases::apply_projects`] decides what changes).
//!
//! Every schedule invokes one target (the `schedule` function) with the stack's invoke role, with no flexible
//! time window, and is enabled.

use aws_sdk_scheduler::types::{FlexibleTimeWindow, FlexibleTimeWindowMode, ScheduleState, Target};

use kiln_core::usecases::apply_projects::{DesiredSchedule, ExistingSchedule, ScheduleTarget};

/// A Scheduler call that failed.
#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    #[error("eventbridge scheduler {operation} of {name:?} in group {group:?} failed: {message}")]
    Call {
        operation: &'static str,
        name: String,
        group: String,
        message: String,
    },
    #[error("eventbridge scheduler {operation}: {message}")]
    Request {
        operation: &'static str,
        message: String,
    },
}

/// The schedules of one group.
#[derive(Debug, Clone)]
pub struct ScheduleGroup {
    client: aws_sdk_scheduler::Client,
    group: String,
}

fn display<E: std::error::Error>(err: E) -> String {
    // The SDK's Display is only the error kind; the chain carries the service's message.
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}

impl ScheduleGroup {
    /// The group `group`, reached with the environment's region and credentials (and `endpoint_override`).
    pub async fn from_env(endpoint_override: Option<&str>, group: impl Into<String>) -> ScheduleGroup {
        let config = super::config::load_sdk_config(endpoint_override).await;
        ScheduleGroup::new(aws_sdk_scheduler::Client::new(&config), group)
    }

    /// The group `group` at `endpoint` with static credentials (tests against moto).
    pub async fn with_static_credentials(
        endpoint: &str,
        region: &str,
        access_key_id: &str,
        secret_access_key: &str,
        group: impl Into<String>,
    ) -> ScheduleGroup {
        let config =
            super::config::load_static_sdk_config(endpoint, region, access_key_id, secret_access_key).await;
        ScheduleGroup::new(aws_sdk_scheduler::Client::new(&config), group)
    }

    /// The group `group` through `client`.
    pub fn new(client: aws_sdk_scheduler::Client, group: impl Into<String>) -> ScheduleGroup {
        ScheduleGroup {
            client,
            group: group.into(),
        }
    }

    /// The group's name.
    pub fn name(&self) -> &str {
        &self.group
    }

    fn failed(&self, operation: &'static str, name: &str, err: impl std::error::Error) -> SchedulerError {
        SchedulerError::Call {
            operation,
            name: name.to_owned(),
            group: self.group.clone(),
            message: display(err),
        }
    }

    /// Creates the group (tests and first-time setups; the template creates it on AWS). An existing group is fine.
    pub async fn create_group(&self) -> Result<(), SchedulerError> {
        let result = self.client.create_schedule_group().name(&self.group).send().await;
        match result {
            Ok(_) => Ok(()),
            Err(err) if err.as_service_error().is_some_and(|e| e.is_conflict_exception()) => Ok(()),
            Err(err) => Err(self.failed("CreateScheduleGroup", &self.group, err)),
        }
    }

    /// Every schedule of the group whose name starts with `prefix` (all of them for `""`), read in full.
    pub async fn list(&self, prefix: &str) -> Result<Vec<ExistingSchedule>, SchedulerError> {
        let mut names = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .client
                .list_schedules()
                .group_name(&self.group)
                .set_name_prefix((!prefix.is_empty()).then(|| prefix.to_owned()))
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|err| self.failed("ListSchedules", prefix, err))?;
            // The prefix filter is the server's; the check keeps a lenient server from widening it.
            names.extend(
                page.schedules()
                    .iter()
                    .filter_map(|s| s.name())
                    .filter(|n| n.starts_with(prefix))
                    .map(str::to_owned),
            );
            match page.next_token() {
                Some(next) if !next.is_empty() => token = Some(next.to_owned()),
                _ => break,
            }
        }
        let mut out = Vec::with_capacity(names.len());
        for name in names {
            out.push(self.get(&name).await?);
        }
        Ok(out)
    }

    async fn get(&self, name: &str) -> Result<ExistingSchedule, SchedulerError> {
        let got = self
            .client
            .get_schedule()
            .group_name(&self.group)
            .name(name)
            .send()
            .await
            .map_err(|err| self.failed("GetSchedule", name, err))?;
        let target = got.target();
        Ok(ExistingSchedule {
            name: name.to_owned(),
            expression: got.schedule_expression().unwrap_or_default().to_owned(),
            timezone: got.schedule_expression_timezone().map(str::to_owned),
            input: target
                .and_then(|t| t.input())
                .and_then(|text| serde_json::from_str(text).ok()),
            target_arn: target.map(|t| t.arn().to_owned()).unwrap_or_default(),
            role_arn: target.map(|t| t.role_arn().to_owned()).unwrap_or_default(),
            enabled: got.state() != Some(&ScheduleState::Disabled),
        })
    }

    fn target(&self, schedule: &DesiredSchedule, target: &ScheduleTarget) -> Result<Target, SchedulerError> {
        Target::builder()
            .arn(&target.arn)
            .role_arn(&target.role_arn)
            .input(schedule.input.to_string())
            .build()
            .map_err(|err| self.failed("Target", &schedule.name, err))
    }

    fn window(&self, name: &str) -> Result<FlexibleTimeWindow, SchedulerError> {
        FlexibleTimeWindow::builder()
            .mode(FlexibleTimeWindowMode::Off)
            .build()
            .map_err(|err| self.failed("FlexibleTimeWindow", name, err))
    }

    /// Creates `schedule`.
    pub async fn create(
        &self,
        schedule: &DesiredSchedule,
        target: &ScheduleTarget,
    ) -> Result<(), SchedulerError> {
        self.client
            .create_schedule()
            .group_name(&self.group)
            .name(&schedule.name)
            .schedule_expression(&schedule.expression)
            .schedule_expression_timezone(&schedule.timezone)
            .flexible_time_window(self.window(&schedule.name)?)
            .target(self.target(schedule, target)?)
            .state(ScheduleState::Enabled)
            .description(format!("kiln: project {}", schedule.project))
            .send()
            .await
            .map_err(|err| self.failed("CreateSchedule", &schedule.name, err))?;
        Ok(())
    }

    /// Replaces `schedule` (UpdateSchedule sets every field, so nothing stale survives).
    pub async fn update(
        &self,
        schedule: &DesiredSchedule,
        target: &ScheduleTarget,
    ) -> Result<(), SchedulerError> {
        self.client
            .update_schedule()
            .group_name(&self.group)
            .name(&schedule.name)
            .schedule_expression(&schedule.expression)
            .schedule_expression_timezone(&schedule.timezone)
            .flexible_time_window(self.window(&schedule.name)?)
            .target(self.target(schedule, target)?)
            .state(ScheduleState::Enabled)
            .description(format!("kiln: project {}", schedule.project))
            .send()
            .await
            .map_err(|err| self.failed("UpdateSchedule", &schedule.name, err))?;
        Ok(())
    }

    /// Deletes the schedule `name`; a schedule that is already gone is fine.
    pub async fn delete(&self, name: &str) -> Result<(), SchedulerError> {
        let result = self
            .client
            .delete_schedule()
            .group_name(&self.group)
            .name(name)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception()) =>
            {
                Ok(())
            }
            Err(err) => Err(self.failed("DeleteSchedule", name, err)),
        }
    }
}
