//! Tests of the whole record against the reference's example JSON (reference §6.4).

use serde_json::{Value, json};

use super::*;

/// The reference's `BatchGetBuilds` example, one build mid-run.
fn reference_build() -> Value {
    json!({"id":"web:8745a7a9-c340-456a-9166-edf953571bff",
     "arn":"arn:aws:codebuild:eu-west-1:111122223333:build/web:8745a7a9-c340-456a-9166-edf953571bff",
     "buildNumber":42,"startTime":1700000000.123,"currentPhase":"BUILD","buildStatus":"IN_PROGRESS",
     "sourceVersion":"pr/12","resolvedSourceVersion":"9fceb02d0ae598e95dc970b74767f19372d61af8",
     "projectName":"web","initiator":"GitHub-Hookshot/951dca1","buildComplete":false,
     "timeoutInMinutes":60,"queuedTimeoutInMinutes":480,
     "phases":[
      {"phaseType":"SUBMITTED","phaseStatus":"SUCCEEDED","startTime":1700000000.123,"endTime":1700000000.456,"durationInSeconds":0},
      {"phaseType":"QUEUED","phaseStatus":"SUCCEEDED","startTime":1700000000.456,"endTime":1700000001.0,"durationInSeconds":0},
      {"phaseType":"PROVISIONING","phaseStatus":"SUCCEEDED","startTime":1700000001.0,"endTime":1700000037.0,"durationInSeconds":36,"contexts":[{"statusCode":"","message":""}]},
      {"phaseType":"BUILD","startTime":1700000041.0}],
     "source":{"type":"GITHUB","location":"https://github.com/o/web.git","gitCloneDepth":1,"reportBuildStatus":true},
     "environment":{"type":"LINUX_CONTAINER","image":"aws/codebuild/standard:7.0","computeType":"BUILD_GENERAL1_SMALL","environmentVariables":[],"privilegedMode":false,"imagePullCredentialsType":"CODEBUILD"},
     "logs":{"groupName":"/aws/codebuild/web","streamName":"8745a7a9-c340-456a-9166-edf953571bff"},
     "exportedEnvironmentVariables":[]})
}

#[test]
fn the_reference_example_build_round_trips_through_the_record() {
    let build: Build = serde_json::from_value(reference_build()).unwrap();
    assert_eq!(build.build_number(), 42);
    assert_eq!(build.current_phase(), PhaseType::Build);
    assert_eq!(build.id().uuid(), "8745a7a9-c340-456a-9166-edf953571bff");
    assert_eq!(build.phases()[2].duration_in_seconds, Some(36));
    assert_eq!(serde_json::to_value(&build).unwrap(), reference_build());
}

#[test]
fn a_new_build_serialises_with_codebuild_names_and_no_absent_members() {
    let project = ProjectName::parse("web").unwrap();
    let id = BuildId::parse("web:8745a7a9-c340-456a-9166-edf953571bff").unwrap();
    let mut build = Build::new(
        id,
        7,
        &AccountContext::local(),
        Timestamp::from_epoch_millis(1_700_000_000_500),
    );
    let mut trigger = TriggerDetails::new(TriggerProvider::Github);
    trigger.event = Some("PULL_REQUEST_UPDATED".into());
    trigger.delivery_id = Some("72d3162e-cc78-11e3-81ab-4c9367dc0958".into());
    trigger.pr_number = Some(12);
    build.trigger = Some(trigger);
    build.estimated_cost = Some(EstimatedCost {
        amount: 0.0123,
        currency: "USD".into(),
        basis: "fargate".into(),
    });
    build.report_summaries = Some(vec![ReportSummary {
        name: "unit".into(),
        file_format: Some("JUNITXML".into()),
        total: 3,
        passed: 1,
        failed: 1,
        skipped: 1,
        duration_in_seconds: Some(1.5),
        failing_tests: vec!["parser handles tabs".into()],
    }]);
    assert_eq!(build.project_name(), &project);
    let value = serde_json::to_value(&build).unwrap();
    assert_eq!(
        value,
        json!({"id":"web:8745a7a9-c340-456a-9166-edf953571bff",
         "arn":"arn:aws:codebuild:local:000000000000:build/web:8745a7a9-c340-456a-9166-edf953571bff",
         "buildNumber":7,"startTime":1700000000.5,"currentPhase":"SUBMITTED","buildStatus":"IN_PROGRESS",
         "projectName":"web","phases":[{"phaseType":"SUBMITTED","startTime":1700000000.5}],
         "timeoutInMinutes":60,"queuedTimeoutInMinutes":480,"buildComplete":false,
         "trigger":{"provider":"GITHUB","event":"PULL_REQUEST_UPDATED",
                    "deliveryId":"72d3162e-cc78-11e3-81ab-4c9367dc0958","prNumber":12},
         "estimatedCost":{"amount":0.0123,"currency":"USD","basis":"fargate"},
         "reportSummaries":[{"name":"unit","fileFormat":"JUNITXML","total":3,"passed":1,"failed":1,"skipped":1,
                             "durationInSeconds":1.5,"failingTests":["parser handles tabs"]}]})
    );
    assert_eq!(serde_json::from_value::<Build>(value).unwrap(), build);
}

