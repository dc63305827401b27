//! `CODEBUILD_WEBHOOK_*` variables and the initiator for fixture events.

use super::fixtures::accepted;
use crate::trigger::{initiator, webhook_variables};

fn rendered(provider: &str, file: &str) -> Vec<String> {
    webhook_variables(&accepted(provider, file))
        .into_iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect()
}

#[test]
fn a_branch_push_sets_trigger_head_ref_actor_and_prev_commit() {
    assert_eq!(
        rendered("github", "push.branch.json"),
        [
            "CODEBUILD_WEBHOOK_EVENT=PUSH",
            "CODEBUILD_WEBHOOK_TRIGGER=branch/master",
            "CODEBUILD_WEBHOOK_HEAD_REF=refs/heads/master",
            "CODEBUILD_WEBHOOK_ACTOR_ACCOUNT_ID=21031067",
            "CODEBUILD_WEBHOOK_PREV_COMMIT=a10867b14bb761a232cd80139fbd4c0d33264240",
        ]
    );
}

#[test]
fn a_tag_push_triggers_tag_name_and_has_no_prev_commit_when_the_tag_is_new() {
    assert_eq!(
        rendered("gitlab", "tag_push.json"),
        [
            "CODEBUILD_WEBHOOK_EVENT=PUSH",
            "CODEBUILD_WEBHOOK_TRIGGER=tag/v1.0.0",
            "CODEBUILD_WEBHOOK_HEAD_REF=refs/tags/v1.0.0",
            "CODEBUILD_WEBHOOK_ACTOR_ACCOUNT_ID=1",
        ]
    );
    let slash = rendered("bitbucket", "repo-push.tag-created.json");
    assert_eq!(slash[1], "CODEBUILD_WEBHOOK_TRIGGER=tag/feature/x");
}

#[test]
fn a_merged_pull_request_sets_base_ref_and_merge_commit() {
    assert_eq!(
        rendered("github", "pull_request.closed.merged.json"),
        [
            "CODEBUILD_WEBHOOK_EVENT=PULL_REQUEST_MERGED",
            "CODEBUILD_WEBHOOK_TRIGGER=pr/36",
            "CODEBUILD_WEBHOOK_HEAD_REF=refs/heads/deck-chairs",
            "CODEBUILD_WEBHOOK_BASE_REF=refs/heads/master",
            "CODEBUILD_WEBHOOK_ACTOR_ACCOUNT_ID=173",
            "CODEBUILD_WEBHOOK_MERGE_COMMIT=acac2f75d59f43ceab769fb203cfbbf6f3cf8b10",
        ]
    );
}

#[test]
fn a_pull_request_update_has_no_prev_commit_even_when_the_payload_has_before() {
    let names: Vec<&str> = webhook_variables(&accepted("github", "pull_request.synchronize.json"))
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    assert!(!names.contains(&"CODEBUILD_WEBHOOK_PREV_COMMIT"), "{names:?}");
}

#[test]
fn the_initiator_is_the_provider_user_agent_or_a_provider_fallback() {
    let mut event = accepted("github", "push.branch.json");
    assert_eq!(initiator(&event), "GitHub-Hookshot/044aadd");
    event.user_agent = None;
    assert_eq!(initiator(&event), "github-webhook");
}
