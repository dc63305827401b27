//! Build notices in CodeBuild's EventBridge shape (reference §7): "CodeBuild Build State Change" and
//! "CodeBuild Build Phase Change", computed from a build before and after a change.
//!
//! Notices are filled from the typed [`Build`] into [`crate::notice`]'s serde types, so they carry exactly what
//! `BatchGetBuilds` shows.

use chrono::DateTime;

use crate::build::{Build, BuildPhase, PhaseContext, StatusType, Timestamp};
use crate::notice::{
    AdditionalInformation, ArtifactInformation, EnvironmentInformation, LogsInformation, NoticeDetail,
    NoticeEvent, PhaseDetail, PhaseInformation, SourceInformation, StateDetail,
};
pub use crate::notice::{PHASE_CHANGE, STATE_CHANGE};
use crate::ports::notifier::Notice;
use crate::project::Compute;

/// Where the events claim to come from and the account and region in their envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeSource {
    pub source: String,
    pub account: String,
    pub region: String,
}

impl Default for NoticeSource {
    fn default() -> Self {
        NoticeSource {
            source: "aws.codebuild".into(),
            account: "000000000000".into(),
            region: "local".into(),
        }
    }
}

/// The notices a change from `before` (`None` for a new build) to `after` calls for: a phase change for each
/// phase that ended, and a state change when the build is created or reaches its final status.
pub fn notices_for(
    source: &NoticeSource,
    before: Option<&Build>,
    after: &Build,
    now_millis: i64,
) -> Vec<Notice> {
    let mut notices = Vec::new();
    let ended_before = before.map_or(0, |b| ended_phases(b).count());
    for (phase, status) in ended_phases(after).skip(ended_before) {
        let detail = phase_change(after, phase, status);
        notices.push(envelope(source, after, detail, now_millis));
    }
    let was_complete = before.is_some_and(Build::is_complete);
    if before.is_none() || (!was_complete && after.is_complete()) {
        notices.push(envelope(source, after, state_change(after), now_millis));
    }
    notices
}

/// The ended phases with their status, in order.
fn ended_phases(build: &Build) -> impl Iterator<Item = (&BuildPhase, StatusType)> {
    build.phases().iter().filter_map(|p| Some((p, p.phase_status?)))
}

fn envelope(source: &NoticeSource, build: &Build, detail: NoticeDetail, now_millis: i64) -> Notice {
    let detail_type = match &detail {
        NoticeDetail::State(_) => STATE_CHANGE,
        NoticeDetail::Phase(_) => PHASE_CHANGE,
    };
    Notice {
        project: build.project_name().clone(),
        event: NoticeEvent {
            version: "0".into(),
            id: uuid::Uuid::new_v4().to_string(),
            detail_type: detail_type.into(),
            source: source.source.clone(),
            account: source.account.clone(),
            time: Timestamp::from_epoch_millis(now_millis).iso8601(),
            region: source.region.clone(),
            resources: vec![build.arn().to_string()],
            detail,
        },
    }
}

fn state_change(build: &Build) -> NoticeDetail {
    NoticeDetail::State(StateDetail {
        build_status: build.build_status(),
        project_name: build.project_name().clone(),
        build_id: build.arn().clone(),
        current_phase: build.current_phase(),
        current_phase_context: contexts_string(build.phases().last()),
        version: "1".into(),
        additional_information: additional_information(build),
    })
}

fn phase_change(build: &Build, phase: &BuildPhase, status: StatusType) -> NoticeDetail {
    NoticeDetail::Phase(PhaseDetail {
        completed_phase: phase.phase_type,
        completed_phase_status: status,
        completed_phase_context: contexts_string(Some(phase)),
        completed_phase_duration_seconds: phase.duration_in_seconds,
        completed_phase_start: human_time(Some(phase.start_time)),
        completed_phase_end: human_time(phase.end_time),
        project_name: build.project_name().clone(),
        build_id: build.arn().clone(),
        version: "1".into(),
        additional_information: additional_information(build),
    })
}

/// CodeBuild writes phase contexts as a string holding a list, e.g. `"[]"` or `"[: ]"`.
fn contexts_string(phase: Option<&BuildPhase>) -> String {
    format!("[{}]", phase.map(contexts_list).unwrap_or_default().join(", "))
}

fn contexts_list(phase: &BuildPhase) -> Vec<String> {
    let contexts: &[PhaseContext] = phase.contexts.as_deref().unwrap_or_default();
    contexts
        .iter()
        .map(|c| format!("{}: {}", c.status_code, c.message))
        .collect()
}

fn additional_information(build: &Build) -> AdditionalInformation {
    let artifacts = build.artifacts.as_ref();
    let environment = build.environment.as_ref();
    let logs = build.logs.as_ref();
    AdditionalInformation {
        artifact: ArtifactInformation {
            md5sum: artifacts.and_then(|a| a.md5sum.clone()),
            sha256sum: artifacts.and_then(|a| a.sha256sum.clone()),
            location: artifacts.and_then(|a| a.location.clone()),
        },
        environment: EnvironmentInformation {
            image: environment.map(|e| e.image.clone()),
            privileged_mode: environment.and_then(|e| e.privileged_mode).unwrap_or(false),
            compute_type: environment.and_then(|e| match e.compute {
                Compute::Named(named) => Some(named.as_str().to_owned()),
                Compute::Custom(_) => None,
            }),
            environment_type: environment.map(|e| e.environment_type.as_str().to_owned()),
            environment_variables: Vec::new(),
        },
        timeout_in_minutes: build.timeout_in_minutes,
        build_complete: build.is_complete(),
        initiator: build.initiator.clone(),
        build_start_time: human_time(Some(build.start_time())),
        source: SourceInformation {
            location: build.source.as_ref().and_then(|s| s.location.clone()),
            source_type: build.source.as_ref().map(|s| s.source_type.as_str().to_owned()),
        },
        source_version: build.source_version.clone(),
        logs: LogsInformation {
            group_name: logs.and_then(|l| l.group_name.clone()),
            stream_name: logs.and_then(|l| l.stream_name.clone()),
            deep_link: logs.and_then(|l| l.deep_link.clone()),
        },
        phases: build.phases().iter().map(phase_information).collect(),
    }
}

