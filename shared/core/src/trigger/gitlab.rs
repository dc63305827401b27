//! GitLab payloads: `Push Hook`, `Tag Push Hook` (PUSH with a `refs/tags/..` head ref), `Merge Request Hook`
//! and `Release Hook`; `System Hook` deliveries are dispatched on their `object_kind`.
//!
//! Decisions: MRs build the head commit SHA (`object_attributes.last_commit.id`), GitLab having no `pr/<n>`
//! source version; every MR `update` is PULL_REQUEST_UPDATED as in CodeBuild's table (including title-only
//! edits); the actor id is `user_id` (pushes) or `user.id` (MRs, absent from older payloads).

use super::event::{
    Actor, Context, GitRef, Repository, TriggerEvent, WebhookEvent, changed_files, is_zero_sha,
};
use super::json::{FieldError, Node};
use super::outcome::{Parsed, ignored};

/// Parses a GitLab body announced as `event` (the `X-Gitlab-Event` value).
pub(crate) fn parse(context: &Context, event: &str, root: &Node<'_>) -> Result<Parsed, FieldError> {
    let kind = match event {
        "Push Hook" | "Tag Push Hook" => "push",
        "Merge Request Hook" => "merge_request",
        "Release Hook" => "release",
        "System Hook" => root.field("object_kind").str()?,
        "Job Hook" => return ignored("WORKFLOW_JOB_QUEUED (GitLab CI job hooks) is not supported"),
        other => return ignored(format!("event {other:?} does not start builds")),
    };
    match kind {
        "push" | "tag_push" => push(context, root),
        "merge_request" => merge_request(context, root),
        "release" => release(context, root),
        other => ignored(format!("system hook object_kind {other:?} does not start builds")),
    }
}

fn repository(root: &Node<'_>) -> Result<Repository, FieldError> {
    let project = root.field("project");
    Ok(Repository {
        full_name: project.field("path_with_namespace").text()?.to_owned(),
        clone_url_http: project.field("git_http_url").text()?.to_owned(),
        clone_url_ssh: project.field("git_ssh_url").opt_str()?.map(str::to_owned),
    })
}

fn push(context: &Context, root: &Node<'_>) -> Result<Parsed, FieldError> {
    let reference = root.field("ref").text()?;
    let after = root.field("after").text()?;
    if is_zero_sha(after) {
        return ignored(format!("{reference} was deleted; deletions are not built"));
    }
    let Some(head_ref) = GitRef::pushed(reference) else {
        return ignored(format!(
            "push to {reference:?}, which is neither a branch nor a tag"
        ));
    };
    // For an annotated tag `after` is the tag object; `checkout_sha` is the commit.
    let head_sha = root
        .field("checkout_sha")
        .opt_str()?
        .filter(|sha| !sha.is_empty())
        .unwrap_or(after);
    let commits = root.field("commits");
    let mut message = None;
    for commit in commits.items()? {
        let text = commit.field("message").opt_str()?;
        if message.is_none() || commit.field("id").opt_str()? == Some(head_sha) {
            message = text;
        }
    }
    let before = root.field("before").opt_str()?.filter(|sha| !is_zero_sha(sha));
    Ok(Parsed::Event(Box::new(TriggerEvent {
        provider: context.provider,
        delivery_id: context.delivery_id.clone(),
        event: WebhookEvent::Push,
        repository: repository(root)?,
        head_ref,
        base_ref: None,
        head_sha: Some(head_sha.to_owned()),
        before_sha: before.map(str::to_owned),
        merge_commit_sha: None,
        actor: Actor {
            id: root.field("user_id").opt_id()?,
            login: root.field("user_username").opt_str()?.map(str::to_owned),
        },
        head_commit_message: message.map(str::to_owned),
        changed_files: if commits.is_present() {
            Some(changed_files(&commits)?)
        } else {
            None
        },
        pr_number: None,
        from_fork: false,
        tag_name: None,
        release_name: None,
        user_agent: context.user_agent.clone(),
        source_version: head_sha.to_owned(),
    })))
}

fn merge_request(context: &Context, root: &Node<'_>) -> Result<Parsed, FieldError> {
    let attributes = root.field("object_attributes");
    let action = attributes.field("action").str()?;
    let event = match action {
        "open" => WebhookEvent::PullRequestCreated,
        "update" => WebhookEvent::PullRequestUpdated,
        "reopen" => WebhookEvent::PullRequestReopened,
        "merge" => WebhookEvent::PullRequestMerged,
        "close" => WebhookEvent::PullRequestClosed,
        other => return ignored(format!("merge request action {other:?} does not start builds")),
    };
    let last_commit = attributes.field("last_commit");
    let head_sha = last_commit.field("id").text()?;
    let merge_commit = match event == WebhookEvent::PullRequestMerged {
        true => attributes.field("merge_commit_sha").opt_str()?.map(str::to_owned),
        false => None,
    };
    let source_project = attributes.field("source_project_id").opt_id()?;
    let target_project = attributes.field("target_project_id").opt_id()?;
    let user = root.field("user");
    Ok(Parsed::Event(Box::new(TriggerEvent {
        provider: context.provider,
        delivery_id: context.delivery_id.clone(),
        event,
        repository: repository(root)?,
        head_ref: GitRef::branch(attributes.field("source_branch").text()?),
        base_ref: Some(GitRef::branch(attributes.field("target_branch").text()?)),
        head_sha: Some(head_sha.to_owned()),
        before_sha: attributes.field("oldrev").opt_str()?.map(str::to_owned),
        merge_commit_sha: merge_commit,
        actor: Actor {
            id: user.field("id").opt_id()?,
            login: user.field("username").opt_str()?.map(str::to_owned),
        },
        head_commit_message: last_commit.field("message").opt_str()?.map(str::to_owned),
        changed_files: None,
        pr_number: Some(attributes.field("iid").u64()?),
        from_fork: source_project != target_project,
        tag_name: None,
        release_name: None,
        user_agent: context.user_agent.clone(),
        source_version: head_sha.to_owned(),
    })))
}

fn release(context: &Context, root: &Node<'_>) -> Result<Parsed, FieldError> {
    let action = root.field("action").str()?;
    if !matches!(action, "create" | "update") {
        return ignored(format!("release action {action:?} does not start builds"));
    }
    let tag = root.field("tag").text()?;
    let head_ref = GitRef::tag(tag);
    let commit = root.field("commit");
    let head_sha = commit.field("id").opt_str()?;
    Ok(Parsed::Event(Box::new(TriggerEvent {
        provider: context.provider,
        delivery_id: context.delivery_id.clone(),
        event: WebhookEvent::Released,
        repository: repository(root)?,
        source_version: head_sha.map_or_else(|| head_ref.as_str().to_owned(), str::to_owned),
        head_ref,
        base_ref: None,
        head_sha: head_sha.map(str::to_owned),
        before_sha: None,
        merge_commit_sha: None,
        actor: Actor::default(),
        head_commit_message: commit.field("message").opt_str()?.map(str::to_owned),
        changed_files: None,
        pr_number: None,
        from_fork: false,
        tag_name: Some(tag.to_owned()),
        release_name: root.field("name").opt_str()?.map(str::to_owned),
        user_agent: context.user_agent.clone(),
    })))
}
