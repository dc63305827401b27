//! DOWNLOAD_SOURCE: the build's source is a local directory, used in place (CodeBuild copies into a fresh
//! directory; locally we skip the copy for speed, so a build's writes land in the directory it was given), or a
//! git repository (URL, `file://` or local path) cloned at a revision with a depth using the `git` CLI.
//!
//! CodeCommit repositories are fetched with `kiln git-credential-codecommit` as git's credential helper
//! ([`codecommit_git_config`]), which signs each request with the task role's credentials.
//!
//! A repository on this machine (a path or `file://` URL, as `kiln serve` sees for local projects) is not
//! fetched: the checkout borrows its objects through `objects/info/alternates` (what `git clone --shared`
//! does) and checks the commit out: two short git commands instead of a fetch through `upload-pack`.
//!
//! A revision may be a branch, a tag, a commit sha, a full `refs/...` name, or `pr/<n>` (GitHub's pull-request
//! form, fetched as `refs/pull/<n>/head`). The checked-out commit becomes `CODEBUILD_RESOLVED_SOURCE_VERSION`.

use std::path::{Path, PathBuf};

use tokio::process::Command;

/// Where the source comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceSpec {
    /// A directory used in place.
    Dir(PathBuf),
    /// A git repository cloned at `version` (its default branch when `None`), `depth` commits deep, with
    /// `git_config` given to every git command as `-c name=value` (e.g. a credential helper).
    Git {
        url: String,
        version: Option<String>,
        depth: u32,
        git_config: Vec<(String, String)>,
    },
}

/// The git configuration that fetches a CodeCommit repository with `<kiln> git-credential-codecommit` as the
/// only credential helper (the empty value first clears helpers configured elsewhere) and the repository path
/// sent to it (`credential.UseHttpPath`), since the path is part of what is signed.
pub fn codecommit_git_config(kiln: &Path) -> Vec<(String, String)> {
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

/// The arguments of one git command: `-c name=value` for each setting, then `args`.
pub fn git_args(git_config: &[(String, String)], args: &[&str]) -> Vec<String> {
    git_config
        .iter()
        .flat_map(|(name, value)| ["-c".to_owned(), format!("{name}={value}")])
        .chain(args.iter().map(|arg| (*arg).to_owned()))
        .collect()
}

/// The source once downloaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreparedSource {
    /// The source directory (`CODEBUILD_SRC_DIR`).
    pub dir: PathBuf,
    /// The repository URL, for git sources.
    pub repo_url: Option<String>,
    /// The commit checked out, when the source is a git repository.
    pub resolved_version: Option<String>,
}

/// Why the source could not be prepared.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("source directory {path} does not exist or is not a directory")]
    NotADirectory { path: String },
    #[error("could not run git: {0} (is git installed?)")]
    GitMissing(#[source] std::io::Error),
    #[error("git {step} failed for {url}: {stderr}")]
    Git {
        step: String,
        url: String,
        stderr: String,
    },
    #[error("could not create the source directory {path}: {source}")]
    Io { path: String, source: std::io::Error },
}

impl SourceSpec {
    /// Decides what `source` is: a URL (`scheme://`, `git@host:`) or a path given with a `version` is cloned;
    /// a plain directory is used in place.
    pub fn classify(source: &str, version: Option<&str>, depth: u32) -> Self {
        let url_like = source.contains("://") || (source.starts_with("git@") && source.contains(':'));
        if url_like || version.is_some() {
            return SourceSpec::Git {
                url: source.to_owned(),
                version: version.map(str::to_owned),
                depth,
                git_config: Vec::new(),
            };
        }
        SourceSpec::Dir(PathBuf::from(source))
    }
}

/// Maps a CodeBuild source version to what `git fetch` takes.
pub fn fetch_ref(version: &str) -> String {
    match version.strip_prefix("pr/") {
        Some(number) if !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit()) => {
            format!("refs/pull/{number}/head")
        }
        _ => version.to_owned(),
    }
}

/// Downloads the source; git clones go to `dest`.
pub async fn prepare(spec: &SourceSpec, dest: &Path) -> Result<PreparedSource, SourceError> {
    match spec {
        SourceSpec::Dir(dir) => {
            let dir = std::fs::canonicalize(dir)
                .ok()
                .filter(|d| d.is_dir())
                .ok_or_else(|| SourceError::NotADirectory {
                    path: dir.display().to_string(),
                })?;
            let resolved = git(&dir, &["rev-parse", "HEAD"], "").await.ok();
            Ok(PreparedSource {
                dir,
                repo_url: None,
                resolved_version: resolved,
            })
        }
        SourceSpec::Git {
            url,
            version,
            depth,
            git_config,
        } => clone(url, version.as_deref(), *depth, git_config, dest).await,
    }
}

