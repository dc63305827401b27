//! The build cache: a buildspec's `cache.paths` saved as one tar + zstd archive per project and key, through the
//! object-store port, and restored before INSTALL. With a `key`, entries are immutable (a second save under the
//! same key is skipped) and `fallback-keys` are key prefixes tried in order, newest match first, found through a
//! small index object per project (the port has no listing). Without a key there is one entry per project,
//! overwritten by each save. Nothing here fails a build: every problem becomes an outcome the caller logs.
//!
//! Object layout: `<prefix>/<project>/keys/<encoded key>.tar.zst`, `<prefix>/<project>/default.tar.zst` and
//! `<prefix>/<project>/index.json`.

pub mod archive;
mod error;

use std::path::Path;

use kiln_core::buildspec;
use kiln_core::ports::object_store::ObjectStore;
use serde::{Deserialize, Serialize};

use crate::artifacts::select::{self, SelectOptions, SymlinkPolicy};

pub use self::error::CacheError;

/// Which directions of the cache a build uses (`cache.action`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CacheAction {
    /// Download only.
    Restore,
    /// Upload only.
    Save,
    /// Both (the default when `action` is absent).
    #[default]
    Both,
}

/// The buildspec's `cache` section, with `key` and `fallback-keys` already evaluated by the caller.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CacheSpec {
    /// `paths`: patterns relative to the source directory, or absolute (`/root/.m2/**/*`).
    pub paths: Vec<String>,
    /// `key`: names an immutable entry.
    pub key: Option<String>,
    /// `fallback-keys`: key prefixes tried in order when `key` misses.
    pub fallback_keys: Vec<String>,
    /// `action`.
    pub action: CacheAction,
}

impl From<&buildspec::Cache> for CacheSpec {
    /// The buildspec's cache; `key` and `fallback-keys` still hold unevaluated shell text.
    fn from(cache: &buildspec::Cache) -> Self {
        Self {
            paths: cache.paths.clone(),
            key: cache.key.clone(),
            fallback_keys: cache.fallback_keys.clone(),
            action: match cache.action {
                None => CacheAction::Both,
                Some(buildspec::CacheAction::Restore) => CacheAction::Restore,
                Some(buildspec::CacheAction::Save) => CacheAction::Save,
            },
        }
    }
}

/// What restoring the cache did; the executor logs it and carries on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "camelCase")]
pub enum CacheRestoreOutcome {
    /// Restoring was not asked for (`action: save`, or no paths).
    Skipped { reason: String },
    /// No entry under the key, the fallback prefixes or the project default.
    Missed { tried: Vec<String> },
    /// An entry was unpacked.
    Restored { key: String, bytes: u64, files: usize },
    /// The entry could not be unpacked; files restored before the problem stay.
    Corrupt { key: String, reason: String },
    /// The store could not be read.
    Failed { reason: String },
}

/// What saving the cache did; the executor logs it and carries on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "camelCase")]
pub enum CacheSaveOutcome {
    /// Saving was not asked for (`action: restore`, or no paths).
    Skipped { reason: String },
    /// The paths matched no file.
    NothingToSave,
    /// An entry under this key exists already; keyed entries are immutable.
    AlreadyExists { key: String },
    /// The archive was uploaded.
    Saved {
        key: String,
        bytes: u64,
        files: usize,
        archive_bytes: u64,
    },
    /// Packing or uploading failed.
    Failed { reason: String },
}

/// Where one project's cache entries live in the object store.
#[derive(Debug, Clone)]
pub struct CacheLocation {
    prefix: String,
}

impl CacheLocation {
    /// The cache of `project` under `root_prefix` (e.g. `cache`).
    pub fn new(root_prefix: &str, project: &str) -> Self {
        let root = root_prefix.trim_matches('/');
        let project = encode(project);
        let prefix = if root.is_empty() {
            project
        } else {
            format!("{root}/{project}")
        };
        Self { prefix }
    }

    fn entry_key(&self, key: Option<&str>) -> String {
        match key {
            Some(key) => format!("{}/keys/{}.tar.zst", self.prefix, encode(key)),
            None => format!("{}/default.tar.zst", self.prefix),
        }
    }

