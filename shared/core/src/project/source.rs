//! A project's source (CodeBuild's `ProjectSource`): type, location, buildspec reference, clone depth, auth.

use serde::{Deserialize, Serialize};

use super::error::{FieldPath, Problem, ProjectError};
use super::names::codebuild_enum;
use crate::trigger::codecommit::CodeCommitLocation;

codebuild_enum! {
    /// Where the source comes from (CodeBuild's `SourceType`, plus Kiln's `GITEA` and plain `GIT`).
    SourceType {
        Github = "GITHUB",
        GithubEnterprise = "GITHUB_ENTERPRISE",
        Gitlab = "GITLAB",
        GitlabSelfManaged = "GITLAB_SELF_MANAGED",
        Bitbucket = "BITBUCKET",
        Gitea = "GITEA",
        Git = "GIT",
        Codecommit = "CODECOMMIT",
        S3 = "S3",
        NoSource = "NO_SOURCE",
    }
}

impl SourceType {
    /// Whether the location is a git repository to clone.
    pub fn is_git(self) -> bool {
        match self {
            SourceType::Github
            | SourceType::GithubEnterprise
            | SourceType::Gitlab
            | SourceType::GitlabSelfManaged
            | SourceType::Bitbucket
            | SourceType::Gitea
            | SourceType::Git
            | SourceType::Codecommit => true,
            SourceType::S3 | SourceType::NoSource => false,
        }
    }
}

codebuild_enum! {
    /// How Kiln authenticates to the source (CodeBuild's `SourceAuthType`).
    SourceAuthType {
        Oauth = "OAUTH",
        Codeconnections = "CODECONNECTIONS",
        SecretsManager = "SECRETS_MANAGER",
    }
}

/// Which buildspec a build uses (reference §1.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildspecRef {
    /// `buildspec.yml` at the source root (the value was absent or empty).
    Default,
    /// A path relative to the source root.
    Path(String),
    /// The whole buildspec, inline.
    Inline(String),
    /// An S3 object ARN, `arn:aws:s3:::bucket/key`.
    S3(String),
}

impl BuildspecRef {
    /// Classifies a `buildspec` value: a YAML mapping with `version` is inline, `arn:aws:s3:::` is S3, anything
    /// else a path. The reference marks this rule [I]: CodeBuild does not specify how it tells them apart.
    /// Text no path would hold (a line break, or a leading `{`) is inline too, even when it does not parse, so
    /// that it is checked and reported as a buildspec rather than looked up as a file.
    pub fn classify(value: &str) -> Self {
        #[derive(Deserialize)]
        struct Probe {
            #[allow(dead_code)]
            version: serde::de::IgnoredAny,
        }
        let document = value.contains('\n') || value.trim_start().starts_with('{');
        if value.trim().is_empty() {
            BuildspecRef::Default
        } else if document || serde_saphyr::from_str::<Probe>(value).is_ok() {
            BuildspecRef::Inline(value.to_owned())
        } else if value.starts_with("arn:aws:s3:::") {
            BuildspecRef::S3(value.to_owned())
        } else {
            BuildspecRef::Path(value.to_owned())
        }
    }

    /// The value as CodeBuild stores it; `None` for the default.
    pub fn as_value(&self) -> Option<&str> {
        match self {
            BuildspecRef::Default => None,
            BuildspecRef::Path(s) | BuildspecRef::Inline(s) | BuildspecRef::S3(s) => Some(s),
        }
    }
}

/// Credentials for the source: a type and, for `SECRETS_MANAGER`/`CODECONNECTIONS`, the resource that holds them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceAuth {
    /// The kind of credential.
    pub auth_type: SourceAuthType,
    /// The secret's or connection's ARN or name.
    pub resource: Option<String>,
}

/// A validated project source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawSource", into = "RawSource")]
pub struct ProjectSource {
    /// Where the source comes from.
    pub source_type: SourceType,
    /// Clone URL or path (git types, `file://` allowed for `GIT`), `bucket/key.zip` (S3), none for NO_SOURCE.
    pub location: Option<String>,
    /// Shallow clone depth; `None` or 0 for a full clone.
    pub git_clone_depth: Option<u32>,
    /// Whether to fetch submodules.
    pub fetch_submodules: Option<bool>,
    /// Which buildspec to run.
    pub buildspec: BuildspecRef,
    /// Credentials, if the repository is private.
    pub auth: Option<SourceAuth>,
    /// Whether to report build status to the provider (commit statuses).
    pub report_build_status: Option<bool>,
    /// Whether to skip TLS verification when cloning.
    pub insecure_ssl: Option<bool>,
    /// Identifier for secondary sources.
    pub source_identifier: Option<String>,
}

