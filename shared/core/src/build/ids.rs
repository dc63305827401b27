//! Identifiers: project names, build ids, commit SHAs and CodeBuild-style ARNs (reference §6.2).
//!
//! Each id is a newtype with a private field that only `parse` (or, for build ids, `BuildId::new`) builds, and
//! that (de)serialises as its string form.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why an identifier was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// A project name outside CodeBuild's `[A-Za-z0-9][A-Za-z0-9\-_]{1,149}`.
    #[error(
        "invalid project name {0:?}: use 2 to 150 letters, digits, '-' or '_', starting with a letter or digit"
    )]
    ProjectName(String),
    /// A build id that is not `<project>:<lowercase uuid>`.
    #[error(
        "invalid build id {0:?}: expected <project>:<uuid>, e.g. \"web:8745a7a9-c340-456a-9166-edf953571bff\""
    )]
    BuildId(String),
    /// A commit SHA that is not 40 (SHA-1) or 64 (SHA-256) hex digits.
    #[error("invalid commit sha {0:?}: expected 40 or 64 hexadecimal digits")]
    CommitSha(String),
    /// A build ARN that is not `arn:<partition>:codebuild:<region>:<account>:build/<build id>`.
    #[error("invalid build arn {0:?}: expected arn:aws:codebuild:<region>:<account>:build/<project>:<uuid>")]
    BuildArn(String),
}

macro_rules! string_id {
    ($name:ident) => {
        impl $name {
            /// The id as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::parse(s)
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(s: String) -> Result<Self, IdError> {
                Self::parse(&s)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<$name> for String {
            fn eq(&self, other: &$name) -> bool {
                *self == other.0
            }
        }

        impl PartialEq<$name> for &str {
            fn eq(&self, other: &$name) -> bool {
                *self == other.0
            }
        }
    };
}

/// A CodeBuild project name: 2–150 characters of `[A-Za-z0-9\-_]`, starting with a letter or digit.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ProjectName(String);
string_id!(ProjectName);

impl ProjectName {
    /// Parses a project name against CodeBuild's pattern.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let mut chars = s.chars();
        let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
        let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if first_ok && rest_ok && (2..=150).contains(&s.len()) {
            Ok(Self(s.to_owned()))
        } else {
            Err(IdError::ProjectName(s.to_owned()))
        }
    }
}

/// A build id, `<project>:<uuid>` with the uuid in lowercase hyphenated form.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct BuildId(String);
string_id!(BuildId);

impl BuildId {
    /// A fresh id for a build of `project`, with a random (v4) uuid.
    pub fn new(project: &ProjectName) -> Self {
        Self(format!("{project}:{}", uuid::Uuid::new_v4().hyphenated()))
    }

    /// Parses `<project>:<uuid>`; the uuid must be lowercase and hyphenated, as CodeBuild writes it.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let bad = || IdError::BuildId(s.to_owned());
        let (project, uuid) = s.rsplit_once(':').ok_or_else(bad)?;
        ProjectName::parse(project).map_err(|_| bad())?;
        let parsed = uuid::Uuid::try_parse(uuid).map_err(|_| bad())?;
        if parsed.hyphenated().to_string() != uuid {
            return Err(bad());
        }
        Ok(Self(s.to_owned()))
    }

    /// The project part of the id.
    pub fn project(&self) -> ProjectName {
        ProjectName(self.split().0.to_owned())
    }

    /// The uuid part of the id (also the default log stream name).
    pub fn uuid(&self) -> &str {
        self.split().1
    }

    fn split(&self) -> (&str, &str) {
        // parse guarantees exactly this shape: a project name has no ':'.
        self.0.rsplit_once(':').unwrap_or((&self.0, ""))
    }
}

/// A git commit id: 40 (SHA-1) or 64 (SHA-256) hex digits, stored lowercase.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CommitSha(String);
string_id!(CommitSha);

impl CommitSha {
    /// Parses a full commit SHA (abbreviated SHAs are refused: they are not stable ids).
    pub fn parse(s: &str) -> Result<Self, IdError> {
        if matches!(s.len(), 40 | 64) && s.chars().all(|c| c.is_ascii_hexdigit()) {
            Ok(Self(s.to_ascii_lowercase()))
        } else {
            Err(IdError::CommitSha(s.to_owned()))
        }
    }
}

/// Where ARNs point: partition, region and account.
///
/// Local mode uses [`AccountContext::LOCAL`] (`aws`, region `local`, account `000000000000`), so local ARNs have
/// CodeBuild's shape and parse with any AWS tool; the AWS deployment builds it from its Lambda environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountContext {
    partition: String,
    region: String,
    account: String,
}

impl AccountContext {
    /// Local mode's context: partition `aws`, region `local`, account `000000000000`.
    pub const LOCAL_REGION: &'static str = "local";
    /// The account id used in local mode.
    pub const LOCAL_ACCOUNT: &'static str = "000000000000";

    /// A context for the given partition (`aws`, `aws-cn`, ...), region and account.
    pub fn new(partition: impl Into<String>, region: impl Into<String>, account: impl Into<String>) -> Self {
        Self {
            partition: partition.into(),
            region: region.into(),
            account: account.into(),
        }
    }