    fn index_key(&self) -> String {
        format!("{}/index.json", self.prefix)
    }
}

/// One saved keyed entry, as recorded in the project's index.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
struct IndexEntry {
    key: String,
    saved_unix_ms: u128,
}

/// Restores the cache into `src_dir` (and absolute paths) from `store`.
pub async fn restore(
    spec: &CacheSpec,
    location: &CacheLocation,
    src_dir: &Path,
    store: &dyn ObjectStore,
) -> CacheRestoreOutcome {
    if spec.action == CacheAction::Save {
        return CacheRestoreOutcome::Skipped {
            reason: "cache action is save".into(),
        };
    }
    let mut tried = Vec::new();
    let found = match find_entry(spec, location, store, &mut tried).await {
        Ok(Some(key)) => key,
        Ok(None) => return CacheRestoreOutcome::Missed { tried },
        Err(error) => {
            return CacheRestoreOutcome::Failed {
                reason: error.to_string(),
            };
        }
    };
    let label = found.clone().unwrap_or_else(|| "(project default)".into());
    let object = location.entry_key(found.as_deref());
    match fetch_and_unpack(&object, src_dir, store).await {
        Ok(Some(stats)) => CacheRestoreOutcome::Restored {
            key: label,
            bytes: stats.bytes,
            files: stats.files,
        },
        Ok(None) => CacheRestoreOutcome::Missed { tried },
        Err(error @ CacheError::Unpack(_)) => CacheRestoreOutcome::Corrupt {
            key: label,
            reason: error.to_string(),
        },
        Err(error) => CacheRestoreOutcome::Failed {
            reason: error.to_string(),
        },
    }
}

/// The key whose entry exists (`Some(None)` is the unkeyed project entry), trying key, fallbacks, default.
async fn find_entry(
    spec: &CacheSpec,
    location: &CacheLocation,
    store: &dyn ObjectStore,
    tried: &mut Vec<String>,
) -> Result<Option<Option<String>>, CacheError> {
    let Some(key) = spec.key.as_deref() else {
        tried.push("(project default)".into());
        let head = store.head(&location.entry_key(None)).await;
        return Ok(head?.map(|_| None));
    };
    tried.push(key.to_owned());
    if store.head(&location.entry_key(Some(key))).await?.is_some() {
        return Ok(Some(Some(key.to_owned())));
    }
    if spec.fallback_keys.is_empty() {
        return Ok(None);
    }
    let index = read_index(location, store).await;
    for prefix in &spec.fallback_keys {
        tried.push(format!("{prefix}*"));
        let newest = index
            .iter()
            .filter(|e| e.key.starts_with(prefix.as_str()))
            .max_by_key(|e| e.saved_unix_ms);
        if let Some(entry) = newest {
            return Ok(Some(Some(entry.key.clone())));
        }
    }
    Ok(None)
}

async fn fetch_and_unpack(
    object: &str,
    src_dir: &Path,
    store: &dyn ObjectStore,
) -> Result<Option<archive::ArchiveStats>, CacheError> {
    let tmp = tempfile::tempdir().map_err(CacheError::Scratch)?;
    let path = tmp.path().join("cache.tar.zst");
    if store.get_file(object, &path).await?.is_none() {
        return Ok(None);
    }
    let src = src_dir.to_path_buf();
    let unpacked = tokio::task::spawn_blocking(move || archive::unpack(&path, &src))
        .await
        .map_err(CacheError::Task)?;
    unpacked.map(Some).map_err(CacheError::Unpack)
}