/// `ProjectSource` as CodeBuild's JSON (and `kiln.yaml`) spells it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RawSource {
    #[serde(rename = "type")]
    pub source_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_clone_depth: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_submodules_config: Option<RawSubmodules>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buildspec: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<RawSourceAuth>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_build_status: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insecure_ssl: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_identifier: Option<String>,
}

/// `gitSubmodulesConfig`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RawSubmodules {
    pub fetch_submodules: bool,
}

/// `auth`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RawSourceAuth {
    #[serde(rename = "type")]
    pub auth_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
}

impl ProjectSource {
    /// Validates a raw source found at `path`.
    pub fn validate(raw: RawSource, path: &FieldPath) -> Result<Self, ProjectError> {
        let source_type = path.key("type").one_of(&raw.source_type, SourceType::OPTIONS)?;
        let location = check_location(source_type, raw.location, &path.key("location"))?;
        let git_clone_depth = match raw.git_clone_depth {
            Some(depth) => Some(
                path.key("gitCloneDepth")
                    .in_range(depth, 0, i64::from(u32::MAX))? as u32,
            ),
            None => None,
        };
        let buildspec = raw
            .buildspec
            .as_deref()
            .map_or(BuildspecRef::Default, BuildspecRef::classify);
        check_buildspec(source_type, &buildspec, &path.key("buildspec"))?;
        let auth = match raw.auth {
            Some(auth) => Some(SourceAuth {
                auth_type: path
                    .key("auth")
                    .key("type")
                    .one_of(&auth.auth_type, SourceAuthType::OPTIONS)?,
                resource: auth.resource,
            }),
            None => None,
        };
        if let Some(id) = &raw.source_identifier {
            let ok =
                !id.is_empty() && id.len() < 128 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !ok {
                let reason = "use letters, digits and '_' (fewer than 128 characters)";
                return Err(path.key("sourceIdentifier").invalid(id, reason));
            }
        }
        Ok(Self {
            source_type,
            location,
            git_clone_depth,
            fetch_submodules: raw.git_submodules_config.map(|s| s.fetch_submodules),
            buildspec,
            auth,
            report_build_status: raw.report_build_status,
            insecure_ssl: raw.insecure_ssl,
            source_identifier: raw.source_identifier,
        })
    }
}

fn check_location(
    kind: SourceType,
    location: Option<String>,
    path: &FieldPath,
) -> Result<Option<String>, ProjectError> {
    let location = location.filter(|l| !l.is_empty());
    match (kind, location) {
        (SourceType::NoSource, None) => Ok(None),
        (SourceType::NoSource, Some(l)) => {
            Err(path.invalid(l, "NO_SOURCE projects have no location; remove it"))
        }
        (_, None) => Err(path.err(Problem::Missing {
            hint: "give the repository's clone URL (or bucket/key.zip for S3)",
        })),
        (_, Some(l)) if l.chars().any(char::is_whitespace) => {
            Err(path.invalid(l, "locations contain no whitespace"))
        }
        (SourceType::Github, Some(l)) if !l.starts_with("https://github.com/") => Err(path.invalid(
            l,
            "GITHUB locations start with https://github.com/; use GITHUB_ENTERPRISE or GIT for other hosts",
        )),
        (SourceType::Codecommit, Some(l)) => match CodeCommitLocation::parse(&l) {
            Ok(_) => Ok(Some(l)),
            Err(reason) => Err(path.invalid(l, reason.to_string())),
        },
        (SourceType::S3, Some(l)) if !l.contains('/') || l.starts_with("s3://") => {
            Err(path.invalid(l, "S3 locations are bucket/key, e.g. my-bucket/src/app.zip"))
        }
        (_, Some(l)) => Ok(Some(l)),
    }
}

fn check_buildspec(kind: SourceType, buildspec: &BuildspecRef, path: &FieldPath) -> Result<(), ProjectError> {
    match buildspec {
        BuildspecRef::Default | BuildspecRef::Path(_) if kind == SourceType::NoSource => Err(path.err(
            Problem::Missing { hint: "NO_SOURCE projects need an inline buildspec (a YAML document with version)" },
        )),
        BuildspecRef::Path(p) if p.starts_with('/') || p.split('/').any(|part| part == "..") => Err(path.invalid(
            p,
            "a buildspec path is relative to the source root and stays inside it; an inline buildspec needs `version`",
        )),
        BuildspecRef::Default | BuildspecRef::Path(_) | BuildspecRef::Inline(_) | BuildspecRef::S3(_) => Ok(()),
    }
}

