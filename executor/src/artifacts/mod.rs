//! Build artifacts: selects the files a buildspec's `artifacts` (or one of its `secondary-artifacts`) names,
//! packages them as one ZIP or as a folder of files (packaging `NONE`), and uploads them through the
//! object-store port. The selection never reads outside the source directory; a selection that matches nothing
//! is an error, as in CodeBuild ("no matching artifact paths found").

pub mod select;
pub mod zip_writer;

use std::path::Path;

use kiln_core::buildspec;
use kiln_core::ports::object_store::{ObjectStore, ObjectStoreError};
use sha2::{Digest, Sha256};

pub use select::{SelectError, Selected, SelectedKind, Selection, SymlinkPolicy};

/// The deflate level used for ZIP packaging: libdeflate's level 7 gives output no larger than `zip -6` (zip's
/// default) at about half its CPU time; level 6 is faster still but about 0.3 % larger on source-like text.
pub const ZIP_LEVEL: u32 = 7;

/// One artifact as the buildspec declares it (the primary one, or a secondary one with its identifier).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ArtifactSpec {
    /// `files`: location patterns (required, non-empty).
    pub files: Vec<String>,
    /// `base-directory`: a directory or a glob over directories whose contents are selected.
    pub base_directory: Option<String>,
    /// `discard-paths`: flatten every selected file to its name.
    pub discard_paths: bool,
    /// `exclude-paths`: patterns relative to the base directory to leave out.
    pub exclude_paths: Vec<String>,
    /// `enable-symlinks`: keep symlinks that point inside the source directory (as links in a ZIP).
    pub enable_symlinks: bool,
    /// `name`, already evaluated by the caller (shell syntax is the executor's business).
    pub name: Option<String>,
    /// The secondary artifact's identifier; `None` for the primary artifact.
    pub identifier: Option<String>,
}

/// How an artifact is packaged (the project's `artifacts.packaging`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Packaging {
    /// One ZIP file.
    Zip,
    /// A folder of files under the artifact's key prefix.
    None,
}

/// What was uploaded, in the shape of CodeBuild's `BuildArtifacts`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ArtifactOutcome {
    /// The secondary artifact identifier, if any.
    pub artifact_identifier: Option<String>,
    /// Where the user finds it (the ZIP object, or the folder for `NONE`).
    pub location: String,
    /// The object key (ZIP) or key prefix ending in `/` (NONE).
    pub key: String,
    /// ZIP or NONE.
    pub packaging: Packaging,
    /// SHA-256 of the ZIP; for NONE, of the manifest (`sha256sum`-style lines, sorted by name).
    pub sha256sum: String,
    /// MD5 of the ZIP (CodeBuild reports it for ZIP only).
    pub md5sum: Option<String>,
    /// Bytes uploaded.
    pub size: u64,
    /// Number of files (and links) in the artifact.
    pub files: usize,
    /// Paths left out and why (CodeBuild logs "Skipping invalid file path ...").
    pub notes: Vec<String>,
}

