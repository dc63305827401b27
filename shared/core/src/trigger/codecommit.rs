//! CodeCommit as a trigger: EventBridge "CodeCommit Repository State Change" events normalised into the same
//! [`TriggerEvent`] as a webhook push, and the repository a project's source location names.
//!
//! The event (CodeCommit user guide, "Monitoring CodeCommit events"; the Lambda receives the bare envelope):
//!
//! ```json
//! {"version": "0", "id": "<event id>", "detail-type": "CodeCommit Repository State Change",
//!  "source": "aws.codecommit", "account": "123456789012", "time": "2026-11-24T12:00:00Z", "region": "eu-west-1",
//!  "resources": ["arn:aws:codecommit:eu-west-1:123456789012:web"],
//!  "detail": {"event": "referenceUpdated", "repositoryName": "web", "repositoryId": "…",
//!             "referenceType": "branch", "referenceName": "main", "referenceFullName": "refs/heads/main",
//!             "commitId": "<sha>", "oldCommitId": "<sha>", "callerUserArn": "arn:aws:iam::123456789012:user/alice"}}
//! ```
//!
//! Decisions: `referenceCreated` and `referenceUpdated` of a branch or tag are a `PUSH`; `referenceDeleted` and
//! every other event are ignored with a reason. The event `id` is the delivery id. The actor's account id (the
//! `ACTOR_ACCOUNT_ID` filter) is the full `callerUserArn`, its login the ARN's last path segment. The event lists
//! neither changed files nor a commit message, so `FILE_PATH` and `COMMIT_MESSAGE` filters see no value.

use std::fmt;

use serde_json::Value;

use super::event::{Actor, DeliveryId, GitRef, Repository, TriggerEvent, WebhookEvent};
use super::headers::Provider;
use super::json::{FieldError, Node};
use crate::sigv4::codecommit::codecommit_region_from_host;

/// The `detail-type` of the events this module reads.
pub const DETAIL_TYPE: &str = "CodeCommit Repository State Change";

/// A CodeCommit push, normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeCommitPush {
    /// The repository's name (`detail.repositoryName`).
    pub repository_name: String,
    /// The region the event came from (`region`).
    pub region: String,
    /// The same event a webhook push becomes.
    pub event: TriggerEvent,
}

/// Why a well-formed event starts no build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeCommitIgnore {
    /// Another EventBridge event (`detail-type` or `source` differs).
    NotRepositoryStateChange { detail_type: String },
    /// A branch or tag was deleted.
    ReferenceDeleted { reference: String },
    /// `detail.event` is not a reference change (e.g. `unreferencedMergeCommitCreated`).
    UnsupportedEvent { event: String },
    /// `detail.referenceType` is neither `branch` nor `tag`.
    UnsupportedReferenceType { reference_type: String },
    /// No project's source names the repository.
    UnknownRepository { repository: String, region: String },
}

impl CodeCommitIgnore {
    /// A stable name for responses and logs, e.g. `REFERENCE_DELETED`.
    pub fn kind(&self) -> &'static str {
        match self {
            CodeCommitIgnore::NotRepositoryStateChange { .. } => "NOT_REPOSITORY_STATE_CHANGE",
            CodeCommitIgnore::ReferenceDeleted { .. } => "REFERENCE_DELETED",
            CodeCommitIgnore::UnsupportedEvent { .. } => "UNSUPPORTED_EVENT",
            CodeCommitIgnore::UnsupportedReferenceType { .. } => "UNSUPPORTED_REFERENCE_TYPE",
            CodeCommitIgnore::UnknownRepository { .. } => "UNKNOWN_REPOSITORY",
        }
    }
}

impl fmt::Display for CodeCommitIgnore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CodeCommitIgnore::NotRepositoryStateChange { detail_type } => write!(
                f,
                "event {detail_type:?} is not a {DETAIL_TYPE:?} event from aws.codecommit"
            ),
            CodeCommitIgnore::ReferenceDeleted { reference } => {
                write!(f, "{reference} was deleted; deletions are not built")
            }
            CodeCommitIgnore::UnsupportedEvent { event } => write!(
                f,
                "codecommit event {event:?} starts no build (only referenceCreated and referenceUpdated do)"
            ),
            CodeCommitIgnore::UnsupportedReferenceType { reference_type } => write!(
                f,
                "reference type {reference_type:?} starts no build (only branch and tag do)"
            ),
            CodeCommitIgnore::UnknownRepository { repository, region } => write!(
                f,
                "no project's source is codecommit repository {repository:?} in {region}: give a project the \
                 location https://git-codecommit.{region}.amazonaws.com/v1/repos/{repository}"
            ),
        }
    }
}

