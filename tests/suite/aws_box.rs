//! The box (`kiln-box`, started in-process as `scripts/aws-in-a-box` starts it): `template.yaml` through the
//! SAM transform, its resources in moto, its functions and their wiring read from the template. A project is
//! created and given a webhook through the box's HTTP API (signed for `execute-api`, as its `AWS_IAM`
//! authoriser wants), a signed push goes to the payload URL CreateWebhook answers (the box's Function URL,
//! through the api function's `KILN_WEBHOOK_URL`), and the build ends SUCCEEDED with its log and artifact in
//! moto's S3 and its notices on the notice queue. A copy of the template without the dispatch function's SQS
//! event leaves the build QUEUED: the wiring is the template's.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kiln_aws::settings::log_key;
use kiln_box::{BoxOptions, RunningBox};
use kiln_core::build::BuildId;
use kiln_core::sigv4::{AmzDate, Credentials, HttpRequest, SigningParams, sign};
use kiln_tests::kiln::{GitRepo, kiln_bin};
use kiln_tests::paths::workspace_root;
use serde_json::{Value, json};

use crate::aws_runner::final_notices;
use crate::aws_support::{drain_json, s3_object};
use crate::serve::github_fixture;

/// The dispatch function's event source in `template.yaml`.
const DISPATCH_EVENT: &str = "      Events:
        Queue:
          Type: SQS
          Properties:
            Queue: !GetAtt DispatchQueue.Arn
            BatchSize: 10
            FunctionResponseTypes: [ReportBatchItemFailures]
";

struct TheBox {
    running: RunningBox,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

/// Runs `test` against a box of `template` on a fresh runtime, then stops the box.
fn with_box<F, Fut>(template: &Path, test: F)
where
    F: FnOnce(Arc<TheBox>) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async {
        let dir = tempfile::tempdir().expect("a temp dir");
        let mut options = BoxOptions::new(template, kiln_bin(), dir.path().join("box"));
        options.sam_python = Some(workspace_root().join(".venv-sam/bin/python"));
        options.moto_server = Some(kiln_tests::paths::venv_dir().join("bin/moto_server"));
        let running = kiln_box::start(options)
            .await
            .unwrap_or_else(|e| panic!("the box starts: {e}"));
        let the_box = Arc::new(TheBox {
            running,
            http: reqwest::Client::new(),
            _dir: dir,
        });
        test(the_box.clone()).await;
        match Arc::try_unwrap(the_box) {
            Ok(the_box) => the_box.running.stop().await,
            Err(_) => panic!("the test kept the box"),
        }
    });
}

impl TheBox {
    fn api_url(&self) -> &str {
        self.running
            .url("AWS::ApiGatewayV2::Api")
            .expect("the template's HTTP API")
    }

    fn reference(&self, id: &str) -> String {
        self.running
            .reference(id)
            .unwrap_or_else(|| panic!("{id} in the stack"))
            .to_owned()
    }

