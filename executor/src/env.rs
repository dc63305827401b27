//! The build's environment: the inherited base, CodeBuild's built-in `CODEBUILD_*` variables (reference §3),
//! then the buildspec's, the project's and the start request's variables, later layers winning
//! (start override > project > buildspec). Values are literal: nothing is shell-expanded. Parameter Store and
//! Secrets Manager values are resolved through the [`SecretResolver`] port; their values are returned apart
//! so the log can mask them and the record can leave them out.

use std::collections::HashSet;

use kiln_core::buildspec::Env;
use kiln_core::ports::secrets::{SecretError, SecretRef, SecretResolver};

/// A variable's value as given: literal, or a reference to resolve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvValue {
    /// A plain-text value, used literally.
    Plain(String),
    /// A Parameter Store name or Secrets Manager reference.
    Secret(SecretRef),
}

/// One variable as given by a project or a start request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvVarSpec {
    /// The name.
    pub name: String,
    /// The value or where it comes from.
    pub value: EnvValue,
}

impl EnvVarSpec {
    /// A plain-text variable.
    pub fn plain(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            value: EnvValue::Plain(value.into()),
        }
    }
}

/// The built-in variables' values for one build.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Builtins {
    /// `CODEBUILD_BUILD_ID` (`<project>:<uuid>`).
    pub build_id: String,
    /// `CODEBUILD_BUILD_ARN`.
    pub build_arn: String,
    /// `CODEBUILD_BUILD_NUMBER`.
    pub build_number: u64,
    /// `CODEBUILD_INITIATOR`.
    pub initiator: String,
    /// `CODEBUILD_SRC_DIR`.
    pub src_dir: String,
    /// `CODEBUILD_SOURCE_VERSION` (the requested version), when there is one.
    pub source_version: Option<String>,
    /// `CODEBUILD_RESOLVED_SOURCE_VERSION` (the commit), known after DOWNLOAD_SOURCE.
    pub resolved_source_version: Option<String>,
    /// `CODEBUILD_SOURCE_REPO_URL`, for git sources.
    pub source_repo_url: Option<String>,
    /// `CODEBUILD_START_TIME` (epoch milliseconds).
    pub start_time_ms: u128,
    /// `CODEBUILD_BUILD_IMAGE`.
    pub image: String,
    /// `CODEBUILD_LOG_PATH` (the log stream name: the build uuid).
    pub log_path: String,
    /// `CODEBUILD_PROJECT_ARN`.
    pub project_arn: String,
    /// `AWS_REGION` and `AWS_DEFAULT_REGION`.
    pub region: String,
    /// `CODEBUILD_WEBHOOK_*` variables for webhook builds, as the trigger produced them.
    pub webhook: Vec<(String, String)>,
}

