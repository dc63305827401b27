//! `kiln projects apply`: what must change so the deployed projects' EventBridge Scheduler schedules match
//! `kiln.yaml`. Pure: the caller reads the schedules that exist (through `kiln_aws::scheduler`), asks for a
//! plan, and applies it.
//!
//! Each schedule of a project is one EventBridge schedule named `<project>.<schedule>` in the stack's group
//! (`.` appears in neither name, so a project's schedules are exactly those with the prefix `<project>.`).
//! It invokes the `schedule` function with [`schedule_input`].

use serde_json::Value;

use crate::project::{EnvironmentVariable, KilnConfig, Project, Schedule};

/// Longest name EventBridge Scheduler accepts.
pub const MAX_SCHEDULE_NAME: usize = 64;

/// Why the schedules of a `kiln.yaml` cannot be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    #[error(
        "schedule {schedule:?} of project {project:?}: the schedule name {name:?} is {len} characters, EventBridge Scheduler allows {MAX_SCHEDULE_NAME}; shorten the schedule name"
    )]
    NameTooLong {
        project: String,
        schedule: String,
        name: String,
        len: usize,
    },
}

/// A schedule as `kiln.yaml` wants it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredSchedule {
    /// `<project>.<schedule>`.
    pub name: String,
    /// The project it builds.
    pub project: String,
    /// `rate(..)`, `cron(..)` or `at(..)`.
    pub expression: String,
    /// IANA time zone (`UTC` when the schedule names none).
    pub timezone: String,
    /// The JSON the `schedule` function receives.
    pub input: Value,
}

/// Where every schedule sends its input: the `schedule` function, invoked with the stack's role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleTarget {
    /// ARN of the schedule function.
    pub arn: String,
    /// ARN of the role EventBridge Scheduler assumes to invoke it.
    pub role_arn: String,
}

/// A schedule as EventBridge Scheduler has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExistingSchedule {
    /// Its name in the group.
    pub name: String,
    /// Its expression.
    pub expression: String,
    /// Its time zone, if one is set.
    pub timezone: Option<String>,
    /// Its target's input, if it parses as JSON.
    pub input: Option<Value>,
    /// Its target's ARN.
    pub target_arn: String,
    /// Its target's role.
    pub role_arn: String,
    /// Whether it is enabled.
    pub enabled: bool,
}

/// What `apply` does to the schedules.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SchedulePlan {
    /// Schedules to create.
    pub create: Vec<DesiredSchedule>,
    /// Schedules whose expression, time zone, input, target or state differ.
    pub update: Vec<DesiredSchedule>,
    /// Names of schedules of the applied projects that `kiln.yaml` no longer lists.
    pub delete: Vec<String>,
    /// Names of schedules already as wanted.
    pub unchanged: Vec<String>,
}

impl SchedulePlan {
    /// Whether nothing would change.
    pub fn is_empty(&self) -> bool {
        self.create.is_empty() && self.update.is_empty() && self.delete.is_empty()
    }
}

/// The prefix of every schedule name of `project`.
pub fn schedule_prefix(project: &str) -> String {
    format!("{project}.")
}

/// The EventBridge schedule name of a project's schedule.
pub fn schedule_name(project: &str, schedule: &str) -> Result<String, ApplyError> {
    let name = format!("{}{schedule}", schedule_prefix(project));
    if name.len() > MAX_SCHEDULE_NAME {
        return Err(ApplyError::NameTooLong {
            project: project.to_owned(),
            schedule: schedule.to_owned(),
            name: name.clone(),
            len: name.len(),
        });
    }
    Ok(name)
}

/// The input of a schedule: `{project, schedule, sourceVersion?, environmentVariablesOverride?}` plus the fire's
/// `scheduledTime` and `scheduleArn`, which EventBridge Scheduler fills in from its context attributes.
pub fn schedule_input(project: &Project, schedule: &Schedule) -> Value {
    let input = ScheduleInput {
        project: project.name.as_str(),
        schedule: &schedule.name,
        scheduled_time: "<aws.scheduler.scheduled-time>",
        schedule_arn: "<aws.scheduler.schedule-arn>",
        source_version: schedule.source_version.as_deref(),
        environment_variables_override: &schedule.environment_variables_override,
    };
    serde_json::to_value(input).unwrap_or_default()
}

/// The `schedule` function's input as a schedule's target carries it.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct ScheduleInput<'a> {
    project: &'a str,
    schedule: &'a str,
    scheduled_time: &'a str,
    schedule_arn: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    source_version: Option<&'a str>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    environment_variables_override: &'a [EnvironmentVariable],
}

/// Every schedule of every project of `config`.
pub fn desired_schedules(config: &KilnConfig) -> Result<Vec<DesiredSchedule>, ApplyError> {
    let mut out = Vec::new();
    for project in &config.projects {
        out.extend(project_schedules(project)?);
    }
    Ok(out)
}

/// The schedules of one project, as the deployment's scheduler should hold them.
pub fn project_schedules(project: &Project) -> Result<Vec<DesiredSchedule>, ApplyError> {
    project
        .schedules
        .iter()
        .map(|schedule| {
            Ok(DesiredSchedule {
                name: schedule_name(project.name.as_str(), &schedule.name)?,
                project: project.name.as_str().to_owned(),
                expression: schedule.expression.trim().to_owned(),
                timezone: schedule.timezone.clone().unwrap_or_else(|| "UTC".to_owned()),
                input: schedule_input(project, schedule),
            })
        })
        .collect()
}

