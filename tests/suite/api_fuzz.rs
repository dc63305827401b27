//! The API fuzzer (`tests/api_fuzz.py`, inputs generated from botocore's CodeBuild model) against a fresh
//! `kiln serve` for a few thousand requests with a fixed seed: no response may be a 5xx other than 503 with
//! `Retry-After`, and every well-formed request gets an answer. `scripts/api-fuzz` runs it for long. Beside it,
//! the inputs it found answered 5xx, each pinned to its 4xx.

use std::process::Command;

use kiln_tests::kiln::TestKiln;
use serde_json::json;

/// Requests per suite run: a few thousand, about 15 seconds here.
const REQUESTS: &str = "3000";
const SEED: &str = "21";
/// A project with an inline buildspec and no source.
const INLINE: &str = "projects:\n  - name: inline\n    source: {type: NO_SOURCE, buildspec: \"version: 0.2\\nphases:\\n  build:\\n    commands:\\n      - echo hi\\n\"}\n    environment: {type: LINUX_CONTAINER, image: local, computeType: BUILD_GENERAL1_SMALL}\n    artifacts: {type: NO_ARTIFACTS}\n";

/// Runs the fuzzer against `kiln` for `requests` requests, with `extra` arguments; fails the test on any finding.
fn fuzz(kiln: &TestKiln, requests: &str, extra: &[&str]) {
    let python = kiln_tests::paths::venv_dir().join("bin").join("python");
    let script = kiln_tests::paths::workspace_root()
        .join("tests")
        .join("api_fuzz.py");
    let output = Command::new(&python)
        .arg(&script)
        .args([
            "--endpoint",
            &kiln.endpoint,
            "--requests",
            requests,
            "--seed",
            SEED,
        ])
        .args(extra)
        .output()
        .unwrap_or_else(|e| panic!("running {} (scripts/setup makes the venv): {e}", python.display()));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the fuzzer found server errors:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains(&format!("{requests} requests")) && stdout.contains("200: "),
        "the fuzzer ran every request and some succeeded:\n{stdout}"
    );
}

#[test]
fn a_few_thousand_generated_api_requests_get_no_server_error() {
    let kiln = TestKiln::spawn_with("projects: []\n", &["--paused"]);
    fuzz(&kiln, REQUESTS, &[]);
}

#[test]
fn signed_generated_requests_get_no_server_error_from_a_server_with_credentials() {
    let kiln = TestKiln::spawn_with(
        "projects: []\n",
        &[
            "--paused",
            "--access-key-id",
            "AKIDFUZZ",
            "--secret-access-key",
            "fuzz-secret",
        ],
    );
    fuzz(&kiln, "1000", &["--sign", "AKIDFUZZ:fuzz-secret"]);
}

#[test]
fn overrides_that_make_an_invalid_build_are_refused_with_400_naming_the_member() {
    let kiln = TestKiln::spawn_with(INLINE, &["--paused"]);
    for (input, member) in [
        (
            json!({"projectName": "inline", "sourceLocationOverride": "somewhere"}),
            "source.location",
        ),
        (
            json!({"projectName": "inline", "buildspecOverride": ""}),
            "buildspecOverride",
        ),
    ] {
        let (status, body) = kiln.api("StartBuild", input.clone());
        assert_eq!(status, 400, "{input}: {body}");
        assert_eq!(body["__type"], "InvalidInputException", "{input}");
        let message = body["message"].as_str().unwrap_or_default();
        assert!(message.contains(member), "{input}: {message}");
    }
    let (status, body) = kiln.api("ListBuilds", json!({}));
    assert_eq!(status, 200);
    assert_eq!(body["ids"], json!([]), "nothing was stored");
}

#[test]
fn a_console_page_token_the_store_did_not_issue_is_a_400() {
    let kiln = TestKiln::spawn_with(INLINE, &["--paused"]);
    let page =
        reqwest::blocking::get(format!("{}/console/projects/inline?page=..", kiln.endpoint)).expect("GET");
    assert_eq!(page.status().as_u16(), 400);
    assert!(page.text().expect("body").contains("not one this store issued"));
}

#[test]
fn members_kiln_does_not_support_yet_are_refused_by_name_and_their_defaults_accepted() {
    let kiln = TestKiln::spawn_with(INLINE, &["--paused"]);
    let project = |name: &str, extra: serde_json::Value| {
        let mut project = json!({
            "name": name,
            "source": {"type": "NO_SOURCE", "buildspec": "version: 0.2\nphases:\n  build:\n    commands:\n      - echo hi\n"},
            "artifacts": {"type": "NO_ARTIFACTS"},
            "environment": {"type": "LINUX_CONTAINER", "image": "local", "computeType": "BUILD_GENERAL1_SMALL"},
        });
        for (k, v) in extra.as_object().cloned().unwrap_or_default() {
            project[k] = v;
        }
        project
    };
    // What CodeBuild's BatchGetProjects returns for a project that uses none of them goes back unchanged.
    let defaults = json!({"badgeEnabled": false, "encryptionKey": "arn:aws:kms:us-east-1:123456789012:alias/aws/s3",
                          "vpcConfig": {}, "fileSystemLocations": [], "secondarySources": [],
                          "projectVisibility": "PRIVATE"});
    let (status, body) = kiln.api("CreateProject", project("copied", defaults));
    assert_eq!(status, 200, "{body}");
    for (extra, member) in [
        (
            json!({"vpcConfig": {"vpcId": "vpc-1", "subnets": ["subnet-1"], "securityGroupIds": ["sg-1"]}}),
            "vpcConfig",
        ),
        (
            json!({"fileSystemLocations": [{"type": "EFS", "location": "fs-1.efs:/", "mountPoint": "/mnt"}]}),
            "fileSystemLocations",
        ),
        (
            json!({"buildBatchConfig": {"combineArtifacts": true}}),
            "buildBatchConfig",
        ),
    ] {
        let (status, body) = kiln.api("CreateProject", project("refused", extra.clone()));
        assert_eq!(status, 400, "{extra}: {body}");
        let message = body["message"].as_str().unwrap_or_default();
        assert!(
            message.starts_with(&format!("{member}: not supported yet")),
            "{message}"
        );
    }
    let (status, body) = kiln.api("BatchGetProjects", json!({"names": ["refused"]}));
    assert_eq!(status, 200);
    assert_eq!(body["projects"], json!([]), "nothing was stored: {body}");
    let (status, body) = kiln.api(
        "StartBuild",
        json!({"projectName": "inline", "imageOverride": "aws/codebuild/standard:7.0"}),
    );
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap_or_default()
            .starts_with("imageOverride: not supported yet")
    );
    let (status, body) = kiln.api("StartBuild", json!({"projectName": "inline", "noSuchMember": 1}));
    assert_eq!(status, 400, "an unknown member is refused too: {body}");
}
