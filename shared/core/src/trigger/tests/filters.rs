//! Filter groups: validation errors, and the CodeBuild documentation's examples (reference §4.6) run against
//! fixture events.

use serde_json::json;

use super::fixtures::accepted;
use crate::trigger::{FilterDecision, FilterError, FilterGroups, GitRef, TriggerEvent};

const PR_EVENTS: &str =
    "PULL_REQUEST_CREATED, PULL_REQUEST_UPDATED, PULL_REQUEST_REOPENED, PULL_REQUEST_MERGED";

fn groups(value: serde_json::Value) -> FilterGroups {
    serde_json::from_value(value).unwrap()
}

fn decide(value: serde_json::Value, event: &TriggerEvent) -> FilterDecision {
    groups(value).compile().unwrap().evaluate(event)
}

fn builds(value: serde_json::Value, event: &TriggerEvent) -> bool {
    matches!(decide(value, event), FilterDecision::Build { .. })
}

#[test]
fn example_1_pull_requests_only() {
    let filters = json!([[{"type": "EVENT", "pattern": PR_EVENTS}]]);
    assert!(builds(
        filters.clone(),
        &accepted("github", "pull_request.opened.json")
    ));
    assert!(builds(
        filters.clone(),
        &accepted("github", "pull_request.synchronize.json")
    ));
    assert!(builds(
        filters.clone(),
        &accepted("gitlab", "merge_request.merge.json")
    ));
    assert!(!builds(
        filters.clone(),
        &accepted("github", "pull_request.closed.not-merged.json")
    ));
    assert!(!builds(filters, &accepted("github", "push.branch.json")));
}

#[test]
fn example_2_two_groups_are_ored_and_filters_within_a_group_are_anded() {
    let filters = json!([
        [
            {"type": "EVENT", "pattern": "PULL_REQUEST_CREATED, PULL_REQUEST_UPDATED, PULL_REQUEST_REOPENED"},
            {"type": "HEAD_REF", "pattern": "^refs/heads/myBranch$"},
            {"type": "BASE_REF", "pattern": "^refs/heads/main$"}
        ],
        [{"type": "EVENT", "pattern": "PUSH"}, {"type": "HEAD_REF", "pattern": "^refs/heads/myBranch$"}]
    ]);
    let mut pr = accepted("github", "pull_request.opened.json");
    pr.head_ref = GitRef::branch("myBranch");
    pr.base_ref = Some(GitRef::branch("main"));
    assert_eq!(
        decide(filters.clone(), &pr),
        FilterDecision::Build { group: Some(0) }
    );
    pr.base_ref = Some(GitRef::branch("develop"));
    assert!(!builds(filters.clone(), &pr), "the base ref must match too");

    let mut push = accepted("github", "push.branch.json");
    assert!(!builds(filters.clone(), &push));
    push.head_ref = GitRef::branch("myBranch");
    assert_eq!(decide(filters, &push), FilterDecision::Build { group: Some(1) });
}

#[test]
fn example_3_everything_except_tags() {
    let filters = json!([[
        {"type": "EVENT", "pattern": format!("PUSH, {PR_EVENTS}")},
        {"type": "HEAD_REF", "pattern": "^refs/tags/.*", "excludeMatchedPattern": true}
    ]]);
    assert!(builds(filters.clone(), &accepted("github", "push.branch.json")));
    assert!(builds(
        filters.clone(),
        &accepted("bitbucket", "repo-push.branch.json")
    ));
    assert!(!builds(filters.clone(), &accepted("github", "push.tag.json")));
    assert!(!builds(filters.clone(), &accepted("gitlab", "tag_push.json")));
    assert!(!builds(
        filters,
        &accepted("bitbucket", "repo-push.tag-created.json")
    ));
}

#[test]
fn example_4_only_when_a_buildspec_file_changed() {
    let filters =
        json!([[{"type": "EVENT", "pattern": "PUSH"}, {"type": "FILE_PATH", "pattern": "^buildspec.*"}]]);
    let mut push = accepted("github", "push.branch.multi-commit.json");
    assert!(!builds(filters.clone(), &push));
    push.changed_files
        .get_or_insert_with(Vec::new)
        .push("buildspec.yml".into());
    assert!(builds(filters, &push), "any one matching file is enough");
}

