//! Project definitions in CodeBuild's CreateProject shape, read from `kiln.yaml` (YAML) or JSON.
//!
//! Input is read into serde `Raw*` types with CodeBuild's member names and turned into a validated [`Project`] in
//! one step ([`Project::validate`], or `TryFrom<RawProject>`); errors name the key path and quote the value.
//! [`StoredProject`] is a project as the project store keeps it.
//! Serialising a `Project` gives CodeBuild's JSON again (plus Kiln's members: `schedules`, `notifications`,
//! `forkPullRequests`, environment `cpu`/`memory`/`architecture`/`spot`), so `BatchGetProjects` can return it.

mod config;
mod environment;
mod error;
mod hooks;
mod names;
mod outputs;
mod source;
mod stored;

use serde::{Deserialize, Serialize};

pub use self::config::{ConfigError, KilnConfig};
pub use self::environment::{
    Architecture, Compute, ComputeType, DEFAULT_IMAGE, EnvironmentType, EnvironmentVariable,
    EnvironmentVariableType, FargateSize, ProjectEnvironment, RawEnvironment, SpotPolicy, check_reference,
    check_references, fargate_memory_options, merge_variables,
};
pub use self::error::{FieldPath, Problem, ProjectError};
pub use self::hooks::{ForkPullRequests, NotificationTarget, NotificationType, Schedule, SecretRef, Webhook};
pub use self::outputs::{
    ArtifactsType, CacheMode, CacheType, CloudWatchLogsConfig, LogsConfig, LogsStatus, NamespaceType,
    Packaging, ProjectArtifacts, ProjectCache, RawArtifacts, RawCache, S3LogsConfig,
};
pub use self::source::{
    BuildspecRef, ProjectSource, RawSource, SourceAuth, SourceAuthType, SourceType, buildspec_override,
    check_inline,
};
pub use self::stored::StoredProject;
pub use crate::build::ProjectName;
use crate::build::{DEFAULT_QUEUED_TIMEOUT_MINUTES, DEFAULT_TIMEOUT_MINUTES};

/// A validated project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawProject", into = "RawProject")]
pub struct Project {
    /// Project name.
    pub name: ProjectName,
    /// Description (at most 255 characters).
    pub description: Option<String>,
    /// Primary source.
    pub source: ProjectSource,
    /// Default version to build (branch, tag, SHA, `pr/<n>`).
    pub source_version: Option<String>,
    /// Build environment (Kiln's defaults when absent, see [`ProjectEnvironment::default_linux`]).
    pub environment: ProjectEnvironment,
    /// Primary artifact destination (`NO_ARTIFACTS` when absent).
    pub artifacts: ProjectArtifacts,
    /// Secondary artifact destinations (at most 12, each with a unique `artifactIdentifier`).
    pub secondary_artifacts: Vec<ProjectArtifacts>,
    /// Cache settings.
    pub cache: Option<ProjectCache>,
    /// IAM role for builds (AWS only).
    pub service_role: Option<String>,
    /// Log settings.
    pub logs_config: Option<LogsConfig>,
    /// Build timeout, 5–2160 minutes (default 60).
    pub timeout_in_minutes: u32,
    /// Queued timeout, 5–480 minutes (default 480).
    pub queued_timeout_in_minutes: u32,
    /// Most builds of this project running at once.
    pub concurrent_build_limit: Option<u32>,
    /// Webhook filter groups and signing secret.
    pub webhook: Option<Webhook>,
    /// Kiln: schedules that start builds.
    pub schedules: Vec<Schedule>,
    /// Kiln: where build state changes are sent.
    pub notifications: Vec<NotificationTarget>,
    /// Kiln: what pull requests from forks may do.
    pub fork_pull_requests: ForkPullRequests,
    /// Tags (at most 50).
    pub tags: Vec<Tag>,
}

/// A project tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tag {
    /// Key, 1–127 characters.
    pub key: String,
    /// Value, 0–255 characters.
    #[serde(default)]
    pub value: String,
}