/// What an event is: a push to build, or a reason to ignore it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeCommitParse {
    /// A branch or tag created or moved.
    Push(Box<CodeCommitPush>),
    /// A well-formed event that starts nothing.
    Ignored(CodeCommitIgnore),
}

/// An event that is not the documented shape; the message names the field path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed codecommit event: {message}")]
pub struct CodeCommitEventError {
    /// `detail.commitId: missing` and the like.
    pub message: String,
}

impl From<FieldError> for CodeCommitEventError {
    fn from(FieldError(message): FieldError) -> Self {
        Self { message }
    }
}

/// Parses an EventBridge event; never panics, whatever the JSON.
pub fn parse_codecommit_event(value: &Value) -> Result<CodeCommitParse, CodeCommitEventError> {
    if !value.is_object() {
        return Err(CodeCommitEventError {
            message: "(body): expected a JSON object (an EventBridge event)".into(),
        });
    }
    let root = Node::root(value);
    let detail_type = root.field("detail-type").str()?;
    let source = root.field("source").opt_str()?;
    if detail_type != DETAIL_TYPE || source.is_some_and(|source| source != "aws.codecommit") {
        return Ok(CodeCommitParse::Ignored(
            CodeCommitIgnore::NotRepositoryStateChange {
                detail_type: detail_type.to_owned(),
            },
        ));
    }
    let detail = root.field("detail");
    let event = detail.field("event").text()?;
    match event {
        "referenceCreated" | "referenceUpdated" => {}
        "referenceDeleted" => {
            let full = detail.field("referenceFullName").opt_str()?;
            let reference = full.or(detail.field("referenceName").opt_str()?);
            return Ok(CodeCommitParse::Ignored(CodeCommitIgnore::ReferenceDeleted {
                reference: reference.unwrap_or("a reference").to_owned(),
            }));
        }
        other => {
            return Ok(CodeCommitParse::Ignored(CodeCommitIgnore::UnsupportedEvent {
                event: other.to_owned(),
            }));
        }
    }
    let reference_type = detail.field("referenceType").text()?;
    let Some(head_ref) = reference(&detail, reference_type)? else {
        return Ok(CodeCommitParse::Ignored(
            CodeCommitIgnore::UnsupportedReferenceType {
                reference_type: reference_type.to_owned(),
            },
        ));
    };
    let id = root.field("id").text()?;
    let region = root.field("region").text()?;
    let name = detail.field("repositoryName").text()?;
    let commit = detail.field("commitId").text()?;
    let before = detail
        .field("oldCommitId")
        .opt_str()?
        .filter(|sha| !sha.is_empty());
    let caller = detail
        .field("callerUserArn")
        .opt_str()?
        .filter(|arn| !arn.is_empty());
    let tag_name = head_ref.tag_name().map(str::to_owned);
    let event = TriggerEvent {
        provider: Provider::CodeCommit,
        delivery_id: DeliveryId::new(id.to_owned()),
        event: WebhookEvent::Push,
        repository: Repository {
            full_name: name.to_owned(),
            clone_url_http: format!("https://git-codecommit.{region}.amazonaws.com/v1/repos/{name}"),
            clone_url_ssh: Some(format!(
                "ssh://git-codecommit.{region}.amazonaws.com/v1/repos/{name}"
            )),
        },
        head_ref,
        base_ref: None,
        head_sha: Some(commit.to_owned()),
        before_sha: before.map(str::to_owned),
        merge_commit_sha: None,
        actor: Actor {
            id: caller.map(str::to_owned),
            login: caller
                .and_then(|arn| arn.rsplit(['/', ':']).next())
                .map(str::to_owned),
        },
        head_commit_message: None,
        changed_files: None,
        pr_number: None,
        from_fork: false,
        tag_name,
        release_name: None,
        user_agent: None,
        source_version: commit.to_owned(),
    };
    Ok(CodeCommitParse::Push(Box::new(CodeCommitPush {
        repository_name: name.to_owned(),
        region: region.to_owned(),
        event,
    })))
}

