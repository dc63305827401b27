//! The secret resolver on AWS: SSM Parameter Store (SecureString decrypted) and Secrets Manager (whole secret,
//! one JSON key of it, a version stage or a version id), each value fetched once and kept.
//!
//! A build's resolver ([`AwsSecretResolver::new`]) keeps values for the build: a rotated secret is seen by the
//! next build, and a build that names the same secret in several variables (several JSON keys) makes one call.
//! A function's resolver ([`AwsSecretResolver::cached`]) keeps each value for [`SECRET_TTL`] across invocations
//! of a warm instance, so a burst of webhook deliveries makes one call and a rotated secret is seen within
//! minutes. A project's own secrets (webhook, notice targets) may also be `{value}` or `{env}` (the function's
//! environment); `{file}` cannot be read by a function and is refused with a hint.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use tokio::sync::Mutex;

use super::config::AwsClients;
use super::retry::{describe, is_retryable};
use kiln_core::ports::BoxFuture;
use kiln_core::ports::secrets::{ProjectSecretSource, SecretError, SecretRef, SecretResolver};
use kiln_core::project::SecretRef as ProjectSecret;

/// How long a function's resolver reuses a value.
pub const SECRET_TTL: Duration = Duration::from_secs(300);

/// What is fetched from AWS: a parameter, or one version of a secret (before any JSON key is applied).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Fetch {
    Parameter(String),
    Secret {
        id: String,
        stage: Option<String>,
        version: Option<String>,
    },
}

/// Resolves Parameter Store and Secrets Manager references, caching every fetched value.
#[derive(Debug)]
pub struct AwsSecretResolver {
    ssm: aws_sdk_ssm::Client,
    secrets_manager: aws_sdk_secretsmanager::Client,
    /// How long a value is reused; `None` for as long as the resolver lives.
    ttl: Option<Duration>,
    cache: Mutex<HashMap<Fetch, (String, Instant)>>,
}

