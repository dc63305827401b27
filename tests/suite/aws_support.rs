//! Shared setup of the AWS adapter tests: one moto server per test, real SDK clients pointed at it.

use std::future::Future;

use kiln_aws::AwsClients;
use kiln_tests::moto::MotoServer;

/// The region every adapter test uses.
pub const REGION: &str = "us-east-1";

/// Starts moto, builds every client against it, and runs `test` on a fresh tokio runtime.
pub fn with_moto<F, Fut>(test: F)
where
    F: FnOnce(AwsClients, String) -> Fut,
    Fut: Future<Output = ()>,
{
    let moto = MotoServer::require();
    let endpoint = moto.endpoint();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async {
        let clients = AwsClients::with_static_credentials(&endpoint, REGION, "testing", "testing").await;
        test(clients, endpoint.clone()).await;
    });
    drop(moto);
}

/// Creates an S3 bucket.
pub async fn create_bucket(clients: &AwsClients, bucket: &str) {
    clients
        .s3
        .create_bucket()
        .bucket(bucket)
        .send()
        .await
        .expect("moto creates the bucket");
}

/// Creates an SQS queue; returns its URL.
pub async fn create_queue(clients: &AwsClients, name: &str) -> String {
    clients
        .sqs
        .create_queue()
        .queue_name(name)
        .send()
        .await
        .expect("moto creates the queue")
        .queue_url()
        .expect("a queue url")
        .to_owned()
}

/// Creates an SNS topic and an SQS queue subscribed to it; returns the topic ARN and the queue URL.
pub async fn topic_with_subscriber(clients: &AwsClients, name: &str) -> (String, String) {
    let subscriber = create_queue(clients, &format!("{name}-subscriber")).await;
    let topic = clients
        .sns
        .create_topic()
        .name(name)
        .send()
        .await
        .expect("create topic")
        .topic_arn()
        .expect("a topic arn")
        .to_owned();
    let subscriber_arn = clients
        .sqs
        .get_queue_attributes()
        .queue_url(&subscriber)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("queue attributes")
        .attributes()
        .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn))
        .expect("a queue arn")
        .clone();
    clients
        .sns
        .subscribe()
        .topic_arn(&topic)
        .protocol("sqs")
        .endpoint(subscriber_arn)
        .send()
        .await
        .expect("subscribe");
    (topic, subscriber)
}

/// A project as the store keeps it, from CodeBuild's JSON.
pub fn stored_project(definition: serde_json::Value) -> kiln_core::project::StoredProject {
    serde_json::from_value(definition).expect("a valid project")
}

/// The stored record of build `id` as CodeBuild's JSON; panics when it is not stored.
pub async fn stored_record(services: &kiln_core::usecases::Services, id: &str) -> serde_json::Value {
    build_json(services.builds.as_ref(), id).await
}

/// Build `id` as `store` holds it, as CodeBuild's JSON; panics when it is not stored.
pub async fn build_json(
    store: &dyn kiln_core::ports::build_store::BuildStore,
    id: &str,
) -> serde_json::Value {
    let id = kiln_core::build::BuildId::parse(id).expect("a build id");
    let stored = store.get(&id).await.expect("get").expect("the build is stored");
    serde_json::to_value(&stored.build).expect("a record")
}

/// An S3 object's bytes; panics naming the object when it is missing.
pub async fn s3_object(clients: &AwsClients, bucket: &str, key: &str) -> Vec<u8> {
    let object = clients
        .s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap_or_else(|e| panic!("s3://{bucket}/{key} exists: {e:?}"));
    object.body.collect().await.expect("read the body").to_vec()
}

/// Every message body on a queue as JSON, each message deleted once read.
pub async fn drain_json(clients: &AwsClients, url: &str) -> Vec<serde_json::Value> {
    let mut bodies = Vec::new();
    loop {
        let received = clients
            .sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .send()
            .await
            .expect("receive");
        if received.messages().is_empty() {
            return bodies;
        }
        for message in received.messages() {
            bodies.push(serde_json::from_str(message.body().unwrap_or_default()).expect("a JSON body"));
            clients
                .sqs
                .delete_message()
                .queue_url(url)
                .receipt_handle(message.receipt_handle().unwrap_or_default())
                .send()
                .await
                .expect("delete");
        }
    }
}
