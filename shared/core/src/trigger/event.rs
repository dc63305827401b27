//! The normalised trigger event: what any provider's push, pull request or release becomes.

use std::collections::BTreeSet;
use std::fmt;

use serde::Serialize;

use super::headers::Provider;
use super::json::{FieldError, Node};

/// CodeBuild's webhook event types (`WebhookFilter` `EVENT` values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum WebhookEvent {
    Push,
    PullRequestCreated,
    PullRequestUpdated,
    PullRequestReopened,
    PullRequestMerged,
    PullRequestClosed,
    Released,
    Prereleased,
    WorkflowJobQueued,
}

impl WebhookEvent {
    /// Every event type, in CodeBuild's documented order.
    pub const ALL: [WebhookEvent; 9] = [
        WebhookEvent::Push,
        WebhookEvent::PullRequestCreated,
        WebhookEvent::PullRequestUpdated,
        WebhookEvent::PullRequestClosed,
        WebhookEvent::PullRequestReopened,
        WebhookEvent::PullRequestMerged,
        WebhookEvent::Released,
        WebhookEvent::Prereleased,
        WebhookEvent::WorkflowJobQueued,
    ];

    /// CodeBuild's spelling, e.g. `PULL_REQUEST_UPDATED`.
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookEvent::Push => "PUSH",
            WebhookEvent::PullRequestCreated => "PULL_REQUEST_CREATED",
            WebhookEvent::PullRequestUpdated => "PULL_REQUEST_UPDATED",
            WebhookEvent::PullRequestReopened => "PULL_REQUEST_REOPENED",
            WebhookEvent::PullRequestMerged => "PULL_REQUEST_MERGED",
            WebhookEvent::PullRequestClosed => "PULL_REQUEST_CLOSED",
            WebhookEvent::Released => "RELEASED",
            WebhookEvent::Prereleased => "PRERELEASED",
            WebhookEvent::WorkflowJobQueued => "WORKFLOW_JOB_QUEUED",
        }
    }

    /// Parses CodeBuild's spelling (exact, upper case).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|event| event.as_str() == name)
    }

    /// Whether this is one of the `PULL_REQUEST_*` events.
    pub fn is_pull_request(self) -> bool {
        match self {
            WebhookEvent::PullRequestCreated
            | WebhookEvent::PullRequestUpdated
            | WebhookEvent::PullRequestReopened
            | WebhookEvent::PullRequestMerged
            | WebhookEvent::PullRequestClosed => true,
            WebhookEvent::Push
            | WebhookEvent::Released
            | WebhookEvent::Prereleased
            | WebhookEvent::WorkflowJobQueued => false,
        }
    }
}

