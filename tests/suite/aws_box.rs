//! The box (`kiln-box`, started in-process as `scripts/aws-in-a-box` starts it): `template.yaml` through the
//! SAM transform, its resources in moto, its functions and their wiring read from the template. A project is
//! created and given a webhook through the box's HTTP API (its IAM door, `/iam`, signed for `execute-api` as
//! its `AWS_IAM` authoriser wants), a signed push goes to the payload URL CreateWebhook answers (the box's Function URL,
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

    /// A CodeBuild operation through the HTTP API's IAM door (`POST /iam`), signed for `execute-api` with the
    /// box's keys.
    async fn api(&self, operation: &str, input: Value) -> (u16, Value) {
        let base = self.api_url();
        let host = base
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned();
        let url = format!("{base}iam");
        let body = input.to_string();
        let target = format!("CodeBuild_20161006.{operation}");
        let headers = [
            ("host", host.as_str()),
            ("content-type", "application/x-amz-json-1.1"),
            ("x-amz-target", target.as_str()),
        ];
        let credentials = Credentials::new("testing", "testing");
        let request = HttpRequest {
            method: "POST",
            path: "/iam",
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
        let mut builder = self.http.post(&url).body(body.clone());
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
        for (path, who) in [
            ("iam", "the /iam routes' AWS_IAM authoriser"),
            (
                "",
                "the api function, which wants a Kiln access key on the other routes,",
            ),
        ] {
            let unsigned = b
                .http
                .post(format!("{}{path}", b.api_url()))
                .header("x-amz-target", "CodeBuild_20161006.ListProjects")
                .body("{}")
                .send()
                .await
                .expect("answers")
                .status();
            assert_eq!(unsigned.as_u16(), 403, "{who} refuses an unsigned call");
        }

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

/// Runs a program to its end without blocking the box's runtime; returns its exit status, stdout and stderr.
async fn run<S: AsRef<std::ffi::OsStr>>(
    program: &Path,
    args: &[S],
    env: &[(&str, &str)],
) -> (bool, String, String) {
    let out = tokio::process::Command::new(program)
        .args(args)
        .envs(env.iter().copied())
        .output()
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", program.display()));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// boto3, with a Kiln key: a project made and built to its end through the box's API, the project list, and
/// a read-only key refused StartBuild. Prints JSON.
const BOTO3_END_TO_END: &str = r#"
import json, os, time, boto3, botocore
def client(key, secret):
    return boto3.client("codebuild", endpoint_url=os.environ["API"], region_name="us-east-1",
                        aws_access_key_id=key, aws_secret_access_key=secret)
cb = client(os.environ["KEY_ID"], os.environ["KEY_SECRET"])
cb.create_project(
    name="boto",
    source={"type": "NO_SOURCE",
            "buildspec": "version: 0.2\nphases:\n  build:\n    commands:\n      - echo hello-from-boto3\n"},
    artifacts={"type": "NO_ARTIFACTS"},
    environment={"type": "LINUX_CONTAINER", "image": "aws/codebuild/standard:7.0",
                 "computeType": "BUILD_GENERAL1_SMALL"},
    serviceRole="arn:aws:iam::123456789012:role/kiln-box-builds")
build = cb.start_build(projectName="boto")["build"]
deadline = time.time() + 90
while True:
    got = cb.batch_get_builds(ids=[build["id"]])["builds"][0]
    if got["buildComplete"]:
        break
    assert time.time() < deadline, got
    time.sleep(0.3)
denied = None
try:
    client(os.environ["RO_ID"], os.environ["RO_SECRET"]).start_build(projectName="boto")
except botocore.exceptions.ClientError as e:
    denied = [e.response["Error"]["Code"], e.response["Error"]["Message"]]
read = client(os.environ["RO_ID"], os.environ["RO_SECRET"]).batch_get_builds(ids=[build["id"]])["builds"]
print(json.dumps({"id": build["id"], "status": got["buildStatus"], "projects": cb.list_projects()["projects"],
                  "denied": denied, "readOnlyReads": len(read)}))
"#;

#[test]
fn the_aws_cli_boto3_and_kiln_reach_the_box_api_with_kiln_keys_and_kiln_with_iam_credentials() {
    with_box(&workspace_root().join("template.yaml"), |b| async move {
        let kiln = kiln_bin();
        let moto = b.running.endpoint.clone();
        let api = b.api_url().to_owned();
        let aws_env = [
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_DEFAULT_REGION", "us-east-1"),
        ];
        assert_eq!(
            b.running.outputs.get("ApiUrl").map(String::as_str),
            Some(api.as_str()),
            "the box records its stack's outputs with its own URLs"
        );
        let keys = |extra: &[&str]| -> Vec<String> {
            let mut args = vec!["keys", "--stack", "kiln-box", "--endpoint-url", moto.as_str()];
            args.extend_from_slice(extra);
            args.into_iter().map(str::to_owned).collect()
        };
        let (ok, out, err) = run(&kiln, &keys(&["create", "-d", "box test", "--json"]), &aws_env).await;
        assert!(ok, "kiln keys create: {err}");
        let key: Value = serde_json::from_str(&out).expect("the new key as JSON");
        let (id, secret) = (
            key["accessKeyId"].as_str().expect("an id").to_owned(),
            key["secretAccessKey"].as_str().expect("a secret").to_owned(),
        );
        assert!(id.starts_with("KILN"), "{key}");
        let (ok, out, err) = run(
            &kiln,
            &keys(&["create", "--read-only", "--project", "boto", "--json"]),
            &aws_env,
        )
        .await;
        assert!(ok, "kiln keys create --read-only: {err}");
        let read_only: Value = serde_json::from_str(&out).expect("JSON");

        // boto3, unchanged, with endpoint_url and a Kiln key.
        let python = kiln_tests::paths::venv_dir().join("bin/python");
        let boto_env = [
            ("API", api.as_str()),
            ("KEY_ID", id.as_str()),
            ("KEY_SECRET", secret.as_str()),
            ("RO_ID", read_only["accessKeyId"].as_str().expect("id")),
            (
                "RO_SECRET",
                read_only["secretAccessKey"].as_str().expect("secret"),
            ),
        ];
        let (ok, out, err) = run(&python, &["-c", BOTO3_END_TO_END], &boto_env).await;
        assert!(ok, "boto3 through the box: {err}");
        let boto: Value = serde_json::from_str(&out).expect("the script's JSON");
        assert_eq!(boto["status"], "SUCCEEDED", "{boto}");
        assert_eq!(boto["projects"], json!(["boto"]), "{boto}");
        assert_eq!(boto["denied"][0], "AccessDeniedException", "{boto}");
        assert!(
            boto["denied"][1]
                .as_str()
                .unwrap_or_default()
                .contains("not allowed to call StartBuild"),
            "{boto}"
        );
        assert_eq!(boto["readOnlyReads"], 1, "a read-only key reads: {boto}");

        // The aws CLI, unchanged, with --endpoint-url and the same key.
        let aws = kiln_tests::paths::venv_dir().join("bin/aws");
        let cli_env = [
            ("AWS_ACCESS_KEY_ID", id.as_str()),
            ("AWS_SECRET_ACCESS_KEY", secret.as_str()),
            ("AWS_DEFAULT_REGION", "us-east-1"),
        ];
        let cli = |args: Vec<String>| {
            let aws = aws.clone();
            let api = api.clone();
            async move {
                let mut all = vec!["codebuild".to_owned()];
                all.extend(args);
                all.extend([
                    "--endpoint-url".to_owned(),
                    api,
                    "--output".to_owned(),
                    "json".to_owned(),
                ]);
                let refs: Vec<&str> = all.iter().map(String::as_str).collect();
                run(&aws, &refs, &cli_env).await
            }
        };
        let (ok, out, err) = cli(vec!["start-build".into(), "--project-name".into(), "boto".into()]).await;
        assert!(ok, "aws codebuild start-build: {err}");
        let started: Value = serde_json::from_str(&out).expect("JSON");
        let cli_build = started["build"]["id"].as_str().expect("a build id").to_owned();
        let deadline = Instant::now() + Duration::from_secs(90);
        let status = loop {
            let (ok, out, err) =
                cli(vec!["batch-get-builds".into(), "--ids".into(), cli_build.clone()]).await;
            assert!(ok, "aws codebuild batch-get-builds: {err}");
            let got: Value = serde_json::from_str(&out).expect("JSON");
            if got["builds"][0]["buildComplete"] == true {
                break got["builds"][0]["buildStatus"].clone();
            }
            assert!(Instant::now() < deadline, "the CLI's build did not end: {got}");
            tokio::time::sleep(Duration::from_millis(300)).await;
        };
        assert_eq!(status, "SUCCEEDED");

        // kiln with the Kiln key, and kiln with IAM credentials through --stack (the /iam door).
        let with_key = [
            ("KILN_ACCESS_KEY_ID", id.as_str()),
            ("KILN_SECRET_ACCESS_KEY", secret.as_str()),
        ];
        let (ok, out, err) = run(&kiln, &["builds", "--endpoint", &api, "--json"], &with_key).await;
        assert!(
            ok && out.contains(&cli_build),
            "kiln builds with a Kiln key: {out}{err}"
        );
        let mut iam_env = aws_env.to_vec();
        iam_env.push(("AWS_ENDPOINT_URL", moto.as_str()));
        let (ok, out, err) = run(&kiln, &["builds", "--stack", "kiln-box", "--json"], &iam_env).await;
        assert!(
            ok && out.contains(&cli_build),
            "kiln builds --stack (IAM): {out}{err}"
        );

        // Revoked, the key is refused, and the refusal says which credentials were tried.
        let (ok, _, err) = run(&kiln, &keys(&["revoke", id.as_str()]), &aws_env).await;
        assert!(ok, "kiln keys revoke: {err}");
        let (ok, _, err) = cli(vec!["list-projects".into()]).await;
        assert!(
            !ok && err.contains("AccessDeniedException"),
            "a revoked key: {err}"
        );
        let (ok, _, err) = run(&kiln, &["builds", "--endpoint", &api], &with_key).await;
        assert!(!ok, "kiln with a revoked key");
        assert!(
            err.contains(&format!("Kiln access key {id}")),
            "names the key tried: {err}"
        );
        let (ok, out, err) = run(&kiln, &keys(&["list", "--json"]), &aws_env).await;
        assert!(ok, "{err}");
        let listed: Value = serde_json::from_str(&out).expect("JSON");
        let revoked: Vec<&Value> = listed
            .as_array()
            .expect("a list")
            .iter()
            .filter(|k| k["status"] == "revoked")
            .collect();
        assert_eq!(revoked.len(), 1, "{listed}");
        assert!(
            !out.contains(&secret) && !out.contains("sealed"),
            "never a secret in a listing: {out}"
        );
    });
}
