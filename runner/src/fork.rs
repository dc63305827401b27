//! Secrets for builds of pull requests from forks: every PARAMETER_STORE / SECRETS_MANAGER lookup is refused,
//! naming the policy, unless the project's `forkPullRequests.secrets` allows it. (The source credential is not
//! affected: it reaches git only, never the build.)

use std::sync::Arc;

use kiln_core::build::Build;
use kiln_core::ports::BoxFuture;
use kiln_core::ports::secrets::{SecretError, SecretRef, SecretResolver};

use crate::load::ProjectSettings;

/// The resolver `build` may use: `secrets`, or one that refuses every lookup for a fork's pull request when
/// the project does not allow it.
pub fn guard(
    build: &Build,
    project: &ProjectSettings,
    secrets: Arc<dyn SecretResolver>,
) -> Arc<dyn SecretResolver> {
    let from_fork = build.trigger.as_ref().and_then(|t| t.from_fork) == Some(true);
    if project.fork_pull_requests().allows_secrets(from_fork) {
        secrets
    } else {
        Arc::new(ForkNoSecrets)
    }
}

/// The resolver of a fork's pull-request build: every secret is refused, naming the policy.
struct ForkNoSecrets;

impl SecretResolver for ForkNoSecrets {
    fn resolve<'a>(&'a self, reference: &'a SecretRef) -> BoxFuture<'a, Result<String, SecretError>> {
        let name = match reference {
            SecretRef::Parameter(name) => name.clone(),
            SecretRef::Secret { secret_id, .. } => secret_id.clone(),
        };
        Box::pin(async move {
            Err(SecretError::NotFound {
                reference: name,
                hint: "builds of pull requests from forks get no secrets in this project; set \
                       forkPullRequests.secrets: true to allow it"
                    .into(),
            })
        })
    }
}
