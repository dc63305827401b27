//! GitHub and Gitea/Forgejo payloads (Gitea's are GitHub-shaped): `push`, `pull_request` and `release`.
//!
//! Decisions: `create`/`delete` are ignored because the `push` event for the same ref carries the build;
//! GitHub `release` builds on `released`/`prereleased` (CodeBuild's mapping; `published` fires for both and
//! would build twice), Gitea's only release action `published` maps to RELEASED or PRERELEASED by
//! `release.prerelease`; GitHub PRs build `pr/<n>` (CodeBuild), Gitea PRs build the head commit SHA.

use super::event::{
    Actor, Context, GitRef, Repository, TriggerEvent, WebhookEvent, changed_files, is_zero_sha,
};
use super::headers::Provider;
use super::json::{FieldError, Node};
use super::outcome::{Parsed, ignored};

/// Parses a GitHub or Gitea body announced as `event`.
pub(crate) fn parse(context: &Context, event: &str, root: &Node<'_>) -> Result<Parsed, FieldError> {
    match event {
        "push" => push(context, root),
        "pull_request" => pull_request(context, root),
        "release" => release(context, root),
        "ping" => ignored("ping: the webhook is set up; nothing to build"),
        "create" => ignored("create events start no build: the push event for the same ref does"),
        "delete" => ignored("delete events start no build: deleted refs are never built"),
        "workflow_job" => ignored("WORKFLOW_JOB_QUEUED (CodeBuild-hosted Actions runners) is not supported"),
        other => ignored(format!("event {other:?} does not start builds")),
    }
}

fn repository(root: &Node<'_>) -> Result<Repository, FieldError> {
    let repo = root.field("repository");
    Ok(Repository {
        full_name: repo.field("full_name").text()?.to_owned(),
        clone_url_http: repo.field("clone_url").text()?.to_owned(),
        clone_url_ssh: repo.field("ssh_url").opt_str()?.map(str::to_owned),
    })
}

fn actor(root: &Node<'_>) -> Result<Actor, FieldError> {
    let sender = root.field("sender");
    Ok(Actor {
        id: sender.field("id").opt_id()?,
        login: sender.field("login").opt_str()?.map(str::to_owned),
    })
}

fn push(context: &Context, root: &Node<'_>) -> Result<Parsed, FieldError> {
    let reference = root.field("ref").text()?;
    let after = root.field("after").text()?;
    if root.field("deleted").flag()? || is_zero_sha(after) {
        return ignored(format!("{reference} was deleted; deletions are not built"));
    }
    let Some(head_ref) = GitRef::pushed(reference) else {
        return ignored(format!(
            "push to {reference:?}, which is neither a branch nor a tag"
        ));
    };
    let commits = root.field("commits");
    let head_commit = root.field("head_commit");
    let message = match head_commit.field("message").opt_str()? {
        Some(message) => Some(message.to_owned()),
        None => commit_message(&commits, after)?,
    };
    let before = root.field("before").opt_str()?.filter(|sha| !is_zero_sha(sha));
    Ok(Parsed::Event(Box::new(TriggerEvent {
        provider: context.provider,
        delivery_id: context.delivery_id.clone(),
        event: WebhookEvent::Push,
        repository: repository(root)?,
        head_ref,
        base_ref: None,
        head_sha: Some(after.to_owned()),
        before_sha: before.map(str::to_owned),
        merge_commit_sha: None,
        actor: actor(root)?,
        head_commit_message: message,
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
        source_version: after.to_owned(),
    })))
}

/// The message of the commit whose id is `sha`, else of the last listed commit (older Gitea has no head_commit).
fn commit_message(commits: &Node<'_>, sha: &str) -> Result<Option<String>, FieldError> {
    let items = commits.items()?;
    let mut found = None;
    for commit in &items {
        let message = commit.field("message").opt_str()?;
        if commit.field("id").opt_str()? == Some(sha) {
            return Ok(message.map(str::to_owned));
        }
        found = message;
    }
    Ok(found.map(str::to_owned))
}

