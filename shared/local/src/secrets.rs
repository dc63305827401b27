//! The local [`SecretResolver`]: values given on the command line (`--secret NAME=VALUE`) or in a secrets file,
//! keyed by the Parameter Store name or the Secrets Manager secret id.
//!
//! A project's own secrets (its webhook's and its notice targets') resolve from `{value}`, `{env}` (the Kiln
//! process's environment) and `{file}` (trailing newline trimmed); `{parameter}` and `{secretsManager}` live in
//! AWS and are refused with a hint.
//!
//! A secrets file is either a JSON object (`{"name": "value", ...}`; non-string values are kept as JSON text)
//! or `NAME=VALUE` lines (blank lines and lines starting with `#` ignored; the value is everything after the
//! first `=`, taken literally). A `json-key` reference parses the stored value as a JSON object and takes that
//! key. Version stages and ids are ignored locally: there is one value per name.

use std::collections::HashMap;
use std::path::Path;

use kiln_core::ports::BoxFuture;
use kiln_core::ports::secrets::{ProjectSecretSource, SecretError, SecretRef, SecretResolver};
use kiln_core::project::SecretRef as ProjectSecret;

/// Why a secrets file or flag could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LocalSecretsError {
    #[error("could not read secrets file {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("secrets file {path} line {line}: expected NAME=VALUE, got {text:?}")]
    BadLine { path: String, line: usize, text: String },
    #[error("secrets file {path} is not a JSON object of names to values: {message}")]
    BadJson { path: String, message: String },
    #[error("secret {text:?} must be NAME=VALUE (for example --secret /prod/db-password=s3cret)")]
    BadFlag { text: String },
}

/// Secrets held in memory, by name.
#[derive(Debug, Default, Clone)]
pub struct LocalSecrets {
    values: HashMap<String, String>,
}

impl LocalSecrets {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one `NAME=VALUE` pair as given on the command line.
    pub fn add_flag(&mut self, text: &str) -> Result<(), LocalSecretsError> {
        let Some((name, value)) = text.split_once('=').filter(|(n, _)| !n.is_empty()) else {
            return Err(LocalSecretsError::BadFlag {
                text: text.to_owned(),
            });
        };
        self.insert(name, value);
        Ok(())
    }

    /// Adds one secret.
    pub fn insert(&mut self, name: &str, value: &str) {
        self.values.insert(name.to_owned(), value.to_owned());
    }

    /// Adds every secret in a secrets file (JSON object or `NAME=VALUE` lines).
    pub fn load_file(&mut self, path: &Path) -> Result<(), LocalSecretsError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| LocalSecretsError::Read {
            path: shown.clone(),
            source,
        })?;
        self.load_text(&shown, &text)
    }

    fn load_text(&mut self, path: &str, text: &str) -> Result<(), LocalSecretsError> {
        if text.trim_start().starts_with('{') {
            let map: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(text).map_err(|e| LocalSecretsError::BadJson {
                    path: path.to_owned(),
                    message: e.to_string(),
                })?;
            for (name, value) in map {
                let value = match value {
                    serde_json::Value::String(s) => s,
                    other => other.to_string(),
                };
                self.values.insert(name, value);
            }
            return Ok(());
        }
        for (index, line) in text.lines().enumerate() {
            let trimmed = line.trim_start();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let Some((name, value)) = trimmed.split_once('=').filter(|(n, _)| !n.trim().is_empty()) else {
                return Err(LocalSecretsError::BadLine {
                    path: path.to_owned(),
                    line: index + 1,
                    text: line.to_owned(),
                });
            };
            self.insert(name.trim(), value);
        }
        Ok(())
    }

    fn lookup(&self, reference: &SecretRef) -> Result<String, SecretError> {
        let (name, json_key) = match reference {
            SecretRef::Parameter(name) => (name, None),
            SecretRef::Secret {
                secret_id, json_key, ..
            } => (secret_id, json_key.as_ref()),
        };
        let shown = describe(reference);
        let value = self.values.get(name).ok_or_else(|| SecretError::NotFound {
            reference: shown.clone(),
            hint: format!("give it with --secret {name}=VALUE or in the secrets file"),
        })?;
        let Some(key) = json_key else {
            return Ok(value.clone());
        };
        let object: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(value).map_err(|_| SecretError::NotJson {
                reference: shown.clone(),
                key: key.clone(),
            })?;
        match object.get(key) {
            Some(serde_json::Value::String(s)) => Ok(s.clone()),
            Some(other) => Ok(other.to_string()),
            None => Err(SecretError::MissingJsonKey {
                reference: shown,
                key: key.clone(),
            }),
        }
    }
}

fn describe(reference: &SecretRef) -> String {
    match reference {
        SecretRef::Parameter(name) => format!("parameter {name:?}"),
        SecretRef::Secret { secret_id, .. } => format!("secret {secret_id:?}"),
    }
}

