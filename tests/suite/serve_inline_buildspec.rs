//! An inline buildspec in `source.buildspec` works for a source-backed project as for NO_SOURCE (CodeBuild
//! accepts one for any source type), from `kiln.yaml`, CreateProject and StartBuild's `buildspecOverride`; a
//! hostile one (an alias bomb, nesting 10,000 deep) is refused at CreateProject, UpdateProject and StartBuild with
//! a 400 naming the member, and nothing is stored.

// The helpers below are test code outside `#[test]` functions.
#![allow(clippy::unwrap_used)]

use kiln_tests::kiln::{GitRepo, TestKiln};
use serde_json::{Value, json};

const INLINE: &str = "version: 0.2\nphases:\n  build:\n    commands:\n      - test -f buildspec.yml\n      \
                      - echo \"inline buildspec ran on $CODEBUILD_RESOLVED_SOURCE_VERSION\"\n";

fn log(kiln: &TestKiln, id: &str) -> String {
    reqwest::blocking::get(format!("{}/builds/{id}/logs", kiln.endpoint))
        .unwrap()
        .text()
        .unwrap()
}

fn git_project(name: &str, repo: &GitRepo, buildspec: &str) -> Value {
    json!({
        "name": name,
        "source": {"type": "GIT", "location": repo.url(), "buildspec": buildspec},
        "artifacts": {"type": "NO_ARTIFACTS"},
        "environment": {"type": "LINUX_CONTAINER", "image": "kiln/local", "computeType": "BUILD_GENERAL1_SMALL"},
    })
}

/// An alias bomb and nesting 10,000 deep, with what the refusal says.
fn hostile() -> Vec<(String, &'static str)> {
    let mut bomb = String::from("version: 0.2\na0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for level in 1..10 {
        let items = vec![format!("*a{}", level - 1); 10].join(", ");
        bomb.push_str(&format!("a{level}: &a{level} [{items}]\n"));
    }
    bomb.push_str("phases: {build: {commands: *a9}}\n");
    let deep = format!("version: 0.2\nx: {}{}\n", "[".repeat(10_000), "]".repeat(10_000));
    vec![
        (bomb, "aliases expand to more than 100000 nodes"),
        (deep, "nesting is deeper than 64 levels"),
    ]
}

#[test]
fn a_git_backed_project_builds_with_its_inline_buildspec_and_hostile_ones_are_refused() {
    // The repository's own buildspec fails: only the inline one can make the build succeed, in the checkout.
    let repo = GitRepo::with_buildspec("version: 0.2\nphases:\n  build:\n    commands:\n      - exit 7\n");
    let inline_yaml = INLINE.replace('\n', "\n        ");
    let config = format!(
        "projects:\n  - name: from-config\n    source:\n      type: GIT\n      location: {}\n      buildspec: |\n        \
         {inline_yaml}\n    artifacts:\n      type: NO_ARTIFACTS\n",
        repo.url()
    );
    let kiln = TestKiln::spawn(&config);
    let (status, body) = kiln.api("CreateProject", git_project("from-api", &repo, INLINE));
    assert_eq!(status, 200, "{body}");
    for project in ["from-config", "from-api"] {
        let id = kiln.start_build(project);
        let build = kiln.wait_for(&id, "TERMINAL");
        assert_eq!(build["buildStatus"], "SUCCEEDED", "{project}: {build}");
        assert!(log(&kiln, &id).contains("inline buildspec ran on"), "{project}");
    }
    let (status, body) = kiln.api(
        "StartBuild",
        json!({"projectName": "from-api", "buildspecOverride": INLINE.replace("inline", "override")}),
    );
    assert_eq!(status, 200, "{body}");
    let id = body["build"]["id"].as_str().unwrap().to_owned();
    assert_eq!(kiln.wait_for(&id, "TERMINAL")["buildStatus"], "SUCCEEDED");
    assert!(log(&kiln, &id).contains("override buildspec ran on"));

    for (text, expected) in hostile() {
        let refused = |status: u16, body: &Value, member: &str| {
            assert_eq!(status, 400, "{body}");
            let message = body["message"].as_str().unwrap();
            assert!(
                message.starts_with(&format!("{member}: the inline buildspec is refused: "))
                    && message.contains(expected),
                "{message}"
            );
            assert!(message.len() < 1000, "the text is not quoted back: {message}");
        };
        let (status, body) = kiln.api("CreateProject", git_project("hostile", &repo, &text));
        refused(status, &body, "source.buildspec");
        let (status, body) = kiln.api(
            "UpdateProject",
            json!({"name": "from-api", "source": {"type": "GIT", "location": repo.url(), "buildspec": text}}),
        );
        refused(status, &body, "source.buildspec");
        let (status, body) = kiln.api(
            "StartBuild",
            json!({"projectName": "from-api", "buildspecOverride": text}),
        );
        refused(status, &body, "buildspecOverride");
    }
    let (status, body) = kiln.api(
        "StartBuild",
        json!({"projectName": "from-api", "buildspecOverride": "../outside.yml"}),
    );
    assert_eq!(status, 400, "{body}");
    let (_, got) = kiln.api("BatchGetProjects", json!({"names": ["hostile", "from-api"]}));
    assert_eq!(got["projectsNotFound"], json!(["hostile"]), "{got}");
    assert_eq!(
        got["projects"][0]["source"]["buildspec"], INLINE,
        "UpdateProject stored nothing"
    );
    let (_, listed) = kiln.api("ListBuildsForProject", json!({"projectName": "from-api"}));
    assert_eq!(listed["ids"].as_array().map(Vec::len), Some(2), "{listed}");
}
