//! Kiln access keys: the SigV4 key pairs Kiln issues itself, so the `aws` CLI, boto3 and `kiln` can call a
//! deployed Kiln's CodeBuild API unchanged (they sign for service `codebuild`, which only Kiln can verify).
//!
//! A key has an id (`KILN` and 16 characters, shaped like an AWS access key id so every SDK takes it), a secret
//! kept only sealed ([`seal`]: AES-256-GCM under the deployment's key-sealing secret), a description, and a
//! [`KeyScope`]: the CodeBuild operations it may call and the projects it may touch, each a list of glob
//! patterns. Revoking a key keeps its record (for the listing) and refuses it from then on. The store is the
//! [`crate::ports::access_keys::KeyStore`] port; creating, listing, revoking and checking keys is
//! [`crate::usecases::keys::Keyring`].

pub mod seal;

use globset::{Glob, GlobMatcher};
use serde::{Deserialize, Serialize};

use crate::build::Timestamp;

/// The prefix of every Kiln access key id (AWS's own start with `AKIA`/`ASIA`).
pub const KEY_ID_PREFIX: &str = "KILN";
/// The characters after the prefix (AWS's are 16 after a 4-character prefix: 20 in all).
const KEY_ID_BODY: usize = 16;
/// The length of a secret access key (AWS's are 40).
const SECRET_LENGTH: usize = 40;
/// The alphabet of key ids (AWS uses upper-case base32).
const ID_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
/// The alphabet of secrets (AWS uses base64's).
const SECRET_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// A Kiln access key as stored: never the secret in the clear.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessKey {
    /// The access key id (`KILN…`), not a secret.
    pub id: String,
    /// What the key is for, as its creator wrote it.
    pub description: String,
    /// What the key may do.
    pub scope: KeyScope,
    /// When it was created.
    pub created: Timestamp,
    /// When it was revoked; a revoked key is refused.
    pub revoked: Option<Timestamp>,
    /// The secret access key, sealed ([`seal::KeySealer::seal`]).
    pub sealed_secret: String,
}

impl AccessKey {
    /// Whether the key may still be used.
    pub fn is_active(&self) -> bool {
        self.revoked.is_none()
    }
}

/// The operations a key may call and the projects it may touch: glob patterns (`*` any run of characters,
/// `?` one, `[...]` a class), matched case-sensitively against operation names (`StartBuild`, `BatchGet*`) and
/// project names. Operations that name no project (`ListProjects`, `ListBuilds`, `ListSourceCredentials`) are
/// checked on the operation alone, as CodeBuild's IAM does (they take no resource-level permission).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyScope {
    /// Operation patterns; `["*"]` is every operation.
    pub actions: Vec<String>,
    /// Project name patterns; `["*"]` is every project.
    pub projects: Vec<String>,
}

impl Default for KeyScope {
    fn default() -> Self {
        KeyScope::everything()
    }
}

/// Why a scope or key could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    #[error("{what} pattern {pattern:?} is not a valid glob: {reason}; use names with `*`, `?` or `[...]`")]
    BadPattern {
        what: &'static str,
        pattern: String,
        reason: String,
    },
    #[error("a key needs at least one {what} pattern (`*` for all)")]
    Empty { what: &'static str },
}

/// The read-only CodeBuild operations, for `--read-only` keys.
pub const READ_ONLY_ACTIONS: &[&str] = &["BatchGet*", "List*", "Describe*", "Get*"];

impl KeyScope {
    /// Every operation on every project.
    pub fn everything() -> KeyScope {
        KeyScope {
            actions: vec!["*".to_owned()],
            projects: vec!["*".to_owned()],
        }
    }

    /// A scope from patterns, each checked.
    pub fn new(actions: Vec<String>, projects: Vec<String>) -> Result<KeyScope, ScopeError> {
        let scope = KeyScope { actions, projects };
        scope.check()?;
        Ok(scope)
    }

    /// Checks every pattern compiles and neither list is empty.
    pub fn check(&self) -> Result<(), ScopeError> {
        for (what, patterns) in [("action", &self.actions), ("project", &self.projects)] {
            if patterns.is_empty() {
                return Err(ScopeError::Empty { what });
            }
            for pattern in patterns {
                matcher(what, pattern)?;
            }
        }
        Ok(())
    }