/// The changes that make `existing` (the schedules of the applied projects) match `desired`.
pub fn plan_schedules(
    desired: &[DesiredSchedule],
    existing: &[ExistingSchedule],
    target: &ScheduleTarget,
) -> SchedulePlan {
    let mut plan = SchedulePlan::default();
    for want in desired {
        match existing.iter().find(|e| e.name == want.name) {
            None => plan.create.push(want.clone()),
            Some(have) if matches(want, have, target) => plan.unchanged.push(want.name.clone()),
            Some(_) => plan.update.push(want.clone()),
        }
    }
    for have in existing {
        if !desired.iter().any(|d| d.name == have.name) {
            plan.delete.push(have.name.clone());
        }
    }
    plan
}

fn matches(want: &DesiredSchedule, have: &ExistingSchedule, target: &ScheduleTarget) -> bool {
    have.expression == want.expression
        && have.timezone.as_deref().unwrap_or("UTC") == want.timezone
        && have.input.as_ref() == Some(&want.input)
        && have.target_arn == target.arn
        && have.role_arn == target.role_arn
        && have.enabled
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config(schedules: &str) -> KilnConfig {
        let text = format!(
            "projects:\n  - name: web\n    source: {{type: NO_SOURCE, buildspec: \"version: 0.2\"}}\n    schedules:\n{schedules}"
        );
        KilnConfig::from_yaml(&text).expect("a valid kiln.yaml")
    }

    const TARGET: fn() -> ScheduleTarget = || ScheduleTarget {
        arn: "arn:aws:lambda:us-east-1:123456789012:function:kiln-schedule".into(),
        role_arn: "arn:aws:iam::123456789012:role/kiln-invoke".into(),
    };

    fn existing_as(desired: &DesiredSchedule) -> ExistingSchedule {
        ExistingSchedule {
            name: desired.name.clone(),
            expression: desired.expression.clone(),
            timezone: Some(desired.timezone.clone()),
            input: Some(desired.input.clone()),
            target_arn: TARGET().arn,
            role_arn: TARGET().role_arn,
            enabled: true,
        }
    }

    #[test]
    fn a_schedule_becomes_a_named_schedule_whose_input_names_the_project_and_the_fire() {
        let desired = desired_schedules(&config(
            "      - {name: nightly, expression: cron(0 3 * * ? *), timezone: Europe/Paris, sourceVersion: main,\n         environmentVariablesOverride: [{name: FULL, value: \"1\"}]}\n      - {name: hourly, expression: rate(1 hour)}\n",
        ))
        .expect("names fit");
        assert_eq!(desired.len(), 2);
        assert_eq!(desired[0].name, "web.nightly");
        assert_eq!(desired[0].timezone, "Europe/Paris");
        assert_eq!(
            desired[0].input,
            json!({
                "project": "web",
                "schedule": "nightly",
                "sourceVersion": "main",
                "environmentVariablesOverride": [{"name": "FULL", "value": "1", "type": "PLAINTEXT"}],
                "scheduledTime": "<aws.scheduler.scheduled-time>",
                "scheduleArn": "<aws.scheduler.schedule-arn>",
            })
        );
        assert_eq!(desired[1].name, "web.hourly");
        assert_eq!(desired[1].timezone, "UTC", "UTC when the schedule names no zone");
        assert_eq!(desired[1].input.get("sourceVersion"), None);
    }

    #[test]
    fn the_plan_creates_missing_updates_changed_deletes_unlisted_and_keeps_the_rest() {
        let desired = desired_schedules(&config(
            "      - {name: a, expression: rate(1 hour)}\n      - {name: b, expression: rate(2 hours)}\n      - {name: c, expression: rate(3 hours)}\n",
        ))
        .expect("names fit");
        let mut changed = existing_as(&desired[1]);
        changed.expression = "rate(5 hours)".into();
        let mut disabled = existing_as(&desired[2]);
        disabled.enabled = false;
        let mut gone = existing_as(&desired[0]);
        gone.name = "web.old".into();
        let existing = [changed, disabled, gone];
        let plan = plan_schedules(&desired, &existing, &TARGET());
        let names = |list: &[DesiredSchedule]| list.iter().map(|d| d.name.clone()).collect::<Vec<_>>();
        assert_eq!(names(&plan.create), ["web.a"]);
        assert_eq!(names(&plan.update), ["web.b", "web.c"]);
        assert_eq!(plan.delete, ["web.old"]);
        assert!(plan.unchanged.is_empty());
        assert!(!plan.is_empty());
    }

    #[test]
    fn the_plan_is_empty_when_everything_matches_and_changes_when_the_target_moves() {
        let desired =
            desired_schedules(&config("      - {name: a, expression: rate(1 hour)}\n")).expect("fits");
        let existing: Vec<ExistingSchedule> = desired.iter().map(existing_as).collect();
        let plan = plan_schedules(&desired, &existing, &TARGET());
        assert!(plan.is_empty(), "{plan:?}");
        assert_eq!(plan.unchanged, ["web.a"]);
        let moved = ScheduleTarget {
            arn: "arn:aws:lambda:us-east-1:123456789012:function:other".into(),
            ..TARGET()
        };
        assert_eq!(plan_schedules(&desired, &existing, &moved).update.len(), 1);
    }

    #[test]
    fn a_name_longer_than_scheduler_allows_is_refused_with_a_hint() {
        assert!(schedule_name("web", &"s".repeat(60)).is_ok(), "64 characters fit");
        let err = schedule_name("web", &"s".repeat(61)).expect_err("65 characters");
        assert!(err.to_string().contains("is 65 characters"), "{err}");
        assert!(err.to_string().contains("shorten the schedule name"), "{err}");
        assert_eq!(schedule_name("web", "nightly"), Ok("web.nightly".to_owned()));
    }
}
