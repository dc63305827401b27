//! The source of a build in its ECS task, fetched into a directory before the executor starts: a git clone of
//! `source.location` at the build's `sourceVersion` (with a token for private repositories when `source.auth`
//! names a secret), an S3 zip (`bucket/key.zip`) downloaded and unpacked, or nothing (NO_SOURCE).
//!
//! The token never appears in a URL, an argument or a log line: git gets it from a credential helper that reads
//! it from the environment of the git child process only.

use std::path::{Path, PathBuf};

use kiln_core::ports::object_store::ObjectStore;
use kiln_core::ports::secrets::{SecretRef, SecretResolver};
use kiln_executor::source::fetch_ref;
use serde_json::Value;
use tokio::process::Command;

/// Why the source could not be fetched. Messages never contain the token.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error(
        "source type {0:?} cannot be fetched by the runner; use GIT, GITHUB, GITLAB, BITBUCKET, CODECOMMIT, S3 or NO_SOURCE"
    )]
    Unsupported(String),
    #[error(
        "source location {0:?} is not an S3 object; give it as \"bucket/key.zip\" or \"arn:aws:s3:::bucket/key.zip\""
    )]
    BadS3Location(String),
    #[error("S3 source {0:?} does not exist")]
    S3Missing(String),
    #[error("could not download S3 source {location:?}: {message}")]
    S3 { location: String, message: String },
    #[error("S3 source {location:?} is not a zip archive that can be unpacked: {message}")]
    Unzip { location: String, message: String },
    #[error("could not read the repository token from {resource:?} (source.auth): {message}")]
    Token { resource: String, message: String },
    #[error("could not run git: {0} (is git installed in the runner image?)")]
    GitMissing(#[source] std::io::Error),
    #[error("git {step} failed for {url}: {stderr}")]
    Git {
        step: String,
        url: String,
        stderr: String,
    },
    #[error("could not create {path}: {source}")]
    Io { path: String, source: std::io::Error },
}

/// Fetches the record's source into `dest` (created); returns the directory the build runs in.
pub async fn fetch_source(
    record: &Value,
    s3: impl Fn(&str) -> Box<dyn ObjectStore>,
    secrets: &dyn SecretResolver,
    dest: &Path,
) -> Result<PathBuf, FetchError> {
    std::fs::create_dir_all(dest).map_err(|source| FetchError::Io {
        path: dest.display().to_string(),
        source,
    })?;
    let source = &record["source"];
    let kind = source["type"].as_str().unwrap_or("NO_SOURCE");
    let location = source["location"].as_str().unwrap_or_default();
    match kind {
        "NO_SOURCE" => Ok(dest.to_path_buf()),
        "S3" => {
            let (bucket, key) = s3_location(location)?;
            fetch_zip(s3(bucket).as_ref(), location, key, dest).await?;
            Ok(dest.to_path_buf())
        }
        "GIT"
        | "GITHUB"
        | "GITHUB_ENTERPRISE"
        | "GITLAB"
        | "GITLAB_SELF_MANAGED"
        | "BITBUCKET"
        | "CODECOMMIT" => {
            let token = match &source["auth"]["resource"] {
                Value::String(resource) if !resource.is_empty() => Some(token(secrets, resource).await?),
                _ => None,
            };
            let credentials = match token {
                Some(t) => Some(GitAuth::Token(git_username(kind), t)),
                // CodeCommit: this very binary signs each git request with the task role's credentials.
                None if kind == "CODECOMMIT" => Some(GitAuth::CodeCommit(std::env::current_exe().map_err(
                    |source| FetchError::Io {
                        path: "the kiln executable".to_owned(),
                        source,
                    },
                )?)),
                None => None,
            };
            let version = record["sourceVersion"].as_str();
            clone(
                location,
                version,
                super::build::clone_depth(record),
                dest,
                credentials.as_ref(),
            )
            .await?;
            Ok(dest.to_path_buf())
        }
        other => Err(FetchError::Unsupported(other.to_owned())),
    }
}

/// `bucket/key` or `arn:aws:s3:::bucket/key` split into bucket and key.
pub fn s3_location(location: &str) -> Result<(&str, &str), FetchError> {
    let path = location
        .split_once(":::")
        .filter(|(prefix, _)| prefix.starts_with("arn:") && prefix.ends_with(":s3"))
        .map_or(location, |(_, rest)| rest);
    match path.split_once('/') {
        Some((bucket, key)) if !bucket.is_empty() && !key.is_empty() && !key.ends_with('/') => {
            Ok((bucket, key))
        }
        _ => Err(FetchError::BadS3Location(location.to_owned())),
    }
}

