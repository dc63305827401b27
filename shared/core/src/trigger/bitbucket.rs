//! Bitbucket Cloud payloads: `repo:push` and `pullrequest:{created,updated,fulfilled,rejected}`.
//!
//! Decisions: a push that carries several `changes` becomes ONE event, built from the first change that is
//! not a deletion: a delivery is deduplicated on its one delivery id, so it must start at most one build (the
//! other changes are named in no field; pushing several refs at once is rare). PRs build the source commit
//! hash (Bitbucket has no `pr/<n>`; the hash may be abbreviated). `pullrequest.state` must agree with the
//! event key (OPEN, MERGED, DECLINED), which also turns the documentation templates' placeholder state
//! `"OPEN|MERGED|DECLINED"` into `Malformed`. Bitbucket payloads list no changed files.

use super::event::{Actor, Context, GitRef, Repository, TriggerEvent, WebhookEvent};
use super::json::{FieldError, Node};
use super::outcome::{Parsed, ignored};

/// Parses a Bitbucket Cloud body announced as `event` (the `X-Event-Key` value).
pub(crate) fn parse(context: &Context, event: &str, root: &Node<'_>) -> Result<Parsed, FieldError> {
    let (event, state) = match event {
        "repo:push" => return push(context, root),
        "pullrequest:created" => (WebhookEvent::PullRequestCreated, "OPEN"),
        "pullrequest:updated" => (WebhookEvent::PullRequestUpdated, "OPEN"),
        "pullrequest:fulfilled" => (WebhookEvent::PullRequestMerged, "MERGED"),
        "pullrequest:rejected" => (WebhookEvent::PullRequestClosed, "DECLINED"),
        other => return ignored(format!("event {other:?} does not start builds")),
    };
    pull_request(context, root, event, state)
}

fn repository(root: &Node<'_>) -> Result<Repository, FieldError> {
    let repo = root.field("repository");
    let full_name = repo.field("full_name").text()?;
    let links = repo.field("links");
    let html = links.field("html");
    let href_node = html.field("href");
    let href = href_node.text()?;
    let (host, path) = href
        .split_once("://")
        .map(|(_, rest)| rest.split_once('/').unwrap_or((rest, "")))
        .unwrap_or_default();
    // Bitbucket's repository page is https://bitbucket.org/<full_name>. A payload whose page names another
    // repository contradicts itself (the documentation templates do: `team_name/repo_name` beside
    // `.../bitbucket/bitbucket`), and building it would clone a repository the event is not about.
    if !path.trim_end_matches('/').eq_ignore_ascii_case(full_name) {
        let problem = format!("{href:?} is not the page of repository {full_name:?} (repository.full_name)");
        return Err(href_node.invalid(&problem));
    }
    let host = Some(host);
    Ok(Repository {
        full_name: full_name.to_owned(),
        clone_url_http: format!("{}.git", href.trim_end_matches('/')),
        clone_url_ssh: host
            .filter(|host| !host.is_empty())
            .map(|host| format!("git@{host}:{full_name}.git")),
    })
}

fn actor(root: &Node<'_>) -> Result<Actor, FieldError> {
    let actor = root.field("actor");
    let mut login = None;
    for key in ["nickname", "username", "display_name"] {
        if login.is_none() {
            login = actor.field(key).opt_str()?;
        }
    }
    Ok(Actor {
        id: actor.field("account_id").opt_id()?,
        login: login.map(str::to_owned),
    })
}

fn push(context: &Context, root: &Node<'_>) -> Result<Parsed, FieldError> {
    let push = root.field("push");
    let changes = push.field("changes");
    let items = changes.items()?;
    let Some(change) = items.iter().find(|change| change.field("new").is_present()) else {
        return ignored(format!(
            "all {} pushed change(s) are deletions; deletions are not built",
            items.len()
        ));
    };
    let new = change.field("new");
    let name = new.field("name").text()?;
    let head_ref = match new.field("type").str()? {
        "branch" => GitRef::branch(name),
        "tag" | "annotated_tag" => GitRef::tag(name),
        other => {
            return ignored(format!(
                "push of a {other:?} ref, which is neither a branch nor a tag"
            ));
        }
    };
    let target = new.field("target");
    let head_sha = target.field("hash").text()?;
    let old = change.field("old");
    let old_target = old.field("target");
    Ok(Parsed::Event(Box::new(TriggerEvent {
        provider: context.provider,
        delivery_id: context.delivery_id.clone(),
        event: WebhookEvent::Push,
        repository: repository(root)?,
        head_ref,
        base_ref: None,
        head_sha: Some(head_sha.to_owned()),
        before_sha: old_target.field("hash").opt_str()?.map(str::to_owned),
        merge_commit_sha: None,
        actor: actor(root)?,
        head_commit_message: target.field("message").opt_str()?.map(str::to_owned),
        changed_files: None,
        pr_number: None,
        from_fork: false,
        tag_name: None,
        release_name: None,
        user_agent: context.user_agent.clone(),
        source_version: head_sha.to_owned(),
    })))
}

fn pull_request(
    context: &Context,
    root: &Node<'_>,
    event: WebhookEvent,
    expected_state: &str,
) -> Result<Parsed, FieldError> {
    let pr = root.field("pullrequest");
    let state_node = pr.field("state");
    let state = state_node.str()?;
    if state != expected_state {
        return Err(FieldError(format!(
            "{}: expected {expected_state:?} for a {event} event, found {state:?}",
            state_node.path()
        )));
    }
    let (source, destination) = (pr.field("source"), pr.field("destination"));
    let (source_branch, destination_branch) = (source.field("branch"), destination.field("branch"));
    let source_commit = source.field("commit");
    let head_sha = source_commit.field("hash").text()?;
    let (source_repo, destination_repo) = (source.field("repository"), destination.field("repository"));
    let from_fork =
        source_repo.field("full_name").opt_str()? != destination_repo.field("full_name").opt_str()?;
    let merge_commit = pr.field("merge_commit");
    let merge_commit_sha = match event == WebhookEvent::PullRequestMerged {
        true => merge_commit.field("hash").opt_str()?.map(str::to_owned),
        false => None,
    };
    Ok(Parsed::Event(Box::new(TriggerEvent {
        provider: context.provider,
        delivery_id: context.delivery_id.clone(),
        event,
        repository: repository(root)?,
        head_ref: GitRef::branch(source_branch.field("name").text()?),
        base_ref: Some(GitRef::branch(destination_branch.field("name").text()?)),
        head_sha: Some(head_sha.to_owned()),
        before_sha: None,
        merge_commit_sha,
        actor: actor(root)?,
        head_commit_message: None,
        changed_files: None,
        pr_number: Some(pr.field("id").u64()?),
        from_fork,
        tag_name: None,
        release_name: None,
        user_agent: context.user_agent.clone(),
        source_version: head_sha.to_owned(),
    })))
}
