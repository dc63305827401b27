//! DOWNLOAD_SOURCE's fetch: the one path by which every build gets its source, in `kiln run`, in `kiln runner`
//! under `kiln serve` and in the runner's ECS task. A source is a directory used in place (CodeBuild copies into
//! a fresh directory; locally we skip the copy for speed, so a build's writes land in the directory it was
//! given), a git repository cloned at a revision with a depth using the `git` CLI ([`git`]), an S3 zip
//! downloaded and unpacked ([`s3`]), or nothing (NO_SOURCE: an empty directory).
//!
//! It lives in the executor, not in the runner, because the executor runs it inside the DOWNLOAD_SOURCE phase:
//! the fetch counts in that phase's timing, ends with the build timeout and stops on a stop request, the same
//! for every caller; and what it reaches beyond `git` is two core ports (an [`ObjectStore`] per bucket for S3
//! zips, a [`SecretResolver`] for repository tokens), so it needs no AWS SDK. Callers choose what it may reach
//! by the [`SourceFetcher`] they pass in [`crate::Ports`].
//!
//! A repository on this machine (a path or `file://` URL, as `kiln serve` sees for local projects) is not
//! fetched: the checkout borrows its objects ([`borrow`]). Credentials reach git through its environment only
//! ([`credentials`]): a token never appears in a URL, an argument or a log line.
//!
//! A revision may be a branch, a tag, a commit sha, a full `refs/...` name, or `pr/<n>` (GitHub's pull-request
//! form, fetched as `refs/pull/<n>/head`). The checked-out commit becomes `CODEBUILD_RESOLVED_SOURCE_VERSION`.

mod borrow;
mod credentials;
mod git;
mod s3;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use kiln_core::ports::object_store::{ObjectStore, ObjectStoreError};
use kiln_core::ports::secrets::{SecretError, SecretResolver};

pub use credentials::{GitCredentials, TokenRef};

/// Where the source comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceSpec {
    /// A directory used in place.
    Dir(PathBuf),
    /// A git repository cloned at `version` (its default branch when `None`), `depth` commits deep.
    Git {
        url: String,
        version: Option<String>,
        depth: u32,
        credentials: GitCredentials,
    },
    /// A zip archive in S3 (`bucket/key.zip` or `arn:aws:s3:::bucket/key.zip`), unpacked.
    S3 { location: String },
    /// No source (NO_SOURCE): an empty directory.
    Empty,
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
                credentials: GitCredentials::default(),
            };
        }
        SourceSpec::Dir(PathBuf::from(source))
    }

    /// The version asked for (`CODEBUILD_SOURCE_VERSION`): a git source's revision.
    pub fn version(&self) -> Option<&str> {
        match self {
            SourceSpec::Git { version, .. } => version.as_deref(),
            SourceSpec::Dir(_) | SourceSpec::S3 { .. } | SourceSpec::Empty => None,
        }
    }
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

/// Why the source could not be fetched. Messages never contain a token.
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
    #[error("could not create {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("could not read the repository token from {resource:?} (source.auth): {source}")]
    Token {
        resource: String,
        #[source]
        source: SecretError,
    },
    #[error(
        "CodeCommit repository {url} is fetched with kiln as git's credential helper, and this build was given none; \
         run it with `kiln runner`"
    )]
    NoCredentialHelper { url: String },
    #[error(
        "source location {0:?} is not an S3 object; give it as \"bucket/key.zip\" or \"arn:aws:s3:::bucket/key.zip\""
    )]
    BadS3Location(String),
    #[error("S3 source {0:?} cannot be fetched here: this runner has no object store for source buckets")]
    NoObjectStore(String),
    #[error("S3 source {0:?} does not exist")]
    S3Missing(String),
    #[error("could not download S3 source {location:?}: {source}")]
    S3 {
        location: String,
        #[source]
        source: ObjectStoreError,
    },
    #[error("S3 source {location:?} is not a zip archive that can be unpacked: {source}")]
    Unzip {
        location: String,
        #[source]
        source: zip::result::ZipError,
    },
    #[error("unpacking S3 source {location:?} did not finish: {source}")]
    Unpacker {
        location: String,
        #[source]
        source: tokio::task::JoinError,
    },
}