async fn fetch_zip(
    store: &dyn ObjectStore,
    location: &str,
    key: &str,
    dest: &Path,
) -> Result<(), FetchError> {
    let archive = dest.with_extension("source.zip");
    let fetched = store.get_file(key, &archive).await.map_err(|e| FetchError::S3 {
        location: location.to_owned(),
        message: e.to_string(),
    })?;
    if fetched.is_none() {
        return Err(FetchError::S3Missing(location.to_owned()));
    }
    let (archive_path, dest_dir) = (archive.clone(), dest.to_path_buf());
    let unpacked = tokio::task::spawn_blocking(move || -> Result<(), String> {
        let file = std::fs::File::open(&archive_path).map_err(|e| e.to_string())?;
        let mut zip = zip::ZipArchive::new(file).map_err(|e| e.to_string())?;
        // `extract` refuses entries that would land outside `dest_dir` (`..`, absolute paths).
        zip.extract(&dest_dir).map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| e.to_string())
    .and_then(|r| r);
    std::fs::remove_file(&archive).ok();
    unpacked.map_err(|message| FetchError::Unzip {
        location: location.to_owned(),
        message,
    })
}

/// The token a `source.auth.resource` names: a Secrets Manager secret (its value, or its `token`/`Token` JSON
/// key) or an SSM parameter ARN.
async fn token(secrets: &dyn SecretResolver, resource: &str) -> Result<String, FetchError> {
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
    let value = secrets.resolve(&reference).await.map_err(|e| FetchError::Token {
        resource: resource.to_owned(),
        message: e.to_string(),
    })?;
    let from_json = serde_json::from_str::<Value>(&value).ok().and_then(|v| {
        ["token", "Token", "accessToken"]
            .iter()
            .find_map(|k| v[*k].as_str().map(str::to_owned))
    });
    Ok(from_json.unwrap_or(value).trim().to_owned())
}

/// The user name each host expects beside a token over HTTPS.
fn git_username(source_type: &str) -> &'static str {
    match source_type {
        "GITLAB" | "GITLAB_SELF_MANAGED" => "oauth2",
        "BITBUCKET" => "x-token-auth",
        _ => "x-access-token",
    }
}

/// Clones `url` at `version` (its default branch when `None`) into `dest`, `depth` commits deep.
async fn clone(
    url: &str,
    version: Option<&str>,
    depth: u32,
    dest: &Path,
    credentials: Option<&GitAuth>,
) -> Result<(), FetchError> {
    git(dest, &["init", "-q"], url, None).await?;
    let wanted = version.map(fetch_ref).unwrap_or_else(|| "HEAD".to_owned());
    let depth_arg = format!("--depth={}", depth.max(1));
    let shallow = git(dest, &["fetch", "-q", &depth_arg, url, &wanted], url, credentials).await;
    if shallow.is_err() {
        // A commit sha the server will not hand out directly: fetch everything and look for it.
        let all = ["fetch", "-q", url, "+refs/*:refs/remotes/origin/*"];
        git(dest, &all, url, credentials).await?;
        git(dest, &["checkout", "-q", "--detach", &wanted], url, None).await?;
    } else {
        git(dest, &["checkout", "-q", "--detach", "FETCH_HEAD"], url, None).await?;
    }
    Ok(())
}

