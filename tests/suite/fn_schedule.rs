//! The `schedule` function against moto, invoked with the input EventBridge Scheduler sends (the target's
//! `Input` with `<aws.scheduler.scheduled-time>` and `<aws.scheduler.schedule-arn>` filled in): the same
//! scheduled time twice starts one build, another scheduled time a second one; each build is in DynamoDB with
//! its overrides and trigger, and each invocation leaves a dispatch message naming its build.

use kiln_fn_schedule::{Schedule, ScheduleInput, handle};
use serde_json::json;

use crate::aws_support::with_moto;
use crate::fn_box::FnBox;

/// The target input a schedule is created with, as `kiln` would configure it.
const TARGET_INPUT: &str = r#"{
  "project": "web",
  "sourceVersion": "refs/heads/main",
  "environmentVariablesOverride": [{"name": "NIGHTLY", "value": "1", "type": "PLAINTEXT"}],
  "scheduledTime": "<aws.scheduler.scheduled-time>",
  "scheduleArn": "<aws.scheduler.schedule-arn>"
}"#;

const SCHEDULE_ARN: &str = "arn:aws:scheduler:us-east-1:123456789012:schedule/kiln/web-nightly";

/// What Scheduler invokes the function with for a fire due at `time`.
fn scheduler_event(time: &str) -> String {
    TARGET_INPUT
        .replace("<aws.scheduler.scheduled-time>", time)
        .replace("<aws.scheduler.schedule-arn>", SCHEDULE_ARN)
}

#[test]
fn the_same_scheduled_time_twice_starts_one_build_and_another_time_a_second() {
    with_moto(|clients, _| async move {
        let fns = FnBox::new(clients).await;
        fns.put_project("web", json!(null)).await;
        let schedule = Schedule {
            services: fns.services.clone(),
            dispatch: fns.dispatch.clone(),
        };
        let fire =
            |time: &str| serde_json::from_str::<ScheduleInput>(&scheduler_event(time)).expect("an input");

        let first = handle(&schedule, fire("2026-11-24T03:00:00Z"))
            .await
            .expect("fired");
        assert!(!first.existing);
        let stored = crate::aws_support::build_json(&fns.store, first.build_id.as_str()).await;
        assert_eq!(stored["sourceVersion"], "refs/heads/main");
        assert_eq!(stored["initiator"], "kiln-schedule/web-nightly");
        assert_eq!(stored["trigger"]["scheduleName"], "web-nightly", "{}", stored);
        let vars = stored["environment"]["environmentVariables"].to_string();
        assert!(vars.contains("NIGHTLY"), "{vars}");
        assert_eq!(
            fns.dispatch_messages().await,
            vec![json!({"buildId": first.build_id})]
        );

        let again = handle(&schedule, fire("2026-11-24T03:00:00Z"))
            .await
            .expect("fired");
        assert_eq!(again.build_id, first.build_id, "one build per scheduled time");
        assert!(again.existing);
        assert_eq!(fns.build_ids("web").await, vec![first.build_id.clone()]);
        assert_eq!(
            fns.dispatch_messages().await,
            vec![json!({"buildId": first.build_id})],
            "still QUEUED, so the repeat sends the message again (the first attempt may have died before it)"
        );

        let next = handle(&schedule, fire("2026-11-25T03:00:00Z"))
            .await
            .expect("fired");
        assert_ne!(next.build_id, first.build_id);
        assert_eq!(fns.build_ids("web").await.len(), 2);
        assert_eq!(
            fns.dispatch_messages().await,
            vec![json!({"buildId": next.build_id})]
        );
    });
}

#[test]
fn an_unknown_project_fails_the_invocation_and_starts_nothing() {
    with_moto(|clients, _| async move {
        let fns = FnBox::new(clients).await;
        let schedule = Schedule {
            services: fns.services.clone(),
            dispatch: fns.dispatch.clone(),
        };
        let input: ScheduleInput =
            serde_json::from_str(&scheduler_event("2026-11-24T03:00:00Z")).expect("an input");
        let err = handle(&schedule, input).await.expect_err("no such project");
        assert!(err.to_string().contains("\"web\""), "{err}");
        assert!(fns.dispatch_messages().await.is_empty());
    });
}
