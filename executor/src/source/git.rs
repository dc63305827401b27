//! Git sources: a repository on this machine is checked out by borrowing its objects ([`super::borrow`]);
//! anything else is fetched into a new repository (`init`, a shallow `fetch` of the revision, `checkout`), with
//! a fetch of every ref when the server will not hand out a commit directly. [`git`] is the one helper that
//! runs the `git` CLI for the source, with credentials in the environment of the fetches only.

use std::future::Future;
use std::path::{Path, PathBuf};

use tokio::process::Command;

use super::credentials::GitAuth;
use super::{PreparedSource, SourceError, borrow, create_dir};

/// One checkout to make: `version` of `url` (its default branch when `None`), `depth` commits deep, at `dest`.
pub(super) struct Checkout<'a> {
    pub url: &'a str,
    pub version: Option<&'a str>,
    pub depth: u32,
    pub dest: &'a Path,
}

/// Maps a CodeBuild source version to what `git fetch` takes.
pub(super) fn fetch_ref(version: &str) -> String {
    match version.strip_prefix("pr/") {
        Some(number) if !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit()) => {
            format!("refs/pull/{number}/head")
        }
        _ => version.to_owned(),
    }
}

/// Checks `checkout` out: borrowed when the repository is on this machine and has the revision, else fetched
/// with the credentials `auth` gives (awaited only for a fetch, so a local checkout resolves no token).
pub(super) async fn clone(
    checkout: &Checkout<'_>,
    auth: impl Future<Output = Result<GitAuth, SourceError>>,
) -> Result<PreparedSource, SourceError> {
    if let Some(git_dir) = local_git_dir(checkout.url)
        && let Some(prepared) = borrow::borrow(checkout, &git_dir).await?
    {
        return Ok(prepared);
    }
    fetch(checkout, &auth.await?).await
}

/// Fetches the revision into a new repository at `dest` and checks it out.
pub(super) async fn fetch(checkout: &Checkout<'_>, auth: &GitAuth) -> Result<PreparedSource, SourceError> {
    let Checkout {
        url,
        version,
        depth,
        dest,
    } = *checkout;
    let fetch_url = local_url(url);
    create_dir(dest)?;
    let none = &GitAuth::None;
    git(dest, &["init", "-q"], url, none).await?;
    let wanted = version.map(fetch_ref).unwrap_or_else(|| "HEAD".to_owned());
    let depth_arg = format!("--depth={}", depth.max(1));
    let shallow = git(dest, &["fetch", "-q", &depth_arg, &fetch_url, &wanted], url, auth).await;
    if shallow.is_err() {
        // A commit sha the server will not hand out directly: fetch everything and look for it.
        let all = ["fetch", "-q", &fetch_url, "+refs/*:refs/remotes/origin/*"];
        git(dest, &all, url, auth).await?;
        git(dest, &["checkout", "-q", "--detach", &wanted], url, none).await?;
    } else {
        git(dest, &["checkout", "-q", "--detach", "FETCH_HEAD"], url, none).await?;
    }
    let sha = git(dest, &["rev-parse", "HEAD"], url, none).await?;
    Ok(PreparedSource {
        dir: dest.to_path_buf(),
        repo_url: Some(url.to_owned()),
        resolved_version: Some(sha),
    })
}

/// The git directory of a repository on this machine named by `url` (a path or `file://` URL), if it is one.
fn local_git_dir(url: &str) -> Option<PathBuf> {
    let path = match url.strip_prefix("file://") {
        Some(path) => path,
        None if url.contains("://") || url.starts_with("git@") => return None,
        None => url,
    };
    let path = std::fs::canonicalize(path).ok()?;
    let dot_git = path.join(".git");
    if dot_git.join("objects").is_dir() {
        return Some(dot_git);
    }
    (path.join("objects").is_dir() && path.join("HEAD").is_file()).then_some(path)
}

/// Local paths become `file://` URLs so that `--depth` is honoured.
fn local_url(url: &str) -> String {
    if url.contains("://") || url.starts_with("git@") {
        return url.to_owned();
    }
    match std::fs::canonicalize(url) {
        Ok(path) => format!("file://{}", path.display()),
        Err(_) => url.to_owned(),
    }
}

/// Runs `git args` in `dir` with `auth` in its environment (never its arguments); its trimmed stdout, or the
/// failure naming the first argument and `url` with git's stderr.
pub(super) async fn git(dir: &Path, args: &[&str], url: &str, auth: &GitAuth) -> Result<String, SourceError> {
    let output = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_TERMINAL_PROMPT", "0")
        .envs(auth.env())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(SourceError::GitMissing)?;
    if !output.status.success() {
        return Err(SourceError::Git {
            step: args.first().copied().unwrap_or_default().to_owned(),
            url: url.to_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        });
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}
