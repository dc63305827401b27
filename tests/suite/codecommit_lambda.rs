//! The `codecommit` Lambda's handler against moto: the documented EventBridge event starts the build of the
//! project naming the repository in DynamoDB and queues `{"buildId"}` on the dispatch queue; a duplicate
//! delivery finds the same build; a deletion queues nothing.

use kiln_aws::settings::AwsSettings;
use kiln_aws::{AwsClients, SqsDispatchSignal, SqsQueue};
use kiln_core::build::Timestamp;
use kiln_core::ports::build_store::{ProjectStore, PutMode};
use kiln_fn_codecommit::handle;
use kiln_tests::paths::workspace_root;
use serde_json::{Value, json};

use crate::aws_support::{REGION, create_queue, with_moto};

fn event(name: &str) -> Value {
    let path = workspace_root().join("tests/events/codecommit").join(name);
    serde_json::from_str(&std::fs::read_to_string(path).expect("event file")).expect("event JSON")
}

async fn queued_build_ids(queue: &SqsQueue) -> Vec<String> {
    let mut ids = Vec::new();
    loop {
        let messages = queue.receive(10, 0).await.expect("receive");
        if messages.is_empty() {
            return ids;
        }
        for message in messages {
            let body: Value = serde_json::from_str(&message.body).expect("message JSON");
            ids.push(body["buildId"].as_str().expect("buildId").to_owned());
            queue.delete(&message.receipt_handle).await.expect("delete");
        }
    }
}

async fn setup(clients: &AwsClients) -> (kiln_core::usecases::Services, SqsQueue, SqsDispatchSignal) {
    let queue_url = create_queue(clients, "kiln-dispatch").await;
    let settings = AwsSettings::from_lookup(|name| match name {
        "KILN_TABLE" => Some("kiln".to_owned()),
        "AWS_REGION" => Some(REGION.to_owned()),
        "KILN_DISPATCH_QUEUE_URL" => Some(queue_url.clone()),
        _ => None,
    })
    .expect("settings");
    let store = settings.store(clients);
    store.create_table().await.expect("table");
    let project = json!({
        "name": "web",
        "source": {"type": "CODECOMMIT", "location": "https://git-codecommit.eu-west-1.amazonaws.com/v1/repos/web"},
        "environment": {"type": "LINUX_CONTAINER", "image": "aws/codebuild/standard:7.0",
                        "computeType": "BUILD_GENERAL1_SMALL"},
        "artifacts": {"type": "NO_ARTIFACTS"},
        "webhook": {"filterGroups": [[{"type": "EVENT", "pattern": "PUSH"}]]}
    });
    store
        .put_project(&crate::aws_support::stored_project(project), PutMode::Create)
        .await
        .expect("project");
    let services = settings.services(clients).expect("services");
    let queue = SqsQueue::new(clients.sqs.clone(), settings.dispatch_queue_url().expect("url"));
    let signal = settings.dispatch_signal(clients).expect("the dispatch signal");
    (services, queue, signal)
}

#[test]
fn the_codecommit_function_starts_the_build_and_queues_it_for_dispatch() {
    with_moto(|clients, _| async move {
        let (services, dispatch, signal) = setup(&clients).await;
        let now = Timestamp::from_epoch_millis(1_790_000_000_000);
        let push = event("reference-updated-branch.json");

        let summary = handle(&services, &signal, &push, now).await.expect("handled");
        let ids: Vec<String> = serde_json::from_value(summary["buildIds"].clone()).expect("ids");
        assert_eq!(ids.len(), 1, "{summary}");
        assert!(ids[0].starts_with("web:"), "{ids:?}");
        assert_eq!(queued_build_ids(&dispatch).await, ids);
        let stored = crate::aws_support::build_json(services.builds.as_ref(), &ids[0]).await;
        assert_eq!(stored["sourceVersion"], push["detail"]["commitId"]);
        assert_eq!(stored["initiator"], "aws.codecommit");

        // EventBridge may deliver twice: the same build, queued again for the (idempotent) dispatcher.
        let again = handle(&services, &signal, &push, now).await.expect("handled");
        assert_eq!(again["buildIds"], summary["buildIds"]);
        assert_eq!(queued_build_ids(&dispatch).await, ids);

        let deleted = handle(&services, &signal, &event("reference-deleted-branch.json"), now)
            .await
            .expect("handled");
        assert_eq!(deleted["kind"], "REFERENCE_DELETED", "{deleted}");
        assert_eq!(queued_build_ids(&dispatch).await, Vec::<String>::new());
    });
}
