//! CodeCommit as a trigger, end to end through `kiln serve`: EventBridge "CodeCommit Repository State Change"
//! events (`tests/events/codecommit/`) posted to `POST /codecommit/events` start builds of the projects whose
//! source names the repository. Locally that is a `GIT` project whose `file://` location ends in a directory
//! with the repository's name (a CODECOMMIT location cannot be cloned offline; `kiln runner` hands those to
//! `kiln git-credential-codecommit`, unit-tested in `executor/src/source/`).

use std::path::PathBuf;

use kiln_tests::kiln::{GitRepo, TestKiln};
use kiln_tests::paths::workspace_root;
use serde_json::{Value, json};

const BUILDSPEC: &str = "version: 0.2
phases:
  build:
    commands:
      - echo \"$CODEBUILD_WEBHOOK_TRIGGER by $CODEBUILD_WEBHOOK_ACTOR_ACCOUNT_ID at $CODEBUILD_RESOLVED_SOURCE_VERSION\"
";

/// A documented-shape event from `tests/events/codecommit/`, its commit pointed at `head`.
fn event(name: &str, head: &str) -> Value {
    let path: PathBuf = workspace_root().join("tests/events/codecommit").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut event: Value = serde_json::from_str(&text).expect("event JSON");
    if event["detail"]["commitId"].is_string() {
        event["detail"]["commitId"] = json!(head);
    }
    event
}

/// `kiln serve` with project `web-ci` building `repo` (a directory called `web`) on pushes to main and tags.
fn serve(repo: &GitRepo) -> TestKiln {
    let groups =
        r#"[[{type: EVENT, pattern: PUSH}, {type: HEAD_REF, pattern: "^refs/(heads/main|tags/.*)$"}]]"#;
    TestKiln::spawn(&format!(
        "projects:
  - name: web-ci
    source:
      type: GIT
      location: {url}
    environment:
      type: LINUX_CONTAINER
      image: local
      computeType: BUILD_GENERAL1_SMALL
    artifacts:
      type: NO_ARTIFACTS
    webhook:
      filterGroups: {groups}
",
        url = repo.url()
    ))
}

fn variable(build: &Value, name: &str) -> Option<String> {
    build["webhookVariables"]
        .as_array()?
        .iter()
        .find(|v| v["name"] == name)
        .and_then(|v| v["value"].as_str().map(str::to_owned))
}

#[test]
fn a_codecommit_branch_push_builds_once_however_often_the_event_arrives() {
    let repo = GitRepo::named("web", BUILDSPEC);
    let kiln = serve(&repo);
    let push = event("reference-updated-branch.json", &repo.head);

    let (status, accepted) = kiln.post_codecommit_event(&push);
    assert_eq!(status, 202, "{accepted}");
    let ids = accepted["buildIds"].as_array().expect("build ids").clone();
    assert_eq!(ids.len(), 1, "{accepted}");
    assert_eq!(accepted["projects"][0]["project"], "web-ci");
    let id = ids[0].as_str().expect("id");

    let build = kiln.wait_for(id, "SUCCEEDED");
    assert_eq!(build["resolvedSourceVersion"], json!(repo.head));
    assert_eq!(build["initiator"], "aws.codecommit");
    assert_eq!(
        variable(&build, "CODEBUILD_WEBHOOK_HEAD_REF").as_deref(),
        Some("refs/heads/main")
    );
    assert_eq!(
        variable(&build, "CODEBUILD_WEBHOOK_ACTOR_ACCOUNT_ID").as_deref(),
        Some("arn:aws:iam::123456789012:user/Mary_Major")
    );

    // EventBridge delivers at least once: the same event id finds the same build.
    let (status, again) = kiln.post_codecommit_event(&push);
    assert_eq!(status, 202, "{again}");
    assert_eq!(again["buildIds"], json!(ids));
    assert_eq!(again["projects"][0]["redelivery"], true);
    let (_, listed) = kiln.api("ListBuildsForProject", json!({"projectName": "web-ci"}));
    assert_eq!(listed["ids"].as_array().map(Vec::len), Some(1), "{listed}");
}

#[test]
fn a_codecommit_tag_push_builds_with_the_tag_as_its_trigger() {
    let repo = GitRepo::named("web", BUILDSPEC);
    repo.git(&["tag", "v1.2.0"]);
    let kiln = serve(&repo);

    let (status, accepted) = kiln.post_codecommit_event(&event("reference-created-tag.json", &repo.head));
    assert_eq!(status, 202, "{accepted}");
    let id = accepted["buildIds"][0].as_str().expect("a build");
    let build = kiln.wait_for(id, "SUCCEEDED");
    assert_eq!(
        variable(&build, "CODEBUILD_WEBHOOK_TRIGGER").as_deref(),
        Some("tag/v1.2.0")
    );
    assert_eq!(
        variable(&build, "CODEBUILD_WEBHOOK_HEAD_REF").as_deref(),
        Some("refs/tags/v1.2.0")
    );
}

