//! Where a project's outputs go: artifacts (`ProjectArtifacts`), cache (`ProjectCache`) and logs (`LogsConfig`).

use serde::{Deserialize, Serialize};

use super::error::{FieldPath, Problem, ProjectError};
use super::names::codebuild_enum;

codebuild_enum! {
    /// Artifact destination. Locally, `S3` means the local object store (a directory per bucket).
    ArtifactsType { S3 = "S3", NoArtifacts = "NO_ARTIFACTS" }
}

codebuild_enum! {
    /// Whether the build id is inserted in the artifact key.
    NamespaceType { None = "NONE", BuildId = "BUILD_ID" }
}

codebuild_enum! {
    /// Artifact packaging.
    Packaging { None = "NONE", Zip = "ZIP" }
}

/// A validated artifact destination.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawArtifacts", into = "RawArtifacts")]
pub struct ProjectArtifacts {
    /// Destination type.
    pub artifacts_type: ArtifactsType,
    /// Bucket name (S3).
    pub location: Option<String>,
    /// Key prefix.
    pub path: Option<String>,
    /// Whether the build id is inserted in the key.
    pub namespace_type: Option<NamespaceType>,
    /// Object or folder name; `/` means the prefix root.
    pub name: Option<String>,
    /// Folder or ZIP.
    pub packaging: Option<Packaging>,
    /// Let the buildspec's `name` win.
    pub override_artifact_name: Option<bool>,
    /// Disable S3 encryption.
    pub encryption_disabled: Option<bool>,
    /// Identifier (required for secondary artifacts).
    pub artifact_identifier: Option<String>,
    /// `NONE`, `READ_ONLY` or `FULL`.
    pub bucket_owner_access: Option<String>,
}

impl ProjectArtifacts {
    /// No artifacts.
    pub fn none() -> Self {
        Self {
            artifacts_type: ArtifactsType::NoArtifacts,
            location: None,
            path: None,
            namespace_type: None,
            name: None,
            packaging: None,
            override_artifact_name: None,
            encryption_disabled: None,
            artifact_identifier: None,
            bucket_owner_access: None,
        }
    }

    /// Validates raw artifacts found at `path`.
    pub fn validate(raw: RawArtifacts, path: &FieldPath) -> Result<Self, ProjectError> {
        let artifacts_type = path
            .key("type")
            .one_of(&raw.artifacts_type, ArtifactsType::OPTIONS)?;
        let location = raw.location.filter(|l| !l.is_empty());
        if artifacts_type == ArtifactsType::S3 && location.is_none() {
            return Err(path.key("location").err(Problem::Missing {
                hint: "give the bucket name for S3 artifacts",
            }));
        }
        let namespace_type = opt_enum(
            &raw.namespace_type,
            &path.key("namespaceType"),
            NamespaceType::OPTIONS,
        )?;
        let packaging = opt_enum(&raw.packaging, &path.key("packaging"), Packaging::OPTIONS)?;
        if let Some(access) = &raw.bucket_owner_access {
            path.key("bucketOwnerAccess")
                .one_of(access, &[("NONE", ()), ("READ_ONLY", ()), ("FULL", ())])?;
        }
        Ok(Self {
            artifacts_type,
            location,
            path: raw.path,
            namespace_type,
            name: raw.name,
            packaging,
            override_artifact_name: raw.override_artifact_name,
            encryption_disabled: raw.encryption_disabled,
            artifact_identifier: raw.artifact_identifier,
            bucket_owner_access: raw.bucket_owner_access,
        })
    }
}

