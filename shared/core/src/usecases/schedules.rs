//! Scheduled builds: each project's schedules (EventBridge `rate`/`cron`/`at` expressions) fire builds at their
//! times. A fire is idempotent on (project, schedule, fire time), so a restart or a second scheduler cannot
//! double-fire; fires that fall in a window the scheduler did not watch (the server was down) are reported as
//! missed, not replayed, as EventBridge does.

use chrono::{DateTime, Utc};

use super::start::{EnvVar, Origin, StartBuildInput, Started};
use super::{Services, UseCaseError};
use crate::build::{BuildId, ProjectName, Timestamp, TriggerDetails, TriggerProvider};
use crate::project::Schedule as ProjectSchedule;
use crate::schedule::Schedule;

/// One fire of one schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fire {
    pub project: ProjectName,
    pub schedule: String,
    /// The fire time, RFC 3339 UTC.
    pub at: String,
    /// The build it started (or had started, for a repeat).
    pub build_id: Option<BuildId>,
}

/// One fire of a named schedule, wherever the schedule lives (a project's `schedules` locally, an EventBridge
/// Scheduler schedule on AWS).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduledFire {
    /// The project to build, as the schedule names it (checked when the build starts).
    pub project: String,
    /// The schedule's name, part of the idempotency key.
    pub schedule: String,
    /// The fire time (the scheduled time, not the time the fire arrived).
    pub at: DateTime<Utc>,
    pub source_version: Option<String>,
    pub environment_variables_override: Vec<EnvVar>,
}

/// What a scheduler tick did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ticked {
    /// Fires in the window, each with its build.
    pub fired: Vec<Fire>,
    /// Fires skipped because the window was larger than one period (not replayed).
    pub missed: Vec<Fire>,
    /// Schedules that could not be read, with the reason.
    pub invalid: Vec<String>,
}

fn utc(t: Timestamp) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(t.epoch_millis()).unwrap_or_default()
}

impl Services {
    /// Fires every schedule whose fire time is in `(after, until]`. When a schedule has several fire times in
    /// the window only the last fires; the earlier ones are returned as missed.
    pub async fn fire_schedules(&self, after: Timestamp, until: Timestamp) -> Result<Ticked, UseCaseError> {
        let mut ticked = Ticked::default();
        for name in self.projects.project_names().await? {
            let Some(stored) = self.projects.get_project(&name).await? else {
                continue;
            };
            for spec in &stored.project.schedules {
                let timezone = spec.timezone.clone().unwrap_or_else(|| "UTC".into());
                let schedule = match Schedule::parse(&spec.expression, &timezone) {
                    Ok(s) => s,
                    Err(e) => {
                        ticked.invalid.push(format!("{name}/{}: {e}", spec.name));
                        continue;
                    }
                };
                let mut times = Vec::new();
                let mut t = utc(after);
                while let Some(next) = schedule.next_after(t).filter(|n| *n <= utc(until)) {
                    times.push(next);
                    t = next;
                    if times.len() > 1000 {
                        break;
                    }
                }
                let Some(last) = times.pop() else { continue };
                for missed in times {
                    ticked.missed.push(Fire {
                        project: name.clone(),
                        schedule: spec.name.clone(),
                        at: missed.to_rfc3339(),
                        build_id: None,
                    });
                }
                let build_id = self.fire(&name, spec, last, until).await?;
                ticked.fired.push(Fire {
                    project: name.clone(),
                    schedule: spec.name.clone(),
                    at: last.to_rfc3339(),
                    build_id: Some(build_id),
                });
            }
        }
        Ok(ticked)
    }

    async fn fire(
        &self,
        project: &ProjectName,
        spec: &ProjectSchedule,
        at: DateTime<Utc>,
        now: Timestamp,
    ) -> Result<BuildId, UseCaseError> {
        let fire = ScheduledFire {
            project: project.to_string(),
            schedule: spec.name.clone(),
            at,
            source_version: spec.source_version.clone(),
            environment_variables_override: spec
                .environment_variables_override
                .iter()
                .map(|v| EnvVar {
                    name: v.name.clone(),
                    value: v.value.clone(),
                    var_type: v.variable_type.as_str().to_owned(),
                })
                .collect(),
        };
        let started = self.start_scheduled(fire, now).await?;
        Ok(started.build.id().clone())
    }

    /// Starts the build of one fire, idempotently on (project, schedule, fire time): a second call for the same
    /// fire returns the first build with `existing` set.
    pub async fn start_scheduled(
        &self,
        fire: ScheduledFire,
        now: Timestamp,
    ) -> Result<Started, UseCaseError> {
        let key = format!(
            "schedule:{}:{}:{}",
            fire.project,
            fire.schedule,
            fire.at.to_rfc3339()
        );
        let mut trigger = TriggerDetails::new(TriggerProvider::Schedule);
        trigger.schedule_name = Some(fire.schedule.clone());
        trigger.delivery_id = Some(key.clone());
        let input = StartBuildInput {
            project_name: fire.project,
            source_version: fire.source_version,
            environment_variables_override: fire.environment_variables_override,
            ..StartBuildInput::default()
        };
        let origin = Origin {
            initiator: Some(format!("kiln-schedule/{}", fire.schedule)),
            trigger: Some(trigger),
            key: Some(key),
            webhook_env: Vec::new(),
        };
        self.start_build(input, origin, now).await
    }
}