fn pull_request(context: &Context, root: &Node<'_>) -> Result<Parsed, FieldError> {
    let action = root.field("action").str()?;
    let pr = root.field("pull_request");
    let event = match action {
        "opened" => WebhookEvent::PullRequestCreated,
        "reopened" => WebhookEvent::PullRequestReopened,
        "synchronize" | "synchronized" => WebhookEvent::PullRequestUpdated,
        "closed" if pr.field("merged").flag()? => WebhookEvent::PullRequestMerged,
        "closed" => WebhookEvent::PullRequestClosed,
        other => return ignored(format!("pull_request action {other:?} does not start builds")),
    };
    let number = match root.field("number").is_present() {
        true => root.field("number").u64()?,
        false => pr.field("number").u64()?,
    };
    let head = pr.field("head");
    let base = pr.field("base");
    let head_sha = head.field("sha").text()?;
    let merge_commit = match event == WebhookEvent::PullRequestMerged {
        true => pr.field("merge_commit_sha").opt_str()?.map(str::to_owned),
        false => None,
    };
    let source_version = match context.provider {
        Provider::GitHub => format!("pr/{number}"),
        Provider::Gitea | Provider::GitLab | Provider::Bitbucket | Provider::CodeCommit => {
            head_sha.to_owned()
        }
    };
    Ok(Parsed::Event(Box::new(TriggerEvent {
        provider: context.provider,
        delivery_id: context.delivery_id.clone(),
        event,
        repository: repository(root)?,
        head_ref: GitRef::branch(head.field("ref").text()?),
        base_ref: Some(GitRef::branch(base.field("ref").text()?)),
        head_sha: Some(head_sha.to_owned()),
        before_sha: root.field("before").opt_str()?.map(str::to_owned),
        merge_commit_sha: merge_commit,
        actor: actor(root)?,
        head_commit_message: None,
        changed_files: None,
        pr_number: Some(number),
        from_fork: is_fork(&head, &base)?,
        tag_name: None,
        release_name: None,
        user_agent: context.user_agent.clone(),
        source_version,
    })))
}

/// Head repository differs from base repository; a head whose repository is gone (deleted fork) counts as a fork.
fn is_fork(head: &Node<'_>, base: &Node<'_>) -> Result<bool, FieldError> {
    let (head_repo, base_repo) = (head.field("repo"), base.field("repo"));
    let head_name = head_repo.field("full_name").opt_str()?;
    let base_name = base_repo.field("full_name").opt_str()?;
    if let (Some(head_name), Some(base_name)) = (head_name, base_name) {
        return Ok(head_name != base_name);
    }
    let head_id = head.field("repo_id").opt_id()?;
    let base_id = base.field("repo_id").opt_id()?;
    match (head_id, base_id) {
        (Some(head_id), Some(base_id)) => Ok(head_id != base_id),
        _ => Ok(true),
    }
}

fn release(context: &Context, root: &Node<'_>) -> Result<Parsed, FieldError> {
    let action = root.field("action").str()?;
    let release = root.field("release");
    let prerelease = release.field("prerelease").flag()?;
    let event = match (context.provider, action) {
        (Provider::GitHub, "released") => WebhookEvent::Released,
        (Provider::GitHub, "prereleased") => WebhookEvent::Prereleased,
        (Provider::GitHub, "published") => {
            return ignored(
                "release action \"published\" is not built: CodeBuild builds on \"released\" and \
                            \"prereleased\", which GitHub sends for the same release",
            );
        }
        (Provider::Gitea, "published") if prerelease => WebhookEvent::Prereleased,
        (Provider::Gitea, "published") => WebhookEvent::Released,
        (_, other) => return ignored(format!("release action {other:?} does not start builds")),
    };
    let tag = release.field("tag_name").text()?;
    let head_ref = GitRef::tag(tag);
    let target = release.field("target_commitish").opt_str()?;
    let head_sha =
        target.filter(|target| target.len() == 40 && target.bytes().all(|b| b.is_ascii_hexdigit()));
    Ok(Parsed::Event(Box::new(TriggerEvent {
        provider: context.provider,
        delivery_id: context.delivery_id.clone(),
        event,
        repository: repository(root)?,
        source_version: head_sha.map_or_else(|| head_ref.as_str().to_owned(), str::to_owned),
        head_ref,
        base_ref: None,
        head_sha: head_sha.map(str::to_owned),
        before_sha: None,
        merge_commit_sha: None,
        actor: actor(root)?,
        head_commit_message: None,
        changed_files: None,
        pr_number: None,
        from_fork: false,
        tag_name: Some(tag.to_owned()),
        release_name: release.field("name").opt_str()?.map(str::to_owned),
        user_agent: context.user_agent.clone(),
    })))
}