    /// A CodeBuild operation through the HTTP API, signed for `execute-api` with the box's keys.
    async fn api(&self, operation: &str, input: Value) -> (u16, Value) {
        let url = self.api_url();
        let host = url.trim_start_matches("http://").trim_end_matches('/');
        let body = input.to_string();
        let target = format!("CodeBuild_20161006.{operation}");
        let headers = [
            ("host", host),
            ("content-type", "application/x-amz-json-1.1"),
            ("x-amz-target", target.as_str()),
        ];
        let credentials = Credentials::new("testing", "testing");
        let request = HttpRequest {
            method: "POST",
            path: "/",
            query: "",
            headers: &headers,
            body: body.as_bytes(),
        };
        let params = SigningParams {
            credentials: &credentials,
            region: "us-east-1",
            service: "execute-api",
            time: AmzDate::from_system_time(std::time::SystemTime::now()).expect("a clock after 1970"),
        };
        let mut builder = self.http.post(url).body(body.clone());
        for (name, value) in headers
            .iter()
            .skip(1)
            .copied()
            .chain(sign(&request, &params).expect("signed").pairs())
        {
            builder = builder.header(name, value);
        }
        let response = builder.send().await.expect("the API answers");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Creates project `app` building `repo` and gives it a webhook; returns its payload URL and secret.
    async fn project(&self, repo: &GitRepo) -> (String, String) {
        let project = json!({
            "name": "app",
            "source": {"type": "GIT", "location": repo.url()},
            "artifacts": {"type": "S3", "location": self.reference("ArtifactsBucket"), "packaging": "ZIP"},
            "environment": {"type": "LINUX_CONTAINER", "image": "kiln/runner", "computeType": "BUILD_GENERAL1_SMALL"},
            "serviceRole": "arn:aws:iam::123456789012:role/kiln-box-builds",
            "timeoutInMinutes": 10,
        });
        let (status, created) = self.api("CreateProject", project).await;
        assert_eq!(status, 200, "{created}");
        let (status, webhook) = self.api("CreateWebhook", json!({"projectName": "app"})).await;
        assert_eq!(status, 200, "{webhook}");
        let payload_url = webhook["webhook"]["payloadUrl"]
            .as_str()
            .expect("a payload URL")
            .to_owned();
        let secret = webhook["webhook"]["secret"]
            .as_str()
            .expect("the new secret")
            .to_owned();
        (payload_url, secret)
    }

    /// A signed GitHub push of `repo`'s head to `url`; returns the build id.
    async fn push(&self, url: &str, secret: &str, repo: &GitRepo) -> String {
        let body = github_fixture("push.branch.json", &repo.head);
        let signature = kiln_core::trigger::sign_hex(&kiln_core::trigger::WebhookSecret::new(secret), &body);
        let response = self
            .http
            .post(url)
            .header("content-type", "application/json")
            .header("x-github-event", "push")
            .header("x-github-delivery", "7c0e4a10-0000-4000-8000-00000000b0c5")
            .header("x-hub-signature-256", format!("sha256={signature}"))
            .body(body)
            .send()
            .await
            .expect("the webhook URL answers");
        let status = response.status().as_u16();
        let answer: Value = response.json().await.expect("a JSON answer");
        assert_eq!(status, 202, "{answer}");
        answer["buildIds"][0].as_str().expect("a build id").to_owned()
    }

    async fn build(&self, id: &str) -> Value {
        let (status, got) = self.api("BatchGetBuilds", json!({"ids": [id]})).await;
        assert_eq!(status, 200, "{got}");
        got["builds"][0].clone()
    }

    async fn wait_for_end(&self, id: &str) -> Value {
        let started = Instant::now();
        loop {
            let build = self.build(id).await;
            if build["buildComplete"] == true {
                return build;
            }
            assert!(
                started.elapsed() < Duration::from_secs(90),
                "the build did not end: {build:#}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

#[test]
fn through_the_box_a_project_made_by_its_api_builds_a_signed_push_to_succeeded_with_log_artifact_and_notices()
{
    let repo = GitRepo::with_buildspec(
        "version: 0.2\nphases:\n  build:\n    commands:\n      - echo building-in-the-box\n      \
         - mkdir -p out && echo built > out/result.txt\nartifacts:\n  files:\n    - out/result.txt\n",
    );
    with_box(&workspace_root().join("template.yaml"), |b| async move {
        let dispatch = &b.running.plan.queues;
        assert!(
            dispatch
                .iter()
                .any(|q| q.function == "DispatchFunction" && q.queue_arn.ends_with("DispatchQueue")),
            "the template wires the dispatch queue to the dispatch function: {dispatch:?}"
        );
        let unsigned = b
            .http
            .post(b.api_url())
            .body("{}")
            .send()
            .await
            .expect("answers")
            .status();
        assert_eq!(
            unsigned.as_u16(),
            403,
            "the API's AWS_IAM authoriser refuses an unsigned call"
        );

        let (payload_url, secret) = b.project(&repo).await;
        let webhook_url = b
            .running
            .url("AWS::Lambda::Url")
            .expect("the webhook function's URL");
        assert_eq!(
            payload_url,
            format!("{webhook_url}webhooks/app"),
            "KILN_WEBHOOK_URL is the Function URL"
        );
        let id = b.push(&payload_url, &secret, &repo).await;
        let build = b.wait_for_end(&id).await;
        assert_eq!(build["buildStatus"], "SUCCEEDED", "{build:#}");
        assert_eq!(build["resolvedSourceVersion"], repo.head.as_str());

        let clients = &b.running.clients;
        let build_id = BuildId::parse(&id).expect("a build id");
        let log = s3_object(clients, &b.reference("LogsBucket"), &log_key(&build_id)).await;
        let log = String::from_utf8(log).expect("a UTF-8 log");
        assert!(log.contains("building-in-the-box"), "{log}");
        let artifact = build["artifacts"]["location"]
            .as_str()
            .expect("an artifact location");
        let bucket = b.reference("ArtifactsBucket");
        let key = artifact
            .strip_prefix(&format!("arn:aws:s3:::{bucket}/"))
            .unwrap_or_else(|| panic!("{artifact} is in the artifacts bucket"));
        assert!(!s3_object(clients, &bucket, key).await.is_empty());
        let notices = drain_json(clients, &b.reference("NoticeQueue")).await;
        assert_eq!(final_notices(&notices, &id), vec!["SUCCEEDED"]);
    });
}

#[test]
fn a_template_without_the_dispatch_queue_event_gives_a_box_that_leaves_builds_queued() {
    let repo =
        GitRepo::with_buildspec("version: 0.2\nphases:\n  build:\n    commands:\n      - echo never\n");
    let text = std::fs::read_to_string(workspace_root().join("template.yaml")).expect("template.yaml");
    assert_eq!(
        text.matches(DISPATCH_EVENT).count(),
        1,
        "template.yaml wires the dispatch queue as expected"
    );
    let dir = tempfile::tempdir().expect("a temp dir");
    let template: PathBuf = dir.path().join("template.yaml");
    std::fs::write(&template, text.replace(DISPATCH_EVENT, "")).expect("write the copy");
    with_box(&template, |b| async move {
        assert!(b.running.plan.queues.is_empty(), "{:?}", b.running.plan.queues);
        let (payload_url, secret) = b.project(&repo).await;
        let id = b.push(&payload_url, &secret, &repo).await;
        tokio::time::sleep(Duration::from_secs(3)).await;
        let build = b.build(&id).await;
        assert_eq!(
            build["currentPhase"], "QUEUED",
            "nothing dispatches it: {build:#}"
        );
        let waiting = b
            .running
            .clients
            .sqs
            .get_queue_attributes()
            .queue_url(b.reference("DispatchQueue"))
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
            .send()
            .await
            .expect("queue attributes");
        let count = waiting
            .attributes()
            .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages))
            .cloned();
        assert_eq!(
            count.as_deref(),
            Some("1"),
            "its dispatch message waits on the queue"
        );
    });
}