/// The object store holding a bucket's objects, for S3 sources.
pub type Buckets = Arc<dyn Fn(&str) -> Arc<dyn ObjectStore> + Send + Sync>;

/// What a fetch may reach beyond `git` and the file system: the default reaches nothing else (`kiln run`).
///
/// A git source that names a token (`source.auth`) gets it from `tokens`; without a resolver, git uses this
/// machine's own credentials (a developer's `kiln serve`). CodeCommit sources need `codecommit_helper`, the
/// `kiln` executable that git runs as its credential helper. S3 sources need `buckets`.
#[derive(Clone, Default)]
pub struct SourceFetcher {
    buckets: Option<Buckets>,
    tokens: Option<Arc<dyn SecretResolver>>,
    codecommit_helper: Option<PathBuf>,
}

impl SourceFetcher {
    /// Reads S3 sources through `buckets`.
    pub fn with_buckets(mut self, buckets: Buckets) -> Self {
        self.buckets = Some(buckets);
        self
    }

    /// Resolves repository tokens (`source.auth.resource`) through `tokens`.
    pub fn with_tokens(mut self, tokens: Arc<dyn SecretResolver>) -> Self {
        self.tokens = Some(tokens);
        self
    }

    /// Fetches CodeCommit repositories with `kiln` (`kiln git-credential-codecommit`) as git's credential helper.
    pub fn with_codecommit_helper(mut self, kiln: PathBuf) -> Self {
        self.codecommit_helper = Some(kiln);
        self
    }

    /// Fetches `spec`; clones, downloads and empty sources go to `dest`.
    pub async fn fetch(&self, spec: &SourceSpec, dest: &Path) -> Result<PreparedSource, SourceError> {
        match spec {
            SourceSpec::Dir(dir) => in_place(dir).await,
            SourceSpec::Git {
                url,
                version,
                depth,
                credentials,
            } => {
                let checkout = git::Checkout {
                    url,
                    version: version.as_deref(),
                    depth: *depth,
                    dest,
                };
                git::clone(&checkout, self.git_auth(url, credentials)).await
            }
            SourceSpec::S3 { location } => {
                let buckets = self
                    .buckets
                    .as_ref()
                    .ok_or_else(|| SourceError::NoObjectStore(location.clone()))?;
                s3::fetch(buckets, location, dest).await?;
                Ok(empty_source(dest))
            }
            SourceSpec::Empty => {
                create_dir(dest)?;
                Ok(empty_source(dest))
            }
        }
    }

    /// How git authenticates for `credentials`: the token when there is a resolver for it, else this
    /// executable for CodeCommit, else git's own configuration.
    async fn git_auth(
        &self,
        url: &str,
        credentials: &GitCredentials,
    ) -> Result<credentials::GitAuth, SourceError> {
        if let (Some(token), Some(tokens)) = (&credentials.token, &self.tokens) {
            return credentials::resolve_token(tokens.as_ref(), token).await;
        }
        if !credentials.codecommit {
            return Ok(credentials::GitAuth::None);
        }
        match &self.codecommit_helper {
            Some(kiln) => Ok(credentials::GitAuth::CodeCommit(kiln.clone())),
            None => Err(SourceError::NoCredentialHelper { url: url.to_owned() }),
        }
    }
}

/// A directory used in place; its commit is resolved when it is a git work tree.
async fn in_place(dir: &Path) -> Result<PreparedSource, SourceError> {
    let dir = std::fs::canonicalize(dir)
        .ok()
        .filter(|d| d.is_dir())
        .ok_or_else(|| SourceError::NotADirectory {
            path: dir.display().to_string(),
        })?;
    let resolved = git::git(&dir, &["rev-parse", "HEAD"], "", &credentials::GitAuth::None)
        .await
        .ok();
    Ok(PreparedSource {
        dir,
        repo_url: None,
        resolved_version: resolved,
    })
}

fn empty_source(dest: &Path) -> PreparedSource {
    PreparedSource {
        dir: dest.to_path_buf(),
        repo_url: None,
        resolved_version: None,
    }
}

fn create_dir(dir: &Path) -> Result<(), SourceError> {
    std::fs::create_dir_all(dir).map_err(|source| SourceError::Io {
        path: dir.display().to_string(),
        source,
    })
}