fn phase_information(phase: &BuildPhase) -> PhaseInformation {
    let ended = phase.phase_status.is_some();
    PhaseInformation {
        phase_context: ended.then(|| contexts_list(phase)),
        start_time: human_time(Some(phase.start_time)),
        end_time: phase.end_time.and_then(|t| human_time(Some(t))),
        duration_in_seconds: phase.end_time.and(phase.duration_in_seconds),
        phase_type: phase.phase_type,
        phase_status: phase.phase_status,
    }
}

/// CodeBuild's human-style time in notices, e.g. `Sep 1, 2017 4:12:29 PM`; `None` when absent.
fn human_time(at: Option<Timestamp>) -> Option<String> {
    let t = DateTime::from_timestamp_millis(at?.epoch_millis())?;
    Some(t.format("%b %-d, %Y %-I:%M:%S %p").to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn record(phases: Value, status: &str, complete: bool) -> Build {
        serde_json::from_value(json!({
            "id": "web:8745a7a9-c340-456a-9166-edf953571bff",
            "arn": "arn:aws:codebuild:local:000000000000:build/web:8745a7a9-c340-456a-9166-edf953571bff",
            "projectName": "web", "buildNumber": 3, "startTime": 1504282349.0,
            "buildStatus": status, "buildComplete": complete, "currentPhase": "COMPLETED",
            "initiator": "GitHub-Hookshot/951dca1", "timeoutInMinutes": 60, "queuedTimeoutInMinutes": 480,
            "environment": {"type": "LINUX_CONTAINER", "image": "local", "computeType": "BUILD_GENERAL1_SMALL"},
            "source": {"type": "GITHUB", "location": "https://github.com/o/web.git"},
            "logs": {"groupName": "/aws/codebuild/web", "streamName": "8745a7a9-c340-456a-9166-edf953571bff"},
            "phases": phases,
        }))
        .unwrap()
    }

    /// A notice's event as the JSON that leaves Kiln.
    fn json_of(notice: &Notice) -> Value {
        serde_json::to_value(&notice.event).unwrap()
    }

    #[test]
    fn a_new_build_gets_one_in_progress_state_change() {
        let new = record(
            json!([{"phaseType": "SUBMITTED", "startTime": 1504282349.0}]),
            "IN_PROGRESS",
            false,
        );
        let notices = notices_for(&NoticeSource::default(), None, &new, 1_504_282_349_000);
        assert_eq!(notices.len(), 1);
        let event = &json_of(&notices[0]);
        assert_eq!(event["detail-type"], STATE_CHANGE);
        assert_eq!(event["source"], "aws.codebuild");
        assert_eq!(event["time"], "2017-09-01T16:12:29Z");
        assert_eq!(event["detail"]["build-status"], "IN_PROGRESS");
        assert_eq!(
            event["detail"]["build-id"],
            new.arn().as_str(),
            "build-id carries the ARN"
        );
        assert_eq!(
            event["detail"]["additional-information"]["build-start-time"],
            "Sep 1, 2017 4:12:29 PM"
        );
        assert_eq!(notices[0].project, "web");
    }

    #[test]
    fn a_finish_gives_a_phase_change_per_ended_phase_then_the_final_state_change() {
        let before = record(
            json!([{"phaseType": "BUILD", "startTime": 1504282349.0}]),
            "IN_PROGRESS",
            false,
        );
        let after = record(
            json!([
                {"phaseType": "BUILD", "phaseStatus": "FAILED", "startTime": 1504282349.0, "endTime": 1504282351.5,
                 "durationInSeconds": 2, "contexts": [{"statusCode": "COMMAND_EXECUTION_ERROR", "message": "exit status 2"}]},
                {"phaseType": "COMPLETED", "startTime": 1504282351.5}
            ]),
            "FAILED",
            true,
        );
        let notices = notices_for(&NoticeSource::default(), Some(&before), &after, 1_504_282_352_000);
        let events: Vec<Value> = notices.iter().map(json_of).collect();
        let types: Vec<_> = events.iter().map(|e| e["detail-type"].clone()).collect();
        assert_eq!(types, [json!(PHASE_CHANGE), json!(STATE_CHANGE)]);
        let phase = &events[0]["detail"];
        assert_eq!(phase["completed-phase"], "BUILD");
        assert_eq!(phase["completed-phase-status"], "FAILED");
        assert_eq!(
            phase["completed-phase-context"],
            "[COMMAND_EXECUTION_ERROR: exit status 2]"
        );
        assert_eq!(phase["completed-phase-end"], "Sep 1, 2017 4:12:31 PM");
        assert_eq!(events[1]["detail"]["build-status"], "FAILED");
        let phases = &events[1]["detail"]["additional-information"]["phases"];
        assert_eq!(
            phases[1],
            json!({"start-time": "Sep 1, 2017 4:12:31 PM", "phase-type": "COMPLETED"})
        );
        assert!(
            notices_for(&NoticeSource::default(), Some(&after), &after, 0).is_empty(),
            "no change, no notice"
        );
    }
}
