//! Tests of the per-build dispatch and the task-stopped use case against the real local adapters (SQLite in a
//! temp dir, runners as child processes), with the clock passed in.

use serde_json::json;

use super::{Fixture, at, fixture, id_of, input, start, status, stored_project, web};
use kiln_core::build::{BuildId, ProjectName, StatusType};
use kiln_core::ports::build_store::{ProjectStore, PutMode};
use kiln_core::usecases::dispatch_one::DispatchOutcome;
use kiln_core::usecases::start::Origin;
use kiln_core::usecases::task_stopped::{SPOT_RETRY_OF, StopCode, StoppedTask};

async fn launched(f: &Fixture, id: &BuildId) -> String {
    match f.services.dispatch_build(id, at(0)).await.unwrap() {
        DispatchOutcome::Launched { task } => task,
        other => panic!("expected a launch, got {other:?}"),
    }
}

fn stopped(id: &BuildId, task: &str, code: &str, reason: &str, exit_code: Option<i64>) -> StoppedTask {
    StoppedTask {
        build_id: id.clone(),
        task: task.to_owned(),
        stop_code: StopCode::parse(code),
        stopped_reason: reason.to_owned(),
        exit_code,
        container_reason: None,
    }
}

#[tokio::test]
async fn one_build_is_dispatched_by_id_within_the_project_limit_and_again_is_a_no_op() {
    let f = fixture("exit 0").await;
    let first = start(&f).await;
    let second = start(&f).await;
    launched(&f, &first).await;
    assert_eq!(status(&f, &first).1, "PROVISIONING");
    assert_eq!(
        f.services.dispatch_build(&first, at(0)).await.unwrap(),
        DispatchOutcome::NotWaiting,
        "a redelivered message launches nothing"
    );
    let waiting = f.services.dispatch_build(&second, at(1)).await.unwrap();
    assert_eq!(
        waiting,
        DispatchOutcome::Waiting {
            project_full: true,
            deadline: at(480)
        },
        "concurrentBuildLimit 1 keeps the second waiting until its queued timeout"
    );
    assert_eq!(
        f.services.waiting_builds(&web()).await.unwrap(),
        std::slice::from_ref(&second)
    );
    f.services.stop_build(&first, at(2)).await.unwrap();
    launched(&f, &second).await;
    assert!(f.services.waiting_builds(&web()).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_build_dispatched_after_its_queued_timeout_ends_timed_out() {
    let f = fixture("exit 0").await;
    let id = start(&f).await;
    assert_eq!(
        f.services.dispatch_build(&id, at(480)).await.unwrap(),
        DispatchOutcome::Expired
    );
    assert_eq!(status(&f, &id), ("TIMED_OUT".into(), "COMPLETED".into()));
    assert!(matches!(
        f.services
            .dispatch_build(
                &BuildId::parse("web:8745a7a9-c340-456a-9166-edf953571bff").unwrap(),
                at(0)
            )
            .await,
        Err(kiln_core::usecases::UseCaseError::BuildNotFound(_))
    ));
}

#[tokio::test]
async fn each_stop_code_ends_the_build_with_its_status_and_reason() {
    let table: [(&str, &str, Option<i64>, &str, &str); 5] = [
        (
            "EssentialContainerExited",
            "Essential container in task exited",
            Some(137),
            "FAULT",
            "exited with code 137",
        ),
        (
            "TaskFailedToStart",
            "CannotPullContainerError: pull access denied",
            None,
            "FAULT",
            "failed to start",
        ),
        (
            "UserInitiated",
            "Build stopped by user",
            None,
            "STOPPED",
            "Build stopped",
        ),
        (
            "SpotInterruption",
            "Your Spot Task was interrupted.",
            Some(143),
            "FAULT",
            "SpotInterruption",
        ),
        (
            "ServiceSchedulerInitiated",
            "Task stopped by the scheduler",
            None,
            "FAULT",
            "ServiceSchedulerInitiated",
        ),
    ];
    for (code, reason, exit_code, want_status, want_message) in table {
        let f = fixture("exit 0").await;
        let id = start(&f).await;
        let task = launched(&f, &id).await;
        let done = f
            .services
            .task_stopped(&stopped(&id, &task, code, reason, exit_code), at(3))
            .await
            .unwrap();
        assert_eq!(super::json_of(&done.build)["buildStatus"], want_status, "{code}");
        assert_eq!(done.retry, None, "{code}: the project does not run on Spot");
        let context = &super::json_of(&done.build)["phases"][2]["contexts"][0];
        assert!(
            context["message"].as_str().unwrap().contains(want_message),
            "{code}: {context}"
        );
        if code == "TaskFailedToStart" {
            assert_eq!(context["statusCode"], "BUILD_CONTAINER_UNABLE_TO_PULL_IMAGE");
        }
        assert!(
            f.store.entries_sync().unwrap().is_empty(),
            "{code}: the slot is free"
        );
    }
}

#[tokio::test]
async fn a_stop_after_the_build_timeout_ends_it_timed_out_and_a_repeated_event_changes_nothing() {
    let f = fixture("exit 0").await;
    let id = start(&f).await;
    let task = launched(&f, &id).await;
    let event = stopped(&id, &task, "UserInitiated", "Build stopped by user", None);
    let done = f.services.task_stopped(&event, at(60)).await.unwrap();
    assert_eq!(done.ended, Some(StatusType::TimedOut));
    let again = f.services.task_stopped(&event, at(61)).await.unwrap();
    assert_eq!(again.ended, None);
    assert_eq!(again.build, done.build);
}

#[tokio::test]
async fn a_stale_task_of_a_build_does_not_end_it() {
    let f = fixture("exit 0").await;
    let id = start(&f).await;
    launched(&f, &id).await;
    let event = stopped(&id, "99999", "EssentialContainerExited", "exited", Some(1));
    let done = f.services.task_stopped(&event, at(1)).await.unwrap();
    assert_eq!(done.ended, None);
    assert_eq!(status(&f, &id), ("IN_PROGRESS".into(), "PROVISIONING".into()));
}

#[tokio::test]
async fn a_spot_interruption_is_retried_once_as_a_new_build() {
    let f = fixture("exit 0").await;
    f.store
        .put_project(
            &stored_project(json!({
                "name": "spot",
                "source": {"type": "NO_SOURCE", "buildspec": "version: 0.2\nphases:\n  build:\n    commands: [echo hi]\n"},
                "environment": {"type": "LINUX_CONTAINER", "image": "local", "computeType": "BUILD_GENERAL1_SMALL",
                                "spot": true},
                "artifacts": {"type": "NO_ARTIFACTS"}
            })),
            PutMode::Create,
        )
        .await
        .unwrap();
    let request = kiln_core::usecases::start::StartBuildInput {
        project_name: "spot".into(),
        ..input()
    };
    let id = id_of(
        &f.services
            .start_build(request, Origin::default(), at(0))
            .await
            .unwrap()
            .build,
    );
    let task = launched(&f, &id).await;
    let interrupted = stopped(
        &id,
        &task,
        "SpotInterruption",
        "Your Spot Task was interrupted.",
        None,
    );
    let done = f.services.task_stopped(&interrupted, at(5)).await.unwrap();
    let retry = done.retry.clone().expect("a retry build");
    assert_eq!(done.ended, Some(StatusType::Fault));
    let record = super::json_of(&done.build);
    let context = record["phases"][2]["contexts"][0]["message"].as_str().unwrap();
    assert!(
        context.contains(&format!("retried as build {retry}")),
        "{context}"
    );
    let retried = super::record(&f, &retry);
    assert_eq!(retried[SPOT_RETRY_OF], json!(id));
    assert_eq!(retried["environment"]["spot"], true);
    assert_eq!(
        f.services
            .waiting_builds(&ProjectName::parse("spot").unwrap())
            .await
            .unwrap(),
        std::slice::from_ref(&retry)
    );

    let task = launched(&f, &retry).await;
    let again = stopped(
        &retry,
        &task,
        "SpotInterruption",
        "Your Spot Task was interrupted.",
        None,
    );
    let done = f.services.task_stopped(&again, at(9)).await.unwrap();
    assert_eq!(done.ended, Some(StatusType::Fault));
    assert_eq!(done.retry, None, "a retry is not retried again");
}
