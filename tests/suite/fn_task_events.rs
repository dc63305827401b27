//! The task-events function against moto with "ECS Task State Change" events in the documented shape for a
//! task moto really started: stopped with an exit code, failed to start, and interrupted on Spot (retried once
//! as a new build with a dispatch message). Each ends the build, frees the slot and sends one final notice.

use std::sync::Arc;

use kiln_aws::{SqsDispatchSignal, SqsQueue};

use kiln_core::build::BuildId;
use kiln_core::usecases::dispatch_one::DispatchOutcome;
use kiln_fn_task_events::{Outcome, TaskEvents, handle};
use serde_json::{Value, json};

use crate::aws_support::with_moto;
use crate::fn_support::{Stack, drain, now, project, record, stack, start};

/// An EventBridge "ECS Task State Change" event for a STOPPED runner task.
pub(crate) fn stopped_event(
    task: &str,
    build_id: &str,
    stop_code: &str,
    reason: &str,
    container: Value,
) -> Value {
    let uuid = build_id.rsplit(':').next().unwrap_or_default();
    json!({
        "version": "0",
        "id": "3317b2af-7005-947d-b652-f55e762e571a",
        "detail-type": "ECS Task State Change",
        "source": "aws.ecs",
        "account": "123456789012",
        "time": "2026-01-01T00:10:00Z",
        "region": "us-east-1",
        "resources": [task],
        "detail": {
            "clusterArn": "arn:aws:ecs:us-east-1:123456789012:cluster/builds",
            "taskArn": task,
            "taskDefinitionArn": "arn:aws:ecs:us-east-1:123456789012:task-definition/runner:1",
            "group": "family:runner",
            "launchType": "FARGATE",
            "capacityProviderName": "FARGATE_SPOT",
            "cpu": "2048",
            "memory": "4096",
            "lastStatus": "STOPPED",
            "desiredStatus": "STOPPED",
            "startedBy": uuid,
            "stopCode": stop_code,
            "stoppedReason": reason,
            "createdAt": "2026-01-01T00:00:00Z",
            "stoppingAt": "2026-01-01T00:09:58Z",
            "stoppedAt": "2026-01-01T00:10:00Z",
            "containers": [container],
            "overrides": {"containerOverrides": [{
                "name": "runner",
                "environment": [{"name": "KILN_BUILD_ID", "value": build_id}]
            }]},
            "version": 4
        }
    })
}

async fn launch(stack: &Stack, id: &str) -> String {
    let id = BuildId::parse(id).expect("a build id");
    match stack.services.dispatch_build(&id, now()).await.expect("dispatch") {
        DispatchOutcome::Launched { task } => task,
        other => panic!("expected a launch, got {other:?}"),
    }
}

#[test]
fn each_stopped_task_ends_its_build_with_the_reason_frees_the_slot_and_sends_a_notice() {
    with_moto(|clients, endpoint| async move {
        let stack = stack(&clients, &endpoint).await;
        project(&stack, "web", Some(1), json!({})).await;
        project(&stack, "spot", None, json!({"spot": true})).await;
        let function = TaskEvents {
            services: stack.services.clone(),
            dispatch: Arc::new(SqsDispatchSignal::new(SqsQueue::new(
                clients.sqs.clone(),
                &stack.dispatch_url,
            ))),
        };
        let cases = [
            (
                "web",
                "EssentialContainerExited",
                "Essential container in task exited",
                json!({"name": "runner", "exitCode": 137, "lastStatus": "STOPPED"}),
                "The runner exited with code 137",
            ),
            (
                "web",
                "TaskFailedToStart",
                "CannotPullContainerError: pull image manifest has been retried 5 time(s)",
                json!({"name": "runner", "lastStatus": "STOPPED", "reason": "CannotPullContainerError: not found"}),
                "failed to start",
            ),
            (
                "spot",
                "SpotInterruption",
                "Your Spot Task was interrupted.",
                json!({"name": "runner", "exitCode": 143, "lastStatus": "STOPPED"}),
                "SpotInterruption",
            ),
        ];
        for (name, code, reason, container, want) in cases {
            let id = start(&stack, name).await;
            let task = launch(&stack, &id).await;
            drain(&clients, &stack.notice_url).await;
            let event = serde_json::from_value(stopped_event(&task, &id, code, reason, container))
                .expect("the documented event shape");
            let outcome = handle(&function, event, now()).await.expect("handled");
            let Outcome::Handled {
                ended, retry, nudged, ..
            } = outcome
            else {
                panic!("{code}: not handled: {outcome:?}");
            };
            let ended_record = record(&stack, &id).await;
            assert_eq!(ended_record["buildStatus"], "FAULT", "{code}");
            assert_eq!(ended.map(|s| s.as_str()), Some("FAULT"));
            let context = ended_record["phases"][2]["contexts"][0]["message"]
                .as_str()
                .unwrap_or_default();
            assert!(context.contains(want), "{code}: {context}");
            assert_eq!(
                stack.store.running_count(Some(name)).await.expect("count"),
                0,
                "{code}: slot freed"
            );
            let notices = drain(&clients, &stack.notice_url).await;
            let finals: Vec<_> = notices
                .iter()
                .filter(|m| {
                    m.body()
                        .unwrap_or_default()
                        .contains("\"build-status\":\"FAULT\"")
                })
                .filter(|m| m.body().unwrap_or_default().contains("Build State Change"))
                .collect();
            assert_eq!(finals.len(), 1, "{code}: one final state-change notice");
            let dispatched = drain(&clients, &stack.dispatch_url).await;
            if code == "SpotInterruption" {
                let retry = retry.expect("a Spot retry");
                assert!(context.contains(retry.as_str()), "{context}");
                assert_eq!(record(&stack, retry.as_str()).await["spotRetryOf"], json!(id));
                assert_eq!(nudged, std::slice::from_ref(&retry));
                assert_eq!(dispatched.len(), 1);
                assert_eq!(
                    dispatched[0].body(),
                    Some(json!({"buildId": retry}).to_string().as_str())
                );
            } else {
                assert_eq!(retry, None, "{code}");
                assert!(dispatched.is_empty(), "{code}: nothing waits");
            }
        }
    });
}