#[test]
fn example_5_actor_allow_list_and_deny_list() {
    let push = accepted("github", "push.branch.json");
    let allow = json!([[{"type": "EVENT", "pattern": "PUSH"}, {"type": "ACTOR_ACCOUNT_ID", "pattern": "^21031067$"}]]);
    assert!(builds(allow, &push));
    let deny = json!([[
        {"type": "EVENT", "pattern": "PUSH"},
        {"type": "ACTOR_ACCOUNT_ID", "pattern": "^21031067$", "excludeMatchedPattern": true}
    ]]);
    assert!(!builds(deny.clone(), &push));
    assert!(builds(deny, &accepted("gitlab", "push.json")));
    let bitbucket = json!([[
        {"type": "EVENT", "pattern": "PUSH"},
        {"type": "ACTOR_ACCOUNT_ID", "pattern": "^557058:2a6349dc-4346-4805-bd84-3abdd0812d17$"}
    ]]);
    assert!(builds(bitbucket, &accepted("bitbucket", "repo-push.branch.json")));
}

#[test]
fn example_6_commit_message_is_searched_not_fully_matched() {
    let filters = json!([[{"type": "EVENT", "pattern": "PUSH"}, {"type": "COMMIT_MESSAGE", "pattern": "\\[CodeBuild\\]"}]]);
    let mut push = accepted("gitea", "push.multi-commit.json");
    assert!(!builds(filters.clone(), &push));
    push.head_commit_message = Some("Fix the parser [CodeBuild] please".into());
    assert!(builds(filters, &push));
}

#[test]
fn example_7_public_repository_excludes_buildspec_changes() {
    let filters = json!([[
        {"type": "EVENT", "pattern": PR_EVENTS},
        {"type": "FILE_PATH", "pattern": "^buildspec.yml$", "excludeMatchedPattern": true}
    ]]);
    let mut push = accepted("github", "push.branch.json");
    push.event = crate::trigger::WebhookEvent::PullRequestUpdated;
    assert!(builds(filters.clone(), &push));
    push.changed_files = Some(vec!["src/main.rs".into(), "buildspec.yml".into()]);
    assert!(!builds(filters, &push), "one excluded file is enough to refuse");
}

#[test]
fn a_field_the_event_lacks_does_not_match_and_passes_when_excluded() {
    let push = accepted("github", "push.branch.json");
    let include = json!([[{"type": "EVENT", "pattern": "PUSH"}, {"type": "BASE_REF", "pattern": "main"}]]);
    match decide(include, &push) {
        FilterDecision::NoMatch { reason } => assert_eq!(
            reason,
            "filterGroups[0][1] BASE_REF \"main\" did not match nothing (the event has no such field)"
        ),
        other => panic!("{other:?}"),
    }
    let exclude = json!([[{"type": "EVENT", "pattern": "PUSH"}, {"type": "BASE_REF", "pattern": "main", "excludeMatchedPattern": true}]]);
    assert!(builds(exclude, &push));
}

#[test]
fn event_lists_tolerate_missing_or_extra_spaces() {
    let push = accepted("github", "push.branch.json");
    for pattern in [
        "PUSH",
        " PUSH ",
        "PULL_REQUEST_CREATED,PUSH",
        "PULL_REQUEST_CREATED ,  PUSH",
    ] {
        assert!(
            builds(json!([[{"type": "EVENT", "pattern": pattern}]]), &push),
            "{pattern:?}"
        );
    }
}

#[test]
fn a_project_without_filter_groups_builds_pushes_and_pull_requests_but_not_releases() {
    let none = json!([]);
    assert_eq!(
        decide(none.clone(), &accepted("github", "push.branch.json")),
        FilterDecision::Build { group: None }
    );
    assert!(builds(
        none.clone(),
        &accepted("bitbucket", "pullrequest-rejected.drone.json")
    ));
    assert!(!builds(none, &accepted("github", "release.prereleased.json")));
}