/// A project's secret on this machine.
fn project_secret(reference: &ProjectSecret) -> Result<String, SecretError> {
    match ProjectSecretSource::of(reference)? {
        ProjectSecretSource::Inline(value) => Ok(value.to_owned()),
        ProjectSecretSource::Env(name) => std::env::var(name).map_err(|_| SecretError::NotFound {
            reference: format!("environment variable {name:?}"),
            hint: "set it in the environment of the Kiln process".to_owned(),
        }),
        ProjectSecretSource::File(path) => std::fs::read_to_string(path)
            .map(|s| s.trim_end_matches(['\n', '\r']).to_owned())
            .map_err(|source| SecretError::Unreadable {
                reference: format!("file {path:?}"),
                source,
            }),
        ProjectSecretSource::Stored(stored) => Err(SecretError::Unavailable {
            reference: describe(&stored),
            hint: "it lives in AWS; locally use {env: NAME}, {file: path} or {value: ...}".to_owned(),
        }),
    }
}

impl SecretResolver for LocalSecrets {
    fn resolve<'a>(&'a self, reference: &'a SecretRef) -> BoxFuture<'a, Result<String, SecretError>> {
        Box::pin(async move { self.lookup(reference) })
    }

    fn resolve_project_secret<'a>(
        &'a self,
        reference: &'a ProjectSecret,
    ) -> BoxFuture<'a, Result<String, SecretError>> {
        Box::pin(async move { project_secret(reference) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(id: &str, key: Option<&str>) -> SecretRef {
        SecretRef::Secret {
            secret_id: id.into(),
            json_key: key.map(Into::into),
            version_stage: None,
            version_id: None,
        }
    }

    #[test]
    fn secrets_come_from_flags_and_both_file_formats() {
        let mut s = LocalSecrets::new();
        s.add_flag("/prod/token=a=b").unwrap();
        s.load_text("f", "# comment\n\nDB=pw 1\n").unwrap();
        s.load_text("g", r#"{"app": "{\"user\":\"u\",\"port\":5432}"}"#)
            .unwrap();
        assert_eq!(
            s.lookup(&SecretRef::Parameter("/prod/token".into())).unwrap(),
            "a=b"
        );
        assert_eq!(s.lookup(&secret("DB", None)).unwrap(), "pw 1");
        assert_eq!(s.lookup(&secret("app", Some("user"))).unwrap(), "u");
        assert_eq!(s.lookup(&secret("app", Some("port"))).unwrap(), "5432");
    }

    #[test]
    fn missing_names_and_keys_are_clear_errors_without_values() {
        let mut s = LocalSecrets::new();
        s.insert("plain", "not-json");
        let err = s
            .lookup(&SecretRef::Parameter("/nope".into()))
            .unwrap_err()
            .to_string();
        assert!(err.contains("/nope") && err.contains("--secret"), "{err}");
        let err = s.lookup(&secret("plain", Some("k"))).unwrap_err().to_string();
        assert!(!err.contains("not-json"), "{err}");
        assert!(LocalSecrets::new().add_flag("novalue").is_err());
        assert!(LocalSecrets::new().load_text("f", "just text\n").is_err());
    }

    #[test]
    fn project_secrets_come_from_values_files_and_the_environment_and_aws_ones_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("hook");
        std::fs::write(&file, "from-file\r\n").unwrap();
        let path = file.display().to_string();
        assert_eq!(
            project_secret(&ProjectSecret::Value("inline".into())).unwrap(),
            "inline"
        );
        assert_eq!(
            project_secret(&ProjectSecret::File(path.clone())).unwrap(),
            "from-file"
        );
        let path_var = std::env::var("PATH").unwrap();
        assert_eq!(
            project_secret(&ProjectSecret::Env("PATH".into())).unwrap(),
            path_var
        );

        let unset = project_secret(&ProjectSecret::Env("KILN_TEST_NO_SUCH_VARIABLE".into())).unwrap_err();
        assert!(matches!(unset, SecretError::NotFound { .. }), "{unset}");
        assert!(
            unset.to_string().contains("KILN_TEST_NO_SUCH_VARIABLE"),
            "{unset}"
        );
        let missing = project_secret(&ProjectSecret::File(format!("{path}.missing"))).unwrap_err();
        assert!(matches!(missing, SecretError::Unreadable { .. }), "{missing}");
        for aws in [
            ProjectSecret::Parameter("/kiln/hook".into()),
            ProjectSecret::SecretsManager("kiln/hook:hmac".into()),
        ] {
            let err = project_secret(&aws).unwrap_err();
            assert!(matches!(err, SecretError::Unavailable { .. }), "{err}");
            assert!(err.to_string().contains("{env: NAME}"), "{err}");
        }
    }
}
