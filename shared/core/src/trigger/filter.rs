//! Webhook filter groups in CodeBuild's shape (`[[{type, pattern, excludeMatchedPattern}]]`) and their
//! validation into [`CompiledFilterGroups`]. Evaluation against an event lives in `evaluate.rs`.
//!
//! Regexes use Rust's `regex` syntax (CodeBuild's is Java's): no look-around, no back-references; such
//! patterns are refused at validation with a hint rather than silently misread.

use regex::{Regex, RegexBuilder};
use serde::{Deserialize, Serialize};

use super::event::WebhookEvent;

/// What a filter tests (CodeBuild's `WebhookFilterType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FilterType {
    Event,
    ActorAccountId,
    HeadRef,
    BaseRef,
    FilePath,
    CommitMessage,
    TagName,
    ReleaseName,
    RepositoryName,
    OrganizationName,
    WorkflowName,
}

impl FilterType {
    /// CodeBuild's name for the type, e.g. `HEAD_REF`.
    pub fn as_str(self) -> &'static str {
        match self {
            FilterType::Event => "EVENT",
            FilterType::ActorAccountId => "ACTOR_ACCOUNT_ID",
            FilterType::HeadRef => "HEAD_REF",
            FilterType::BaseRef => "BASE_REF",
            FilterType::FilePath => "FILE_PATH",
            FilterType::CommitMessage => "COMMIT_MESSAGE",
            FilterType::TagName => "TAG_NAME",
            FilterType::ReleaseName => "RELEASE_NAME",
            FilterType::RepositoryName => "REPOSITORY_NAME",
            FilterType::OrganizationName => "ORGANIZATION_NAME",
            FilterType::WorkflowName => "WORKFLOW_NAME",
        }
    }
}

/// One filter as CodeBuild's API spells it: `{type, pattern, excludeMatchedPattern}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookFilter {
    #[serde(rename = "type")]
    pub filter_type: FilterType,
    pub pattern: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub exclude_matched_pattern: bool,
}

/// A project's filter groups: `[[WebhookFilter, ..], ..]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FilterGroups(pub Vec<Vec<WebhookFilter>>);

impl FilterGroups {
    /// Validates the groups and compiles their patterns (see [`CompiledFilterGroups`]).
    pub fn compile(&self) -> Result<CompiledFilterGroups, FilterError> {
        CompiledFilterGroups::try_from(self)
    }
}

/// Why filter groups were refused. Each names the filter as `filterGroups[i][j]` and quotes its pattern.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    #[error(
        "filterGroups[{group}] has no EVENT filter; every group needs one, e.g. {{\"type\": \"EVENT\", \"pattern\": \"PUSH\"}}"
    )]
    MissingEvent { group: usize },
    #[error(
        "filterGroups[{group}][{index}]: EVENT pattern {pattern:?} names unknown event {name:?}; expected a comma-separated list of {known}"
    )]
    UnknownEvent {
        group: usize,
        index: usize,
        pattern: String,
        name: String,
        known: String,
    },
    #[error(
        "filterGroups[{group}][{index}]: {filter_type} pattern {pattern:?} is not a valid regular expression: {reason}"
    )]
    InvalidRegex {
        group: usize,
        index: usize,
        filter_type: String,
        pattern: String,
        reason: String,
    },
}

/// How one compiled filter tests an event.
#[derive(Debug, Clone)]
enum Test {
    Events(Vec<WebhookEvent>),
    Regex(Regex),
}

/// One validated filter with its position, for messages.
#[derive(Debug, Clone)]
pub(crate) struct CompiledFilter {
    pub group: usize,
    pub index: usize,
    pub filter_type: FilterType,
    pub pattern: String,
    pub exclude: bool,
    test: Test,
}

/// Filter groups that passed validation: every group has an EVENT filter, every event name is known, every
/// regex compiles. Evaluate events with [`CompiledFilterGroups::evaluate`].
#[derive(Debug, Clone, Default)]
pub struct CompiledFilterGroups {
    pub(crate) groups: Vec<Vec<CompiledFilter>>,
}

impl TryFrom<&FilterGroups> for CompiledFilterGroups {
    type Error = FilterError;

