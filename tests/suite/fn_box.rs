//! Shared setup of the Lambda function tests: the AWS wiring the functions use, over moto — the build table,
//! the dispatch queue, the logs bucket — plus a project, the fixture webhooks and a way to read the queue.

use kiln_aws::settings::AwsSettings;
use std::sync::Arc;

use kiln_aws::{AwsClients, DynamoBuildStore, SqsDispatchSignal, SqsQueue};
use kiln_core::ports::build_store::{BuildStore, PutMode, SortOrder};
use kiln_core::ports::dispatch_signal::DispatchSignal;
use kiln_core::usecases::Services;
use serde_json::{Value, json};

use crate::aws_support::{REGION, create_bucket, create_queue};

/// The table, queue and bucket names the function tests use.
pub const TABLE: &str = "kiln-fn-builds";
pub const LOGS_BUCKET: &str = "kiln-fn-logs";

/// Everything a function test reaches.
pub struct FnBox {
    pub clients: AwsClients,
    pub services: Services,
    pub store: DynamoBuildStore,
    pub queue: SqsQueue,
    pub dispatch: Arc<dyn DispatchSignal>,
}

impl FnBox {
    /// Creates the table, the dispatch queue and the logs bucket in moto and wires the use cases to them.
    pub async fn new(clients: AwsClients) -> FnBox {
        let queue_url = create_queue(&clients, "kiln-fn-dispatch").await;
        create_bucket(&clients, LOGS_BUCKET).await;
        // What the template sets on the functions (no cluster: these functions start no tasks).
        let env = [
            ("KILN_TABLE", TABLE.to_owned()),
            ("AWS_REGION", REGION.to_owned()),
            ("KILN_DISPATCH_QUEUE_URL", queue_url.clone()),
            ("KILN_LOGS_BUCKET", LOGS_BUCKET.to_owned()),
        ];
        let settings =
            AwsSettings::from_lookup(|name| env.iter().find(|(n, _)| *n == name).map(|(_, v)| v.clone()))
                .expect("the settings");
        let store = settings.store(&clients);
        store.create_table().await.expect("create the table");
        let services = settings.services(&clients).expect("the services");
        let queue = SqsQueue::new(clients.sqs.clone(), queue_url);
        FnBox {
            dispatch: Arc::new(SqsDispatchSignal::new(queue.clone())),
            clients,
            services,
            store,
            queue,
        }
    }

    /// Stores project `name` with a GitHub source and `webhook`.
    pub async fn put_project(&self, name: &str, webhook: Value) {
        let project = json!({
            "name": name,
            "source": {"type": "GITHUB", "location": format!("https://github.com/example/{name}.git")},
            "environment": {"type": "LINUX_CONTAINER", "image": "aws/codebuild/standard:7.0",
                            "computeType": "BUILD_GENERAL1_SMALL"},
            "webhook": webhook,
        });
        self.services
            .projects
            .put_project(&crate::aws_support::stored_project(project), PutMode::Create)
            .await
            .expect("the project is stored");
    }

    /// The ids of project `name`'s builds in DynamoDB, newest first.
    pub async fn build_ids(&self, name: &str) -> Vec<String> {
        let name = kiln_core::build::ProjectName::parse(name).expect("a project name");
        self.store
            .list(Some(&name), SortOrder::Descending, None, 100)
            .await
            .expect("list builds")
            .ids
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    /// Every message on the dispatch queue now (received and deleted).
    pub async fn dispatch_messages(&self) -> Vec<Value> {
        let mut bodies = Vec::new();
        loop {
            let received = self.queue.receive(10, 0).await.expect("receive");
            if received.is_empty() {
                return bodies;
            }
            for message in received {
                bodies.push(serde_json::from_str(&message.body).expect("a JSON body"));
                self.queue.delete(&message.receipt_handle).await.expect("delete");
            }
        }
    }
}

/// The bytes of a fixture webhook, e.g. `github/push.branch.json`.
pub fn webhook_fixture(path: &str) -> Vec<u8> {
    let file = kiln_tests::paths::fixtures_dir().join("webhooks").join(path);
    std::fs::read(&file).unwrap_or_else(|e| panic!("reading {}: {e}", file.display()))
}

/// A Lambda Function URL event (payload 2.0, route `$default`) for a POST of `body` to `path`.
pub fn function_url_event(path: &str, headers: &[(&str, &str)], body: &[u8], base64: bool) -> String {
    let mut all: serde_json::Map<String, Value> =
        headers.iter().map(|(n, v)| ((*n).to_owned(), json!(v))).collect();
    all.insert("host".into(), json!("abcdefgh.lambda-url.us-east-1.on.aws"));
    all.insert("x-forwarded-proto".into(), json!("https"));
    all.insert("user-agent".into(), json!("GitHub-Hookshot/044aadd"));
    json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": all,
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "abcdefgh",
            "domainName": "abcdefgh.lambda-url.us-east-1.on.aws",
            "domainPrefix": "abcdefgh",
            "http": {"method": "POST", "path": path, "protocol": "HTTP/1.1",
                     "sourceIp": "140.82.115.1", "userAgent": "GitHub-Hookshot/044aadd"},
            "requestId": "7f5b2c1e-0d0e-4a8e-9b1e-2f3a4b5c6d7e",
            "routeKey": "$default",
            "stage": "$default",
            "time": "24/Nov/2026:21:00:00 +0000",
            "timeEpoch": 1795467600000_u64
        },
        "body": encode_body(body, base64),
        "isBase64Encoded": base64
    })
    .to_string()
}

/// An API Gateway HTTP API event (payload 2.0) for route `POST /webhooks/{project}`.
pub fn http_api_webhook_event(project: &str, headers: &[(&str, &str)], body: &[u8], base64: bool) -> String {
    let path = format!("/webhooks/{project}");
    let mut all: serde_json::Map<String, Value> =
        headers.iter().map(|(n, v)| ((*n).to_owned(), json!(v))).collect();
    all.insert(
        "host".into(),
        json!("a1b2c3d4e5.execute-api.us-east-1.amazonaws.com"),
    );
    all.insert("content-length".into(), json!(body.len().to_string()));
    json!({
        "version": "2.0",
        "routeKey": "POST /webhooks/{project}",
        "rawPath": path,
        "rawQueryString": "",
        "headers": all,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "a1b2c3d4e5",
            "domainName": "a1b2c3d4e5.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "a1b2c3d4e5",
            "http": {"method": "POST", "path": path, "protocol": "HTTP/1.1",
                     "sourceIp": "140.82.115.1", "userAgent": "Gitea"},
            "requestId": "Kx1yZjJYIAMEV8Q=",
            "routeKey": "POST /webhooks/{project}",
            "stage": "$default",
            "time": "24/Nov/2026:21:00:00 +0000",
            "timeEpoch": 1795467600000_u64
        },
        "pathParameters": {"project": project},
        "body": encode_body(body, base64),
        "isBase64Encoded": base64
    })
    .to_string()
}

fn encode_body(body: &[u8], base64: bool) -> String {
    if base64 {
        aws_smithy_types::base64::encode(body)
    } else {
        String::from_utf8(body.to_vec()).expect("a UTF-8 body")
    }
}
