//! The `schedule` function: the target of EventBridge Scheduler schedules. Each schedule invokes it with an
//! [`ScheduleInput`] (set as the target's `Input`, with Scheduler's context attributes filled in), and it starts
//! the project's build once per (schedule, scheduled time) — Scheduler's retries and a repeated invocation find
//! the first build — then tells the dispatcher (the build's dispatch message).
//!
//! The target input a schedule is created with:
//!
//! ```json
//! {"project": "web", "sourceVersion": "main",
//!  "environmentVariablesOverride": [{"name": "NIGHTLY", "value": "1", "type": "PLAINTEXT"}],
//!  "scheduledTime": "<aws.scheduler.scheduled-time>", "scheduleArn": "<aws.scheduler.schedule-arn>"}
//! ```

use chrono::{DateTime, Utc};
use std::sync::Arc;

use kiln_core::build::{BuildId, Timestamp};
use kiln_core::ports::dispatch_signal::{DispatchSignal, SignalError};
use kiln_core::usecases::schedules::ScheduledFire;
use kiln_core::usecases::start::EnvVar;
use kiln_core::usecases::{Services, UseCaseError};
use kiln_lambda::{SettingsError, Wiring};
use serde::{Deserialize, Serialize};

/// The input a schedule passes (its target's `Input`, after Scheduler substituted the context attributes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScheduleInput {
    /// The project to build.
    pub project: String,
    #[serde(default)]
    pub source_version: Option<String>,
    #[serde(default)]
    pub environment_variables_override: Vec<EnvVar>,
    /// `<aws.scheduler.scheduled-time>`: the time the fire was due (RFC 3339), the idempotency key's time.
    pub scheduled_time: String,
    /// `<aws.scheduler.schedule-arn>`: the schedule's name is its last segment.
    #[serde(default)]
    pub schedule_arn: Option<String>,
    /// The schedule's name, when there is no ARN (a manual invocation).
    #[serde(default)]
    pub schedule: Option<String>,
}

/// What an invocation did: the build, and whether an earlier invocation for the same fire had started it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleOutput {
    pub build_id: BuildId,
    pub existing: bool,
}

/// Why a fire started no build. Lambda reports the error, and Scheduler retries per its retry policy (and
/// then sends the event to the schedule's dead-letter queue, if it has one).
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    #[error(
        "scheduledTime {0:?} is not an RFC 3339 time; set the target input's scheduledTime to \
         \"<aws.scheduler.scheduled-time>\""
    )]
    ScheduledTime(String),
    #[error(
        "the input names no schedule; set scheduleArn to \"<aws.scheduler.schedule-arn>\" (or schedule to a name)"
    )]
    NoSchedule,
    #[error("schedule {schedule:?} of project {project:?}: {source}")]
    Start {
        project: String,
        schedule: String,
        source: UseCaseError,
    },
    #[error("build {build_id} is stored but the dispatcher was not told; the retry tells it: {source}")]
    Dispatch { build_id: String, source: SignalError },
}

/// What the handler needs, built once per function instance.
#[derive(Clone)]
pub struct Schedule {
    pub services: Services,
    /// Told about the started build (the dispatch queue).
    pub dispatch: Arc<dyn DispatchSignal>,
}

impl Schedule {
    /// The function's state: the use cases and the dispatch signal (`KILN_DISPATCH_QUEUE_URL`).
    pub fn from_wiring(wiring: &Wiring) -> Result<Schedule, SettingsError> {
        Ok(Schedule {
            dispatch: Arc::new(wiring.dispatch_signal()?),
            services: wiring.services.clone(),
        })
    }
}

impl ScheduleInput {
    /// The fire this input describes.
    pub fn fire(&self) -> Result<ScheduledFire, ScheduleError> {
        let at: DateTime<Utc> = DateTime::parse_from_rfc3339(self.scheduled_time.trim())
            .map_err(|_| ScheduleError::ScheduledTime(self.scheduled_time.clone()))?
            .with_timezone(&Utc);
        let schedule = match (&self.schedule, &self.schedule_arn) {
            (Some(name), _) if !name.trim().is_empty() => name.trim().to_owned(),
            (_, Some(arn)) => arn
                .rsplit('/')
                .next()
                .filter(|n| !n.is_empty() && arn.contains(":schedule/"))
                .ok_or(ScheduleError::NoSchedule)?
                .to_owned(),
            _ => return Err(ScheduleError::NoSchedule),
        };
        Ok(ScheduledFire {
            project: self.project.clone(),
            schedule,
            at,
            source_version: self.source_version.clone(),
            environment_variables_override: self.environment_variables_override.clone(),
        })
    }
}

/// Handles one fire.
pub async fn handle(schedule: &Schedule, input: ScheduleInput) -> Result<ScheduleOutput, ScheduleError> {
    let fire = input.fire()?;
    let (project, name) = (fire.project.clone(), fire.schedule.clone());
    let now = Timestamp::from(std::time::SystemTime::now());
    let started = schedule
        .services
        .start_scheduled(fire, now)
        .await
        .map_err(|source| ScheduleError::Start {
            project: project.clone(),
            schedule: name.clone(),
            source,
        })?;
    let build_id = started.build.id().clone();
    schedule
        .services
        .signal_started(
            schedule.dispatch.as_ref(),
            std::slice::from_ref(&build_id),
            started.existing,
        )
        .await
        .map_err(|source| ScheduleError::Dispatch {
            build_id: build_id.to_string(),
            source,
        })?;
    tracing::info!(project = %project, schedule = %name, build = %build_id, existing = started.existing, "schedule fired");
    Ok(ScheduleOutput {
        build_id,
        existing: started.existing,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(json: &str) -> ScheduleInput {
        serde_json::from_str(json).expect("an input")
    }

    #[test]
    fn the_schedule_name_comes_from_the_arn_and_the_time_from_scheduled_time() {
        let fire = input(
            r#"{"project": "web", "scheduledTime": "2026-11-24T03:00:00Z",
                "scheduleArn": "arn:aws:scheduler:us-east-1:123456789012:schedule/kiln/web-nightly"}"#,
        )
        .fire()
        .expect("a fire");
        assert_eq!(fire.schedule, "web-nightly");
        assert_eq!(fire.at.to_rfc3339(), "2026-11-24T03:00:00+00:00");
    }

    #[test]
    fn an_unsubstituted_time_or_a_missing_schedule_is_refused_with_the_fix() {
        let bad_time = input(
            r#"{"project": "web", "scheduledTime": "<aws.scheduler.scheduled-time>", "schedule": "n"}"#,
        );
        let err = bad_time.fire().expect_err("refused").to_string();
        assert!(err.contains("<aws.scheduler.scheduled-time>"), "{err}");
        let no_name = input(r#"{"project": "web", "scheduledTime": "2026-11-24T03:00:00Z"}"#);
        assert!(matches!(no_name.fire(), Err(ScheduleError::NoSchedule)));
    }
}