/// The full ref of a branch or tag event (`referenceFullName` when it agrees with the type, else built from
/// `referenceName`); `None` for other reference types.
fn reference(detail: &Node<'_>, reference_type: &str) -> Result<Option<GitRef>, FieldError> {
    let prefix = match reference_type {
        "branch" => "refs/heads/",
        "tag" => "refs/tags/",
        _ => return Ok(None),
    };
    let full = detail.field("referenceFullName").opt_str()?;
    if let Some(full) = full.filter(|full| full.starts_with(prefix) && full.len() > prefix.len()) {
        return Ok(Some(GitRef::pushed(full).unwrap_or_else(|| GitRef::branch(full))));
    }
    let name = detail.field("referenceName").text()?;
    Ok(Some(match reference_type {
        "tag" => GitRef::tag(name),
        _ => GitRef::branch(name),
    }))
}

/// A CodeCommit repository's HTTPS clone URL, `https://git-codecommit.REGION.amazonaws.com/v1/repos/NAME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeCommitLocation {
    region: String,
    name: String,
}

/// The form a CODECOMMIT location must have, for error messages.
pub const LOCATION_FORM: &str = "https://git-codecommit.REGION.amazonaws.com/v1/repos/NAME";

/// Why a CODECOMMIT source location is not a repository's clone URL; every message ends with the form it must
/// have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LocationError {
    /// Not an `https://` URL.
    #[error("CODECOMMIT locations are HTTPS clone URLs: {}", LOCATION_FORM)]
    NotHttps,
    /// The host is not a CodeCommit git endpoint.
    #[error(
        "host {host:?} is not git-codecommit.REGION.amazonaws.com ({})",
        LOCATION_FORM
    )]
    NotCodeCommitHost { host: String },
    /// The path is not `/v1/repos/NAME`.
    #[error("the path must be /v1/repos/NAME ({})", LOCATION_FORM)]
    NotRepositoryPath,
    /// The last path segment is not a valid repository name.
    #[error(
        "{name:?} is not a repository name: 1 to 100 letters, digits, '.', '_' or '-' ({})",
        LOCATION_FORM
    )]
    InvalidName { name: String },
}

impl CodeCommitLocation {
    /// Parses a clone URL (also the `-fips` host and a trailing `/`); the error says what is wrong.
    pub fn parse(location: &str) -> Result<Self, LocationError> {
        let Some(rest) = location.strip_prefix("https://") else {
            return Err(LocationError::NotHttps);
        };
        let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
        let host = host.rsplit_once('@').map_or(host, |(_, host)| host);
        let region = codecommit_region_from_host(host)
            .filter(|_| host.starts_with("git-codecommit"))
            .ok_or_else(|| LocationError::NotCodeCommitHost {
                host: host.to_owned(),
            })?;
        let name = path
            .strip_prefix("v1/repos/")
            .map(|name| name.strip_suffix('/').unwrap_or(name))
            .ok_or(LocationError::NotRepositoryPath)?;
        let valid = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
        if name.is_empty() || name.len() > 100 || !name.chars().all(valid) || name.ends_with(".git") {
            return Err(LocationError::InvalidName {
                name: name.to_owned(),
            });
        }
        Ok(Self {
            region: region.to_owned(),
            name: name.to_owned(),
        })
    }

    /// The region in the host.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The repository name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// Whether a project source (`type`, `location`) is the repository `name` in `region`: a CODECOMMIT location
/// with that name and region, or — to exercise the flow locally with `kiln serve` — a `GIT` source whose
/// `file://` URL or absolute path ends in a directory called `name` (or `name.git`), in any region.
pub fn source_names_repository(source_type: &str, location: &str, name: &str, region: &str) -> bool {
    match source_type {
        "CODECOMMIT" => CodeCommitLocation::parse(location)
            .is_ok_and(|parsed| parsed.name == name && parsed.region == region),
        "GIT" => {
            let path = location.strip_prefix("file://").unwrap_or(location);
            if !path.starts_with('/') {
                return false;
            }
            let last = path.trim_end_matches('/').rsplit('/').next().unwrap_or_default();
            last.strip_suffix(".git").unwrap_or(last) == name
        }
        _ => false,
    }
}

#[cfg(test)]
#[path = "codecommit_tests.rs"]
mod tests;
