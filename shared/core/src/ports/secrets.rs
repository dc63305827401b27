//! The secret-resolver port: turns Parameter Store names and Secrets Manager references into values.
//!
//! Locally the values come from `--secret NAME=VALUE` flags or a secrets file; on AWS from SSM and Secrets
//! Manager. Resolved values are masked in logs and never written to a build record.

use super::BoxFuture;

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
}

/// Resolves secret references to their values.
pub trait SecretResolver: Send + Sync {
    /// Returns the value `reference` names.
    fn resolve<'a>(&'a self, reference: &'a SecretRef) -> BoxFuture<'a, Result<String, SecretError>>;
}