impl fmt::Display for WebhookEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A full git ref, always `refs/heads/<branch>` or `refs/tags/<tag>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct GitRef(String);

impl GitRef {
    /// `refs/heads/<name>`.
    pub fn branch(name: &str) -> Self {
        Self(format!("refs/heads/{name}"))
    }

    /// `refs/tags/<name>`.
    pub fn tag(name: &str) -> Self {
        Self(format!("refs/tags/{name}"))
    }

    /// A pushed ref: `refs/heads/<b>` or `refs/tags/<t>` with a non-empty name, or a bare branch name; `None`
    /// for other namespaces (`refs/notes/..`) and empty names.
    pub(crate) fn pushed(value: &str) -> Option<Self> {
        let name = ["refs/heads/", "refs/tags/"]
            .iter()
            .find_map(|prefix| value.strip_prefix(prefix));
        match name {
            Some("") => None,
            Some(_) => Some(Self(value.to_owned())),
            None if value.is_empty() || value.starts_with("refs/") => None,
            None => Some(Self::branch(value)),
        }
    }

    /// The full ref.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The tag name, when this is a tag ref.
    pub fn tag_name(&self) -> Option<&str> {
        self.0.strip_prefix("refs/tags/")
    }

    /// The branch name, when this is a branch ref.
    pub fn branch_name(&self) -> Option<&str> {
        self.0.strip_prefix("refs/heads/")
    }
}

impl fmt::Display for GitRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The id a delivery is deduplicated on: the provider's delivery header, or `sha256:<hex>` of the event
/// header and body when the provider sends none.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct DeliveryId(String);

impl DeliveryId {
    pub(crate) fn new(value: String) -> Self {
        Self(value)
    }

    /// The id's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The repository an event belongs to (the base repository for pull requests).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Repository {
    /// `owner/name` (GitLab: `group/subgroup/name`).
    pub full_name: String,
    /// HTTPS clone URL.
    pub clone_url_http: String,
    /// SSH clone URL, when the payload gives one.
    pub clone_url_ssh: Option<String>,
}

impl Repository {
    /// The last path segment of the full name.
    pub fn name(&self) -> &str {
        self.full_name.rsplit('/').next().unwrap_or(&self.full_name)
    }

    /// Everything before the last path segment (the owner, organisation or GitLab group).
    pub fn owner(&self) -> Option<&str> {
        self.full_name.rsplit_once('/').map(|(owner, _)| owner)
    }
}

/// Who caused the event.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Actor {
    /// The provider's account id (CodeBuild's `ACTOR_ACCOUNT_ID`): GitHub/Gitea `sender.id`, GitLab
    /// `user_id`/`user.id`, Bitbucket `actor.account_id`.
    pub id: Option<String>,
    /// The login / user name.
    pub login: Option<String>,
}

/// A webhook delivery normalised into CodeBuild's terms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TriggerEvent {
    pub provider: Provider,
    pub delivery_id: DeliveryId,
    /// The CodeBuild event type.
    pub event: WebhookEvent,
    pub repository: Repository,
    /// `refs/heads/<b>` or `refs/tags/<t>` (PR: the source branch; release: the tag).
    pub head_ref: GitRef,
    /// The PR target branch as `refs/heads/<b>`; `None` for pushes and releases.
    pub base_ref: Option<GitRef>,
    /// The commit to build, when the payload names one.
    pub head_sha: Option<String>,
    /// The commit before a push (or before new PR commits, when the payload says).
    pub before_sha: Option<String>,
    /// The merge (or squash) commit of a merged PR.
    pub merge_commit_sha: Option<String>,
    pub actor: Actor,
    pub head_commit_message: Option<String>,
    /// Files added, modified or removed across the pushed commits; `None` when the payload does not list them.
    pub changed_files: Option<Vec<String>>,
    pub pr_number: Option<u64>,
    /// The PR's head repository differs from its base repository.
    pub from_fork: bool,
    pub tag_name: Option<String>,
    pub release_name: Option<String>,
    /// The provider's `User-Agent` (CodeBuild's initiator for webhook builds, e.g. `GitHub-Hookshot/..`).
    pub user_agent: Option<String>,
    /// The source version to build: `pr/<n>` for GitHub PRs, the head commit SHA otherwise (the tag ref for
    /// releases whose payload names no commit).
    pub source_version: String,
}

/// What a provider parser got from the headers before reading the body.
#[derive(Debug, Clone)]
pub(crate) struct Context {
    pub provider: Provider,
    pub delivery_id: DeliveryId,
    pub user_agent: Option<String>,
}

/// `true` for git's all-zero SHA (the "before" of a created ref, the "after" of a deleted one).
pub(crate) fn is_zero_sha(sha: &str) -> bool {
    !sha.is_empty() && sha.bytes().all(|byte| byte == b'0')
}

/// The sorted union of `added`, `modified` and `removed` over `commits[]` (GitHub, GitLab, Gitea pushes).
pub(crate) fn changed_files(commits: &Node<'_>) -> Result<Vec<String>, FieldError> {
    let mut files = BTreeSet::new();
    for commit in commits.items()? {
        for key in ["added", "modified", "removed"] {
            files.extend(commit.field(key).strings()?);
        }
    }
    Ok(files.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refs_are_normalised_to_full_refs() {
        assert_eq!(
            GitRef::pushed("main").map(|r| r.as_str().to_owned()).as_deref(),
            Some("refs/heads/main")
        );
        assert_eq!(
            GitRef::pushed("refs/tags/v1").as_ref().and_then(GitRef::tag_name),
            Some("v1")
        );
        for unusable in [
            "",
            "refs/heads/",
            "refs/tags/",
            "refs/notes/commits",
            "refs/pull/1/head",
        ] {
            assert_eq!(GitRef::pushed(unusable), None, "{unusable:?}");
        }
        assert_eq!(GitRef::branch("feature/x").branch_name(), Some("feature/x"));
    }

    #[test]
    fn event_names_round_trip() {
        for event in WebhookEvent::ALL {
            assert_eq!(WebhookEvent::from_name(event.as_str()), Some(event));
        }
        assert_eq!(WebhookEvent::from_name("push"), None);
    }
}