    /// Whether the key may call `operation`.
    pub fn allows_action(&self, operation: &str) -> bool {
        matches_any("action", &self.actions, operation)
    }

    /// Whether the key may touch project `name`.
    pub fn allows_project(&self, name: &str) -> bool {
        matches_any("project", &self.projects, name)
    }

    /// Whether the key may touch every project.
    pub fn all_projects(&self) -> bool {
        self.projects.iter().any(|p| p == "*")
    }
}

fn matcher(what: &'static str, pattern: &str) -> Result<GlobMatcher, ScopeError> {
    Glob::new(pattern)
        .map(|glob| glob.compile_matcher())
        .map_err(|err| ScopeError::BadPattern {
            what,
            pattern: pattern.to_owned(),
            reason: err.kind().to_string(),
        })
}

fn matches_any(what: &'static str, patterns: &[String], name: &str) -> bool {
    patterns
        .iter()
        .filter_map(|pattern| matcher(what, pattern).ok())
        .any(|m| m.is_match(name))
}

/// Why random bytes could not be had.
#[derive(Debug, thiserror::Error)]
#[error("the system's random number source failed: {0}")]
pub struct RandomError(String);

/// `n` characters drawn uniformly from `alphabet` (whose length divides 256).
fn random_text(alphabet: &[u8], n: usize) -> Result<String, RandomError> {
    let mut bytes = vec![0u8; n];
    getrandom::fill(&mut bytes).map_err(|e| RandomError(e.to_string()))?;
    Ok(bytes
        .iter()
        .map(|b| char::from(alphabet[usize::from(*b) % alphabet.len()]))
        .collect())
}

/// A new key id: `KILN` and 16 upper-case base32 characters.
pub fn new_key_id() -> Result<String, RandomError> {
    Ok(format!(
        "{KEY_ID_PREFIX}{}",
        random_text(ID_ALPHABET, KEY_ID_BODY)?
    ))
}

/// A new secret access key: 40 base64-alphabet characters (240 bits).
pub fn new_secret() -> Result<String, RandomError> {
    random_text(SECRET_ALPHABET, SECRET_LENGTH)
}

/// Whether `id` has the shape of a Kiln key id.
pub fn is_key_id(id: &str) -> bool {
    id.len() == KEY_ID_PREFIX.len() + KEY_ID_BODY
        && id.starts_with(KEY_ID_PREFIX)
        && id
            .bytes()
            .skip(KEY_ID_PREFIX.len())
            .all(|b| ID_ALPHABET.contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(actions: &[&str], projects: &[&str]) -> KeyScope {
        KeyScope::new(
            actions.iter().map(|s| s.to_string()).collect(),
            projects.iter().map(|s| s.to_string()).collect(),
        )
        .expect("scope")
    }

    #[test]
    fn a_scope_matches_operations_and_projects_by_glob() {
        let s = scope(&["BatchGet*", "List*", "StartBuild"], &["web-*", "api"]);
        assert!(s.allows_action("BatchGetBuilds"));
        assert!(s.allows_action("StartBuild"));
        assert!(!s.allows_action("DeleteProject"));
        assert!(!s.allows_action("startbuild"), "case-sensitive");
        assert!(s.allows_project("web-front"));
        assert!(s.allows_project("api"));
        assert!(!s.allows_project("api-2"));
        assert!(!s.all_projects());
        assert!(KeyScope::everything().allows_action("AnythingAtAll"));
        assert!(KeyScope::everything().all_projects());
    }

    #[test]
    fn bad_or_empty_patterns_are_refused_by_name() {
        let err = KeyScope::new(vec!["[".into()], vec!["*".into()]).expect_err("bad glob");
        assert!(err.to_string().contains("action pattern \"[\""), "{err}");
        let err = KeyScope::new(vec!["*".into()], vec![]).expect_err("empty");
        assert!(err.to_string().contains("at least one project"), "{err}");
    }

    #[test]
    fn ids_and_secrets_have_aws_shapes_and_differ() {
        let id = new_key_id().expect("id");
        assert_eq!(id.len(), 20);
        assert!(is_key_id(&id), "{id}");
        assert!(!is_key_id("AKIAIOSFODNN7EXAMPLE"));
        assert_ne!(id, new_key_id().expect("id"));
        let secret = new_secret().expect("secret");
        assert_eq!(secret.len(), 40);
        assert_ne!(secret, new_secret().expect("secret"));
    }
}
