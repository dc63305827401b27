//! The `CODEBUILD_WEBHOOK_*` environment variables a webhook-triggered build gets, and its initiator.
//!
//! Unset variables are left out (CodeBuild leaves BASE_REF unset on pushes, PREV_COMMIT on PRs). PREV_COMMIT
//! is the push's `before` (absent when the push created the ref); MERGE_COMMIT is set for merged PRs whose
//! payload names the merge or squash commit (GitHub, GitLab, Bitbucket, Gitea alike).

use super::event::{TriggerEvent, WebhookEvent};
use super::headers::Provider;

/// `(name, value)` pairs in a fixed order: EVENT, TRIGGER, HEAD_REF, BASE_REF, ACTOR_ACCOUNT_ID, PREV_COMMIT,
/// MERGE_COMMIT.
pub fn webhook_variables(event: &TriggerEvent) -> Vec<(&'static str, String)> {
    let mut variables = vec![
        ("CODEBUILD_WEBHOOK_EVENT", event.event.as_str().to_owned()),
        ("CODEBUILD_WEBHOOK_TRIGGER", trigger(event)),
        ("CODEBUILD_WEBHOOK_HEAD_REF", event.head_ref.as_str().to_owned()),
    ];
    let optional = [
        (
            "CODEBUILD_WEBHOOK_BASE_REF",
            event.base_ref.as_ref().map(|base| base.as_str().to_owned()),
        ),
        ("CODEBUILD_WEBHOOK_ACTOR_ACCOUNT_ID", event.actor.id.clone()),
        (
            "CODEBUILD_WEBHOOK_PREV_COMMIT",
            (event.event == WebhookEvent::Push)
                .then(|| event.before_sha.clone())
                .flatten(),
        ),
        ("CODEBUILD_WEBHOOK_MERGE_COMMIT", event.merge_commit_sha.clone()),
    ];
    variables.extend(
        optional
            .into_iter()
            .filter_map(|(name, value)| value.map(|value| (name, value))),
    );
    variables
}

/// `pr/<n>` for pull requests, `tag/<name>` for tags (and releases), `branch/<name>` for branches.
pub fn trigger(event: &TriggerEvent) -> String {
    if let Some(number) = event.pr_number {
        return format!("pr/{number}");
    }
    if let Some(tag) = event.head_ref.tag_name() {
        return format!("tag/{tag}");
    }
    format!(
        "branch/{}",
        event.head_ref.branch_name().unwrap_or(event.head_ref.as_str())
    )
}

/// The build's initiator (`CODEBUILD_INITIATOR`): the provider's user agent as CodeBuild reports it, e.g.
/// `GitHub-Hookshot/044aadd`, or `<provider>-webhook` when the request carried none; `aws.codecommit` (the
/// EventBridge source) for CodeCommit events.
pub fn initiator(event: &TriggerEvent) -> String {
    if let Some(agent) = &event.user_agent {
        return agent.clone();
    }
    match event.provider {
        Provider::CodeCommit => "aws.codecommit".to_owned(),
        Provider::GitHub | Provider::GitLab | Provider::Bitbucket | Provider::Gitea => {
            format!("{}-webhook", event.provider.as_str())
        }
    }
}