    /// Local mode's context (see the type's doc).
    pub fn local() -> Self {
        Self::new("aws", Self::LOCAL_REGION, Self::LOCAL_ACCOUNT)
    }

    /// The region, e.g. `eu-west-1` or `local`.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The account id.
    pub fn account(&self) -> &str {
        &self.account
    }

    /// `arn:<partition>:codebuild:<region>:<account>:build/<id>`.
    pub fn build_arn(&self, id: &BuildId) -> BuildArn {
        BuildArn(format!(
            "arn:{}:codebuild:{}:{}:build/{id}",
            self.partition, self.region, self.account
        ))
    }

    /// `arn:<partition>:codebuild:<region>:<account>:project/<name>`.
    pub fn project_arn(&self, name: &ProjectName) -> String {
        format!(
            "arn:{}:codebuild:{}:{}:project/{name}",
            self.partition, self.region, self.account
        )
    }
}

impl Default for AccountContext {
    fn default() -> Self {
        Self::local()
    }
}

/// A build ARN, `arn:<partition>:codebuild:<region>:<account>:build/<project>:<uuid>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct BuildArn(String);
string_id!(BuildArn);

impl BuildArn {
    /// Parses a build ARN from any partition, region and account.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let bad = || IdError::BuildArn(s.to_owned());
        let parts: Vec<&str> = s.splitn(6, ':').collect();
        let [arn, partition, service, region, account, resource] = parts.as_slice() else {
            return Err(bad());
        };
        let id = resource.strip_prefix("build/").ok_or_else(bad)?;
        let fields_ok = *arn == "arn" && *service == "codebuild" && !partition.is_empty();
        if !fields_ok || region.is_empty() || account.is_empty() {
            return Err(bad());
        }
        BuildId::parse(id).map_err(|_| bad())?;
        Ok(Self(s.to_owned()))
    }

    /// The build id the ARN names.
    pub fn build_id(&self) -> BuildId {
        let id = self.0.split_once(":build/").map_or("", |(_, id)| id);
        BuildId(id.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_names_follow_codebuild_pattern() {
        let long = "a".repeat(150);
        for ok in ["web", "my-proj", "A_1", "9x", long.as_str()] {
            assert!(ProjectName::parse(ok).is_ok(), "{ok}");
        }
        let too_long = "a".repeat(151);
        for bad in [
            "",
            "a",
            "-web",
            "_web",
            "web.site",
            "web site",
            "wéb",
            too_long.as_str(),
        ] {
            assert_eq!(
                ProjectName::parse(bad),
                Err(IdError::ProjectName(bad.to_owned())),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_new_build_id_parses_back_and_exposes_its_parts() {
        let project = ProjectName::parse("my-proj").unwrap();
        let id = BuildId::new(&project);
        let parsed = BuildId::parse(id.as_str()).unwrap();
        assert_eq!(parsed, id);
        assert_eq!(parsed.project(), project);
        assert_eq!(parsed.uuid().len(), 36);
        assert_eq!(uuid::Uuid::parse_str(parsed.uuid()).unwrap().get_version_num(), 4);
    }

    #[test]
    fn build_ids_must_be_project_colon_lowercase_uuid() {
        assert!(BuildId::parse("web:8745a7a9-c340-456a-9166-edf953571bff").is_ok());
        for bad in [
            "web",
            "web:",
            ":8745a7a9-c340-456a-9166-edf953571bff",
            "web:8745A7A9-C340-456A-9166-EDF953571BFF",
            "web:8745a7a9c340456a9166edf953571bff",
            "w:8745a7a9-c340-456a-9166-edf953571bff",
        ] {
            assert!(BuildId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn arns_have_codebuild_shape_for_local_and_aws_contexts() {
        let id = BuildId::parse("my-proj:4d2cce79-1e48-4525-bfc4-22c1c0f3088b").unwrap();
        let aws = AccountContext::new("aws", "eu-west-1", "111122223333");
        let arn = aws.build_arn(&id);
        assert_eq!(
            arn.as_str(),
            "arn:aws:codebuild:eu-west-1:111122223333:build/my-proj:4d2cce79-1e48-4525-bfc4-22c1c0f3088b"
        );
        assert_eq!(BuildArn::parse(arn.as_str()).unwrap().build_id(), id);
        assert_eq!(
            AccountContext::local().project_arn(&id.project()),
            "arn:aws:codebuild:local:000000000000:project/my-proj"
        );
        assert!(BuildArn::parse("arn:aws:codebuild:eu-west-1:1:project/my-proj").is_err());
    }

    #[test]
    fn commit_shas_are_full_and_lowercased() {
        let sha = CommitSha::parse("9FCEB02D0AE598E95DC970B74767F19372D61AF8").unwrap();
        assert_eq!(sha.as_str(), "9fceb02d0ae598e95dc970b74767f19372d61af8");
        assert!(CommitSha::parse("9fceb02").is_err());
        assert!(CommitSha::parse(&"g".repeat(40)).is_err());
    }

    #[test]
    fn ids_serialise_as_plain_strings_and_refuse_bad_input() {
        let json = serde_json::json!("web:8745a7a9-c340-456a-9166-edf953571bff");
        let id: BuildId = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(serde_json::to_value(&id).unwrap(), json);
        assert!(serde_json::from_value::<ProjectName>(serde_json::json!("-x")).is_err());
    }
}
