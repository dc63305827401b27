//! Build notices in CodeBuild's EventBridge shape (reference §7): "CodeBuild Build State Change" and
//! "CodeBuild Build Phase Change", computed from a build record before and after a change.
//!
//! Notices are built from the record's JSON (CodeBuild's `Build` shape), so they carry exactly what
//! `BatchGetBuilds` shows.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::ports::notifier::Notice;

/// The `detail-type` of a build state change.
pub const STATE_CHANGE: &str = "CodeBuild Build State Change";
/// The `detail-type` of a phase change.
pub const PHASE_CHANGE: &str = "CodeBuild Build Phase Change";

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
    before: Option<&Value>,
    after: &Value,
    now_millis: i64,
) -> Vec<Notice> {
    let mut notices = Vec::new();
    let ended_before = before.map(ended_phases).unwrap_or_default();
    let ended_after = ended_phases(after);
    for phase in ended_after.iter().skip(ended_before.len()) {
        notices.push(phase_change(source, after, phase, now_millis));
    }
    let was_complete = before.is_some_and(is_complete);
    if before.is_none() || (!was_complete && is_complete(after)) {
        notices.push(state_change(source, after, now_millis));
    }
    notices
}

fn is_complete(record: &Value) -> bool {
    record["buildComplete"].as_bool().unwrap_or(false)
}

fn ended_phases(record: &Value) -> Vec<Value> {
    let phases = record["phases"].as_array().cloned().unwrap_or_default();
    phases
        .into_iter()
        .filter(|p| p.get("phaseStatus").is_some())
        .collect()
}

fn envelope(
    source: &NoticeSource,
    record: &Value,
    detail_type: &str,
    detail: Value,
    now_millis: i64,
) -> Notice {
    Notice {
        project: record["projectName"].as_str().unwrap_or_default().to_owned(),
        event: json!({
            "version": "0",
            "id": uuid::Uuid::new_v4().to_string(),
            "detail-type": detail_type,
            "source": source.source,
            "account": source.account,
            "time": iso_time(now_millis),
            "region": source.region,
            "resources": [record["arn"].clone()],
            "detail": detail,
        }),
    }
}

fn state_change(source: &NoticeSource, record: &Value, now_millis: i64) -> Notice {
    let detail = json!({
        "build-status": record["buildStatus"],
        "project-name": record["projectName"],
        "build-id": record["arn"],
        "current-phase": record["currentPhase"],
        "current-phase-context": contexts_string(record["phases"].as_array().and_then(|p| p.last())),
        "version": "1",
        "additional-information": additional_information(record),
    });
    envelope(source, record, STATE_CHANGE, detail, now_millis)
}

fn phase_change(source: &NoticeSource, record: &Value, phase: &Value, now_millis: i64) -> Notice {
    let detail = json!({
        "completed-phase": phase["phaseType"],
        "completed-phase-status": phase["phaseStatus"],
        "completed-phase-context": contexts_string(Some(phase)),
        "completed-phase-duration-seconds": phase["durationInSeconds"],
        "completed-phase-start": human_time(&phase["startTime"]),
        "completed-phase-end": human_time(&phase["endTime"]),
        "project-name": record["projectName"],
        "build-id": record["arn"],
        "version": "1",
        "additional-information": additional_information(record),
    });
    envelope(source, record, PHASE_CHANGE, detail, now_millis)
}

/// CodeBuild writes phase contexts as a string holding a list, e.g. `"[]"` or `"[: ]"`.
fn contexts_string(phase: Option<&Value>) -> String {
    let contexts = phase
        .and_then(|p| p["contexts"].as_array())
        .cloned()
        .unwrap_or_default();
    let items: Vec<String> = contexts
        .iter()
        .map(|c| {
            format!(
                "{}: {}",
                c["statusCode"].as_str().unwrap_or(""),
                c["message"].as_str().unwrap_or("")
            )
        })
        .collect();
    format!("[{}]", items.join(", "))
}