/// `Project` as CodeBuild's JSON (and `kiln.yaml`) spells it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RawProject {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub source: RawSource,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<RawEnvironment>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifacts: Option<RawArtifacts>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secondary_artifacts: Vec<RawArtifacts>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache: Option<RawCache>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logs_config: Option<LogsConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_in_minutes: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queued_timeout_in_minutes: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrent_build_limit: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<Webhook>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub schedules: Vec<Schedule>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notifications: Vec<NotificationTarget>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fork_pull_requests: Option<ForkPullRequests>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
}

/// How strict validation is about things that depend on where the definition came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ValidationOptions {
    /// Accept `{value: ...}` secrets inline (only `kiln.yaml` with `allowInlineSecrets: true`).
    pub allow_inline_secrets: bool,
}

impl Project {
    /// Validates a raw project found at `path` (e.g. `projects[1]`).
    pub fn validate(
        raw: RawProject,
        path: &FieldPath,
        options: ValidationOptions,
    ) -> Result<Self, ProjectError> {
        let name =
            ProjectName::parse(&raw.name).map_err(|e| path.key("name").invalid(&raw.name, e.to_string()))?;
        if let Some(d) = raw.description.as_ref().filter(|d| d.chars().count() > 255) {
            return Err(path
                .key("description")
                .invalid(d, "descriptions are at most 255 characters"));
        }
        let source = ProjectSource::validate(raw.source, &path.key("source"))?;
        check_inline(&source.buildspec, &path.key("source").key("buildspec"))?;
        let environment = match raw.environment {
            Some(env) => ProjectEnvironment::validate(env, &path.key("environment"))?,
            None => ProjectEnvironment::default_linux(),
        };
        check_references(
            &environment.environment_variables,
            &path.key("environment").key("environmentVariables"),
        )?;
        let artifacts = match raw.artifacts {
            Some(a) => ProjectArtifacts::validate(a, &path.key("artifacts"))?,
            None => ProjectArtifacts::none(),
        };
        let secondary_artifacts = secondary(raw.secondary_artifacts, &path.key("secondaryArtifacts"))?;
        let cache = raw
            .cache
            .map(|c| ProjectCache::validate(c, &path.key("cache")))
            .transpose()?;
        if let Some(logs) = &raw.logs_config {
            logs.check(&path.key("logsConfig"))?;
        }
        let timeout = minutes(
            raw.timeout_in_minutes,
            DEFAULT_TIMEOUT_MINUTES,
            2160,
            &path.key("timeoutInMinutes"),
        )?;
        let queued_path = path.key("queuedTimeoutInMinutes");
        let queued = minutes(
            raw.queued_timeout_in_minutes,
            DEFAULT_QUEUED_TIMEOUT_MINUTES,
            480,
            &queued_path,
        )?;
        let limit_path = path.key("concurrentBuildLimit");
        let concurrent_build_limit = raw
            .concurrent_build_limit
            .map(|l| limit_path.in_range(l, 1, 10_000).map(|l| l as u32))
            .transpose()?;
        hooks::check_hooks(
            raw.webhook.as_ref(),
            &raw.schedules,
            &raw.notifications,
            options.allow_inline_secrets,
            path,
        )?;
        check_tags(&raw.tags, &path.key("tags"))?;
        Ok(Self {
            name,
            description: raw.description,
            source,
            source_version: raw.source_version.filter(|v| !v.is_empty()),
            environment,
            artifacts,
            secondary_artifacts,
            cache,
            service_role: raw.service_role,
            logs_config: raw.logs_config,
            timeout_in_minutes: timeout,
            queued_timeout_in_minutes: queued,
            concurrent_build_limit,
            webhook: raw.webhook,
            schedules: raw.schedules,
            notifications: raw.notifications,
            fork_pull_requests: raw.fork_pull_requests.unwrap_or_default(),
            tags: raw.tags,
        })
    }