/// How git authenticates to the source host.
#[derive(Debug, Clone)]
enum GitAuth {
    /// A token from Secrets Manager or SSM, with the user name the host expects beside it.
    Token(&'static str, String),
    /// CodeCommit over HTTPS: `kiln git-credential-codecommit` (this executable) signs each request.
    CodeCommit(PathBuf),
}

/// `-c name=value` settings passed to git through its environment (`GIT_CONFIG_COUNT`), never its arguments.
fn git_config_env(settings: &[(String, String)]) -> Vec<(String, String)> {
    let mut env = vec![("GIT_CONFIG_COUNT".to_owned(), settings.len().to_string())];
    for (i, (key, value)) in settings.iter().enumerate() {
        env.push((format!("GIT_CONFIG_KEY_{i}"), key.clone()));
        env.push((format!("GIT_CONFIG_VALUE_{i}"), value.clone()));
    }
    env
}

/// The credential helper: prints the user name and the token from `KILN_GIT_TOKEN` of the git process.
const CREDENTIAL_HELPER: &str =
    "!f() { echo \"username=$KILN_GIT_USERNAME\"; echo \"password=$KILN_GIT_TOKEN\"; }; f";

/// The environment that hands git the token through [`CREDENTIAL_HELPER`] (any other helper is reset).
pub fn credential_env(username: &str, token: &str) -> Vec<(&'static str, String)> {
    vec![
        ("GIT_CONFIG_COUNT", "2".to_owned()),
        ("GIT_CONFIG_KEY_0", "credential.helper".to_owned()),
        ("GIT_CONFIG_VALUE_0", String::new()),
        ("GIT_CONFIG_KEY_1", "credential.helper".to_owned()),
        ("GIT_CONFIG_VALUE_1", CREDENTIAL_HELPER.to_owned()),
        ("KILN_GIT_USERNAME", username.to_owned()),
        ("KILN_GIT_TOKEN", token.to_owned()),
    ]
}

async fn git(
    dir: &Path,
    args: &[&str],
    url: &str,
    credentials: Option<&GitAuth>,
) -> Result<String, FetchError> {
    let mut command = Command::new("git");
    command
        .args(args)
        .current_dir(dir)
        .env("GIT_TERMINAL_PROMPT", "0")
        .kill_on_drop(true);
    match credentials {
        Some(GitAuth::Token(username, token)) => {
            command.envs(credential_env(username, token));
        }
        Some(GitAuth::CodeCommit(kiln)) => {
            command.envs(git_config_env(&kiln_executor::source::codecommit_git_config(
                kiln,
            )));
        }
        None => {}
    }
    let output = command.output().await.map_err(FetchError::GitMissing)?;
    if !output.status.success() {
        return Err(FetchError::Git {
            step: args.first().copied().unwrap_or("").to_owned(),
            url: url.to_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        });
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codecommit_sources_get_kiln_as_their_credential_helper_through_the_environment() {
        let env = git_config_env(&kiln_executor::source::codecommit_git_config(Path::new(
            "/usr/bin/kiln",
        )));
        let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("GIT_CONFIG_COUNT"), Some("3"));
        assert_eq!(get("GIT_CONFIG_KEY_0"), Some("credential.helper"));
        assert_eq!(get("GIT_CONFIG_VALUE_0"), Some(""));
        assert_eq!(
            get("GIT_CONFIG_VALUE_1"),
            Some("!'/usr/bin/kiln' git-credential-codecommit")
        );
        assert_eq!(get("GIT_CONFIG_KEY_2"), Some("credential.UseHttpPath"));
    }

    #[test]
    fn s3_locations_split_into_bucket_and_key_and_bad_ones_are_named() {
        let table: &[(&str, Option<(&str, &str)>)] = &[
            (
                "src-bucket/app/source.zip",
                Some(("src-bucket", "app/source.zip")),
            ),
            (
                "arn:aws:s3:::src-bucket/source.zip",
                Some(("src-bucket", "source.zip")),
            ),
            ("arn:aws-cn:s3:::b/k.zip", Some(("b", "k.zip"))),
            ("just-a-bucket", None),
            ("bucket/", None),
            ("/key.zip", None),
        ];
        for (location, expected) in table {
            match (s3_location(location), expected) {
                (Ok(got), Some(want)) => assert_eq!(got, *want, "{location}"),
                (Err(err), None) => assert!(err.to_string().contains(location), "{err}"),
                (got, want) => panic!("{location}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn the_token_reaches_git_through_its_environment_only() {
        let env = credential_env("x-access-token", "s3cr3t");
        let helper = &env
            .iter()
            .find(|(k, _)| *k == "GIT_CONFIG_VALUE_1")
            .expect("helper")
            .1;
        assert!(
            !helper.contains("s3cr3t"),
            "the helper command names no token: {helper}"
        );
        assert!(env.contains(&("KILN_GIT_TOKEN", "s3cr3t".to_owned())));
        assert_eq!(git_username("GITLAB"), "oauth2");

        // git itself asks the helper, as it would before an HTTPS fetch of a private repository.
        let mut fill = std::process::Command::new("git")
            .args(["credential", "fill"])
            .envs(env)
            .env("GIT_TERMINAL_PROMPT", "0")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("git runs");
        use std::io::Write as _;
        fill.stdin
            .take()
            .expect("stdin")
            .write_all(b"protocol=https\nhost=github.com\npath=org/private.git\n\n")
            .expect("write the request");
        let out = fill.wait_with_output().expect("git answers");
        let answer = String::from_utf8_lossy(&out.stdout);
        assert!(answer.contains("username=x-access-token\n"), "{answer}");
        assert!(answer.contains("password=s3cr3t\n"), "{answer}");
        assert_eq!(git_username("GITHUB"), "x-access-token");
    }
}
