//! The secret-resolution port: turns secret references into values, for build environments (Parameter Store
//! names and Secrets Manager references), source credentials, and the secrets a project names for its webhook
//! and its notice targets (`{value}`, `{env}`, `{file}`, `{parameter}` or `{secretsManager}`).
//!
//! Locally the stored values come from `--secret NAME=VALUE` flags or a secrets file, and environment variables
//! and files are the Kiln process's; on AWS the values come from SSM and Secrets Manager, and environment
//! variables are the function's. Resolved values are masked in logs and never written to a build record; errors
//! name the reference, never a value.

use super::BoxFuture;
use crate::project::SecretRef as ProjectSecret;

/// What to resolve: a Parameter Store name, or a Secrets Manager reference
/// (`secret-id[:json-key[:version-stage[:version-id]]]`, already split).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SecretRef {
    /// An SSM Parameter Store parameter name (`/path/name` or `name`).
    Parameter(String),
    /// A Secrets Manager secret, optionally one JSON key of it and a version stage or id.
    Secret {
        secret_id: String,
        json_key: Option<String>,
        version_stage: Option<String>,
        version_id: Option<String>,
    },
}

/// Why a secret could not be resolved. Messages name the reference, never a value.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("secret {reference} was not found: {hint}")]
    NotFound { reference: String, hint: String },
    #[error("secret {reference} has no JSON key {key:?}")]
    MissingJsonKey { reference: String, key: String },
    #[error("secret {reference} is not a JSON object, so json-key {key:?} cannot be read")]
    NotJson { reference: String, key: String },
    #[error("could not resolve secret {reference}: {message}")]
    Backend {
        reference: String,
        message: String,
        retryable: bool,
    },
    #[error("secret reference {reference} is not valid: {hint}")]
    Invalid { reference: String, hint: String },
    #[error("secret {reference} cannot be read here: {hint}")]
    Unavailable { reference: String, hint: String },
    #[error("could not read secret {reference}: {source}")]
    Unreadable {
        reference: String,
        source: std::io::Error,
    },
}

/// Where a project's secret comes from, with a Secrets Manager reference already split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProjectSecretSource<'a> {
    /// The secret itself (`{value}`, local configuration only).
    Inline(&'a str),
    /// An environment variable of the process resolving it (`{env}`).
    Env(&'a str),
    /// A file the process resolving it can read (`{file}`; a trailing newline is not part of the secret).
    File(&'a str),
    /// A stored secret (`{parameter}`, `{secretsManager}`).
    Stored(SecretRef),
}

impl<'a> ProjectSecretSource<'a> {
    /// Parses a project's secret reference; a `{secretsManager}` reference that does not split is refused.
    pub fn of(reference: &'a ProjectSecret) -> Result<ProjectSecretSource<'a>, SecretError> {
        Ok(match reference {
            ProjectSecret::Value(value) => ProjectSecretSource::Inline(value),
            ProjectSecret::Env(name) => ProjectSecretSource::Env(name),
            ProjectSecret::File(path) => ProjectSecretSource::File(path),
            ProjectSecret::Parameter(name) => ProjectSecretSource::Stored(SecretRef::Parameter(name.clone())),
            ProjectSecret::SecretsManager(text) => {
                let split = crate::buildspec::secret_ref(text).map_err(|hint| SecretError::Invalid {
                    reference: format!("secretsManager {text:?}"),
                    hint: hint.to_string(),
                })?;
                ProjectSecretSource::Stored(split)
            }
        })
    }
}

/// Resolves secret references to their values.
pub trait SecretResolver: Send + Sync {
    /// Returns the value a stored secret `reference` names.
    fn resolve<'a>(&'a self, reference: &'a SecretRef) -> BoxFuture<'a, Result<String, SecretError>>;

    /// Returns the value a project's secret reference names (its webhook's, a notice target's). By default
    /// inline values and stored secrets resolve, and environment variables and files are refused: a resolver
    /// that can read them says so by overriding this.
    fn resolve_project_secret<'a>(
        &'a self,
        reference: &'a ProjectSecret,
    ) -> BoxFuture<'a, Result<String, SecretError>> {
        Box::pin(async move {
            match ProjectSecretSource::of(reference)? {
                ProjectSecretSource::Inline(value) => Ok(value.to_owned()),
                ProjectSecretSource::Stored(stored) => self.resolve(&stored).await,
                ProjectSecretSource::Env(name) => Err(SecretError::Unavailable {
                    reference: format!("env {name:?}"),
                    hint: "use {parameter: name} or {secretsManager: id}".to_owned(),
                }),
                ProjectSecretSource::File(path) => Err(SecretError::Unavailable {
                    reference: format!("file {path:?}"),
                    hint: "use {parameter: name} or {secretsManager: id}".to_owned(),
                }),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_references_parse_into_where_the_secret_comes_from() {
        let cases = [
            (
                ProjectSecret::Value("s3cret".into()),
                ProjectSecretSource::Inline("s3cret"),
            ),
            (
                ProjectSecret::Env("HOOK".into()),
                ProjectSecretSource::Env("HOOK"),
            ),
            (
                ProjectSecret::File("/run/hook".into()),
                ProjectSecretSource::File("/run/hook"),
            ),
            (
                ProjectSecret::Parameter("/kiln/hook".into()),
                ProjectSecretSource::Stored(SecretRef::Parameter("/kiln/hook".into())),
            ),
            (
                ProjectSecret::SecretsManager("kiln/hook:hmac".into()),
                ProjectSecretSource::Stored(SecretRef::Secret {
                    secret_id: "kiln/hook".into(),
                    json_key: Some("hmac".into()),
                    version_stage: None,
                    version_id: None,
                }),
            ),
        ];
        for (reference, expected) in &cases {
            assert_eq!(
                &ProjectSecretSource::of(reference).expect("parses"),
                expected,
                "{reference:?}"
            );
        }
        let bad = ProjectSecret::SecretsManager("id:key:stage:version:extra".into());
        let err = ProjectSecretSource::of(&bad).expect_err("refused").to_string();
        assert!(err.contains("id:key:stage:version:extra"), "{err}");
        assert!(!err.contains(": ;"), "{err}");
    }
}
