//! Webhook and notice-target secrets on one machine: a project's `{value}`, `{env}` and `{file}` references
//! resolved at once; SSM and Secrets Manager references need AWS and are refused with a hint.

use std::sync::Arc;

use kiln_core::ports::BoxFuture;
use kiln_core::project::SecretRef;
use kiln_core::usecases::webhook::WebhookSecrets;

/// Resolves a project's secret reference to the secret.
pub type SecretLookup = Arc<dyn Fn(&SecretRef) -> Result<String, String> + Send + Sync>;

/// [`SecretLookup`] as the webhook use case's [`WebhookSecrets`].
pub struct SyncSecrets(pub SecretLookup);

impl WebhookSecrets for SyncSecrets {
    fn secret<'a>(&'a self, reference: &'a SecretRef) -> BoxFuture<'a, Result<String, String>> {
        let value = (self.0)(reference);
        Box::pin(async move { value })
    }
}

/// Local secret lookup: `{value}`, `{env}` and `{file}` references; SSM and Secrets Manager need AWS.
pub fn local_secrets() -> SecretLookup {
    Arc::new(|reference| match reference {
        SecretRef::Value(v) => Ok(v.clone()),
        SecretRef::Env(name) => std::env::var(name)
            .map_err(|_| format!("environment variable {name:?} holding the secret is not set")),
        SecretRef::File(path) => std::fs::read_to_string(path)
            .map(|s| s.trim_end_matches(['\n', '\r']).to_owned())
            .map_err(|e| format!("cannot read the secret file {path:?}: {e}")),
        SecretRef::Parameter(name) | SecretRef::SecretsManager(name) => Err(format!(
            "secret {name:?} lives in AWS; locally use {{env: NAME}}, {{file: path}} or {{value: ...}}"
        )),
    })
}