impl AwsSecretResolver {
    /// A resolver that keeps every value as long as it lives; make one per build.
    pub fn new(
        ssm: aws_sdk_ssm::Client,
        secrets_manager: aws_sdk_secretsmanager::Client,
    ) -> AwsSecretResolver {
        AwsSecretResolver {
            ssm,
            secrets_manager,
            ttl: None,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// A function's resolver over `clients`: each value is reused for [`SECRET_TTL`].
    pub fn cached(clients: &AwsClients) -> AwsSecretResolver {
        AwsSecretResolver::new(clients.ssm.clone(), clients.secrets_manager.clone()).with_ttl(SECRET_TTL)
    }

    /// This resolver, reusing each value for `ttl` only.
    pub fn with_ttl(mut self, ttl: Duration) -> AwsSecretResolver {
        self.ttl = Some(ttl);
        self
    }

    async fn resolve_ref(&self, reference: &SecretRef) -> Result<String, SecretError> {
        let (fetch, json_key) = match reference {
            SecretRef::Parameter(name) => (Fetch::Parameter(name.clone()), None),
            SecretRef::Secret {
                secret_id,
                json_key,
                version_stage,
                version_id,
            } => (
                Fetch::Secret {
                    id: secret_id.clone(),
                    stage: version_stage.clone(),
                    version: version_id.clone(),
                },
                json_key.as_deref(),
            ),
        };
        let value = self.fetch_cached(&fetch, reference).await?;
        match json_key {
            None => Ok(value),
            Some(key) => pick_json_key(&value, key, reference),
        }
    }

    async fn fetch_cached(&self, fetch: &Fetch, reference: &SecretRef) -> Result<String, SecretError> {
        let mut cache = self.cache.lock().await;
        if let Some((value, fetched)) = cache.get(fetch)
            && self.ttl.is_none_or(|ttl| fetched.elapsed() < ttl)
        {
            return Ok(value.clone());
        }
        let value = match fetch {
            Fetch::Parameter(name) => self.parameter(name, reference).await?,
            Fetch::Secret { id, stage, version } => self.secret(id, stage, version, reference).await?,
        };
        cache.insert(fetch.clone(), (value.clone(), Instant::now()));
        Ok(value)
    }

    async fn parameter(&self, name: &str, reference: &SecretRef) -> Result<String, SecretError> {
        let response = self
            .ssm
            .get_parameter()
            .name(name)
            .with_decryption(true)
            .send()
            .await;
        match response {
            Ok(output) => Ok(output
                .parameter()
                .and_then(|p| p.value())
                .unwrap_or_default()
                .to_owned()),
            Err(err) if err.as_service_error().is_some_and(|e| e.is_parameter_not_found()) => {
                Err(SecretError::NotFound {
                    reference: display(reference),
                    hint: "create it with `aws ssm put-parameter` in the build's region, or fix the name in \
                           env.parameter-store"
                        .to_owned(),
                })
            }
            Err(err) => Err(backend(reference, &err)),
        }
    }

    async fn secret(
        &self,
        id: &str,
        stage: &Option<String>,
        version: &Option<String>,
        reference: &SecretRef,
    ) -> Result<String, SecretError> {
        let response = self
            .secrets_manager
            .get_secret_value()
            .secret_id(id)
            .set_version_stage(stage.clone())
            .set_version_id(version.clone())
            .send()
            .await;
        match response {
            Ok(output) => match (output.secret_string(), output.secret_binary()) {
                (Some(text), _) => Ok(text.to_owned()),
                (None, Some(blob)) => Ok(String::from_utf8_lossy(blob.as_ref()).into_owned()),
                (None, None) => Ok(String::new()),
            },
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception()) =>
            {
                Err(SecretError::NotFound {
                    reference: display(reference),
                    hint: "check the secret id (name or ARN), version stage and version id in \
                           env.secrets-manager"
                        .to_owned(),
                })
            }
            Err(err) => Err(backend(reference, &err)),
        }
    }
}

fn pick_json_key(value: &str, key: &str, reference: &SecretRef) -> Result<String, SecretError> {
    let not_json = || SecretError::NotJson {
        reference: display(reference),
        key: key.to_owned(),
    };
    let parsed: serde_json::Value = serde_json::from_str(value).map_err(|_| not_json())?;
    let object = parsed.as_object().ok_or_else(not_json)?;
    match object.get(key) {
        Some(serde_json::Value::String(text)) => Ok(text.clone()),
        Some(other) => Ok(other.to_string()),
        None => Err(SecretError::MissingJsonKey {
            reference: display(reference),
            key: key.to_owned(),
        }),
    }
}

/// How a reference is named in messages (never with a value).
fn display(reference: &SecretRef) -> String {
    match reference {
        SecretRef::Parameter(name) => format!("parameter-store {name:?}"),
        SecretRef::Secret {
            secret_id,
            json_key,
            version_stage,
            version_id,
        } => {
            let parts = [json_key, version_stage, version_id].map(|p| p.as_deref().unwrap_or(""));
            let text = format!("{secret_id}:{}:{}:{}", parts[0], parts[1], parts[2]);
            format!("secrets-manager {:?}", text.trim_end_matches(':'))
        }
    }
}

fn backend<E>(
    reference: &SecretRef,
    err: &aws_sdk_ssm::error::SdkError<E, aws_sdk_ssm::config::http::HttpResponse>,
) -> SecretError
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
{
    SecretError::Backend {
        reference: display(reference),
        message: describe(err),
        retryable: is_retryable(err),
    }
}

impl AwsSecretResolver {
    async fn resolve_project(&self, reference: &ProjectSecret) -> Result<String, SecretError> {
        match ProjectSecretSource::of(reference)? {
            ProjectSecretSource::Inline(value) => Ok(value.to_owned()),
            ProjectSecretSource::Env(name) => std::env::var(name).map_err(|_| SecretError::NotFound {
                reference: format!("environment variable {name:?}"),
                hint: "set it in the function's environment".to_owned(),
            }),
            ProjectSecretSource::File(path) => Err(SecretError::Unavailable {
                reference: format!("file {path:?}"),
                hint: "a Lambda function cannot read it; use {parameter: name} or {secretsManager: id}"
                    .to_owned(),
            }),
            ProjectSecretSource::Stored(stored) => self.resolve_ref(&stored).await,
        }
    }
}

impl SecretResolver for AwsSecretResolver {
    fn resolve<'a>(&'a self, reference: &'a SecretRef) -> BoxFuture<'a, Result<String, SecretError>> {
        Box::pin(self.resolve_ref(reference))
    }

    fn resolve_project_secret<'a>(
        &'a self,
        reference: &'a ProjectSecret,
    ) -> BoxFuture<'a, Result<String, SecretError>> {
        Box::pin(self.resolve_project(reference))
    }
}
