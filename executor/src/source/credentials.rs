//! How git authenticates to a source host. What the build's source asks for is [`GitCredentials`]; what the
//! fetch hands git is a [`GitAuth`], in the environment of the git process only (`GIT_CONFIG_COUNT`), never in
//! a URL, an argument or a log line:
//!
//! - a token (`source.auth.resource`, from Secrets Manager or Parameter Store) through a credential helper that
//!   reads it from the git process's environment, with the user name each host expects beside a token;
//! - CodeCommit: `kiln git-credential-codecommit` (this executable) as the only credential helper, signing each
//!   request with the task role's credentials.

use std::path::PathBuf;

use kiln_core::ports::secrets::{SecretRef, SecretResolver};
use kiln_core::project::{ProjectSource, SourceType};
use serde::Deserialize;

use super::SourceError;

/// The credentials a git source asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GitCredentials {
    /// A token named by `source.auth.resource`.
    pub token: Option<TokenRef>,
    /// A CodeCommit repository: without a token, this executable signs each request.
    pub codecommit: bool,
}

/// Where a repository token is kept, and the user name the host expects beside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRef {
    /// A Secrets Manager secret (its value, or its `token`/`Token`/`accessToken` JSON key) or an SSM parameter ARN.
    pub resource: String,
    /// The user name sent with the token.
    pub username: &'static str,
}

impl GitCredentials {
    /// What a build's `source` asks for: its `auth.resource` token, and whether it is a CodeCommit repository.
    pub fn for_source(source: &ProjectSource) -> Self {
        let resource = source.auth.as_ref().and_then(|auth| auth.resource.as_deref());
        GitCredentials {
            token: resource.filter(|r| !r.is_empty()).map(|resource| TokenRef {
                resource: resource.to_owned(),
                username: token_username(source.source_type),
            }),
            codecommit: source.source_type == SourceType::Codecommit,
        }
    }
}

/// The user name each host expects beside a token over HTTPS.
pub(super) fn token_username(source_type: SourceType) -> &'static str {
    match source_type {
        SourceType::Gitlab | SourceType::GitlabSelfManaged => "oauth2",
        SourceType::Bitbucket => "x-token-auth",
        SourceType::Github
        | SourceType::GithubEnterprise
        | SourceType::Gitea
        | SourceType::Git
        | SourceType::Codecommit
        | SourceType::S3
        | SourceType::NoSource => "x-access-token",
    }
}

/// The credentials handed to git for one fetch. Not `Debug`: it holds the token.
pub(super) enum GitAuth {
    /// git's own configuration.
    None,
    /// A token, with the user name the host expects beside it.
    Token(&'static str, String),
    /// CodeCommit over HTTPS: `<kiln> git-credential-codecommit` signs each request.
    CodeCommit(PathBuf),
}

impl GitAuth {
    /// The environment of a git process that authenticates this way.
    pub(super) fn env(&self) -> Vec<(String, String)> {
        match self {
            GitAuth::None => Vec::new(),
            GitAuth::Token(username, token) => credential_env(username, token),
            GitAuth::CodeCommit(kiln) => git_config_env(&codecommit_git_config(kiln)),
        }
    }
}

/// The git configuration that fetches a CodeCommit repository with `<kiln> git-credential-codecommit` as the
/// only credential helper (the empty value first clears helpers configured elsewhere) and the repository path
/// sent to it (`credential.UseHttpPath`), since the path is part of what is signed.
pub(super) fn codecommit_git_config(kiln: &std::path::Path) -> Vec<(String, String)> {
    let quoted = format!("'{}'", kiln.display().to_string().replace('\'', r"'\''"));
    vec![
        ("credential.helper".into(), String::new()),
        (
            "credential.helper".into(),
            format!("!{quoted} git-credential-codecommit"),
        ),
        ("credential.UseHttpPath".into(), "true".into()),
    ]
}

/// `-c name=value` settings passed to git through its environment (`GIT_CONFIG_COUNT`), never its arguments.
pub(super) fn git_config_env(settings: &[(String, String)]) -> Vec<(String, String)> {
    let mut env = vec![("GIT_CONFIG_COUNT".to_owned(), settings.len().to_string())];
    for (i, (key, value)) in settings.iter().enumerate() {
        env.push((format!("GIT_CONFIG_KEY_{i}"), key.clone()));
        env.push((format!("GIT_CONFIG_VALUE_{i}"), value.clone()));
    }
    env
}

/// The credential helper: prints the user name and the token from the git process's environment.
const CREDENTIAL_HELPER: &str =
    "!f() { echo \"username=$KILN_GIT_USERNAME\"; echo \"password=$KILN_GIT_TOKEN\"; }; f";

/// The environment that hands git the token through [`CREDENTIAL_HELPER`] (any other helper is reset).
pub(super) fn credential_env(username: &str, token: &str) -> Vec<(String, String)> {
    let settings = [
        ("credential.helper".to_owned(), String::new()),
        ("credential.helper".to_owned(), CREDENTIAL_HELPER.to_owned()),
    ];
    let mut env = git_config_env(&settings);
    env.push(("KILN_GIT_USERNAME".to_owned(), username.to_owned()));
    env.push(("KILN_GIT_TOKEN".to_owned(), token.to_owned()));
    env
}

/// Reads the token `token` names through `secrets`.
pub(super) async fn resolve_token(
    secrets: &dyn SecretResolver,
    token: &TokenRef,
) -> Result<GitAuth, SourceError> {
    let resource = token.resource.as_str();
    let reference = match resource.split_once(":parameter") {
        Some((prefix, name)) if prefix.starts_with("arn:") && prefix.contains(":ssm:") => {
            SecretRef::Parameter(name.to_owned())
        }
        _ => SecretRef::Secret {
            secret_id: resource.to_owned(),
            json_key: None,
            version_stage: None,
            version_id: None,
        },
    };
    let value = secrets
        .resolve(&reference)
        .await
        .map_err(|source| SourceError::Token {
            resource: resource.to_owned(),
            source,
        })?;
    Ok(GitAuth::Token(token.username, token_value(value)))
}

/// A secret holding a token as JSON (`{"token": ..}`, `Token` or `accessToken`).
#[derive(Deserialize)]
struct TokenJson {
    token: Option<String>,
    #[serde(rename = "Token")]
    upper: Option<String>,
    #[serde(rename = "accessToken")]
    access: Option<String>,
}

/// The token in a secret's value: its JSON key when it is a JSON object with one, else the value itself.
fn token_value(value: String) -> String {
    let from_json = serde_json::from_str::<TokenJson>(&value)
        .ok()
        .and_then(|json| json.token.or(json.upper).or(json.access));
    from_json.unwrap_or(value).trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_read_from_its_json_key_or_is_the_whole_value() {
        assert_eq!(token_value("  ghp_plain \n".into()), "ghp_plain");
        assert_eq!(token_value(r#"{"token": "a"}"#.into()), "a");
        assert_eq!(token_value(r#"{"Token": "b", "accessToken": "c"}"#.into()), "b");
        assert_eq!(token_value(r#"{"accessToken": "c"}"#.into()), "c");
        assert_eq!(token_value(r#"{"other": "d"}"#.into()), r#"{"other": "d"}"#);
    }
}
