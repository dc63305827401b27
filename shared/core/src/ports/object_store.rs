//! The object-store port: where artifacts, cache archives and logs are kept (a directory locally, S3 on AWS).

use std::path::Path;

use super::BoxFuture;

/// Why an object-store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ObjectStoreError {
    #[error("object key {key:?} is not valid: {reason}")]
    InvalidKey { key: String, reason: String },
    #[error("object store i/o error on {key:?}: {source}")]
    Io { key: String, source: std::io::Error },
    #[error("object store error on {key:?}: {message}")]
    Backend {
        key: String,
        message: String,
        retryable: bool,
    },
}

/// What the store says about an object it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    /// The key the object is stored under (`/`-separated, no leading `/`).
    pub key: String,
    /// Size in bytes.
    pub size: u64,
    /// Lowercase hex SHA-256 of the content, when the store knows it.
    pub sha256: Option<String>,
    /// Where a user finds it (`file:///..` locally, `arn:aws:s3:::bucket/key` on AWS).
    pub location: String,
}

/// Stores and fetches whole objects by key. Keys use `/` separators and never contain `..` segments.
pub trait ObjectStore: Send + Sync {
    /// Uploads the file at `path` under `key`, replacing any object already there.
    fn put_file<'a>(
        &'a self,
        key: &'a str,
        path: &'a Path,
    ) -> BoxFuture<'a, Result<ObjectInfo, ObjectStoreError>>;

    /// Downloads the object under `key` into `path`; `Ok(None)` when there is no such object.
    fn get_file<'a>(
        &'a self,
        key: &'a str,
        path: &'a Path,
    ) -> BoxFuture<'a, Result<Option<ObjectInfo>, ObjectStoreError>>;

    /// Describes the object under `key` without fetching it; `Ok(None)` when there is none.
    fn head<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<ObjectInfo>, ObjectStoreError>>;
}