#[test]
fn release_filters_match_tag_and_release_names() {
    let release = accepted("gitea", "release.published.json");
    let filters = json!([[
        {"type": "EVENT", "pattern": "RELEASED, PRERELEASED"},
        {"type": "TAG_NAME", "pattern": "^example$"},
        {"type": "RELEASE_NAME", "pattern": "^0\\.0\\."}
    ]]);
    assert!(builds(filters, &release));
    let prerelease = accepted("github", "release.prereleased.json");
    let tag_only = json!([[{"type": "EVENT", "pattern": "PRERELEASED"}, {"type": "TAG_NAME", "pattern": "^0\\.0\\.1$"}]]);
    assert!(builds(tag_only, &prerelease));
    let on_push = json!([[{"type": "EVENT", "pattern": "PUSH"}, {"type": "TAG_NAME", "pattern": "."}]]);
    assert!(
        !builds(on_push, &accepted("github", "push.tag.json")),
        "TAG_NAME applies to releases only"
    );
}

#[test]
fn skip_ci_markers_skip_a_matching_push_but_not_a_pull_request() {
    let mut push = accepted("github", "push.branch.json");
    push.head_commit_message = Some("Update docs [Skip CI]".into());
    assert_eq!(
        decide(json!([]), &push),
        FilterDecision::Skipped {
            reason: "head commit message contains [skip ci]".into()
        }
    );
    push.head_commit_message = Some("wip [ci skip]".into());
    assert!(matches!(decide(json!([]), &push), FilterDecision::Skipped { .. }));
    let mut pr = accepted("gitlab", "merge_request.open.json");
    pr.head_commit_message = Some("[skip ci]".into());
    assert!(builds(json!([]), &pr));
}

#[test]
fn validation_errors_name_the_filter_and_quote_the_pattern() {
    let cases = [
        (
            json!([[{"type": "EVENT", "pattern": "PUSH"}], [{"type": "HEAD_REF", "pattern": "x"}]]),
            "filterGroups[1] has no EVENT filter; every group needs one, e.g. {\"type\": \"EVENT\", \"pattern\": \"PUSH\"}",
        ),
        (
            json!([[{"type": "EVENT", "pattern": "PUSH, PULL_REQUEST_OPENED"}]]),
            "filterGroups[0][0]: EVENT pattern \"PUSH, PULL_REQUEST_OPENED\" names unknown event \"PULL_REQUEST_OPENED\"; \
          expected a comma-separated list of PUSH, PULL_REQUEST_CREATED, PULL_REQUEST_UPDATED, PULL_REQUEST_CLOSED, \
          PULL_REQUEST_REOPENED, PULL_REQUEST_MERGED, RELEASED, PRERELEASED, WORKFLOW_JOB_QUEUED",
        ),
        (
            json!([[{"type": "EVENT", "pattern": "PUSH"}, {"type": "HEAD_REF", "pattern": "^refs/heads/(main"}]]),
            "filterGroups[0][1]: HEAD_REF pattern \"^refs/heads/(main\" is not a valid regular expression: \
          error: unclosed group",
        ),
        (
            json!([[{"type": "EVENT", "pattern": "PUSH"}, {"type": "HEAD_REF", "pattern": "^refs/heads/(?!main)"}]]),
            "filterGroups[0][1]: HEAD_REF pattern \"^refs/heads/(?!main)\" is not a valid regular expression: \
          look-around ((?=, (?!, (?<=, (?<!) is not supported (Kiln uses Rust's regex syntax, which has no \
          look-around or back-references); use a second filter with excludeMatchedPattern instead",
        ),
    ];
    for (value, expected) in cases {
        let err: FilterError = groups(value).compile().unwrap_err();
        assert_eq!(err.to_string(), expected);
    }
}

#[test]
fn filter_groups_keep_codebuild_json_shape() {
    let value = json!([[{"type": "EVENT", "pattern": "PUSH"}, {"type": "FILE_PATH", "pattern": "x", "excludeMatchedPattern": true}]]);
    assert_eq!(serde_json::to_value(groups(value.clone())).unwrap(), value);
}
