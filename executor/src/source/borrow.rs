//! The fast checkout of a repository on this machine: instead of a fetch through `upload-pack`, the checkout
//! borrows the repository's objects through `objects/info/alternates` (what `git clone --shared` does) and
//! checks the commit out with two short git commands. It is on the path from a webhook to the first command.

use std::path::Path;

use super::credentials::GitAuth;
use super::git::{Checkout, fetch_ref, git};
use super::{PreparedSource, SourceError};

/// Checks the revision of the local repository at `git_dir` out into `dest`, borrowing its objects instead of
/// copying them. `Ok(None)` when the revision does not resolve there (the fetch path then reports it).
///
/// Two git processes: `rev-parse` in the source repository resolves the revision to its commit, and
/// `read-tree -u --reset` fills the index and the work tree of a repository laid out by hand at `dest` (what
/// `git init` writes, less its sample hooks), whose HEAD is then the commit, detached: the result of
/// `git checkout --detach`, without the lock files, reflog and ref clean-up a checkout writes (on the
/// benchmark machine each file created costs up to half a millisecond). A full object id (what a webhook's
/// push carries) needs no lookup first, so both processes run at once; the lookup still decides, so an id that
/// is not a commit (a tree) is refused and an annotated tag's id leaves HEAD at its commit.
pub(super) async fn borrow(
    checkout: &Checkout<'_>,
    git_dir: &Path,
) -> Result<Option<PreparedSource>, SourceError> {
    let Checkout {
        url, version, dest, ..
    } = *checkout;
    let none = &GitAuth::None;
    let wanted = version.map(fetch_ref).unwrap_or_else(|| "HEAD".to_owned());
    let commit = format!("{wanted}^{{commit}}");
    let git_dir_arg = git_dir.display().to_string();
    let cwd = git_dir.parent().unwrap_or(git_dir);
    let args = ["--git-dir", &git_dir_arg, "rev-parse", "-q", "--verify", &commit];
    let dot_git = dest.join(".git");
    let objects = git_dir.join("objects");
    let read_tree = |tree: String| async move {
        borrowing_git_dir(&dot_git, &objects)?;
        git(dest, &["read-tree", "-u", "--reset", &tree], url, none).await
    };
    // `git` spawns its process when first polled: in a join, the two run side by side.
    let sha = if version.is_some_and(is_object_id) {
        let (resolved, checked_out) = tokio::join!(git(cwd, &args, url, none), read_tree(commit.clone()));
        let Ok(sha) = resolved else {
            std::fs::remove_dir_all(dest).ok();
            return Ok(None);
        };
        checked_out?;
        sha
    } else {
        let Ok(sha) = git(cwd, &args, url, none).await else {
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
