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
