//! The runner in its ECS task, against moto: the real `kiln runner` binary with no `--data-dir`, configured by
//! the `KILN_*` environment the task definition sets, runs a build the use cases queued and dispatched. It must
//! record phases and the final status in DynamoDB, put the log in S3 and the same lines on stdout, upload the
//! artifact, and send one final notice to the notice queue and one through the SNS topic. Then: a failing
//! buildspec ends FAILED, SIGTERM (ECS StopTask) ends STOPPED, and an S3 zip source builds.

use std::io::Write as _;
use std::process::{Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use kiln_aws::settings::log_key;
use kiln_aws::{AwsClients, AwsSettings, DynamoBuildStore};
use kiln_core::build::{BuildId, Timestamp};
use kiln_core::ports::BoxFuture;
use kiln_core::ports::build_store::PutMode;
use kiln_core::ports::launcher::{LaunchError, TaskLauncher};
use kiln_core::usecases::Services;
use kiln_core::usecases::start::{Origin, StartBuildInput};
use kiln_tests::kiln::{GitRepo, kiln_bin};
use serde_json::{Value, json};

use crate::aws_support::{
    REGION, create_bucket, create_queue, drain_json, s3_object, stored_record, topic_with_subscriber,
    with_moto,
};

const TABLE: &str = "kiln-builds";
const ARTIFACTS: &str = "kiln-artifacts";
const LOGS: &str = "kiln-logs";
const CACHE: &str = "kiln-cache";

/// The dispatch function's launcher stand-in: moto's tasks never run anything, so the test starts the runner.
struct TestLauncher;

impl TaskLauncher for TestLauncher {
    fn launch<'a>(&'a self, build_id: &'a BuildId) -> BoxFuture<'a, Result<String, LaunchError>> {
        Box::pin(async move { Ok(format!("arn:aws:ecs:{REGION}:123456789012:task/kiln/{build_id}")) })
    }
    fn stop<'a>(&'a self, _task: &'a str) -> BoxFuture<'a, Result<(), LaunchError>> {
        Box::pin(async { Ok(()) })
    }
    fn is_alive<'a>(&'a self, _task: &'a str) -> BoxFuture<'a, Result<bool, LaunchError>> {
        Box::pin(async { Ok(true) })
    }
}

/// A deployment in moto: table, buckets, notice queue, topic with a subscribed queue; the task environment.
struct Deployment {
    clients: AwsClients,
    services: Services,
    env: Vec<(String, String)>,
    notices: String,
    subscriber: String,
}

async fn deploy(clients: AwsClients, endpoint: &str) -> Deployment {
    DynamoBuildStore::new(clients.dynamodb.clone(), TABLE)
        .create_table()
        .await
        .expect("create the table");
    for bucket in [ARTIFACTS, LOGS, CACHE, "kiln-sources"] {
        create_bucket(&clients, bucket).await;
    }
    let notices = create_queue(&clients, "kiln-notices").await;
    let (topic, subscriber) = topic_with_subscriber(&clients, "kiln-notices").await;
    // What the runner task definition sets, plus what ECS and the test add.
    let env: Vec<(String, String)> = [
        ("KILN_TABLE", TABLE),
        ("KILN_ARTIFACTS_BUCKET", ARTIFACTS),
        ("KILN_LOGS_BUCKET", LOGS),
        ("KILN_CACHE_BUCKET", CACHE),
        ("KILN_NOTICE_QUEUE_URL", &notices),
        ("KILN_NOTICE_TOPIC_ARN", &topic),
        ("KILN_SECRETS_PREFIX", "kiln"),
        ("AWS_ENDPOINT_URL", endpoint),
        ("AWS_REGION", REGION),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    let settings =
        AwsSettings::from_lookup(|name| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
            .expect("settings");
    let services = Services {
        launcher: Arc::new(TestLauncher),
        ..settings.services(&clients).expect("services")
    };
    Deployment {
        clients,
        services,
        env,
        notices,
        subscriber,
    }
}

fn now() -> Timestamp {
    Timestamp::from(SystemTime::now())
}

impl Deployment {
    /// Creates project `name` with `source`, starts a build and dispatches it (QUEUED → PROVISIONING).
    async fn queue_build(&self, name: &str, source: Value) -> String {
        self.queue_build_with(name, source, json!([])).await
    }

    /// [`Deployment::queue_build`] for a project with these environment variables.
    async fn queue_build_with(&self, name: &str, source: Value, variables: Value) -> String {
        let project = json!({
            "name": name,
            "source": source,
            "artifacts": {"type": "S3", "location": ARTIFACTS, "packaging": "ZIP"},
            "environment": {"type": "LINUX_CONTAINER", "image": "kiln/runner", "computeType": "BUILD_GENERAL1_SMALL",
                            "environmentVariables": variables},
            "timeoutInMinutes": 10,
        });
        self.services
            .projects
            .put_project(&crate::aws_support::stored_project(project), PutMode::Create)
            .await
            .expect("create the project");
        let input = StartBuildInput {
            project_name: name.to_owned(),
            ..StartBuildInput::default()
        };
        let started = self
            .services
            .start_build(input, Origin::default(), now())
            .await
            .expect("start the build");
        let id = started.build.id().to_string();
        let dispatched = self.services.dispatch_step(now()).await.expect("dispatch");
        assert_eq!(dispatched.launched, vec![id.clone()]);
        id
    }

    fn runner(&self, id: &str) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(kiln_bin());
        command
            .arg("runner")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", std::env::temp_dir())
            .env("KILN_BUILD_ID", id)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        command
    }

    async fn run_runner(&self, id: &str) -> Output {
        let output = tokio::time::timeout(Duration::from_secs(300), self.runner(id).output())
            .await
            .expect("the runner ends")
            .expect("the runner starts");
        assert!(
            output.status.success(),
            "the runner exits 0 once the build has a final status: {:?}\nstderr: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        output
    }

    async fn record(&self, id: &str) -> Value {
        stored_record(&self.services, id).await
    }

    async fn object(&self, bucket: &str, key: &str) -> Vec<u8> {
        s3_object(&self.clients, bucket, key).await
    }

    /// Every message body on a queue (drained).
    async fn drain(&self, url: &str) -> Vec<Value> {
        drain_json(&self.clients, url).await
    }
}

/// The final state-change notices among `events` (SNS envelopes unwrapped).
pub(crate) fn final_notices(events: &[Value], id: &str) -> Vec<String> {
    events
        .iter()
        .map(|e| match e["Message"].as_str() {
            Some(inner) => serde_json::from_str(inner).expect("an SNS message with the event"),
            None => e.clone(),
        })
        .filter(|e| e["detail-type"] == "CodeBuild Build State Change")
        .filter(|e| e["detail"]["build-id"].as_str().is_some_and(|b| b.ends_with(id)))
        .filter_map(|e| e["detail"]["build-status"].as_str().map(str::to_owned))
        .filter(|status| status != "IN_PROGRESS")
        .collect()
}

/// An ECS container metadata endpoint on loopback that answers every request with `metadata`; returns the URL
/// ECS would put in `ECS_CONTAINER_METADATA_URI_V4`. Its thread ends with the test process.
fn metadata_endpoint(metadata: Value) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the metadata endpoint");
    let url = format!(
        "http://{}/v4/0f3c9d3e1a2b4c5d-1234567890",
        listener.local_addr().expect("an address")
    );
    std::thread::spawn(move || {
        let body = metadata.to_string();
        for mut stream in listener.incoming().flatten() {
            let mut request = [0u8; 4096];
            let _ = std::io::Read::read(&mut stream, &mut request);
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    url
}

fn git_source(repo: &GitRepo) -> Value {
    json!({"type": "GIT", "location": repo.url()})
}

#[test]
fn a_dispatched_build_runs_in_its_task_and_leaves_record_log_artifact_and_notices() {
    let repo = GitRepo::with_buildspec(
        "version: 0.2\nphases:\n  build:\n    commands:\n      - echo hello-from-the-task\n      \
         - mkdir -p out && echo built > out/result.txt\nartifacts:\n  files:\n    - out/result.txt\n",
    );
    with_moto(|clients, endpoint| async move {
        let mut aws = deploy(clients, &endpoint).await;
        // What ECS tells the container about its awslogs stream.
        let metadata = metadata_endpoint(json!({
            "Name": "runner",
            "LogDriver": "awslogs",
            "LogOptions": {"awslogs-group": "/kiln/test/builds", "awslogs-region": REGION,
                           "awslogs-stream": "build/runner/0f3c9d3e1a2b4c5d"}
        }));
        aws.env.push(("ECS_CONTAINER_METADATA_URI_V4".into(), metadata));
        let id = aws.queue_build("app", git_source(&repo)).await;
        let output = aws.run_runner(&id).await;

        let record = aws.record(&id).await;
        assert_eq!(record["buildStatus"], "SUCCEEDED", "{record:#}");
        assert_eq!(record["resolvedSourceVersion"], repo.head.as_str());
        // The task's compute at Fargate list prices: at least the one-minute minimum of a 2 vCPU / 4 GB task.
        let cost = &record["estimatedCost"];
        assert_eq!(cost["currency"], "USD", "{record:#}");
        assert!(cost["amount"].as_f64().is_some_and(|a| a >= 0.0013), "{cost}");
        assert!(
            cost["basis"].as_str().is_some_and(|b| b.contains("2 vCPU/4 GB")),
            "{cost}"
        );
        let phases: Vec<(&str, &str)> = record["phases"]
            .as_array()
            .expect("phases")
            .iter()
            .filter_map(|p| Some((p["phaseType"].as_str()?, p["phaseStatus"].as_str()?)))
            .collect();
        for phase in ["DOWNLOAD_SOURCE", "BUILD", "UPLOAD_ARTIFACTS", "FINALIZING"] {
            assert!(phases.contains(&(phase, "SUCCEEDED")), "{phase} in {phases:?}");
        }

        let build_id = BuildId::parse(&id).expect("a build id");
        let log = String::from_utf8(aws.object(LOGS, &log_key(&build_id)).await).expect("utf-8 log");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(log.contains("hello-from-the-task"), "{log}");
        for line in log.lines() {
            assert!(
                stdout.contains(line),
                "log line {line:?} is on stdout too:\n{stdout}"
            );
        }
        assert_eq!(
            record["logs"]["s3Logs"]["location"],
            format!("{LOGS}/{}", log_key(&build_id)).as_str()
        );
        // The CloudWatch names are the task's awslogs stream, not the ones the build was created with.
        assert_eq!(record["logs"]["groupName"], "/kiln/test/builds", "{record:#}");
        assert_eq!(record["logs"]["streamName"], "build/runner/0f3c9d3e1a2b4c5d");
        assert!(
            record["logs"]["deepLink"].as_str().is_some_and(
                |l| l.ends_with("#logEvent:group=/kiln/test/builds;stream=build/runner/0f3c9d3e1a2b4c5d")
            ),
            "{record:#}"
        );

        let artifact = record["artifacts"]["location"]
            .as_str()
            .expect("an artifact location");
        let key = artifact
            .strip_prefix(&format!("arn:aws:s3:::{ARTIFACTS}/"))
            .unwrap_or_else(|| panic!("{artifact} is in the artifacts bucket"));
        assert!(!aws.object(ARTIFACTS, key).await.is_empty());

        let queued = aws.drain(&aws.notices).await;
        assert_eq!(final_notices(&queued, &id), vec!["SUCCEEDED"]);
        let via_topic = aws.drain(&aws.subscriber).await;
        assert_eq!(final_notices(&via_topic, &id), vec!["SUCCEEDED"]);
    });
}

#[test]
fn a_projects_secrets_manager_variables_resolve_their_json_key_and_version_stage_in_the_task() {
    let repo = GitRepo::with_buildspec(
        "version: 0.2\nphases:\n  build:\n    commands:\n      - test \"$DB_PASSWORD\" = old\n      \
         - test \"$DB_USER\" = admin\n",
    );
    with_moto(|clients, endpoint| async move {
        let sm = &clients.secrets_manager;
        sm.create_secret()
            .name("db")
            .secret_string(r#"{"user":"admin","password":"old"}"#)
            .send()
            .await
            .expect("create secret");
        sm.put_secret_value()
            .secret_id("db")
            .secret_string(r#"{"user":"admin","password":"new"}"#)
            .send()
            .await
            .expect("rotate");
        let aws = deploy(clients, &endpoint).await;
        let variables = json!([
            {"name": "DB_PASSWORD", "value": "db:password:AWSPREVIOUS", "type": "SECRETS_MANAGER"},
            {"name": "DB_USER", "value": "db:user", "type": "SECRETS_MANAGER"},
        ]);
        let id = aws.queue_build_with("app", git_source(&repo), variables).await;
        let output = aws.run_runner(&id).await;
        let record = aws.record(&id).await;
        assert_eq!(
            record["buildStatus"],
            "SUCCEEDED",
            "{record:#}\n{}",
            String::from_utf8_lossy(&output.stdout)
        );
    });
}

#[test]
fn a_failing_buildspec_ends_failed_and_the_runner_still_exits_zero() {
    let repo = GitRepo::with_buildspec("version: 0.2\nphases:\n  build:\n    commands:\n      - exit 3\n");
    with_moto(|clients, endpoint| async move {
        let aws = deploy(clients, &endpoint).await;
        let id = aws.queue_build("app", git_source(&repo)).await;
        aws.run_runner(&id).await;
        let record = aws.record(&id).await;
        assert_eq!(record["buildStatus"], "FAILED", "{record:#}");
        assert_eq!(final_notices(&aws.drain(&aws.notices).await, &id), vec!["FAILED"]);
    });
}

#[test]
fn sigterm_mid_build_ends_the_build_stopped() {
    let repo = GitRepo::with_buildspec(
        "version: 0.2\nphases:\n  build:\n    commands:\n      - echo started && sleep 120\n",
    );
    with_moto(|clients, endpoint| async move {
        let aws = deploy(clients, &endpoint).await;
        let id = aws.queue_build("app", git_source(&repo)).await;
        let child = aws.runner(&id).spawn().expect("the runner starts");
        let pid = child.id().expect("a pid").to_string();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
        while aws.record(&id).await["currentPhase"] != "BUILD" {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the build never reached BUILD"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let killed = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill runs");
        assert!(killed.success());
        let output = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
            .await
            .expect("the runner ends soon after SIGTERM")
            .expect("wait");
        assert!(
            output.status.success(),
            "{:?}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        let record = aws.record(&id).await;
        assert_eq!(record["buildStatus"], "STOPPED", "{record:#}");
        assert_eq!(
            final_notices(&aws.drain(&aws.notices).await, &id),
            vec!["STOPPED"]
        );
    });
}

#[test]
fn an_s3_zip_source_is_downloaded_unpacked_and_built() {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default();
    zip.start_file("buildspec.yml", options).expect("zip entry");
    zip.write_all(b"version: 0.2\nphases:\n  build:\n    commands:\n      - cat src/message.txt\n")
        .expect("write");
    zip.start_file("src/message.txt", options).expect("zip entry");
    zip.write_all(b"from-the-zip\n").expect("write");
    let bytes = zip.finish().expect("finish the zip").into_inner();
    with_moto(|clients, endpoint| async move {
        let aws = deploy(clients, &endpoint).await;
        aws.clients
            .s3
            .put_object()
            .bucket("kiln-sources")
            .key("app/source.zip")
            .body(bytes.into())
            .send()
            .await
            .expect("upload the source");
        let id = aws
            .queue_build(
                "app",
                json!({"type": "S3", "location": "kiln-sources/app/source.zip"}),
            )
            .await;
        let output = aws.run_runner(&id).await;
        let record = aws.record(&id).await;
        assert_eq!(record["buildStatus"], "SUCCEEDED", "{record:#}");
        assert!(String::from_utf8_lossy(&output.stdout).contains("from-the-zip"));
    });
}