fn additional_information(record: &Value) -> Value {
    let env = &record["environment"];
    let phases: Vec<Value> = record["phases"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|p| {
            let mut out = serde_json::Map::new();
            if p.get("phaseStatus").is_some() {
                out.insert("phase-context".into(), json!(contexts_list(p)));
            }
            out.insert("start-time".into(), json!(human_time(&p["startTime"])));
            if p.get("endTime").is_some() {
                out.insert("end-time".into(), json!(human_time(&p["endTime"])));
                out.insert("duration-in-seconds".into(), p["durationInSeconds"].clone());
            }
            out.insert("phase-type".into(), p["phaseType"].clone());
            if let Some(status) = p.get("phaseStatus") {
                out.insert("phase-status".into(), status.clone());
            }
            Value::Object(out)
        })
        .collect();
    json!({
        "artifact": {
            "md5sum": record["artifacts"]["md5sum"],
            "sha256sum": record["artifacts"]["sha256sum"],
            "location": record["artifacts"]["location"],
        },
        "environment": {
            "image": env["image"],
            "privileged-mode": env["privilegedMode"].as_bool().unwrap_or(false),
            "compute-type": env["computeType"],
            "type": env["type"],
            "environment-variables": [],
        },
        "timeout-in-minutes": record["timeoutInMinutes"],
        "build-complete": is_complete(record),
        "initiator": record["initiator"],
        "build-start-time": human_time(&record["startTime"]),
        "source": {"location": record["source"]["location"], "type": record["source"]["type"]},
        "source-version": record["sourceVersion"],
        "logs": {
            "group-name": record["logs"]["groupName"],
            "stream-name": record["logs"]["streamName"],
            "deep-link": record["logs"]["deepLink"],
        },
        "phases": phases,
    })
}

fn contexts_list(phase: &Value) -> Vec<String> {
    phase["contexts"]
        .as_array()
        .map(|cs| {
            cs.iter()
                .map(|c| {
                    format!(
                        "{}: {}",
                        c["statusCode"].as_str().unwrap_or(""),
                        c["message"].as_str().unwrap_or("")
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn from_seconds(seconds: &Value) -> Option<DateTime<Utc>> {
    let millis = (seconds.as_f64()? * 1000.0).round() as i64;
    DateTime::from_timestamp_millis(millis)
}

/// CodeBuild's human-style time in notices, e.g. `Sep 1, 2017 4:12:29 PM`; `null` when absent.
fn human_time(seconds: &Value) -> Value {
    match from_seconds(seconds) {
        Some(t) => json!(t.format("%b %-d, %Y %-I:%M:%S %p").to_string()),
        None => Value::Null,
    }
}

/// The envelope's ISO-8601 UTC time with second precision.
fn iso_time(millis: i64) -> String {
    DateTime::from_timestamp_millis(millis)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(phases: Value, status: &str, complete: bool) -> Value {
        json!({
            "id": "web:8745a7a9-c340-456a-9166-edf953571bff",
            "arn": "arn:aws:codebuild:local:000000000000:build/web:8745a7a9-c340-456a-9166-edf953571bff",
            "projectName": "web", "buildNumber": 3, "startTime": 1504282349.0,
            "buildStatus": status, "buildComplete": complete, "currentPhase": "COMPLETED",
            "initiator": "GitHub-Hookshot/951dca1", "timeoutInMinutes": 60,
            "environment": {"type": "LINUX_CONTAINER", "image": "local", "computeType": "BUILD_GENERAL1_SMALL"},
            "source": {"type": "GITHUB", "location": "file:///tmp/repo"},
            "logs": {"groupName": "/aws/codebuild/web", "streamName": "8745a7a9-c340-456a-9166-edf953571bff"},
            "phases": phases,
        })
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
        let event = &notices[0].event;
        assert_eq!(event["detail-type"], STATE_CHANGE);
        assert_eq!(event["source"], "aws.codebuild");
        assert_eq!(event["time"], "2017-09-01T16:12:29Z");
        assert_eq!(event["detail"]["build-status"], "IN_PROGRESS");
        assert_eq!(
            event["detail"]["build-id"], new["arn"],
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
        let types: Vec<_> = notices.iter().map(|n| n.event["detail-type"].clone()).collect();
        assert_eq!(types, [json!(PHASE_CHANGE), json!(STATE_CHANGE)]);
        let phase = &notices[0].event["detail"];
        assert_eq!(phase["completed-phase"], "BUILD");
        assert_eq!(phase["completed-phase-status"], "FAILED");
        assert_eq!(
            phase["completed-phase-context"],
            "[COMMAND_EXECUTION_ERROR: exit status 2]"
        );
        assert_eq!(phase["completed-phase-end"], "Sep 1, 2017 4:12:31 PM");
        assert_eq!(notices[1].event["detail"]["build-status"], "FAILED");
        let phases = &notices[1].event["detail"]["additional-information"]["phases"];
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
