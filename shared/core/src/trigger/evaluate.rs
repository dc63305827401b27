//! Evaluating compiled filter groups against an event, with CodeBuild's semantics: a build starts when ANY
//! group passes, a group passes when ALL its filters pass; regexes search anywhere in the value.
//!
//! Choices where CodeBuild's documentation is silent (reference §4.4, §12):
//! - A filter whose field the event lacks (BASE_REF on a push, FILE_PATH when the payload lists no files,
//!   TAG_NAME outside releases) does not match; with `excludeMatchedPattern` it therefore passes. An exclusion
//!   says "never build when X", and X cannot hold when there is no value, while an inclusion asks for evidence.
//! - FILE_PATH passes when any changed file matches; excluded, when no changed file matches.
//! - REPOSITORY_NAME tests the repository's short name, ORGANIZATION_NAME its owner (GitLab: the group path).
//! - A project without filter groups builds on every PUSH and PULL_REQUEST_* event (not on releases).
//! - Our addition: a PUSH whose head commit message contains `[skip ci]` or `[ci skip]` (any case) is
//!   `Skipped`, after the groups matched.

use serde::Serialize;

use super::event::TriggerEvent;
use super::filter::{CompiledFilter, CompiledFilterGroups, FilterType, filter_type_name};

/// Whether an accepted event starts a build of a project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "decision")]
pub enum FilterDecision {
    /// Build. `group` is the index of the first passing group (`None` when the project has no groups).
    Build { group: Option<usize> },
    /// No group passed; `reason` names the first failing filter of each group.
    NoMatch { reason: String },
    /// The groups passed but the head commit asked to skip CI.
    Skipped { reason: String },
}

const SKIP_MARKERS: [&str; 2] = ["[skip ci]", "[ci skip]"];

impl CompiledFilterGroups {
    /// Decides whether `event` starts a build.
    pub fn evaluate(&self, event: &TriggerEvent) -> FilterDecision {
        let decision = self.match_groups(event);
        if !matches!(decision, FilterDecision::Build { .. }) || event.event != super::WebhookEvent::Push {
            return decision;
        }
        let message = event
            .head_commit_message
            .as_deref()
            .unwrap_or_default()
            .to_ascii_lowercase();
        match SKIP_MARKERS.iter().find(|marker| message.contains(*marker)) {
            Some(marker) => FilterDecision::Skipped {
                reason: format!("head commit message contains {marker}"),
            },
            None => decision,
        }
    }

    fn match_groups(&self, event: &TriggerEvent) -> FilterDecision {
        if self.groups.is_empty() {
            return match event.event.is_pull_request() || event.event == super::WebhookEvent::Push {
                true => FilterDecision::Build { group: None },
                false => FilterDecision::NoMatch {
                    reason: format!(
                        "the project has no filter groups, which builds only PUSH and PULL_REQUEST_* events, not {}",
                        event.event
                    ),
                },
            };
        }
        let mut failures = Vec::with_capacity(self.groups.len());
        for (index, group) in self.groups.iter().enumerate() {
            match group.iter().find_map(|filter| failure(filter, event)) {
                None => return FilterDecision::Build { group: Some(index) },
                Some(reason) => failures.push(reason),
            }
        }
        FilterDecision::NoMatch {
            reason: failures.join("; "),
        }
    }
}

/// `None` when the filter passes, else why it failed.
fn failure(filter: &CompiledFilter, event: &TriggerEvent) -> Option<String> {
    let (matched, shown) = match filter.matches_events(event.event) {
        Some(matched) => (matched, event.event.as_str().to_owned()),
        None => {
            let values = field_values(filter.filter_type, event);
            let matched = values.iter().any(|value| filter.regex_matches(value));
            let shown = match values.as_slice() {
                [] => "nothing (the event has no such field)".to_owned(),
                [one] => format!("{one:?}"),
                many => format!("{} values", many.len()),
            };
            (matched, shown)
        }
    };
    if matched != filter.exclude {
        return None;
    }
    let verb = if filter.exclude {
        "matched (excluded)"
    } else {
        "did not match"
    };
    Some(format!(
        "filterGroups[{}][{}] {} {:?} {verb} {shown}",
        filter.group,
        filter.index,
        filter_type_name(filter.filter_type),
        filter.pattern
    ))
}

/// The values a regex filter is tested against; empty when the event lacks the field.
fn field_values(filter_type: FilterType, event: &TriggerEvent) -> Vec<&str> {
    fn single(value: Option<&str>) -> Vec<&str> {
        value.into_iter().collect()
    }
    match filter_type {
        FilterType::Event | FilterType::WorkflowName => Vec::new(),
        FilterType::ActorAccountId => single(event.actor.id.as_deref()),
        FilterType::HeadRef => vec![event.head_ref.as_str()],
        FilterType::BaseRef => single(event.base_ref.as_ref().map(|base| base.as_str())),
        FilterType::FilePath => event.changed_files.iter().flatten().map(String::as_str).collect(),
        FilterType::CommitMessage => single(event.head_commit_message.as_deref()),
        FilterType::TagName => single(event.tag_name.as_deref()),
        FilterType::ReleaseName => single(event.release_name.as_deref()),
        FilterType::RepositoryName => vec![event.repository.name()],
        FilterType::OrganizationName => single(event.repository.owner()),
    }
}
