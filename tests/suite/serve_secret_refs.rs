//! SECRETS_MANAGER project variables and StartBuild overrides under `kiln serve` take CodeBuild's four-part
//! reference, `secret-id:json-key:version-stage:version-id` (locally one value per id, so the version fields
//! are accepted and ignored); a malformed reference is refused at CreateProject, UpdateProject and StartBuild
//! with a 400 naming the variable.

// The helpers below are test code outside `#[test]` functions.
#![allow(clippy::unwrap_used)]

use kiln_tests::kiln::{GitRepo, TestKiln};
use serde_json::{Value, json};

fn project(name: &str, repo: &GitRepo, variables: Value) -> Value {
    json!({
        "name": name,
        "source": {"type": "GIT", "location": repo.url()},
        "artifacts": {"type": "NO_ARTIFACTS"},
        "environment": {"type": "LINUX_CONTAINER", "image": "kiln/local", "computeType": "BUILD_GENERAL1_SMALL",
                        "environmentVariables": variables},
    })
}

fn secrets_manager(name: &str, reference: &str) -> Value {
    json!({"name": name, "value": reference, "type": "SECRETS_MANAGER"})
}

#[test]
fn secrets_manager_variables_take_the_json_key_and_malformed_references_are_refused_naming_the_variable() {
    let repo = GitRepo::with_buildspec(
        "version: 0.2\nphases:\n  build:\n    commands:\n      - test \"$DB_PASSWORD\" = pw-123\n      \
         - test \"$DB_USER\" = ci\n      - test \"$DB_PORT\" = 5432\n",
    );
    let dir = tempfile::tempdir().unwrap();
    let secrets_file = dir.path().join("secrets.json");
    let stored = json!({"user": "ci", "password": "pw-123", "port": 5432}).to_string();
    std::fs::write(&secrets_file, json!({ "ci/app": stored }).to_string()).unwrap();
    let kiln = TestKiln::spawn_with(
        "projects: []\n",
        &["--secrets-file", secrets_file.to_str().unwrap()],
    );

    let variables = json!([
        secrets_manager("DB_PASSWORD", "ci/app:password"),
        secrets_manager("DB_PORT", "ci/app:port:AWSCURRENT"),
    ]);
    let (status, body) = kiln.api("CreateProject", project("app", &repo, variables));
    assert_eq!(status, 200, "{body}");
    let (status, body) = kiln.api(
        "StartBuild",
        json!({"projectName": "app",
               "environmentVariablesOverride": [secrets_manager("DB_USER", "ci/app:user::")]}),
    );
    assert_eq!(status, 200, "{body}");
    let id = body["build"]["id"].as_str().unwrap().to_owned();
    let build = kiln.wait_for(&id, "TERMINAL");
    assert_eq!(build["buildStatus"], "SUCCEEDED", "{build}");

    let malformed = json!([secrets_manager("DB_PASSWORD", "ci/app:password:AWSCURRENT:v1")]);
    let expected = "environment.environmentVariables[0].value: invalid value \"ci/app:password:AWSCURRENT:v1\": \
                    SECRETS_MANAGER variable DB_PASSWORD is not secret-id:json-key:version-stage:version-id";
    let (status, body) = kiln.api("CreateProject", project("bad", &repo, malformed.clone()));
    assert_eq!(status, 400, "{body}");
    assert!(body["message"].as_str().unwrap().contains(expected), "{body}");
    let (status, body) = kiln.api(
        "UpdateProject",
        json!({"name": "app", "environment": project("app", &repo, malformed)["environment"]}),
    );
    assert_eq!(status, 400, "{body}");
    assert!(body["message"].as_str().unwrap().contains(expected), "{body}");
    let (status, body) = kiln.api(
        "StartBuild",
        json!({"projectName": "app",
               "environmentVariablesOverride": [secrets_manager("DB_USER", "a:b:c:d:e")]}),
    );
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains(
            "environmentVariablesOverride[0].value: invalid value \"a:b:c:d:e\": SECRETS_MANAGER variable DB_USER"
        ),
        "{body}"
    );
    let (_, listed) = kiln.api("ListBuildsForProject", json!({"projectName": "app"}));
    assert_eq!(listed["ids"].as_array().map(Vec::len), Some(1), "{listed}");
    let (_, got) = kiln.api("BatchGetProjects", json!({"names": ["bad"]}));
    assert_eq!(got["projectsNotFound"], json!(["bad"]), "{got}");
}