/// Why an artifact could not be produced; the executor fails UPLOAD_ARTIFACTS with `CLIENT_ERROR`.
#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    #[error("no matching artifact paths found for {patterns:?}{base}; check `files` and `base-directory`", base = base_directory.as_deref().map(|b| format!(" in base-directory {b:?}")).unwrap_or_default())]
    NoMatch {
        patterns: Vec<String>,
        base_directory: Option<String>,
    },
    #[error("artifact `files` is empty; list at least one path such as '**/*'")]
    NoFiles,
    #[error(transparent)]
    Select(#[from] SelectError),
    #[error("cannot package artifact: {0}")]
    Io(#[from] std::io::Error),
    #[error("cannot upload artifact: {0}")]
    Store(#[from] ObjectStoreError),
    #[error("artifact packaging task failed: {0}")]
    Task(String),
}

impl ArtifactSpec {
    /// The artifact's name: `name`, else the identifier, else `artifact`.
    pub fn effective_name(&self) -> &str {
        self.name
            .as_deref()
            .map(|n| n.trim_matches('/'))
            .filter(|n| !n.is_empty())
            .or(self.identifier.as_deref())
            .unwrap_or("artifact")
    }

    /// Selects the files this artifact names under `src_dir`; an empty selection is [`ArtifactError::NoMatch`].
    pub fn select(&self, src_dir: &Path, packaging: Packaging) -> Result<Selection, ArtifactError> {
        if self.files.iter().all(|f| f.trim().is_empty()) {
            return Err(ArtifactError::NoFiles);
        }
        let symlinks = if self.enable_symlinks && packaging == Packaging::Zip {
            SymlinkPolicy::KeepInside
        } else {
            SymlinkPolicy::Skip
        };
        let selection = select::select(
            src_dir,
            &select::SelectOptions {
                files: &self.files,
                base_directory: self.base_directory.as_deref(),
                exclude_paths: &self.exclude_paths,
                discard_paths: self.discard_paths,
                symlinks,
                allow_absolute: false,
            },
        )?;
        if selection.entries.is_empty() {
            return Err(ArtifactError::NoMatch {
                patterns: self.files.clone(),
                base_directory: self.base_directory.clone(),
            });
        }
        Ok(selection)
    }
}

impl From<&buildspec::ArtifactSet> for ArtifactSpec {
    /// The primary artifact's settings; `name` still holds the buildspec's unevaluated text.
    fn from(set: &buildspec::ArtifactSet) -> Self {
        Self {
            files: set.files.clone(),
            base_directory: set.base_directory.clone(),
            discard_paths: set.discard_paths,
            exclude_paths: set.exclude_paths.clone(),
            enable_symlinks: set.enable_symlinks,
            name: set.name.clone(),
            identifier: None,
        }
    }
}

impl From<&buildspec::SecondaryArtifact> for ArtifactSpec {
    fn from(secondary: &buildspec::SecondaryArtifact) -> Self {
        Self {
            identifier: Some(secondary.identifier.clone()),
            ..Self::from(&secondary.artifact)
        }
    }
}

/// The primary artifact, then each secondary artifact in file order (`s3-prefix` is the S3 uploader's concern).
pub fn specs_from(artifacts: &buildspec::Artifacts) -> Vec<ArtifactSpec> {
    std::iter::once(ArtifactSpec::from(&artifacts.primary))
        .chain(artifacts.secondary.iter().map(ArtifactSpec::from))
        .collect()
}

/// The key an artifact is stored under: `<prefix>/<name>.zip` for ZIP, `<prefix>/<name>/` for NONE.
pub fn artifact_key(key_prefix: &str, spec: &ArtifactSpec, packaging: Packaging) -> String {
    let prefix = key_prefix.trim_matches('/');
    let name = spec.effective_name();
    let joined = if prefix.is_empty() {
        name.to_owned()
    } else {
        format!("{prefix}/{name}")
    };
    match packaging {
        Packaging::Zip if joined.ends_with(".zip") => joined,
        Packaging::Zip => format!("{joined}.zip"),
        Packaging::None => format!("{joined}/"),
    }
}

/// Selects, packages and uploads one artifact under `key_prefix` (see [`artifact_key`]).
pub async fn package_and_upload(
    spec: &ArtifactSpec,
    src_dir: &Path,
    packaging: Packaging,
    store: &dyn ObjectStore,
    key_prefix: &str,
) -> Result<ArtifactOutcome, ArtifactError> {
    let key = artifact_key(key_prefix, spec, packaging);
    let (owned_spec, owned_src) = (spec.clone(), src_dir.to_path_buf());
    let selection = blocking(move || owned_spec.select(&owned_src, packaging)).await?;
    match packaging {
        Packaging::Zip => upload_zip(spec, selection, store, key).await,
        Packaging::None => upload_folder(spec, selection, store, key).await,
    }
}

async fn upload_zip(
    spec: &ArtifactSpec,
    selection: Selection,
    store: &dyn ObjectStore,
    key: String,
) -> Result<ArtifactOutcome, ArtifactError> {
    let dir = tempfile::tempdir()?;
    let zip_path = dir.path().join("artifact.zip");
    let (entries, path) = (selection.entries, zip_path.clone());
    let summary = blocking(move || Ok(zip_writer::write_zip(&entries, &path, ZIP_LEVEL)?)).await?;
    let info = store.put_file(&key, &zip_path).await?;
    Ok(ArtifactOutcome {
        artifact_identifier: spec.identifier.clone(),
        location: info.location,
        key,
        packaging: Packaging::Zip,
        sha256sum: summary.sha256,
        md5sum: Some(summary.md5),
        size: summary.size,
        files: summary.entries,
        notes: selection.notes,
    })
}

async fn upload_folder(
    spec: &ArtifactSpec,
    selection: Selection,
    store: &dyn ObjectStore,
    key: String,
) -> Result<ArtifactOutcome, ArtifactError> {
    let mut manifest = String::new();
    let mut size = 0;
    let mut location = None;
    for entry in &selection.entries {
        let object_key = format!("{key}{}", entry.name);
        let info = store.put_file(&object_key, &entry.source).await?;
        let sha = match info.sha256 {
            Some(sha) => sha,
            None => hex::encode(Sha256::digest(std::fs::read(&entry.source)?)),
        };
        manifest.push_str(&format!("{sha}  {}\n", entry.name));
        size += info.size;
        location.get_or_insert_with(|| {
            info.location
                .strip_suffix(entry.name.as_str())
                .unwrap_or(&info.location)
                .to_owned()
        });
    }
    Ok(ArtifactOutcome {
        artifact_identifier: spec.identifier.clone(),
        location: location.unwrap_or_default(),
        key,
        packaging: Packaging::None,
        sha256sum: hex::encode(Sha256::digest(manifest.as_bytes())),
        md5sum: None,
        size,
        files: selection.entries.len(),
        notes: selection.notes,
    })
}

/// Runs blocking work on Tokio's blocking pool.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ArtifactError> + Send + 'static,
) -> Result<T, ArtifactError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ArtifactError::Task(e.to_string()))?
}

#[cfg(test)]
mod tests;