/// Saves the cache paths of `src_dir` to `store`.
pub async fn save(
    spec: &CacheSpec,
    location: &CacheLocation,
    src_dir: &Path,
    store: &dyn ObjectStore,
) -> CacheSaveOutcome {
    if spec.action == CacheAction::Restore {
        return CacheSaveOutcome::Skipped {
            reason: "cache action is restore".into(),
        };
    }
    if spec.paths.is_empty() {
        return CacheSaveOutcome::Skipped {
            reason: "cache has no paths".into(),
        };
    }
    let object = location.entry_key(spec.key.as_deref());
    let label = spec.key.clone().unwrap_or_else(|| "(project default)".into());
    if spec.key.is_some() {
        match store.head(&object).await {
            Ok(Some(_)) => return CacheSaveOutcome::AlreadyExists { key: label },
            Ok(None) => {}
            Err(e) => {
                return CacheSaveOutcome::Failed {
                    reason: e.to_string(),
                };
            }
        }
    }
    match pack_and_upload(spec, src_dir, store, &object).await {
        Ok(None) => CacheSaveOutcome::NothingToSave,
        Ok(Some((stats, archive_bytes))) => {
            if let Some(key) = &spec.key
                && let Err(error) = add_to_index(location, store, key).await
            {
                return CacheSaveOutcome::Failed {
                    reason: error.to_string(),
                };
            }
            CacheSaveOutcome::Saved {
                key: label,
                bytes: stats.bytes,
                files: stats.files,
                archive_bytes,
            }
        }
        Err(error) => CacheSaveOutcome::Failed {
            reason: error.to_string(),
        },
    }
}

async fn pack_and_upload(
    spec: &CacheSpec,
    src_dir: &Path,
    store: &dyn ObjectStore,
    object: &str,
) -> Result<Option<(archive::ArchiveStats, u64)>, CacheError> {
    let tmp = tempfile::tempdir().map_err(CacheError::Scratch)?;
    let path = tmp.path().join("cache.tar.zst");
    let (paths, src, out) = (spec.paths.clone(), src_dir.to_path_buf(), path.clone());
    let packed = tokio::task::spawn_blocking(move || pack_paths(&paths, &src, &out))
        .await
        .map_err(CacheError::Task)??;
    let Some(stats) = packed else { return Ok(None) };
    let info = store.put_file(object, &path).await?;
    Ok(Some((stats, info.size)))
}

/// Selects the cache paths and packs them; `None` when nothing matched.
pub fn pack_paths(
    paths: &[String],
    src_dir: &Path,
    out: &Path,
) -> Result<Option<archive::ArchiveStats>, CacheError> {
    let selection = select::select(
        src_dir,
        &SelectOptions {
            files: paths,
            base_directory: None,
            exclude_paths: &[],
            discard_paths: false,
            symlinks: SymlinkPolicy::KeepAll,
            allow_absolute: true,
        },
    )?;
    if selection.entries.is_empty() {
        return Ok(None);
    }
    archive::pack(&selection.entries, out)
        .map(Some)
        .map_err(CacheError::Pack)
}

async fn read_index(location: &CacheLocation, store: &dyn ObjectStore) -> Vec<IndexEntry> {
    let Ok(tmp) = tempfile::tempdir() else {
        return Vec::new();
    };
    let path = tmp.path().join("index.json");
    match store.get_file(&location.index_key(), &path).await {
        Ok(Some(_)) => std::fs::read(&path)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default(),
        Ok(None) | Err(_) => Vec::new(),
    }
}

/// Records `key` in the project index (read, append, write: concurrent saves may drop an index line, which
/// only costs a fallback hit; the entry itself is intact).
async fn add_to_index(
    location: &CacheLocation,
    store: &dyn ObjectStore,
    key: &str,
) -> Result<(), CacheError> {
    let mut index = read_index(location, store).await;
    let saved_unix_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    index.retain(|e| e.key != key);
    index.push(IndexEntry {
        key: key.to_owned(),
        saved_unix_ms,
    });
    let tmp = tempfile::tempdir().map_err(CacheError::Scratch)?;
    let path = tmp.path().join("index.json");
    let json = serde_json::to_vec(&index).map_err(CacheError::Index)?;
    std::fs::write(&path, json).map_err(CacheError::Scratch)?;
    store.put_file(&location.index_key(), &path).await?;
    Ok(())
}

/// Percent-encodes everything but `[A-Za-z0-9._-]` so any key is one safe object-key segment.
fn encode(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for b in key.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-') || (b == b'.' && !out.is_empty()) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    if out.is_empty() { "%".to_owned() } else { out }
}

#[cfg(test)]
mod tests;
