//! `kiln serve` end to end: signed webhook deliveries routed through filter groups, idempotent redelivery,
//! refused signatures, the CodeBuild API through boto3 (open and SigV4-protected), stop and retry, the
//! concurrency limit, and a `kill -9` in the middle of a burst.

use std::time::Duration;

use kiln_tests::kiln::{GitRepo, TestKiln};
use serde_json::{Value, json};

const SECRET: &str = "topsecret";

const BUILDSPEC: &str = "version: 0.2
phases:
  build:
    commands:
      - echo \"building $CODEBUILD_WEBHOOK_HEAD_REF at $CODEBUILD_RESOLVED_SOURCE_VERSION\"
      - mkdir -p out && echo built > out/result.txt
artifacts:
  files:
    - out/result.txt
";

/// The fixtures dir: `KILN_FIXTURES`, else the nearest `shared/fixtures` above this crate.
/// A GitHub fixture with its commit ids pointed at `head`, so the build can check it out from the test repo.
pub(crate) fn github_fixture(name: &str, head: &str) -> Vec<u8> {
    let text = std::fs::read_to_string(
        kiln_tests::paths::fixtures_dir()
            .join("webhooks/github")
            .join(name),
    )
    .expect("fixture");
    let mut payload: Value = serde_json::from_str(&text).expect("fixture is JSON");
    if payload.get("after").is_some() {
        payload["after"] = json!(head);
    }
    if payload["head_commit"].is_object() {
        payload["head_commit"]["id"] = json!(head);
    }
    if payload["pull_request"].is_object() {
        payload["pull_request"]["head"]["sha"] = json!(head);
    }
    serde_json::to_vec(&payload).expect("JSON")
}

fn project(name: &str, repo: &GitRepo, filter_groups: &str, extra: &str) -> String {
    format!(
        "  - name: {name}
    source:
      type: GIT
      location: {url}
    environment:
      type: LINUX_CONTAINER
      image: local
      computeType: BUILD_GENERAL1_SMALL
    artifacts:
      type: S3
      location: local
      packaging: ZIP
    webhook:
      secret:
        value: {SECRET}
      filterGroups: {filter_groups}
{extra}",
        url = repo.url()
    )
}

fn config(projects: &[String]) -> String {
    format!("allowInlineSecrets: true\nprojects:\n{}", projects.join(""))
}

fn list_builds(kiln: &TestKiln, project: &str) -> Vec<Value> {
    let (status, body) = kiln.api("ListBuildsForProject", json!({"projectName": project}));
    assert_eq!(status, 200, "{body}");
    body["ids"].as_array().cloned().unwrap_or_default()
}

