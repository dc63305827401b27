//! The `kiln.yaml` file: a list of projects and the options that apply to all of them.

use serde::Deserialize;

use super::error::{FieldPath, Problem, ProjectError};
use super::{Project, RawProject, ValidationOptions};

/// Why a config file or project document was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The YAML did not parse or did not have the expected shape (the message has line and column).
    #[error("invalid YAML: {0}")]
    Yaml(String),
    /// The JSON did not parse or did not have the expected shape.
    #[error("invalid JSON at line {line}, column {column}: {message}")]
    Json {
        line: usize,
        column: usize,
        message: String,
    },
    /// A field failed validation.
    #[error(transparent)]
    Invalid(#[from] ProjectError),
}

impl ConfigError {
    pub(super) fn json(e: serde_json::Error) -> Self {
        ConfigError::Json {
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        }
    }
}

/// A validated `kiln.yaml`: the projects Kiln serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KilnConfig {
    /// The projects, in file order, names unique.
    pub projects: Vec<Project>,
    /// Whether `{value: ...}` secrets were allowed (local development only).
    pub allow_inline_secrets: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawKilnConfig {
    #[serde(default)]
    allow_inline_secrets: bool,
    #[serde(default)]
    projects: Vec<RawProject>,
}

impl KilnConfig {
    /// Reads `kiln.yaml` text.
    pub fn from_yaml(text: &str) -> Result<Self, ConfigError> {
        let raw: RawKilnConfig =
            serde_saphyr::from_str(text).map_err(|e| ConfigError::Yaml(e.to_string()))?;
        Ok(Self::validate(raw)?)
    }

    /// Reads the same document as JSON.
    pub fn from_json(text: &str) -> Result<Self, ConfigError> {
        let raw: RawKilnConfig = serde_json::from_str(text).map_err(ConfigError::json)?;
        Ok(Self::validate(raw)?)
    }

    /// The project called `name`.
    pub fn project(&self, name: &str) -> Option<&Project> {
        self.projects.iter().find(|p| p.name.as_str() == name)
    }

    fn validate(raw: RawKilnConfig) -> Result<Self, ProjectError> {
        let options = ValidationOptions {
            allow_inline_secrets: raw.allow_inline_secrets,
        };
        let list = FieldPath::named("projects");
        let mut projects: Vec<Project> = Vec::with_capacity(raw.projects.len());
        for (i, raw_project) in raw.projects.into_iter().enumerate() {
            let project = Project::validate(raw_project, &list.index(i), options)?;
            if projects.iter().any(|p| p.name == project.name) {
                return Err(list
                    .index(i)
                    .key("name")
                    .err(Problem::Duplicate(project.name.to_string())));
            }
            projects.push(project);
        }
        Ok(Self {
            projects,
            allow_inline_secrets: raw.allow_inline_secrets,
        })
    }
}
