//! The log-sink port: where a build's log stream goes as it is produced (a file locally, S3 and stdout on AWS).

use super::BoxFuture;

/// Why a log sink could not take or keep the log.
#[derive(Debug, thiserror::Error)]
pub enum LogSinkError {
    #[error("log sink i/o error: {0}")]
    Io(#[from] std::io::Error),
    #[error("log sink error: {message}")]
    Backend { message: String, retryable: bool },
}

/// Receives a build's log, already masked, in order, as complete lines (each ending in `\n`).
pub trait LogSink: Send + Sync {
    /// Appends lines to the log. Called often with small batches; implementations buffer as they see fit.
    fn append<'a>(&'a self, lines: &'a [u8]) -> BoxFuture<'a, Result<(), LogSinkError>>;

    /// Flushes everything and closes the log; returns where it can be read (a path or an object location).
    fn finish(&self) -> BoxFuture<'_, Result<String, LogSinkError>>;
}

/// Why a build's log could not be read back.
#[derive(Debug, thiserror::Error)]
pub enum LogReadError {
    #[error("reading the log of {build}: {source}")]
    Io { build: String, source: std::io::Error },
    #[error("reading the log of {build}: {message}")]
    Backend {
        build: String,
        message: String,
        retryable: bool,
    },
}

/// A slice of a build's log and the log's size when it was read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogChunk {
    /// The bytes from the requested offset (empty at or past the end, or when there is no log yet).
    pub bytes: Vec<u8>,
    /// The whole log's size in bytes (0 when there is no log yet).
    pub size: u64,
}

/// Reads a build's log back by byte range (a file locally, the log object in S3 on AWS), so the API and the
/// console page through logs of any size.
pub trait LogReader: Send + Sync {
    /// Up to `max` bytes of build `id`'s log from `offset`; a log that does not exist (yet) reads as empty.
    fn read_at<'a>(
        &'a self,
        id: &'a crate::build::BuildId,
        offset: u64,
        max: u64,
    ) -> BoxFuture<'a, Result<LogChunk, LogReadError>>;
}