#[test]
fn deletions_unknown_repositories_and_malformed_events_start_nothing() {
    let repo = GitRepo::named("web", BUILDSPEC);
    let kiln = serve(&repo);

    let (status, deleted) = kiln.post_codecommit_event(&event("reference-deleted-branch.json", &repo.head));
    assert_eq!(status, 200, "{deleted}");
    assert_eq!(deleted["kind"], "REFERENCE_DELETED");
    assert_eq!(
        deleted["reason"],
        "refs/heads/feature/login was deleted; deletions are not built"
    );

    let mut elsewhere = event("reference-updated-branch.json", &repo.head);
    elsewhere["detail"]["repositoryName"] = json!("api");
    let (status, unknown) = kiln.post_codecommit_event(&elsewhere);
    assert_eq!(status, 200, "{unknown}");
    assert_eq!(unknown["kind"], "UNKNOWN_REPOSITORY");

    let (status, filtered) = kiln.post_codecommit_event(&event("reference-created-branch.json", &repo.head));
    assert_eq!(status, 202, "{filtered}");
    assert_eq!(filtered["buildIds"], json!([]));
    assert_eq!(filtered["projects"][0]["ignored"], true, "{filtered}");

    let mut broken = event("reference-updated-branch.json", &repo.head);
    broken["detail"]
        .as_object_mut()
        .expect("detail")
        .remove("commitId");
    let (status, malformed) = kiln.post_codecommit_event(&broken);
    assert_eq!(status, 400, "{malformed}");

    let (_, listed) = kiln.api("ListBuildsForProject", json!({"projectName": "web-ci"}));
    assert_eq!(listed["ids"], json!([]), "{listed}");
}

/// Runs `kiln git-credential-codecommit <action>` with static credentials in the environment (no profile, no
/// IMDS) and the signing time fixed, feeding `input` on stdin.
fn credential_helper(action: &str, input: &str, case: &Value) -> std::process::Output {
    use std::io::Write;
    let mut command = std::process::Command::new(kiln_tests::kiln::kiln_bin());
    command
        .args(["git-credential-codecommit", action])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("AWS_ACCESS_KEY_ID", case["access_key_id"].as_str().expect("key"))
        .env(
            "AWS_SECRET_ACCESS_KEY",
            case["secret_access_key"].as_str().expect("secret"),
        )
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("KILN_TEST_SIGNING_TIME", case["amz_date"].as_str().expect("time"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    if let Some(token) = case["session_token"].as_str() {
        command.env("AWS_SESSION_TOKEN", token);
    }
    let mut child = command.spawn().expect("kiln runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write git's request");
    child.wait_with_output().expect("kiln finishes")
}

#[test]
fn the_git_credential_helper_answers_git_with_the_botocore_vector() {
    let path = workspace_root().join("tests/vectors/sigv4.json");
    let vectors: Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("vectors")).expect("JSON");
    let cases = vectors["codecommit"].as_array().expect("codecommit vectors");
    assert!(
        cases.iter().any(|c| c["session_token"].is_string()),
        "a case with a session token"
    );
    for case in cases {
        let input = format!(
            "protocol=https\nhost={}\npath={}\n\n",
            case["host"].as_str().expect("host"),
            case["repo_path"].as_str().expect("path").trim_start_matches('/')
        );
        let output = credential_helper("get", &input, case);
        assert!(
            output.status.success(),
            "{}: {}",
            case["name"],
            String::from_utf8_lossy(&output.stderr)
        );
        let expected = format!(
            "username={}\npassword={}\n",
            case["expected"]["username"].as_str().expect("username"),
            case["expected"]["password"].as_str().expect("password")
        );
        assert_eq!(
            String::from_utf8_lossy(&output.stdout),
            expected,
            "{}",
            case["name"]
        );
    }
    let store = credential_helper(
        "store",
        "protocol=https\nhost=x\nusername=a\npassword=b\n\n",
        &cases[0],
    );
    assert!(
        store.status.success() && store.stdout.is_empty(),
        "store is a silent no-op"
    );
    let no_path = credential_helper(
        "get",
        "protocol=https\nhost=git-codecommit.eu-west-1.amazonaws.com\n\n",
        &cases[0],
    );
    assert!(!no_path.status.success());
    assert!(
        String::from_utf8_lossy(&no_path.stderr).contains("useHttpPath"),
        "{}",
        String::from_utf8_lossy(&no_path.stderr)
    );
}