#[test]
fn a_record_with_a_malformed_id_is_refused() {
    let mut value = reference_build();
    value["id"] = json!("web:not-a-uuid");
    let err = serde_json::from_value::<Build>(value).unwrap_err().to_string();
    assert!(err.contains("invalid build id \"web:not-a-uuid\""), "{err}");
}

#[test]
fn a_build_whose_build_phase_failed_reads_like_codebuild_at_the_end() {
    use FailureAction::Default as Def;
    use PhaseType::*;
    use StatusType::*;
    let id = BuildId::parse("web:8745a7a9-c340-456a-9166-edf953571bff").unwrap();
    let at = |s: i64| Timestamp::from_epoch_millis(1_700_000_000_000 + s * 1000);
    let mut build = super::Build::new(
        id,
        42,
        &AccountContext::new("aws", "eu-west-1", "111122223333"),
        at(0),
    );
    build.source_version = Some("main".into());
    build.resolved_source_version = Some("9fceb02d0ae598e95dc970b74767f19372d61af8".into());
    let failure = PhaseContext::new(
        "COMMAND_EXECUTION_ERROR",
        "Error while executing command: make test. Reason: exit status 2",
    );
    let steps = [
        (Submitted, Succeeded, vec![]),
        (Queued, Succeeded, vec![]),
        (Provisioning, Succeeded, vec![]),
        (DownloadSource, Succeeded, vec![]),
        (Install, Succeeded, vec![]),
        (PreBuild, Succeeded, vec![]),
        (Build, Failed, vec![failure]),
        (PostBuild, Succeeded, vec![]),
        (UploadArtifacts, Succeeded, vec![]),
        (Finalizing, Succeeded, vec![]),
    ];
    for (i, (phase, status, contexts)) in steps.into_iter().enumerate() {
        build
            .end_phase(
                phase,
                status,
                Def,
                contexts,
                at(3 * i64::try_from(i).unwrap() + 1),
            )
            .unwrap();
    }
    build.exported_environment_variables = Some(vec![ExportedEnvironmentVariable {
        name: "VERSION".into(),
        value: "1.4.2".into(),
    }]);
    insta::assert_json_snapshot!(build);
}

/// A record as the previous version's use cases wrote it: Kiln's own members beside CodeBuild's, and a member
/// no version of `Build` names.
fn record_with_kiln_members() -> Value {
    let mut record = reference_build();
    let extra = json!({
        "webhookVariables": [{"name": "CODEBUILD_WEBHOOK_HEAD_REF", "value": "refs/heads/main"}],
        "idempotencyFingerprint": "5d41402abc4b2a76b9719d911017c592",
        "launchRetry": {"attempts": 2, "lastError": "Capacity is unavailable at this time"},
        "spotRetryOf": "web:0b0e7a9c-6c1c-4c3a-9a57-1d2e3f405162",
        "someFutureMember": {"nested": [1, 2, {"deep": true}], "text": "kept"},
    });
    for (key, value) in extra.as_object().unwrap() {
        record[key.as_str()] = value.clone();
    }
    record
}

#[test]
fn kiln_members_are_typed_and_unknown_members_round_trip_unchanged() {
    let build: Build = serde_json::from_value(record_with_kiln_members()).unwrap();
    assert_eq!(build.webhook_variables[0].name, "CODEBUILD_WEBHOOK_HEAD_REF");
    assert_eq!(build.webhook_variables[0].value, "refs/heads/main");
    assert_eq!(
        build.idempotency_fingerprint.as_deref(),
        Some("5d41402abc4b2a76b9719d911017c592")
    );
    let retry = build.launch_retry.as_ref().unwrap();
    assert_eq!(
        (retry.attempts, retry.last_error.as_str()),
        (2, "Capacity is unavailable at this time")
    );
    assert_eq!(
        build.spot_retry_of.as_ref().map(BuildId::as_str),
        Some("web:0b0e7a9c-6c1c-4c3a-9a57-1d2e3f405162")
    );
    assert_eq!(build.other.keys().collect::<Vec<_>>(), ["someFutureMember"]);
    assert_eq!(serde_json::to_value(&build).unwrap(), record_with_kiln_members());
    let text = serde_json::to_string(&build).unwrap();
    assert_eq!(serde_json::from_str::<Build>(&text).unwrap(), build);
}