/// Parses an optional enum member.
pub(super) fn opt_enum<T: Copy>(
    value: &Option<String>,
    path: &FieldPath,
    options: &[(&'static str, T)],
) -> Result<Option<T>, ProjectError> {
    value.as_deref().map(|v| path.one_of(v, options)).transpose()
}

/// `ProjectArtifacts` as CodeBuild's JSON spells it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RawArtifacts {
    #[serde(rename = "type")]
    pub artifacts_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub packaging: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub override_artifact_name: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption_disabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_identifier: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket_owner_access: Option<String>,
}

impl TryFrom<RawArtifacts> for ProjectArtifacts {
    type Error = ProjectError;
    fn try_from(raw: RawArtifacts) -> Result<Self, ProjectError> {
        Self::validate(raw, &FieldPath::named("artifacts"))
    }
}

impl From<ProjectArtifacts> for RawArtifacts {
    fn from(a: ProjectArtifacts) -> Self {
        RawArtifacts {
            artifacts_type: a.artifacts_type.as_str().to_owned(),
            location: a.location,
            path: a.path,
            namespace_type: a.namespace_type.map(|n| n.as_str().to_owned()),
            name: a.name,
            packaging: a.packaging.map(|p| p.as_str().to_owned()),
            override_artifact_name: a.override_artifact_name,
            encryption_disabled: a.encryption_disabled,
            artifact_identifier: a.artifact_identifier,
            bucket_owner_access: a.bucket_owner_access,
        }
    }
}

codebuild_enum! {
    /// Cache type.
    CacheType { NoCache = "NO_CACHE", S3 = "S3", Local = "LOCAL" }
}

codebuild_enum! {
    /// Local cache modes.
    CacheMode {
        LocalSourceCache = "LOCAL_SOURCE_CACHE",
        LocalDockerLayerCache = "LOCAL_DOCKER_LAYER_CACHE",
        LocalCustomCache = "LOCAL_CUSTOM_CACHE",
    }
}

/// A validated cache setting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawCache", into = "RawCache")]
pub struct ProjectCache {
    /// Cache type.
    pub cache_type: CacheType,
    /// `bucket/prefix` for S3.
    pub location: Option<String>,
    /// Modes for LOCAL.
    pub modes: Vec<CacheMode>,
    /// Namespace shared across projects (with buildspec cache keys).
    pub cache_namespace: Option<String>,
}

/// `ProjectCache` as CodeBuild's JSON spells it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RawCache {
    #[serde(rename = "type")]
    pub cache_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub modes: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_namespace: Option<String>,
}

impl ProjectCache {
    /// Validates a raw cache found at `path`.
    pub fn validate(raw: RawCache, path: &FieldPath) -> Result<Self, ProjectError> {
        let cache_type = path.key("type").one_of(&raw.cache_type, CacheType::OPTIONS)?;
        let modes = (raw.modes.iter().enumerate())
            .map(|(i, m)| path.key("modes").index(i).one_of(m, CacheMode::OPTIONS))
            .collect::<Result<Vec<_>, _>>()?;
        let location = raw.location.filter(|l| !l.is_empty());
        match cache_type {
            CacheType::S3 if location.is_none() => Err(path.key("location").err(Problem::Missing {
                hint: "give bucket/prefix for an S3 cache",
            })),
            CacheType::Local if modes.is_empty() => Err(path.key("modes").err(Problem::Missing {
                hint: "give at least one LOCAL_* mode",
            })),
            CacheType::NoCache | CacheType::S3 | CacheType::Local => Ok(Self {
                cache_type,
                location,
                modes,
                cache_namespace: raw.cache_namespace,
            }),
        }
    }
}

impl TryFrom<RawCache> for ProjectCache {
    type Error = ProjectError;
    fn try_from(raw: RawCache) -> Result<Self, ProjectError> {
        Self::validate(raw, &FieldPath::named("cache"))
    }
}

impl From<ProjectCache> for RawCache {
    fn from(c: ProjectCache) -> Self {
        RawCache {
            cache_type: c.cache_type.as_str().to_owned(),
            location: c.location,
            modes: c.modes.iter().map(|m| m.as_str().to_owned()).collect(),
            cache_namespace: c.cache_namespace,
        }
    }
}

/// `ENABLED` or `DISABLED`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LogsStatus {
    Enabled,
    Disabled,
}

/// CloudWatch Logs settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CloudWatchLogsConfig {
    /// Whether logs go to CloudWatch.
    pub status: LogsStatus,
    /// Log group (default `/aws/codebuild/<project>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_name: Option<String>,
    /// Log stream prefix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_name: Option<String>,
}

/// S3 log settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct S3LogsConfig {
    /// Whether logs go to S3.
    pub status: LogsStatus,
    /// `bucket/prefix` (required when enabled).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// Disable S3 encryption.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption_disabled: Option<bool>,
    /// `NONE`, `READ_ONLY` or `FULL`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket_owner_access: Option<String>,
}

/// A project's log settings (CodeBuild's `LogsConfig`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LogsConfig {
    /// CloudWatch Logs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_watch_logs: Option<CloudWatchLogsConfig>,
    /// S3 logs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3_logs: Option<S3LogsConfig>,
}

impl LogsConfig {
    /// Checks that enabled S3 logs have a location.
    pub fn check(&self, path: &FieldPath) -> Result<(), ProjectError> {
        match &self.s3_logs {
            Some(s3)
                if s3.status == LogsStatus::Enabled && s3.location.as_deref().is_none_or(str::is_empty) =>
            {
                Err(path.key("s3Logs").key("location").err(Problem::Missing {
                    hint: "give bucket/prefix for S3 logs",
                }))
            }
            _ => Ok(()),
        }
    }
}