    /// Reads one project from CodeBuild-style JSON (a CreateProject body), refusing inline secrets.
    pub fn from_json(text: &str) -> Result<Self, ConfigError> {
        let raw: RawProject = serde_json::from_str(text).map_err(ConfigError::json)?;
        Ok(Self::validate(
            raw,
            &FieldPath::root(),
            ValidationOptions::default(),
        )?)
    }
}

fn minutes(value: Option<i64>, default: u32, max: i64, path: &FieldPath) -> Result<u32, ProjectError> {
    value.map_or(Ok(default), |v| path.in_range(v, 5, max).map(|v| v as u32))
}

fn secondary(raw: Vec<RawArtifacts>, path: &FieldPath) -> Result<Vec<ProjectArtifacts>, ProjectError> {
    if raw.len() > 12 {
        return Err(path.err(Problem::TooMany {
            count: raw.len(),
            max: 12,
        }));
    }
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(raw.len());
    for (i, a) in raw.into_iter().enumerate() {
        let artifacts = ProjectArtifacts::validate(a, &path.index(i))?;
        let id_path = path.index(i).key("artifactIdentifier");
        let Some(id) = artifacts.artifact_identifier.clone() else {
            return Err(id_path.err(Problem::Missing {
                hint: "secondary artifacts need an artifactIdentifier",
            }));
        };
        if !seen.insert(id.clone()) {
            return Err(id_path.err(Problem::Duplicate(id)));
        }
        out.push(artifacts);
    }
    Ok(out)
}

fn check_tags(tags: &[Tag], path: &FieldPath) -> Result<(), ProjectError> {
    if tags.len() > 50 {
        return Err(path.err(Problem::TooMany {
            count: tags.len(),
            max: 50,
        }));
    }
    let allowed = |s: &str| {
        s.chars()
            .all(|c| c.is_alphanumeric() || c == ' ' || "_.:/=+-@".contains(c))
    };
    for (i, tag) in tags.iter().enumerate() {
        let key_ok = (1..=127).contains(&tag.key.chars().count()) && allowed(&tag.key);
        if !key_ok {
            let reason = "keys are 1-127 letters, digits, spaces or _.:/=+-@";
            return Err(path.index(i).key("key").invalid(&tag.key, reason));
        }
        if tag.value.chars().count() > 255 || !allowed(&tag.value) {
            let reason = "values are up to 255 letters, digits, spaces or _.:/=+-@";
            return Err(path.index(i).key("value").invalid(&tag.value, reason));
        }
    }
    Ok(())
}

/// Deserialising a project (e.g. from the store) accepts inline secrets: refusing them is a policy of config
/// files ([`KilnConfig`]) and of the API layer, which call [`Project::validate`] with their own options.
impl TryFrom<RawProject> for Project {
    type Error = ProjectError;
    fn try_from(raw: RawProject) -> Result<Self, ProjectError> {
        Self::validate(
            raw,
            &FieldPath::root(),
            ValidationOptions {
                allow_inline_secrets: true,
            },
        )
    }
}

impl From<Project> for RawProject {
    fn from(p: Project) -> Self {
        RawProject {
            name: p.name.into(),
            description: p.description,
            source: p.source.into(),
            source_version: p.source_version,
            environment: Some(p.environment.into()),
            artifacts: Some(p.artifacts.into()),
            secondary_artifacts: p.secondary_artifacts.into_iter().map(Into::into).collect(),
            cache: p.cache.map(Into::into),
            service_role: p.service_role,
            logs_config: p.logs_config,
            timeout_in_minutes: Some(i64::from(p.timeout_in_minutes)),
            queued_timeout_in_minutes: Some(i64::from(p.queued_timeout_in_minutes)),
            concurrent_build_limit: p.concurrent_build_limit.map(i64::from),
            webhook: p.webhook,
            schedules: p.schedules,
            notifications: p.notifications,
            fork_pull_requests: Some(p.fork_pull_requests),
            tags: p.tags,
        }
    }
}

#[cfg(test)]
mod tests;
