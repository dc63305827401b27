//! Inputs the API fuzzer found answered 5xx, each pinned to its 4xx.

use kiln_tests::kiln::TestKiln;
use serde_json::json;

/// A project with an inline buildspec and no source.
const INLINE: &str = "projects:\n  - name: inline\n    source: {type: NO_SOURCE, buildspec: \"version: 0.2\\nphases:\\n  build:\\n    commands:\\n      - echo hi\\n\"}\n    environment: {type: LINUX_CONTAINER, image: local, computeType: BUILD_GENERAL1_SMALL}\n    artifacts: {type: NO_ARTIFACTS}\n";

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
            "source.buildspec",
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
