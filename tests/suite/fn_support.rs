//! Shared setup of the function tests against moto: the table, the dispatch and notice queues, the ECS cluster
//! and runner task definition, and the services wired by `AwsSettings` as the functions wire them.

use std::collections::HashMap;

use kiln_aws::{AwsClients, AwsSettings, DynamoBuildStore};
use kiln_core::build::Timestamp;
use kiln_core::ports::build_store::PutMode;
use kiln_core::usecases::Services;
use kiln_core::usecases::start::{Origin, StartBuildInput};
use serde_json::{Value, json};

use crate::aws_support::{REGION, create_queue, stored_project};

/// A deployment in moto.
pub struct Stack {
    pub services: Services,
    pub store: DynamoBuildStore,
    pub dispatch_url: String,
    pub notice_url: String,
}

/// Creates the resources and the services on them (global limit 5).
pub async fn stack(clients: &AwsClients, endpoint: &str) -> Stack {
    let ecs = crate::aws_ecs::setup(clients, endpoint).await;
    let dispatch_url = create_queue(clients, "dispatch").await;
    let notice_url = create_queue(clients, "notices").await;
    let env = HashMap::from([
        ("KILN_TABLE", "kiln".to_owned()),
        ("AWS_REGION", REGION.to_owned()),
        ("KILN_DISPATCH_QUEUE_URL", dispatch_url.clone()),
        ("KILN_NOTICE_QUEUE_URL", notice_url.clone()),
        ("KILN_CLUSTER", ecs.cluster.clone()),
        ("KILN_TASK_DEFINITION", ecs.task_definition.clone()),
        ("KILN_SUBNETS", ecs.subnets.join(",")),
        ("KILN_GLOBAL_LIMIT", "5".to_owned()),
    ]);
    let settings = AwsSettings::from_lookup(|name| env.get(name).cloned()).expect("settings");
    let store = settings.store(clients);
    store.create_table().await.expect("create table");
    let services = settings.services(clients).expect("services");
    Stack {
        services,
        store,
        dispatch_url,
        notice_url,
    }
}

/// The wall clock as the functions read it.
pub fn now() -> Timestamp {
    kiln_lambda::now()
}

/// Stores project `name` with `environment` extras and `limit` as its concurrentBuildLimit.
pub async fn project(stack: &Stack, name: &str, limit: Option<u32>, environment: Value) {
    let mut env =
        json!({"type": "LINUX_CONTAINER", "image": "kiln-runner", "computeType": "BUILD_GENERAL1_SMALL"});
    if let (Some(env), Some(extra)) = (env.as_object_mut(), environment.as_object()) {
        env.extend(extra.clone());
    }
    let mut project = json!({
        "name": name,
        "source": {"type": "NO_SOURCE", "buildspec": "version: 0.2\nphases:\n  build:\n    commands: [echo hi]\n"},
        "environment": env,
        "artifacts": {"type": "NO_ARTIFACTS"},
    });
    if let Some(limit) = limit {
        project["concurrentBuildLimit"] = json!(limit);
    }
    stack
        .services
        .projects
        .put_project(&stored_project(project), PutMode::Upsert)
        .await
        .expect("put project");
}

/// Starts a build of `project`; returns its id.
pub async fn start(stack: &Stack, project: &str) -> String {
    let input = StartBuildInput {
        project_name: project.to_owned(),
        ..StartBuildInput::default()
    };
    let started = stack
        .services
        .start_build(input, Origin::default(), now())
        .await
        .expect("start build");
    started.build.id().to_string()
}

/// The stored record of a build, as CodeBuild's JSON.
pub async fn record(stack: &Stack, id: &str) -> Value {
    crate::aws_support::stored_record(&stack.services, id).await
}

/// Every message now visible on a queue (several receives, since moto hands out a few at a time).
pub async fn drain(clients: &AwsClients, url: &str) -> Vec<aws_sdk_sqs::types::Message> {
    let mut all = Vec::new();
    loop {
        let out = clients
            .sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
            .send()
            .await
            .expect("receive");
        if out.messages().is_empty() {
            return all;
        }
        all.extend(out.messages().iter().cloned());
    }
}
