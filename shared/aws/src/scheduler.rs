//! EventBridge Scheduler: the schedules of one schedule group (the stack's), read and written for
//! `kiln projects apply` and, through [`SchedulerSync`], for the API's CreateProject, UpdateProject and
//! DeleteProject ([`kiln_core::usecases::apply_projects`] decides what changes).
//!
//! Every schedule invokes one target (the `schedule` function) with the stack's invoke role, with no flexible
//! time window, and is enabled.

use aws_sdk_scheduler::types::{FlexibleTimeWindow, FlexibleTimeWindowMode, ScheduleState, Target};

use kiln_core::ports::BoxFuture;
use kiln_core::ports::schedules::{ScheduleSync, ScheduleSyncError};
use kiln_core::usecases::apply_projects::{
    DesiredSchedule, ExistingSchedule, SchedulePlan, ScheduleTarget, plan_schedules,
};

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
        self.find(name).await?.ok_or_else(|| SchedulerError::Call {
            operation: "GetSchedule",
            name: name.to_owned(),
            group: self.group.clone(),
            message: "listed, then not found".into(),
        })
    }

    /// Schedule `name`, or `None` when the group has no such schedule.
    pub async fn find(&self, name: &str) -> Result<Option<ExistingSchedule>, SchedulerError> {
        let result = self
            .client
            .get_schedule()
            .group_name(&self.group)
            .name(name)
            .send()
            .await;
        let got = match result {
            Ok(got) => got,
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception()) =>
            {
                return Ok(None);
            }
            Err(err) => return Err(self.failed("GetSchedule", name, err)),
        };
        let target = got.target();
        Ok(Some(ExistingSchedule {
            name: name.to_owned(),
            expression: got.schedule_expression().unwrap_or_default().to_owned(),
            timezone: got.schedule_expression_timezone().map(str::to_owned),
            input: target
                .and_then(|t| t.input())
                .and_then(|text| serde_json::from_str(text).ok()),
            target_arn: target.map(|t| t.arn().to_owned()).unwrap_or_default(),
            role_arn: target.map(|t| t.role_arn().to_owned()).unwrap_or_default(),
            enabled: got.state() != Some(&ScheduleState::Disabled),
        }))
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

/// [`ScheduleSync`] on EventBridge Scheduler: a project's schedules in the stack's group, invoking `target`.
/// It reads only the schedules it is told of (GetSchedule on each name, the old definition's and the new
/// one's), so its role needs no ListSchedules, which IAM grants only on every resource.
#[derive(Debug, Clone)]
pub struct SchedulerSync {
    pub group: ScheduleGroup,
    pub target: ScheduleTarget,
}

impl SchedulerSync {
    async fn apply(
        &self,
        known: &[String],
        desired: &[DesiredSchedule],
    ) -> Result<SchedulePlan, SchedulerError> {
        let mut names: Vec<&str> = known.iter().map(String::as_str).collect();
        names.extend(desired.iter().map(|d| d.name.as_str()));
        names.sort_unstable();
        names.dedup();
        let mut existing = Vec::new();
        for name in names {
            existing.extend(self.group.find(name).await?);
        }
        let plan = plan_schedules(desired, &existing, &self.target);
        for schedule in &plan.create {
            self.group.create(schedule, &self.target).await?;
        }
        for schedule in &plan.update {
            self.group.update(schedule, &self.target).await?;
        }
        for name in &plan.delete {
            self.group.delete(name).await?;
        }
        Ok(plan)
    }
}

impl ScheduleSync for SchedulerSync {
    fn sync<'a>(
        &'a self,
        project: &'a str,
        known: &'a [String],
        desired: &'a [DesiredSchedule],
    ) -> BoxFuture<'a, Result<SchedulePlan, ScheduleSyncError>> {
        Box::pin(async move {
            self.apply(known, desired).await.map_err(|err| ScheduleSyncError {
                project: project.to_owned(),
                message: err.to_string(),
            })
        })
    }
}