/// Refuses an inline buildspec over a cap on hostile input (see [`crate::buildspec::check_limits`]); other
/// problems are the build's, reported as a `YAML_FILE_ERROR`. Definitions are checked, stored builds are not.
pub fn check_inline(buildspec: &BuildspecRef, path: &FieldPath) -> Result<(), ProjectError> {
    let BuildspecRef::Inline(text) = buildspec else {
        return Ok(());
    };
    crate::buildspec::check_limits(text).map_err(|err| path.err(Problem::Buildspec(err.to_string())))
}

/// StartBuild's `buildspecOverride` for a source of type `kind`, checked as a project's own `buildspec` is.
pub fn buildspec_override(
    kind: SourceType,
    value: &str,
    path: &FieldPath,
) -> Result<BuildspecRef, ProjectError> {
    let buildspec = BuildspecRef::classify(value);
    check_buildspec(kind, &buildspec, path)?;
    check_inline(&buildspec, path)?;
    Ok(buildspec)
}

impl TryFrom<RawSource> for ProjectSource {
    type Error = ProjectError;
    fn try_from(raw: RawSource) -> Result<Self, ProjectError> {
        Self::validate(raw, &FieldPath::named("source"))
    }
}

impl From<ProjectSource> for RawSource {
    fn from(s: ProjectSource) -> Self {
        RawSource {
            source_type: s.source_type.as_str().to_owned(),
            location: s.location,
            git_clone_depth: s.git_clone_depth.map(i64::from),
            git_submodules_config: s
                .fetch_submodules
                .map(|fetch_submodules| RawSubmodules { fetch_submodules }),
            buildspec: s.buildspec.as_value().map(str::to_owned),
            auth: s.auth.map(|a| RawSourceAuth {
                auth_type: a.auth_type.as_str().to_owned(),
                resource: a.resource,
            }),
            report_build_status: s.report_build_status,
            insecure_ssl: s.insecure_ssl,
            source_identifier: s.source_identifier,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buildspec_values_are_told_apart_by_the_reference_rule() {
        let inline = "version: 0.2\nphases:\n  build:\n    commands: [make]\n";
        let table = [
            ("", BuildspecRef::Default),
            ("buildspec.yml", BuildspecRef::Path("buildspec.yml".into())),
            (
                "config/buildspec-ci.yml",
                BuildspecRef::Path("config/buildspec-ci.yml".into()),
            ),
            (inline, BuildspecRef::Inline(inline.into())),
            (
                "{version: 0.2, phases: {}}",
                BuildspecRef::Inline("{version: 0.2, phases: {}}".into()),
            ),
            (
                "arn:aws:s3:::bucket/spec.yml",
                BuildspecRef::S3("arn:aws:s3:::bucket/spec.yml".into()),
            ),
            ("phases: {}", BuildspecRef::Path("phases: {}".into())),
            (
                "version: 0.2\n\tphases: {}\n",
                BuildspecRef::Inline("version: 0.2\n\tphases: {}\n".into()),
            ),
            ("{version: [", BuildspecRef::Inline("{version: [".into())),
        ];
        for (value, expected) in table {
            assert_eq!(BuildspecRef::classify(value), expected, "{value:?}");
        }
    }

    fn raw(kind: &str, location: Option<&str>) -> RawSource {
        RawSource {
            source_type: kind.into(),
            location: location.map(Into::into),
            ..RawSource::default()
        }
    }

    #[test]
    fn git_locations_may_be_urls_or_file_paths() {
        for (kind, location) in [
            ("GITHUB", "https://github.com/o/web.git"),
            ("GIT", "file:///srv/repos/app"),
            ("GIT", "/srv/repos/app"),
            ("GIT", "git@example.com:o/app.git"),
            ("GITEA", "https://gitea.example.com/o/app.git"),
            (
                "CODECOMMIT",
                "https://git-codecommit.eu-west-1.amazonaws.com/v1/repos/app",
            ),
            ("S3", "my-bucket/src/app.zip"),
        ] {
            assert!(
                ProjectSource::try_from(raw(kind, Some(location))).is_ok(),
                "{kind} {location}"
            );
        }
    }

    #[test]
    fn bad_sources_are_refused_with_the_field_path_and_value() {
        let table = [
            (
                raw("SVN", Some("x")),
                "source.type: unknown value \"SVN\"; expected one of GITHUB, GITHUB_ENTERPRISE",
            ),
            (
                raw("GIT", None),
                "source.location: missing; give the repository's clone URL",
            ),
            (
                raw("GITHUB", Some("https://gitlab.com/o/r")),
                "source.location: invalid value \"https://gitlab.com/o/r\"",
            ),
            (
                raw("CODECOMMIT", Some("https://github.com/o/r")),
                "source.location: invalid value \"https://github.com/o/r\": host \"github.com\" is not \
                 git-codecommit.REGION.amazonaws.com (https://git-codecommit.REGION.amazonaws.com/v1/repos/NAME)",
            ),
            (
                raw("NO_SOURCE", None),
                "source.buildspec: missing; NO_SOURCE projects need an inline buildspec",
            ),
            (
                RawSource {
                    buildspec: Some("../escape.yml".into()),
                    ..raw("GIT", Some("/r"))
                },
                "source.buildspec: invalid value \"../escape.yml\"",
            ),
        ];
        for (source, expected) in table {
            let message = ProjectSource::try_from(source).unwrap_err().to_string();
            assert!(message.starts_with(expected), "{message}");
        }
    }

    /// Hostile inline buildspecs: an alias bomb, nesting 10,000 deep, and 5 MiB of text.
    fn hostile() -> Vec<(&'static str, String, &'static str)> {
        let mut bomb =
            String::from("version: 0.2\na0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
        for level in 1..10 {
            let items = vec![format!("*a{}", level - 1); 10].join(", ");
            bomb.push_str(&format!("a{level}: &a{level} [{items}]\n"));
        }
        bomb.push_str("phases: {build: {commands: *a9}}\n");
        let deep = format!("version: 0.2\nx: {}{}\n", "[".repeat(10_000), "]".repeat(10_000));
        let large = format!("version: 0.2\n{}", "#".repeat(5 * 1024 * 1024));
        vec![
            ("alias bomb", bomb, "aliases expand to more than 100000 nodes"),
            ("deep nesting", deep, "nesting is deeper than 64 levels"),
            ("5 MiB", large, "more than the 4194304-byte (4 MiB) limit"),
        ]
    }

    #[test]
    fn an_inline_buildspec_is_checked_against_the_caps_whatever_the_source_type() {
        let path = FieldPath::named("source").key("buildspec");
        for (what, text, expected) in hostile() {
            for kind in [SourceType::Git, SourceType::S3, SourceType::NoSource] {
                let buildspec = BuildspecRef::classify(&text);
                assert!(matches!(buildspec, BuildspecRef::Inline(_)), "{what}");
                let message = check_inline(&buildspec, &path).unwrap_err().to_string();
                assert!(
                    message.starts_with("source.buildspec: the inline buildspec is refused: (document)")
                        || message.starts_with("source.buildspec: the inline buildspec is refused: x"),
                    "{what}: {message}"
                );
                assert!(message.contains(expected), "{what}: {message}");
                assert!(message.len() < 500, "{what}: the text is not quoted back");
                let over =
                    buildspec_override(kind, &text, &FieldPath::named("buildspecOverride")).unwrap_err();
                assert!(
                    over.to_string()
                        .starts_with("buildspecOverride: the inline buildspec is refused"),
                    "{over}"
                );
            }
        }
        // Problems other than the caps are the build's (a YAML_FILE_ERROR), as in CodeBuild.
        let broken = BuildspecRef::Inline("version: 0.2\n\tphases: {}\n".into());
        assert!(check_inline(&broken, &path).is_ok());
    }

    #[test]
    fn a_buildspec_override_follows_the_projects_rules() {
        let path = FieldPath::named("buildspecOverride");
        let inline = "version: 0.2\nphases:\n  build:\n    commands: [make]\n";
        assert_eq!(
            buildspec_override(SourceType::Github, inline, &path).unwrap(),
            BuildspecRef::Inline(inline.into())
        );
        assert_eq!(
            buildspec_override(SourceType::Git, "ci/spec.yml", &path).unwrap(),
            BuildspecRef::Path("ci/spec.yml".into())
        );
        for (kind, value, expected) in [
            (
                SourceType::Git,
                "../outside.yml",
                "buildspecOverride: invalid value \"../outside.yml\"",
            ),
            (
                SourceType::Git,
                "/etc/passwd",
                "buildspecOverride: invalid value \"/etc/passwd\"",
            ),
            (
                SourceType::NoSource,
                "spec.yml",
                "buildspecOverride: missing; NO_SOURCE projects need an inline",
            ),
            (
                SourceType::NoSource,
                "",
                "buildspecOverride: missing; NO_SOURCE projects need an inline",
            ),
        ] {
            let message = buildspec_override(kind, value, &path).unwrap_err().to_string();
            assert!(message.starts_with(expected), "{message}");
        }
    }
}
