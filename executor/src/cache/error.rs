//! Why restoring or saving the cache went wrong. Nothing here fails a build: the cache module turns each error
//! into the `reason` of a `Failed` or `Corrupt` outcome, which the executor logs.

use kiln_core::ports::object_store::ObjectStoreError;

use crate::artifacts::select::SelectError;

/// Why a cache entry (or the project's index of entries) could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// The object store refused or failed a request.
    #[error(transparent)]
    Store(#[from] ObjectStoreError),
    /// The cache paths are invalid or a directory could not be read.
    #[error(transparent)]
    Select(#[from] SelectError),
    /// Packing the selected files failed.
    #[error("cannot write the cache archive: {0}")]
    Pack(#[source] std::io::Error),
    /// An entry's archive could not be unpacked (files restored before the problem stay).
    #[error("{0}")]
    Unpack(#[source] std::io::Error),
    /// A scratch file or directory could not be created or written.
    #[error("{0}")]
    Scratch(#[source] std::io::Error),
    /// The project's index could not be encoded.
    #[error("{0}")]
    Index(#[source] serde_json::Error),
    /// The blocking task that packs or unpacks the archive panicked or was cancelled.
    #[error("{0}")]
    Task(#[source] tokio::task::JoinError),
}
