//! "AWS in a box": the whole serverless path against moto, with the real handlers and the real runner binary.
//! A signed GitHub fixture push (its commit pointed at a git repository the test creates) reaches the `webhook`
//! function as a Function URL event → a QUEUED build in DynamoDB and a dispatch message in SQS → the
//! `dispatch` function with that SQS batch → RunTask in moto → for each task moto recorded, `kiln runner` run
//! with the task definition's environment plus that task's container overrides (moto runs no containers) →
//! the log and artifact in S3, the final status in DynamoDB, one final notice on the notice queue and one on a
//! queue subscribed to the SNS topic. Then the same with a failing buildspec, and with the task stopped before
//! the runner could finish (the `task-events` function ends the build FAULT and a late runner changes nothing).

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::BodyExt;
use kiln_aws::AwsSecretResolver;
use kiln_aws::settings::log_key;
use kiln_aws::{AwsClients, AwsSettings, SqsDispatchSignal, SqsQueue};
use kiln_core::build::BuildId;
use kiln_core::ports::build_store::PutMode;
use kiln_core::ports::dispatch_signal::DispatchSignal;
use kiln_core::usecases::Services;
use kiln_fn_dispatch::Dispatcher;
use kiln_fn_task_events::TaskEvents;
use kiln_fn_webhook::Webhook;
use kiln_tests::kiln::{GitRepo, kiln_bin};
use serde_json::{Value, json};

use crate::aws_runner::final_notices;
use crate::aws_support::{
    REGION, create_bucket, create_queue, drain_json, s3_object, stored_record, topic_with_subscriber,
    with_moto,
};
use crate::fn_box::function_url_event;
use crate::fn_dispatch::sqs_event;
use crate::fn_task_events::stopped_event;
use crate::serve::github_fixture;

const ARTIFACTS: &str = "box-artifacts";
const LOGS: &str = "box-logs";
const CACHE: &str = "box-cache";
const SECRET: &str = "box-webhook-secret";

/// The deployment: what `template.yaml` creates, in moto, and the environment it gives functions and tasks.
struct Deployment {
    clients: AwsClients,
    services: Services,
    /// The `KILN_*` and AWS variables of the functions and the runner task definition.
    env: Vec<(String, String)>,
    dispatch_url: String,
    notice_url: String,
    subscriber_url: String,
    cluster: String,
}