impl Builtins {
    /// The variables, in a stable order.
    pub fn vars(&self) -> Vec<(String, String)> {
        let mut vars: Vec<(String, String)> = [
            ("CODEBUILD_BUILD_ID", self.build_id.clone()),
            ("CODEBUILD_BUILD_ARN", self.build_arn.clone()),
            ("CODEBUILD_BUILD_NUMBER", self.build_number.to_string()),
            ("CODEBUILD_BUILD_SUCCEEDING", "1".to_owned()),
            ("CODEBUILD_INITIATOR", self.initiator.clone()),
            ("CODEBUILD_SRC_DIR", self.src_dir.clone()),
            ("CODEBUILD_START_TIME", self.start_time_ms.to_string()),
            ("CODEBUILD_BUILD_IMAGE", self.image.clone()),
            ("CODEBUILD_LOG_PATH", self.log_path.clone()),
            ("CODEBUILD_PROJECT_ARN", self.project_arn.clone()),
            ("CODEBUILD_CI", "true".to_owned()),
            ("AWS_REGION", self.region.clone()),
            ("AWS_DEFAULT_REGION", self.region.clone()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let optional = [
            ("CODEBUILD_SOURCE_VERSION", &self.source_version),
            ("CODEBUILD_RESOLVED_SOURCE_VERSION", &self.resolved_source_version),
            ("CODEBUILD_SOURCE_REPO_URL", &self.source_repo_url),
        ];
        for (name, value) in optional {
            if let Some(value) = value {
                vars.push((name.to_owned(), value.clone()));
            }
        }
        vars.extend(self.webhook.iter().cloned());
        vars
    }
}

/// The assembled environment.
#[derive(Debug, Clone, Default)]
pub struct BuildEnv {
    /// Every variable, deduplicated, later layers having won.
    pub vars: Vec<(String, String)>,
    /// Resolved secret values (for the masker; never recorded).
    pub secret_values: Vec<String>,
    /// Names whose value came from a secret.
    pub secret_names: HashSet<String>,
    /// User variables that were ignored, with why (reserved `CODEBUILD_` names).
    pub warnings: Vec<String>,
}

impl BuildEnv {
    /// The value of `name`, if set.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    fn set(&mut self, name: &str, value: String) {
        match self.vars.iter_mut().find(|(k, _)| k == name) {
            Some(slot) => slot.1 = value,
            None => self.vars.push((name.to_owned(), value)),
        }
    }
}

/// Why the environment could not be assembled.
#[derive(Debug, thiserror::Error)]
pub enum EnvError {
    #[error("could not resolve variable {name}: {source}")]
    Secret {
        name: String,
        #[source]
        source: SecretError,
    },
}

/// The variables of a buildspec `env` section as specs (variables, then parameter-store, then secrets-manager).
pub fn buildspec_vars(env: &Env) -> Vec<EnvVarSpec> {
    let plain = env.variables.iter().map(|v| EnvVarSpec::plain(&v.name, &v.value));
    let secrets = env
        .parameter_store
        .iter()
        .chain(&env.secrets_manager)
        .map(|v| EnvVarSpec {
            name: v.name.clone(),
            value: EnvValue::Secret(v.reference.clone()),
        });
    plain.chain(secrets).collect()
}

/// Assembles the environment: `base`, then built-ins, then each user layer in increasing precedence.
pub async fn assemble(
    base: &[(String, String)],
    builtins: &Builtins,
    layers: &[&[EnvVarSpec]],
    resolver: &dyn SecretResolver,
) -> Result<BuildEnv, EnvError> {
    let mut env = BuildEnv::default();
    for (name, value) in base.iter().cloned().chain(builtins.vars()) {
        env.set(&name, value);
    }
    for layer in layers {
        for spec in layer.iter() {
            if spec.name.starts_with("CODEBUILD_") {
                env.warnings.push(format!(
                    "variable {} ignored: names starting with CODEBUILD_ are reserved",
                    spec.name
                ));
                continue;
            }
            let value = match &spec.value {
                EnvValue::Plain(value) => {
                    env.secret_names.remove(&spec.name);
                    value.clone()
                }
                EnvValue::Secret(reference) => {
                    let value = resolver
                        .resolve(reference)
                        .await
                        .map_err(|source| EnvError::Secret {
                            name: spec.name.clone(),
                            source,
                        })?;
                    env.secret_names.insert(spec.name.clone());
                    env.secret_values.push(value.clone());
                    value
                }
            };
            env.set(&spec.name, value);
        }
    }
    Ok(env)
}

/// Variables whose values are masked in the log like secrets (AWS credentials).
pub const AWS_CREDENTIALS: &[&str] = &["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"];

/// Names of the runner's own environment passed to builds (the rest is not inherited).
pub const INHERITED: &[&str] = &[
    "PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "LC_CTYPE", "TERM", "TZ", "TMPDIR", "SHELL",
];

/// The base environment inherited from this process ([`INHERITED`] names only).
pub fn inherited_base_env() -> Vec<(String, String)> {
    INHERITED
        .iter()
        .filter_map(|name| Some(((*name).to_owned(), std::env::var(name).ok()?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_local::LocalSecrets;

    #[tokio::test]
    async fn precedence_is_override_then_project_then_buildspec_and_values_are_literal() {
        let buildspec = [
            EnvVarSpec::plain("A", "spec"),
            EnvVarSpec::plain("B", "spec"),
            EnvVarSpec::plain("PATH", "$PATH:/x"),
        ];
        let project = [
            EnvVarSpec::plain("A", "project"),
            EnvVarSpec::plain("C", "project"),
        ];
        let overrides = [EnvVarSpec::plain("A", "override")];
        let env = assemble(
            &[("PATH".into(), "/bin".into())],
            &Builtins::default(),
            &[&buildspec, &project, &overrides],
            &LocalSecrets::new(),
        )
        .await
        .unwrap();
        assert_eq!(env.get("A"), Some("override"));
        assert_eq!(env.get("B"), Some("spec"));
        assert_eq!(env.get("C"), Some("project"));
        assert_eq!(env.get("PATH"), Some("$PATH:/x"));
        assert_eq!(env.get("CODEBUILD_CI"), Some("true"));
    }

    #[tokio::test]
    async fn secrets_are_resolved_through_the_port_and_reserved_names_are_refused() {
        let mut secrets = LocalSecrets::new();
        secrets.insert("/db/pw", "hunter2");
        let layer = [
            EnvVarSpec {
                name: "DB".into(),
                value: EnvValue::Secret(SecretRef::Parameter("/db/pw".into())),
            },
            EnvVarSpec::plain("CODEBUILD_BUILD_ID", "forged"),
        ];
        let builtins = Builtins {
            build_id: "p:1".into(),
            ..Builtins::default()
        };
        let env = assemble(&[], &builtins, &[&layer], &secrets).await.unwrap();
        assert_eq!(env.get("DB"), Some("hunter2"));
        assert_eq!(env.secret_values, vec!["hunter2".to_owned()]);
        assert_eq!(env.get("CODEBUILD_BUILD_ID"), Some("p:1"));
        assert_eq!(env.warnings.len(), 1);
        let missing = [EnvVarSpec {
            name: "X".into(),
            value: EnvValue::Secret(SecretRef::Parameter("/nope".into())),
        }];
        assert!(assemble(&[], &builtins, &[&missing], &secrets).await.is_err());
    }
}