    fn try_from(raw: &FilterGroups) -> Result<Self, FilterError> {
        let mut groups = Vec::with_capacity(raw.0.len());
        for (group, filters) in raw.0.iter().enumerate() {
            if !filters
                .iter()
                .any(|filter| filter.filter_type == FilterType::Event)
            {
                return Err(FilterError::MissingEvent { group });
            }
            let compiled = filters
                .iter()
                .enumerate()
                .map(|(index, filter)| compile_filter(group, index, filter))
                .collect::<Result<Vec<_>, _>>()?;
            groups.push(compiled);
        }
        Ok(Self { groups })
    }
}

fn compile_filter(group: usize, index: usize, filter: &WebhookFilter) -> Result<CompiledFilter, FilterError> {
    let test = match filter.filter_type {
        FilterType::Event => Test::Events(parse_events(group, index, &filter.pattern)?),
        FilterType::ActorAccountId
        | FilterType::HeadRef
        | FilterType::BaseRef
        | FilterType::FilePath
        | FilterType::CommitMessage
        | FilterType::TagName
        | FilterType::ReleaseName
        | FilterType::RepositoryName
        | FilterType::OrganizationName
        | FilterType::WorkflowName => Test::Regex(compile_regex(group, index, filter)?),
    };
    Ok(CompiledFilter {
        group,
        index,
        filter_type: filter.filter_type,
        pattern: filter.pattern.clone(),
        exclude: filter.exclude_matched_pattern,
        test,
    })
}

/// `"PUSH, PULL_REQUEST_CREATED"`: comma-separated, whitespace around names ignored.
fn parse_events(group: usize, index: usize, pattern: &str) -> Result<Vec<WebhookEvent>, FilterError> {
    pattern
        .split(',')
        .map(str::trim)
        .map(|name| {
            WebhookEvent::from_name(name).ok_or_else(|| FilterError::UnknownEvent {
                group,
                index,
                pattern: pattern.to_owned(),
                name: name.to_owned(),
                known: WebhookEvent::ALL.map(WebhookEvent::as_str).join(", "),
            })
        })
        .collect()
}

fn compile_regex(group: usize, index: usize, filter: &WebhookFilter) -> Result<Regex, FilterError> {
    RegexBuilder::new(&filter.pattern).size_limit(1 << 20).build().map_err(|err| {
        let pattern = &filter.pattern;
        let look_around = ["(?=", "(?!", "(?<=", "(?<!"].iter().any(|marker| pattern.contains(marker));
        let reason = if look_around {
            "look-around ((?=, (?!, (?<=, (?<!) is not supported (Kiln uses Rust's regex syntax, which has no \
             look-around or back-references); use a second filter with excludeMatchedPattern instead"
                .to_owned()
        } else {
            // The regex crate's message spans several lines with a caret diagram; its last line is the reason.
            err.to_string().lines().rev().find(|line| !line.trim().is_empty()).unwrap_or_default().trim().to_owned()
        };
        FilterError::InvalidRegex {
            group,
            index,
            filter_type: filter_type_name(filter.filter_type).to_owned(),
            pattern: pattern.clone(),
            reason,
        }
    })
}

/// CodeBuild's spelling of a filter type, e.g. `HEAD_REF`.
pub fn filter_type_name(filter_type: FilterType) -> &'static str {
    match filter_type {
        FilterType::Event => "EVENT",
        FilterType::ActorAccountId => "ACTOR_ACCOUNT_ID",
        FilterType::HeadRef => "HEAD_REF",
        FilterType::BaseRef => "BASE_REF",
        FilterType::FilePath => "FILE_PATH",
        FilterType::CommitMessage => "COMMIT_MESSAGE",
        FilterType::TagName => "TAG_NAME",
        FilterType::ReleaseName => "RELEASE_NAME",
        FilterType::RepositoryName => "REPOSITORY_NAME",
        FilterType::OrganizationName => "ORGANIZATION_NAME",
        FilterType::WorkflowName => "WORKFLOW_NAME",
    }
}

impl CompiledFilter {
    /// Whether the filter passes for `event` (before `excludeMatchedPattern` is applied: see `passes`).
    pub(crate) fn matches_events(&self, event: WebhookEvent) -> Option<bool> {
        match &self.test {
            Test::Events(events) => Some(events.contains(&event)),
            Test::Regex(_) => None,
        }
    }

    /// Whether the regex finds a match anywhere in `value` (unanchored search).
    pub(crate) fn regex_matches(&self, value: &str) -> bool {
        match &self.test {
            Test::Regex(regex) => regex.is_match(value),
            Test::Events(_) => false,
        }
    }
}