async fn deploy(clients: AwsClients, endpoint: &str) -> Deployment {
    kiln_lambda::init_tracing();
    let ecs = crate::aws_ecs::setup(&clients, endpoint).await;
    for bucket in [ARTIFACTS, LOGS, CACHE] {
        create_bucket(&clients, bucket).await;
    }
    let dispatch_url = create_queue(&clients, "box-dispatch").await;
    let notice_url = create_queue(&clients, "box-notices").await;
    let (topic, subscriber_url) = topic_with_subscriber(&clients, "box-notice-topic").await;
    let env: Vec<(String, String)> = [
        ("KILN_TABLE", "box-builds".to_owned()),
        ("KILN_DISPATCH_QUEUE_URL", dispatch_url.clone()),
        ("KILN_NOTICE_QUEUE_URL", notice_url.clone()),
        ("KILN_NOTICE_TOPIC_ARN", topic),
        ("KILN_CLUSTER", ecs.cluster.clone()),
        ("KILN_TASK_DEFINITION", ecs.task_definition.clone()),
        ("KILN_SUBNETS", ecs.subnets.join(",")),
        ("KILN_ARTIFACTS_BUCKET", ARTIFACTS.to_owned()),
        ("KILN_LOGS_BUCKET", LOGS.to_owned()),
        ("KILN_CACHE_BUCKET", CACHE.to_owned()),
        ("KILN_SECRETS_PREFIX", "kiln".to_owned()),
        ("AWS_ENDPOINT_URL", endpoint.to_owned()),
        ("AWS_REGION", REGION.to_owned()),
        ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let settings =
        AwsSettings::from_lookup(|name| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
            .expect("the functions' settings");
    settings
        .store(&clients)
        .create_table()
        .await
        .expect("create the table");
    let services = settings.services(&clients).expect("the functions' services");
    clients
        .ssm
        .put_parameter()
        .name("/kiln/app/webhook")
        .value(SECRET)
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .send()
        .await
        .expect("moto stores the webhook secret");
    Deployment {
        clients,
        services,
        env,
        dispatch_url,
        notice_url,
        subscriber_url,
        cluster: ecs.cluster,
    }
}

impl Deployment {
    fn dispatch_signal(&self) -> Arc<dyn DispatchSignal> {
        Arc::new(SqsDispatchSignal::new(SqsQueue::new(
            self.clients.sqs.clone(),
            &self.dispatch_url,
        )))
    }

    /// Stores project `app` building `repo` on every push, with its webhook secret in SSM.
    async fn project(&self, repo: &GitRepo) {
        let project = json!({
            "name": "app",
            "source": {"type": "GIT", "location": repo.url()},
            "artifacts": {"type": "S3", "location": ARTIFACTS, "packaging": "ZIP"},
            "environment": {"type": "LINUX_CONTAINER", "image": "kiln/runner", "computeType": "BUILD_GENERAL1_SMALL"},
            "timeoutInMinutes": 10,
            "webhook": {"secret": {"parameter": "/kiln/app/webhook"}},
        });
        self.services
            .projects
            .put_project(&crate::aws_support::stored_project(project), PutMode::Create)
            .await
            .expect("create the project");
    }

    /// The webhook function receives a signed GitHub push of `repo`'s head through its Function URL.
    async fn push(&self, repo: &GitRepo, delivery: &str) -> String {
        let body = github_fixture("push.branch.json", &repo.head);
        let signature = kiln_core::trigger::sign_hex(&kiln_core::trigger::WebhookSecret::new(SECRET), &body);
        let signature = format!("sha256={signature}");
        let headers = [
            ("content-type", "application/json"),
            ("x-github-event", "push"),
            ("x-github-delivery", delivery),
            ("x-hub-signature-256", signature.as_str()),
        ];
        let event = function_url_event("/webhooks/app", &headers, &body, false);
        let webhook = Webhook {
            services: self.services.clone(),
            secrets: Arc::new(AwsSecretResolver::cached(&self.clients)),
            dispatch: self.dispatch_signal(),
        }
        .router();
        let request = lambda_http::request::from_str(&event).expect("lambda_http reads the event");
        let response = kiln_fn_webhook::handle(&webhook, request).await;
        let status = response.status().as_u16();
        let bytes = response.into_body().collect().await.expect("the body").to_bytes();
        let answer: Value = serde_json::from_slice(&bytes).expect("a JSON answer");
        assert_eq!(status, 202, "{answer}");
        answer["buildIds"][0].as_str().expect("a build id").to_owned()
    }

    /// The dispatch function receives what is on the dispatch queue, as Lambda's SQS poller would hand it over.
    async fn dispatch(&self) {
        let received = self
            .clients
            .sqs
            .receive_message()
            .queue_url(&self.dispatch_url)
            .max_number_of_messages(10)
            .send()
            .await
            .expect("receive the dispatch messages");
        assert_eq!(
            received.messages().len(),
            1,
            "one dispatch message per accepted build"
        );
        let dispatcher = Dispatcher {
            services: self.services.clone(),
            queue: SqsQueue::new(self.clients.sqs.clone(), &self.dispatch_url),
        };
        let response =
            kiln_fn_dispatch::handle(&dispatcher, sqs_event(received.messages()), kiln_lambda::now()).await;
        assert!(
            response.batch_item_failures.is_empty(),
            "every message handled: {:?}",
            response.batch_item_failures
        );
    }

    /// The tasks moto recorded: each task's ARN and its container overrides' environment.
    async fn tasks(&self) -> Vec<(String, Vec<(String, String)>)> {
        let arns = self
            .clients
            .ecs
            .list_tasks()
            .cluster(&self.cluster)
            .send()
            .await
            .expect("list tasks")
            .task_arns()
            .to_vec();
        if arns.is_empty() {
            return Vec::new();
        }
        let described = self
            .clients
            .ecs
            .describe_tasks()
            .cluster(&self.cluster)
            .set_tasks(Some(arns))
            .send()
            .await
            .expect("describe tasks");
        described
            .tasks()
            .iter()
            .map(|task| {
                let env = task
                    .overrides()
                    .map(|o| o.container_overrides())
                    .unwrap_or_default()
                    .iter()
                    .flat_map(|c| c.environment())
                    .filter_map(|kv| Some((kv.name()?.to_owned(), kv.value()?.to_owned())))
                    .collect();
                (task.task_arn().unwrap_or_default().to_owned(), env)
            })
            .collect()
    }

    /// Runs `kiln runner` as the task would: the task definition's environment plus the task's overrides.
    async fn run_task(&self, overrides: &[(String, String)]) -> std::process::Output {
        let mut command = tokio::process::Command::new(kiln_bin());
        command
            .arg("runner")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", std::env::temp_dir())
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .envs(overrides.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        tokio::time::timeout(Duration::from_secs(300), command.output())
            .await
            .expect("the runner ends")
            .expect("the runner starts")
    }

    /// Pushes, dispatches, and returns the build id with its one task (ARN and overrides).
    async fn push_and_dispatch(
        &self,
        repo: &GitRepo,
        delivery: &str,
    ) -> (String, String, Vec<(String, String)>) {
        self.project(repo).await;
        let id = self.push(repo, delivery).await;
        self.dispatch().await;
        let mut tasks = self.tasks().await;
        assert_eq!(tasks.len(), 1, "one RunTask for the build: {tasks:?}");
        let (task, overrides) = tasks.remove(0);
        assert!(
            overrides.contains(&("KILN_BUILD_ID".to_owned(), id.clone())),
            "the task's overrides name the build: {overrides:?}"
        );
        (id, task, overrides)
    }

    async fn record(&self, id: &str) -> Value {
        stored_record(&self.services, id).await
    }

    async fn object(&self, bucket: &str, key: &str) -> Vec<u8> {
        s3_object(&self.clients, bucket, key).await
    }

    /// The final statuses announced for `id` on the notice queue and through the topic (both drained).
    async fn final_notices(&self, id: &str) -> (Vec<String>, Vec<String>) {
        let queued = self.drain(&self.notice_url).await;
        let via_topic = self.drain(&self.subscriber_url).await;
        (final_notices(&queued, id), final_notices(&via_topic, id))
    }

    /// Every message body on a queue, deleted as read.
    async fn drain(&self, url: &str) -> Vec<Value> {
        drain_json(&self.clients, url).await
    }
}

#[test]
fn a_signed_push_goes_webhook_dispatch_runtask_runner_and_ends_succeeded_with_log_artifact_and_notices() {
    let repo = GitRepo::with_buildspec(
        "version: 0.2\nphases:\n  build:\n    commands:\n      - echo building-in-the-box\n      \
         - mkdir -p out && echo built > out/result.txt\nartifacts:\n  files:\n    - out/result.txt\n",
    );
    with_moto(|clients, endpoint| async move {
        let aws = deploy(clients, &endpoint).await;
        let (id, _task, overrides) = aws
            .push_and_dispatch(&repo, "3b1f9a10-0000-4000-8000-00000000b0c1")
            .await;
        let queued = aws.record(&id).await;
        assert_eq!(queued["trigger"]["provider"], "GITHUB", "{queued:#}");
        assert_eq!(queued["currentPhase"], "PROVISIONING", "{queued:#}");

        let output = aws.run_task(&overrides).await;
        assert!(
            output.status.success(),
            "{:?}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        let record = aws.record(&id).await;
        assert_eq!(record["buildStatus"], "SUCCEEDED", "{record:#}");
        assert_eq!(record["resolvedSourceVersion"], repo.head.as_str());

        let build_id = BuildId::parse(&id).expect("a build id");
        let log = String::from_utf8(aws.object(LOGS, &log_key(&build_id)).await).expect("a UTF-8 log");
        assert!(log.contains("building-in-the-box"), "{log}");
        let artifact = record["artifacts"]["location"]
            .as_str()
            .expect("an artifact location");
        let key = artifact
            .strip_prefix(&format!("arn:aws:s3:::{ARTIFACTS}/"))
            .unwrap_or_else(|| panic!("{artifact} is in the artifacts bucket"));
        assert!(!aws.object(ARTIFACTS, key).await.is_empty());

        let (queued, via_topic) = aws.final_notices(&id).await;
        assert_eq!(queued, vec!["SUCCEEDED"]);
        assert_eq!(via_topic, vec!["SUCCEEDED"]);
    });
}

#[test]
fn a_failing_buildspec_goes_the_same_way_and_ends_failed_with_one_failed_notice() {
    let repo = GitRepo::with_buildspec("version: 0.2\nphases:\n  build:\n    commands:\n      - exit 3\n");
    with_moto(|clients, endpoint| async move {
        let aws = deploy(clients, &endpoint).await;
        let (id, _task, overrides) = aws
            .push_and_dispatch(&repo, "3b1f9a10-0000-4000-8000-00000000b0c2")
            .await;
        let output = aws.run_task(&overrides).await;
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let record = aws.record(&id).await;
        assert_eq!(record["buildStatus"], "FAILED", "{record:#}");
        let (queued, via_topic) = aws.final_notices(&id).await;
        assert_eq!(queued, vec!["FAILED"]);
        assert_eq!(via_topic, vec!["FAILED"]);
    });
}

#[test]
fn a_task_that_stops_before_its_runner_finishes_ends_the_build_fault_through_task_events() {
    let repo =
        GitRepo::with_buildspec("version: 0.2\nphases:\n  build:\n    commands:\n      - echo never\n");
    with_moto(|clients, endpoint| async move {
        let aws = deploy(clients, &endpoint).await;
        let (id, task, overrides) = aws
            .push_and_dispatch(&repo, "3b1f9a10-0000-4000-8000-00000000b0c3")
            .await;
        // The container was killed (out of memory) before the runner recorded anything.
        let event = stopped_event(
            &task,
            &id,
            "EssentialContainerExited",
            "Essential container in task exited",
            json!({"name": "runner", "exitCode": 137, "lastStatus": "STOPPED", "reason": "OutOfMemoryError: Container killed due to memory usage"}),
        );
        let handler = TaskEvents {
            services: aws.services.clone(),
            dispatch: aws.dispatch_signal(),
        };
        let event = serde_json::from_value(event).expect("the documented EventBridge shape");
        kiln_fn_task_events::handle(&handler, event, kiln_lambda::now())
            .await
            .expect("task-events handles the event");
        let record = aws.record(&id).await;
        assert_eq!(record["buildStatus"], "FAULT", "{record:#}");
        let context = record["phases"]
            .as_array()
            .expect("phases")
            .iter()
            .flat_map(|p| p["contexts"].as_array().cloned().unwrap_or_default())
            .map(|c| c["message"].as_str().unwrap_or_default().to_owned())
            .collect::<Vec<_>>()
            .join(" | ");
        assert!(
            context.contains("137"),
            "the exit code is in the phase context: {context}"
        );
        let (queued, via_topic) = aws.final_notices(&id).await;
        assert_eq!(queued, vec!["FAULT"]);
        assert_eq!(via_topic, vec!["FAULT"]);

        // A runner that starts late (a retried task) finds the build ended and changes nothing.
        let output = aws.run_task(&overrides).await;
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert_eq!(aws.record(&id).await["buildStatus"], "FAULT");
        assert_eq!(aws.final_notices(&id).await, (vec![], vec![]));
    });
}
