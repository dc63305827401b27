//! Webhook secrets on AWS: a project's `webhook.secret` reference (`{parameter: name}` for SSM Parameter Store,
//! `{secretsManager: "id[:json-key[:stage[:version]]]"}`, or `{env: NAME}` of the function) resolved through
//! [`AwsSecretResolver`] and kept for [`SECRET_TTL`] across invocations of a warm function, so a burst of
//! deliveries makes one SSM or Secrets Manager call and a rotated secret is seen within minutes.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use kiln_aws::{AwsClients, AwsSecretResolver};
use kiln_core::buildspec::secret_ref;
use kiln_core::ports::BoxFuture;
use kiln_core::ports::secrets::{SecretRef as AwsRef, SecretResolver};
use kiln_core::project::SecretRef;
use kiln_core::usecases::webhook::WebhookSecrets;
use tokio::sync::Mutex;

/// How long a resolved webhook secret is reused.
pub const SECRET_TTL: Duration = Duration::from_secs(300);

/// Resolves webhook secrets from SSM and Secrets Manager, caching each for a time-to-live.
#[derive(Debug)]
pub struct CachedWebhookSecrets {
    clients: AwsClients,
    ttl: Duration,
    cache: Mutex<HashMap<SecretRef, (String, Instant)>>,
}

impl CachedWebhookSecrets {
    /// A resolver over `clients` that reuses values for [`SECRET_TTL`].
    pub fn new(clients: AwsClients) -> CachedWebhookSecrets {
        CachedWebhookSecrets::with_ttl(clients, SECRET_TTL)
    }

    /// A resolver that reuses values for `ttl`.
    pub fn with_ttl(clients: AwsClients, ttl: Duration) -> CachedWebhookSecrets {
        CachedWebhookSecrets {
            clients,
            ttl,
            cache: Mutex::new(HashMap::new()),
        }
    }

    async fn resolve(&self, reference: &SecretRef) -> Result<String, String> {
        let mut cache = self.cache.lock().await;
        if let Some((value, at)) = cache.get(reference)
            && at.elapsed() < self.ttl
        {
            return Ok(value.clone());
        }
        let value = self.fetch(reference).await?;
        cache.insert(reference.clone(), (value.clone(), Instant::now()));
        Ok(value)
    }

    async fn fetch(&self, reference: &SecretRef) -> Result<String, String> {
        let aws = match reference {
            SecretRef::Value(value) => return Ok(value.clone()),
            SecretRef::Env(name) => {
                return std::env::var(name).map_err(|_| {
                    format!(
                        "environment variable {name:?} holding the webhook secret is not set on the function"
                    )
                });
            }
            SecretRef::File(path) => {
                return Err(format!(
                    "secret file {path:?} cannot be read by a Lambda function; use {{parameter: name}} or \
                     {{secretsManager: id}}"
                ));
            }
            SecretRef::Parameter(name) => AwsRef::Parameter(name.clone()),
            SecretRef::SecretsManager(text) => secret_ref(text)
                .map_err(|problem| format!("secretsManager reference {text:?} is not valid; {problem}"))?,
        };
        // A fresh resolver per fetch: its own cache would otherwise keep values past the time-to-live.
        let resolver = AwsSecretResolver::new(self.clients.ssm.clone(), self.clients.secrets_manager.clone());
        resolver.resolve(&aws).await.map_err(|e| e.to_string())
    }
}

impl WebhookSecrets for CachedWebhookSecrets {
    fn secret<'a>(&'a self, reference: &'a SecretRef) -> BoxFuture<'a, Result<String, String>> {
        Box::pin(self.resolve(reference))
    }
}