async fn clone(
    url: &str,
    version: Option<&str>,
    depth: u32,
    config: &[(String, String)],
    dest: &Path,
) -> Result<PreparedSource, SourceError> {
    if let Some(git_dir) = local_git_dir(url)
        && let Some(prepared) = borrow(url, &git_dir, version, dest).await?
    {
        return Ok(prepared);
    }
    fetch(url, version, depth, config, dest).await
}

/// Fetches `version` of `url` (`depth` commits deep) into a new repository at `dest` and checks it out.
async fn fetch(
    url: &str,
    version: Option<&str>,
    depth: u32,
    config: &[(String, String)],
    dest: &Path,
) -> Result<PreparedSource, SourceError> {
    let fetch_url = local_url(url);
    std::fs::create_dir_all(dest).map_err(|source| SourceError::Io {
        path: dest.display().to_string(),
        source,
    })?;
    git(dest, &["init", "-q"], url).await?;
    let wanted = version.map(fetch_ref).unwrap_or_else(|| "HEAD".to_owned());
    let depth_arg = format!("--depth={}", depth.max(1));
    let fetch = git_args(config, &["fetch", "-q", &depth_arg, &fetch_url, &wanted]);
    let shallow = git(dest, &fetch, url).await;
    if shallow.is_err() {
        // A commit sha the server will not hand out directly: fetch everything and look for it.
        let fetch_all = git_args(
            config,
            &["fetch", "-q", &fetch_url, "+refs/*:refs/remotes/origin/*"],
        );
        git(dest, &fetch_all, url).await?;
        git(dest, &["checkout", "-q", "--detach", &wanted], url).await?;
    } else {
        git(dest, &["checkout", "-q", "--detach", "FETCH_HEAD"], url).await?;
    }
    let sha = git(dest, &["rev-parse", "HEAD"], url).await?;
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

/// Checks `version` of the local repository at `git_dir` out into `dest`, borrowing its objects instead of
/// copying them. `Ok(None)` when the revision does not resolve there (the fetch path then reports it).
///
/// Two git processes: `rev-parse` in the source repository resolves the revision to its commit, and
/// `read-tree -u --reset` fills the index and the work tree of a repository laid out by hand at `dest` (what
/// `git init` writes, less its sample hooks), whose HEAD is then the commit, detached: the result of
/// `git checkout --detach`, without the lock files, reflog and ref clean-up a checkout writes (on the
/// benchmark machine each file created costs up to half a millisecond). A full object id (what a webhook's
/// push carries) needs no lookup first, so both processes run at once; the lookup still decides, so an id that
/// is not a commit (a tree) is refused and an annotated tag's id leaves HEAD at its commit.
async fn borrow(
    url: &str,
    git_dir: &Path,
    version: Option<&str>,
    dest: &Path,
) -> Result<Option<PreparedSource>, SourceError> {
    let wanted = version.map(fetch_ref).unwrap_or_else(|| "HEAD".to_owned());
    let commit = format!("{wanted}^{{commit}}");
    let git_dir_arg = git_dir.display().to_string();
    let cwd = git_dir.parent().unwrap_or(git_dir);
    let args = ["--git-dir", &git_dir_arg, "rev-parse", "-q", "--verify", &commit];
    let dot_git = dest.join(".git");
    let objects = git_dir.join("objects");
    let read_tree = |tree: String| async move {
        borrowing_git_dir(&dot_git, &objects)?;
        git(dest, &["read-tree", "-u", "--reset", &tree], url).await
    };
    // `git` spawns its process when first polled: in a join, the two run side by side.
    let sha = if version.is_some_and(is_object_id) {
        let (resolved, checked_out) = tokio::join!(git(cwd, &args, url), read_tree(commit.clone()));
        let Ok(sha) = resolved else {
            std::fs::remove_dir_all(dest).ok();
            return Ok(None);
        };
        checked_out?;
        sha
    } else {
        let Ok(sha) = git(cwd, &args, url).await else {
            return Ok(None);
        };
        read_tree(sha.clone()).await?;
        sha
    };
    let head = dest.join(".git/HEAD");
    std::fs::write(&head, format!("{sha}\n")).map_err(|source| SourceError::Io {
        path: head.display().to_string(),
        source,
    })?;
    Ok(Some(PreparedSource {
        dir: dest.to_path_buf(),
        repo_url: Some(url.to_owned()),
        resolved_version: Some(sha),
    }))
}

/// A full SHA-1 or SHA-256 object id.
fn is_object_id(version: &str) -> bool {
    matches!(version.len(), 40 | 64) && version.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Writes an empty repository at `dot_git` whose object database is `objects` (through
/// `objects/info/alternates`): the files `git init` writes, without its templates, and with the reflog off (a
/// build's checkout has no history of its own to keep).
fn borrowing_git_dir(dot_git: &Path, objects: &Path) -> Result<(), SourceError> {
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |source| SourceError::Io { path, source }
    };
    let info = dot_git.join("objects/info");
    std::fs::create_dir_all(&info).map_err(io(&info))?;
    for dir in ["refs/heads", "refs/tags"] {
        let dir = dot_git.join(dir);
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
    }
    // HEAD names an unborn branch until the caller writes the commit: enough for git to take the directory
    // as a repository.
    let files = [
        (dot_git.join("HEAD"), "ref: refs/heads/main\n".to_owned()),
        (
            dot_git.join("config"),
            "[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = false\n\tlogallrefupdates = false\n"
                .to_owned(),
        ),
        (info.join("alternates"), format!("{}\n", objects.display())),
    ];
    for (path, text) in files {
        std::fs::write(&path, text).map_err(io(&path))?;
    }
    Ok(())
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

async fn git<S: AsRef<std::ffi::OsStr>>(dir: &Path, args: &[S], url: &str) -> Result<String, SourceError> {
    let output = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_TERMINAL_PROMPT", "0")
        .kill_on_drop(true)
        .output()
        .await
        .map_err(SourceError::GitMissing)?;
    if !output.status.success() {
        return Err(SourceError::Git {
            step: subcommand(args),
            url: url.to_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        });
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// The git subcommand in `args`, after any `-c name=value` pairs.
fn subcommand<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> String {
    let mut rest = args;
    while let [flag, _, tail @ ..] = rest {
        if flag.as_ref() != "-c" {
            break;
        }
        rest = tail;
    }
    rest.first()
        .map(|arg| arg.as_ref().to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(dir: &Path, script: &str) -> String {
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(script)
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{script}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    fn repo() -> (tempfile::TempDir, String, String) {
        let dir = tempfile::tempdir().unwrap();
        sh(
            dir.path(),
            "git init -q -b main . && echo one >file.txt && git add file.txt \
             && git -c user.name=t -c user.email=t@t commit -q -m one \
             && git tag v1 && git -c user.name=t -c user.email=t@t tag -a annotated -m 'tag object' \
             && echo two >file.txt && git -c user.name=t -c user.email=t@t commit -q -am two \
             && git update-ref refs/pull/7/head HEAD~1",
        );
        let first = sh(dir.path(), "git rev-parse HEAD~1");
        let second = sh(dir.path(), "git rev-parse HEAD");
        (dir, first, second)
    }

    #[tokio::test]
    async fn a_git_source_is_cloned_at_branch_tag_sha_and_pull_request_versions() {
        let (repo, first, second) = repo();
        let url = repo.path().display().to_string();
        let cases = [
            (None, &second),
            (Some("main"), &second),
            (Some("v1"), &first),
            (Some("refs/heads/main"), &second),
            (Some("pr/7"), &first),
            (Some(first.as_str()), &first),
        ];
        for (version, expected) in cases {
            let dest = tempfile::tempdir().unwrap();
            let spec = SourceSpec::classify(&url, version, 1);
            let prepared = prepare(&spec, &dest.path().join("src")).await.unwrap();
            assert_eq!(prepared.resolved_version.as_ref(), Some(expected), "{version:?}");
        }
    }

    #[test]
    fn a_codecommit_fetch_uses_kiln_as_the_only_credential_helper_with_the_http_path() {
        let config = codecommit_git_config(Path::new("/opt/kiln tools/it's/kiln"));
        let url = "https://git-codecommit.eu-west-1.amazonaws.com/v1/repos/web";
        let args = git_args(&config, &["fetch", "-q", "--depth=1", url, "main"]);
        assert_eq!(
            args,
            [
                "-c",
                "credential.helper=",
                "-c",
                r"credential.helper=!'/opt/kiln tools/it'\''s/kiln' git-credential-codecommit",
                "-c",
                "credential.UseHttpPath=true",
                "fetch",
                "-q",
                "--depth=1",
                url,
                "main"
            ]
        );
        assert_eq!(subcommand(&args), "fetch");
        assert_eq!(subcommand(&["rev-parse", "HEAD"]), "rev-parse");
    }

    #[tokio::test]
    async fn the_credential_helper_settings_leave_a_local_clone_working() {
        let (repo, _, second) = repo();
        let dest = tempfile::tempdir().unwrap();
        let spec = SourceSpec::Git {
            url: repo.path().display().to_string(),
            version: Some("main".into()),
            depth: 1,
            git_config: codecommit_git_config(Path::new("/nonexistent/kiln")),
        };
        let prepared = prepare(&spec, &dest.path().join("src")).await.unwrap();
        assert_eq!(prepared.resolved_version, Some(second));
    }

    #[tokio::test]
    async fn a_local_checkout_borrows_the_objects_and_the_fetch_path_gives_the_same_commits() {
        let (repo, first, second) = repo();
        let url = format!("file://{}", repo.path().display());
        let annotated = sh(repo.path(), "git rev-parse annotated");
        let cases = [
            (None, &second),
            (Some("v1"), &first),
            (Some("pr/7"), &first),
            // Full ids take the path that checks out while the id is looked up.
            (Some(first.as_str()), &first),
            (Some(second.as_str()), &second),
            (Some(annotated.as_str()), &first),
        ];
        for (version, expected) in cases {
            let borrowed = tempfile::tempdir().unwrap();
            let dest = borrowed.path().join("src");
            let spec = SourceSpec::classify(&url, version, 1);
            let prepared = prepare(&spec, &dest).await.unwrap();
            assert_eq!(prepared.resolved_version.as_ref(), Some(expected), "{version:?}");
            let alternates = std::fs::read_to_string(dest.join(".git/objects/info/alternates")).unwrap();
            assert!(alternates.trim_end().ends_with("/.git/objects"), "{alternates}");
            assert_eq!(sh(&dest, "git log --format=%H -1"), *expected);
            assert_eq!(
                sh(&dest, "git rev-parse HEAD"),
                *expected,
                "HEAD is the commit, even for a tag's id"
            );
            let content = if expected == &first { "one" } else { "two" };
            assert_eq!(
                std::fs::read_to_string(dest.join("file.txt")).unwrap().trim(),
                content
            );
            // The hand-written repository is one git takes as its own: a clean work tree, a valid HEAD.
            assert_eq!(sh(&dest, "git status --porcelain"), "");
            assert_eq!(
                sh(&dest, "git rev-parse --is-inside-work-tree --is-bare-repository"),
                "true\nfalse"
            );
            // The same revision fetched the slow way (what a remote URL takes).
            let fetched = tempfile::tempdir().unwrap();
            let fetched = fetch(&url, version, 1, &[], &fetched.path().join("src"))
                .await
                .unwrap();
            assert_eq!(fetched.resolved_version.as_ref(), Some(expected), "{version:?}");
        }
    }

    #[tokio::test]
    async fn a_directory_is_used_in_place_and_a_missing_revision_is_a_clear_error() {
        let (repo, _, second) = repo();
        let spec = SourceSpec::classify(&repo.path().display().to_string(), None, 1);
        let prepared = prepare(&spec, Path::new("/nonexistent")).await.unwrap();
        assert_eq!(prepared.dir, std::fs::canonicalize(repo.path()).unwrap());
        assert_eq!(prepared.resolved_version, Some(second));
        let dest = tempfile::tempdir().unwrap();
        let spec = SourceSpec::classify(&repo.path().display().to_string(), Some("no-such-branch"), 1);
        let err = prepare(&spec, &dest.path().join("src"))
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("git"), "{err}");
        // Full ids that name no commit here: missing, or a tree.
        let tree = sh(repo.path(), "git rev-parse HEAD^{tree}");
        for id in ["0123456789abcdef0123456789abcdef01234567", tree.as_str()] {
            let dest = tempfile::tempdir().unwrap();
            let spec = SourceSpec::classify(&format!("file://{}", repo.path().display()), Some(id), 1);
            let err = prepare(&spec, &dest.path().join("src"))
                .await
                .unwrap_err()
                .to_string();
            assert!(err.contains("git"), "{id}: {err}");
        }
    }
}
