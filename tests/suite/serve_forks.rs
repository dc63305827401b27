//! Pull requests from forks under `kiln serve --secrets-file`: a same-repository pull request's build resolves
//! its Parameter Store variable; a fork's build gets no secrets (its build fails naming the policy) unless the
//! project sets `forkPullRequests.secrets: true`.

use kiln_tests::kiln::{GitRepo, TestKiln};
use serde_json::{Value, json};

const SECRET: &str = "fork-test-secret";

/// GitHub's `pull_request.opened` fixture at `head`, from a fork when `fork` is set.
fn pull_request(head: &str, fork: bool) -> Vec<u8> {
    let text = std::fs::read_to_string(
        kiln_tests::paths::fixtures_dir().join("webhooks/github/pull_request.opened.json"),
    )
    .expect("test setup");
    let mut payload: Value = serde_json::from_str(&text).expect("test setup");
    payload["pull_request"]["head"]["sha"] = json!(head);
    if fork {
        payload["pull_request"]["head"]["repo"]["full_name"] = json!("someone-else/Hello-World");
        payload["pull_request"]["head"]["repo"]["id"] = json!(424_242);
    }
    serde_json::to_vec(&payload).expect("test setup")
}

fn project(name: &str, repo: &GitRepo, extra: &str) -> String {
    format!(
        "  - name: {name}\n    source:\n      type: GIT\n      location: {}\n    artifacts:\n      type: NO_ARTIFACTS\n    \
         webhook:\n      secret:\n        value: {SECRET}\n      filterGroups: [[{{type: EVENT, pattern: PULL_REQUEST_CREATED}}]]\n{extra}",
        repo.url()
    )
}

#[test]
fn a_pull_request_from_a_fork_gets_no_secrets_unless_the_project_allows_it() {
    let repo = GitRepo::with_buildspec(
        "version: 0.2\nenv:\n  parameter-store:\n    TOKEN: /ci/token\nphases:\n  build:\n    commands:\n      \
         - test \"$TOKEN\" = s3cret-value\n",
    );
    // The fixture is pull request 2: give the repository its head ref, as GitHub does.
    let repo_dir = repo.url().trim_start_matches("file://").to_owned();
    let status = std::process::Command::new("git")
        .args(["update-ref", "refs/pull/2/head", "HEAD"])
        .current_dir(&repo_dir)
        .status()
        .unwrap();
    assert!(status.success());
    let secrets = tempfile::tempdir().unwrap();
    let secrets_file = secrets.path().join("secrets.env");
    std::fs::write(&secrets_file, "/ci/token=s3cret-value\n").unwrap();
    let config = format!(
        "allowInlineSecrets: true\nprojects:\n{}{}",
        project("closed", &repo, ""),
        project("open", &repo, "    forkPullRequests:\n      secrets: true\n"),
    );
    let kiln = TestKiln::spawn_with(&config, &["--secrets-file", secrets_file.to_str().unwrap()]);
    let deliver = |project: &str, delivery: &str, fork: bool| {
        let (status, out) = kiln.post_webhook(
            project,
            "pull_request",
            delivery,
            &pull_request(&repo.head, fork),
            SECRET,
        );
        assert_eq!(status, 202, "{out}");
        let id = out["buildIds"][0].as_str().unwrap().to_owned();
        kiln.wait_for(&id, "TERMINAL")
    };

    let same_repo = deliver("closed", "same-repo", false);
    assert_eq!(same_repo["buildStatus"], "SUCCEEDED", "{same_repo}");
    assert_eq!(same_repo["trigger"]["fromFork"], false);

    let fork = deliver("closed", "fork", true);
    assert_eq!(fork["trigger"]["fromFork"], true, "{fork}");
    assert_ne!(fork["buildStatus"], "SUCCEEDED", "{fork}");
    assert!(
        fork.to_string()
            .contains("pull requests from forks get no secrets"),
        "the failure names the policy: {fork}"
    );
    let log = reqwest::blocking::get(format!(
        "{}/builds/{}/logs",
        kiln.endpoint,
        fork["id"].as_str().unwrap()
    ))
    .unwrap()
    .text()
    .unwrap();
    assert!(!log.contains("s3cret-value"), "{log}");

    let allowed = deliver("open", "fork-allowed", true);
    assert_eq!(allowed["buildStatus"], "SUCCEEDED", "{allowed}");
}