#[test]
fn a_signed_push_builds_only_the_projects_whose_filter_groups_match() {
    let repo = GitRepo::with_buildspec(BUILDSPEC);
    let master = r#"[[{type: EVENT, pattern: PUSH}, {type: HEAD_REF, pattern: "^refs/heads/master$"}]]"#;
    let release = r#"[[{type: EVENT, pattern: PUSH}, {type: HEAD_REF, pattern: "^refs/heads/release$"}]]"#;
    let kiln = TestKiln::spawn(&config(&[
        project("web", &repo, master, ""),
        project("docs", &repo, release, ""),
    ]));
    let body = github_fixture("push.branch.json", &repo.head);

    let (status, accepted) = kiln.post_webhook("web", "push", "delivery-1", &body, SECRET);
    assert_eq!(status, 202, "{accepted}");
    let id = accepted["buildIds"][0].as_str().expect("a build id").to_owned();
    let (status, ignored) = kiln.post_webhook("docs", "push", "delivery-1", &body, SECRET);
    assert_eq!(status, 200, "{ignored}");
    assert!(
        ignored["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("no filter group matched"),
        "{ignored}"
    );
    assert!(list_builds(&kiln, "docs").is_empty());

    let build = kiln.wait_for(&id, "SUCCEEDED");
    assert_eq!(build["resolvedSourceVersion"], json!(repo.head));
    assert_eq!(build["initiator"], "GitHub-Hookshot/044aadd");
    assert_eq!(build["trigger"]["deliveryId"], "delivery-1");
    assert_eq!(build["trigger"]["event"], "PUSH");
    assert!(
        build["artifacts"]["sha256sum"]
            .as_str()
            .is_some_and(|s| s.len() == 64),
        "{build}"
    );
    let log = reqwest::blocking::get(format!("{}/builds/{id}/logs", kiln.endpoint))
        .unwrap()
        .text()
        .unwrap();
    assert!(
        log.contains(&format!("building refs/heads/master at {}", repo.head)),
        "{log}"
    );
    let stream = reqwest::blocking::get(format!("{}/builds/{id}/logs/stream", kiln.endpoint))
        .unwrap()
        .text()
        .unwrap();
    assert!(stream.contains("building refs/heads/master"), "{stream}");
    assert!(
        stream.trim_end().ends_with("event: end\ndata: SUCCEEDED"),
        "the stream ends with the final status: {stream}"
    );

    let (_, events) = kiln.api("ListBuilds", json!({}));
    assert_eq!(events["ids"], json!([id]));
    let feed: Value = reqwest::blocking::get(format!("{}/events?after=0&limit=1000", kiln.endpoint))
        .unwrap()
        .json()
        .unwrap();
    let last = feed["events"]
        .as_array()
        .and_then(|e| e.last())
        .expect("notices")
        .clone();
    assert_eq!(last["event"]["detail-type"], "CodeBuild Build State Change");
    assert_eq!(last["event"]["detail"]["build-status"], "SUCCEEDED");
}

#[test]
fn a_pull_request_fixture_starts_a_build_with_its_trigger_details() {
    let repo = GitRepo::with_buildspec(BUILDSPEC);
    let groups = "[[{type: EVENT, pattern: PULL_REQUEST_CREATED}]]";
    let kiln = TestKiln::spawn(&config(&[project("web", &repo, groups, "")]));
    let body = github_fixture("pull_request.opened.json", &repo.head);
    let (status, accepted) = kiln.post_webhook("web", "pull_request", "pr-1", &body, SECRET);
    assert_eq!(status, 202, "{accepted}");
    let build = kiln.build(accepted["buildIds"][0].as_str().unwrap()).unwrap();
    assert_eq!(build["trigger"]["event"], "PULL_REQUEST_CREATED");
    assert!(
        build["sourceVersion"].as_str().unwrap().starts_with("pr/"),
        "{build}"
    );
    let vars = build["webhookVariables"].as_array().unwrap();
    assert!(
        vars.iter().any(|v| v["name"] == "CODEBUILD_WEBHOOK_BASE_REF"),
        "{vars:?}"
    );
    let (status, _) = kiln.post_webhook(
        "web",
        "push",
        "push-1",
        &github_fixture("push.branch.json", &repo.head),
        SECRET,
    );
    assert_eq!(
        status, 200,
        "a push does not pass a pull-request-only filter group"
    );
}

#[test]
fn twenty_concurrent_redeliveries_create_one_build() {
    let repo = GitRepo::with_buildspec(BUILDSPEC);
    let kiln = TestKiln::spawn_with(
        &config(&[project("web", &repo, "[[{type: EVENT, pattern: PUSH}]]", "")]),
        &["--paused"],
    );
    let body = github_fixture("push.branch.json", &repo.head);
    let ids: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..20)
            .map(|_| {
                s.spawn(|| {
                    let (status, accepted) = kiln.post_webhook("web", "push", "same-delivery", &body, SECRET);
                    assert_eq!(status, 202, "{accepted}");
                    accepted["buildIds"][0].as_str().unwrap().to_owned()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    assert_eq!(list_builds(&kiln, "web").len(), 1);
}

#[test]
fn a_bad_signature_is_refused_with_401_and_stores_nothing() {
    let repo = GitRepo::with_buildspec(BUILDSPEC);
    let kiln = TestKiln::spawn(&config(&[project(
        "web",
        &repo,
        "[[{type: EVENT, pattern: PUSH}]]",
        "",
    )]));
    let body = github_fixture("push.branch.json", &repo.head);
    let (status, _) = kiln.post_webhook("web", "push", "d-1", &body, "wrong-secret");
    assert_eq!(status, 401);
    let (status, _) = kiln.post_webhook("nope", "push", "d-1", &body, SECRET);
    assert_eq!(status, 404);
    let (status, _) = kiln.post_webhook("web", "push", "d-2", b"{not json", SECRET);
    assert_eq!(status, 400);
    assert!(list_builds(&kiln, "web").is_empty());
    let feed: Value = reqwest::blocking::get(format!("{}/events", kiln.endpoint))
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(feed["events"], json!([]));
}

/// A project whose webhook has no secret, with `extra` lines in its webhook.
fn unsigned_project(name: &str, repo: &GitRepo, extra: &str) -> String {
    format!(
        "  - name: {name}
    source:
      type: GIT
      location: {url}
    artifacts:
      type: NO_ARTIFACTS
    webhook:
      filterGroups: [[{{type: EVENT, pattern: PUSH}}]]
{extra}",
        url = repo.url()
    )
}

#[test]
fn a_webhook_without_a_secret_refuses_deliveries_unless_the_project_opts_in_to_unsigned_ones() {
    let repo = GitRepo::with_buildspec(BUILDSPEC);
    let kiln = TestKiln::spawn(&config(&[
        unsigned_project("closed", &repo, ""),
        unsigned_project("open", &repo, "      allowUnsigned: true\n"),
    ]));
    let body = github_fixture("push.branch.json", &repo.head);
    // Signed or not, a delivery to a webhook with no secret cannot be verified, and is refused saying why.
    let (status, refused) = kiln.post_webhook("closed", "push", "d-1", &body, "any-secret");
    assert_eq!(status, 401, "{refused}");
    let message = refused["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("has no secret") && message.contains("allowUnsigned"),
        "{refused}"
    );
    assert!(list_builds(&kiln, "closed").is_empty());

    let (status, accepted) = kiln.post_webhook("open", "push", "d-1", &body, "unchecked");
    assert_eq!(status, 202, "{accepted}");
    let id = accepted["buildIds"][0].as_str().expect("a build id").to_owned();
    kiln.wait_for(&id, "SUCCEEDED");
}

#[test]
fn a_body_over_25_mb_is_refused_with_413() {
    let repo = GitRepo::with_buildspec(BUILDSPEC);
    let kiln = TestKiln::spawn(&config(&[project(
        "web",
        &repo,
        "[[{type: EVENT, pattern: PUSH}]]",
        "",
    )]));
    let body = vec![b' '; 25 * 1024 * 1024 + 1];
    let (status, _) = kiln.post_webhook("web", "push", "big", &body, SECRET);
    assert_eq!(status, 413);
}

#[test]
fn stop_ends_a_running_build_stopped_and_retry_starts_a_new_one() {
    let repo = GitRepo::with_buildspec("version: 0.2\nphases:\n  build:\n    commands:\n      - sleep 121\n");
    let kiln = TestKiln::spawn(&config(&[project(
        "web",
        &repo,
        "[[{type: EVENT, pattern: PUSH}]]",
        "",
    )]));
    let id = kiln.start_build("web");
    wait_for_phase(&kiln, &id, "BUILD");
    let (status, stopped) = kiln.api("StopBuild", json!({"id": id}));
    assert_eq!(status, 200, "{stopped}");
    assert_eq!(stopped["build"]["buildStatus"], "STOPPED");
    wait_until(
        || kiln.runner_pids().is_empty(),
        "the runner is gone after StopBuild",
    );
    wait_until(
        || !sleep_121_running(),
        "the build's own processes are gone after StopBuild",
    );
    let (status, retried) = kiln.api("RetryBuild", json!({"id": id}));
    assert_eq!(status, 200, "{retried}");
    assert_ne!(retried["build"]["id"], json!(id));
    assert_eq!(retried["build"]["buildNumber"], 2);
    let (status, missing) = kiln.api(
        "StopBuild",
        json!({"id": "web:00000000-0000-0000-0000-000000000000"}),
    );
    assert_eq!(
        (status, missing["__type"].as_str()),
        (400, Some("ResourceNotFoundException"))
    );
}

#[test]
fn the_project_concurrency_limit_is_never_exceeded_and_every_build_finishes() {
    let repo = GitRepo::with_buildspec("version: 0.2\nphases:\n  build:\n    commands:\n      - sleep 0.3\n");
    let kiln = TestKiln::spawn(&config(&[project(
        "web",
        &repo,
        "[[{type: EVENT, pattern: PUSH}]]",
        "    concurrentBuildLimit: 1\n",
    )]));
    let ids: Vec<String> = (0..4).map(|_| kiln.start_build("web")).collect();
    let mut most = 0;
    loop {
        let (_, body) = kiln.api("BatchGetBuilds", json!({"ids": ids}));
        let builds = body["builds"].as_array().unwrap().clone();
        let running = builds
            .iter()
            .filter(|b| b["buildComplete"] == false && b["currentPhase"] != "QUEUED")
            .count();
        most = most.max(running);
        if builds.iter().all(|b| b["buildComplete"] == true) {
            assert!(
                builds.iter().all(|b| b["buildStatus"] == "SUCCEEDED"),
                "{builds:?}"
            );
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(most, 1, "at most one build of the project ran at a time");
}

#[test]
fn a_kill_9_during_a_burst_loses_no_accepted_delivery_and_leaves_no_build_unfinished() {
    let repo = GitRepo::with_buildspec("version: 0.2\nphases:\n  build:\n    commands:\n      - sleep 0.5\n");
    let mut kiln = TestKiln::spawn(&config(&[project(
        "web",
        &repo,
        "[[{type: EVENT, pattern: PUSH}]]",
        "",
    )]));
    let body = github_fixture("push.branch.json", &repo.head);
    let accepted: Vec<String> = std::thread::scope(|s| {
        let burst = s.spawn(|| {
            let mut ids = Vec::new();
            for n in 0..40 {
                let client = reqwest::blocking::Client::builder()
                    .timeout(Duration::from_secs(5))
                    .build()
                    .unwrap();
                let signature =
                    kiln_core::trigger::sign_hex(&kiln_core::trigger::WebhookSecret::new(SECRET), &body);
                let sent = client
                    .post(format!("{}/webhooks/web", kiln.endpoint))
                    .header("X-GitHub-Event", "push")
                    .header("X-GitHub-Delivery", format!("burst-{n}"))
                    .header("X-Hub-Signature-256", format!("sha256={signature}"))
                    .body(body.clone())
                    .send();
                match sent {
                    Ok(r) if r.status().is_success() => {
                        let v: Value = r.json().unwrap();
                        ids.push(v["buildIds"][0].as_str().unwrap().to_owned());
                    }
                    Ok(_) | Err(_) => break,
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            ids
        });
        std::thread::sleep(Duration::from_millis(250));
        kiln.crash();
        burst.join().unwrap()
    });
    assert!(
        !accepted.is_empty(),
        "some deliveries were accepted before the kill"
    );
    kiln.restart();
    for id in &accepted {
        let build = kiln.wait_for(id, "TERMINAL");
        assert!(
            ["SUCCEEDED", "FAULT"].contains(&build["buildStatus"].as_str().unwrap()),
            "{build}"
        );
    }
    let all = list_builds(&kiln, "web");
    for id in all.iter().filter_map(Value::as_str) {
        kiln.wait_for(id, "TERMINAL");
    }
    wait_until(|| kiln.runner_pids().is_empty(), "no runner process is left");
}

fn wait_for_phase(kiln: &TestKiln, id: &str, phase: &str) {
    wait_until(
        || kiln.build(id).is_some_and(|b| b["currentPhase"] == phase),
        "the build reaches its phase",
    );
}

fn wait_until(mut check: impl FnMut() -> bool, what: &str) {
    for _ in 0..600 {
        if check() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("timed out waiting: {what}");
}

/// Runs a Python script with the test venv's boto3; `KILN_ENDPOINT` is set for it. Returns its stdout as JSON.
fn boto3(kiln: &TestKiln, script: &str, env: &[(&str, &str)]) -> Value {
    let python = kiln_tests::paths::venv_dir().join("bin").join("python");
    let out = std::process::Command::new(&python)
        .arg("-c")
        .arg(script)
        .env("KILN_ENDPOINT", &kiln.endpoint)
        .envs(env.iter().copied())
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e}; run scripts/setup to make the test venv",
                python.display()
            )
        });
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

const BOTO3_PRELUDE: &str = r#"
import json, os, time, boto3, botocore
def client(key="AKIDEXAMPLE", secret="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"):
    return boto3.client("codebuild", endpoint_url=os.environ["KILN_ENDPOINT"], region_name="eu-west-1",
                        aws_access_key_id=key, aws_secret_access_key=secret)
def error(call):
    try:
        call()
        return None
    except botocore.exceptions.ClientError as e:
        return [e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]]
"#;

#[test]
fn boto3_creates_a_project_starts_a_build_and_reads_it_back() {
    let repo = GitRepo::with_buildspec(BUILDSPEC);
    let kiln = TestKiln::spawn(&config(&[project(
        "web",
        &repo,
        "[[{type: EVENT, pattern: PUSH}]]",
        "",
    )]));
    let script = format!(
        "{BOTO3_PRELUDE}{}",
        r#"
cb = client()
spec = "version: 0.2\nphases:\n  build:\n    commands:\n      - echo \"stage=$STAGE\"\n"
cb.create_project(name="api-made", source={"type": "NO_SOURCE", "buildspec": spec},
                  artifacts={"type": "NO_ARTIFACTS"}, serviceRole="arn:aws:iam::000000000000:role/kiln",
                  environment={"type": "LINUX_CONTAINER", "image": "aws/codebuild/standard:7.0",
                               "computeType": "BUILD_GENERAL1_SMALL"})
build = cb.start_build(projectName="api-made", idempotencyToken="tok-1",
                       environmentVariablesOverride=[{"name": "STAGE", "value": "prod", "type": "PLAINTEXT"}])["build"]
again = cb.start_build(projectName="api-made", idempotencyToken="tok-1",
                       environmentVariablesOverride=[{"name": "STAGE", "value": "prod", "type": "PLAINTEXT"}])["build"]
mismatch = error(lambda: cb.start_build(projectName="api-made", idempotencyToken="tok-1"))
for _ in range(600):
    got = cb.batch_get_builds(ids=[build["id"]])["builds"][0]
    if got["buildComplete"]:
        break
    time.sleep(0.05)
webhook = cb.update_webhook(projectName="web", filterGroups=[[{"type": "EVENT", "pattern": "PUSH"}]],
                            rotateSecret=True)["webhook"]
print(json.dumps({
    "id": build["id"], "again": again["id"], "status": got["buildStatus"],
    "phases": [p["phaseType"] for p in got["phases"]],
    "listed": cb.list_builds_for_project(projectName="api-made")["ids"],
    "projects": cb.list_projects()["projects"],
    "missing": error(lambda: cb.start_build(projectName="missing")),
    "mismatch": mismatch,
    "by_created": cb.list_projects(sortBy="CREATED_TIME", sortOrder="DESCENDING")["projects"],
    "by_name_desc": cb.list_projects(sortBy="NAME", sortOrder="DESCENDING")["projects"],
    "bad_sort": error(lambda: cb.list_projects(sortBy="SIZE")),
    "duplicate": error(lambda: cb.create_project(name="api-made", source={"type": "NO_SOURCE", "buildspec": spec},
        artifacts={"type": "NO_ARTIFACTS"}, serviceRole="arn:aws:iam::000000000000:role/kiln",
        environment={"type": "LINUX_CONTAINER", "image": "aws/codebuild/standard:7.0",
                     "computeType": "BUILD_GENERAL1_SMALL"})),
    "invalid": error(lambda: cb.create_project(name="too-long", source={"type": "NO_SOURCE", "buildspec": spec},
        artifacts={"type": "NO_ARTIFACTS"}, serviceRole="r", timeoutInMinutes=3000,
        environment={"type": "LINUX_CONTAINER", "image": "i", "computeType": "BUILD_GENERAL1_SMALL"})),
    "webhook_existing": error(lambda: cb.create_webhook(projectName="web")),
    "created": cb.create_webhook(projectName="api-made")["webhook"]["payloadUrl"],
    "payloadUrl": webhook["payloadUrl"], "secret": webhook.get("secret"),
}, default=str))
"#
    );
    let out = boto3(&kiln, &script, &[]);
    assert_eq!(out["status"], "SUCCEEDED", "{out}");
    assert_eq!(
        out["again"], out["id"],
        "the same idempotency token gives the same build"
    );
    assert_eq!(
        out["phases"].as_array().unwrap().last(),
        Some(&json!("COMPLETED"))
    );
    assert_eq!(out["listed"], json!([out["id"]]));
    assert_eq!(out["projects"], json!(["api-made", "web"]));
    assert_eq!(out["missing"], json!(["ResourceNotFoundException", 400]));
    assert_eq!(
        out["mismatch"],
        json!(["IdempotentParameterMismatchException", 400]),
        "the same token with other parameters is refused"
    );
    // kiln.yaml projects carry no creation time, so the API-made one is the newest.
    assert_eq!(out["by_created"], json!(["api-made", "web"]));
    assert_eq!(out["by_name_desc"], json!(["web", "api-made"]));
    assert_eq!(out["bad_sort"], json!(["InvalidInputException", 400]));
    assert_eq!(out["duplicate"], json!(["ResourceAlreadyExistsException", 400]));
    assert_eq!(out["invalid"], json!(["InvalidInputException", 400]));
    assert_eq!(
        out["webhook_existing"],
        json!(["ResourceAlreadyExistsException", 400])
    );
    assert_eq!(
        out["created"],
        json!(format!("{}/webhooks/api-made", kiln.endpoint))
    );
    assert_eq!(
        out["payloadUrl"],
        json!(format!("{}/webhooks/web", kiln.endpoint))
    );
    let secret = out["secret"].as_str().unwrap();
    let id = out["id"].as_str().unwrap();
    let log = reqwest::blocking::get(format!("{}/builds/{id}/logs", kiln.endpoint))
        .unwrap()
        .text()
        .unwrap();
    assert!(log.contains("stage=prod"), "{log}");
    // The rotated secret now signs the project's deliveries; the old one no longer does.
    let body = github_fixture("push.branch.json", &repo.head);
    assert_eq!(
        kiln.post_webhook("web", "push", "after-create", &body, SECRET).0,
        401
    );
    assert_eq!(
        kiln.post_webhook("web", "push", "after-create", &body, secret).0,
        202
    );
}

#[test]
fn with_credentials_configured_only_correctly_signed_api_calls_get_through() {
    let repo = GitRepo::with_buildspec(BUILDSPEC);
    let kiln = TestKiln::spawn_with(
        &config(&[project("web", &repo, "[[{type: EVENT, pattern: PUSH}]]", "")]),
        &[
            "--access-key-id",
            "AKIDEXAMPLE",
            "--secret-access-key",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        ],
    );
    let script = format!(
        "{BOTO3_PRELUDE}{}",
        r#"
print(json.dumps({
    "good": client().list_projects()["projects"],
    "wrong_secret": error(lambda: client(secret="not-the-secret").list_projects()),
    "unknown_key": error(lambda: client(key="AKIDOTHER").list_projects()),
}))
"#
    );
    let out = boto3(&kiln, &script, &[]);
    assert_eq!(out["good"], json!(["web"]));
    assert_eq!(out["wrong_secret"][1], 403, "{out}");
    assert_eq!(out["unknown_key"][1], 403, "{out}");
    let (status, body) = kiln.api("ListProjects", json!({}));
    assert_eq!(
        (status, body["__type"].as_str()),
        (403, Some("AccessDeniedException")),
        "unsigned calls are refused"
    );
    let delivery = kiln.post_webhook(
        "web",
        "push",
        "signed-by-github",
        &github_fixture("push.branch.json", &repo.head),
        SECRET,
    );
    assert_eq!(
        delivery.0, 202,
        "webhooks are authenticated by their own signatures"
    );
}

fn kiln_cli(kiln: &TestKiln, args: &[&str], env: &[(&str, &str)]) -> String {
    let out = std::process::Command::new(kiln_tests::kiln::kiln_bin())
        .args(args)
        .env("KILN_ENDPOINT", &kiln.endpoint)
        .envs(env.iter().copied())
        .output()
        .expect("kiln runs");
    assert!(
        out.status.success(),
        "kiln {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_cli_client_starts_follows_and_lists_builds_through_a_signed_api() {
    let repo = GitRepo::with_buildspec(
        "version: 0.2\nphases:\n  build:\n    commands:\n      - echo \"stage is $STAGE\"\n",
    );
    let keys = [
        ("KILN_ACCESS_KEY_ID", "AKIDCLI"),
        ("KILN_SECRET_ACCESS_KEY", "cli-secret"),
    ];
    let kiln = TestKiln::spawn_with(
        &config(&[project("web", &repo, "[[{type: EVENT, pattern: PUSH}]]", "")]),
        &["--access-key-id", "AKIDCLI", "--secret-access-key", "cli-secret"],
    );
    let started: Value = serde_json::from_str(&kiln_cli(
        &kiln,
        &["start", "web", "--env", "STAGE=qa", "--json"],
        &keys,
    ))
    .unwrap();
    let id = started["id"].as_str().unwrap().to_owned();
    let log = kiln_cli(&kiln, &["logs", "-f", &id], &keys);
    assert!(log.contains("stage is qa"), "{log}");
    let shown = kiln_cli(&kiln, &["show", &id], &keys);
    assert!(shown.contains("SUCCEEDED"), "{shown}");
    let table = kiln_cli(&kiln, &["builds", "--project", "web"], &keys);
    assert!(
        table.lines().nth(1).is_some_and(|l| l.starts_with(&id)),
        "{table}"
    );
    let events = kiln_cli(&kiln, &["events"], &keys);
    assert!(
        events
            .lines()
            .last()
            .is_some_and(|l| l.ends_with("build SUCCEEDED")),
        "{events}"
    );
    let unsigned = std::process::Command::new(kiln_tests::kiln::kiln_bin())
        .args(["builds"])
        .env("KILN_ENDPOINT", &kiln.endpoint)
        .env_remove("KILN_ACCESS_KEY_ID")
        .env_remove("KILN_SECRET_ACCESS_KEY")
        .output()
        .unwrap();
    assert!(!unsigned.status.success());
    assert!(String::from_utf8_lossy(&unsigned.stderr).contains("AccessDeniedException"));
}

/// A one-thread HTTP receiver on a loopback port: answers 500 to the first `failures` requests, then 200, and
/// keeps every successfully answered request's headers and body.
struct Receiver {
    url: String,
    received: std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>>,
}

fn receiver(failures: usize) -> Receiver {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    let url = format!("http://{}/hook", listener.local_addr().expect("bound"));
    let received = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let kept = received.clone();
    std::thread::spawn(move || {
        for (n, stream) in listener.incoming().enumerate() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().expect("clone the stream"));
            let (mut headers, mut length) = (String::new(), 0usize);
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
                headers.push_str(&line);
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).ok();
            let status = if n < failures {
                "500 Internal Server Error"
            } else {
                "200 OK"
            };
            write!(
                stream,
                "HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            )
            .ok();
            if n >= failures {
                kept.lock()
                    .expect("not poisoned")
                    .push((headers, String::from_utf8_lossy(&body).into_owned()));
            }
        }
    });
    Receiver { url, received }
}

#[test]
fn notices_reach_an_http_target_in_order_signed_and_retried_after_failures() {
    let repo = GitRepo::with_buildspec(BUILDSPEC);
    let hook = receiver(2);
    let extra = format!(
        "    notifications:\n      - type: HTTP\n        target: {}\n        secret:\n          value: hook-secret\n",
        hook.url
    );
    let kiln = TestKiln::spawn(&config(&[project(
        "web",
        &repo,
        "[[{type: EVENT, pattern: PUSH}]]",
        &extra,
    )]));
    let id = kiln.start_build("web");
    kiln.wait_for(&id, "SUCCEEDED");
    let feed: Value = reqwest::blocking::get(format!("{}/events?limit=1000", kiln.endpoint))
        .unwrap()
        .json()
        .unwrap();
    let expected = feed["events"].as_array().unwrap().len();
    wait_until(
        || hook.received.lock().unwrap().len() >= expected,
        "every notice reaches the target",
    );
    let received = hook.received.lock().unwrap().clone();
    assert_eq!(received.len(), expected, "each notice once after its success");
    let mut cursors = Vec::new();
    for (headers, body) in &received {
        let signature = kiln_core::trigger::sign_hex(
            &kiln_core::trigger::WebhookSecret::new("hook-secret"),
            body.as_bytes(),
        );
        assert!(
            headers
                .to_ascii_lowercase()
                .contains(&format!("x-kiln-signature-256: sha256={signature}")),
            "{headers}"
        );
        let cursor = headers.lines().find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("x-kiln-event-cursor:")
                .map(|v| v.trim().parse::<u64>().unwrap())
        });
        cursors.push(cursor.unwrap());
    }
    assert!(cursors.windows(2).all(|w| w[0] < w[1]), "in order: {cursors:?}");
    let last: Value = serde_json::from_str(&received.last().unwrap().1).unwrap();
    assert_eq!(last["detail"]["build-status"], "SUCCEEDED");
}

/// Whether any process is running `sleep 121` (the stop test's build command).
fn sleep_121_running() -> bool {
    std::fs::read_dir("/proc").expect("/proc").flatten().any(|entry| {
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        let zombie = stat
            .rsplit(')')
            .next()
            .is_some_and(|s| s.trim_start().starts_with('Z'));
        !zombie && cmdline == b"sleep\x00121\x00"
    })
}

#[test]
fn an_on_failure_continue_install_is_recorded_phase_by_phase_as_the_executor_ran_it() {
    let repo = GitRepo::with_buildspec(
        "version: 0.2\nphases:\n  install:\n    on-failure: CONTINUE\n    commands:\n      - exit 3\n  build:\n    commands:\n      - echo build ran\n",
    );
    let kiln = TestKiln::spawn(&config(&[project(
        "web",
        &repo,
        "[[{type: EVENT, pattern: PUSH}]]",
        "",
    )]));
    let id = kiln.start_build("web");
    let build = kiln.wait_for(&id, "FAILED");
    let phases: Vec<(String, String)> = build["phases"]
        .as_array()
        .expect("phases")
        .iter()
        .map(|p| {
            (
                p["phaseType"].as_str().unwrap_or("").to_owned(),
                p["phaseStatus"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert!(
        phases.contains(&("INSTALL".into(), "FAILED".into())),
        "{phases:?}"
    );
    assert!(
        phases.contains(&("BUILD".into(), "SUCCEEDED".into())),
        "CONTINUE runs the next phases: {phases:?}"
    );
    assert_eq!(phases.last().map(|p| p.0.as_str()), Some("COMPLETED"));
}
