//! The local [`LogSink`]: a build's log appended to a file on disk through a buffered writer, flushed after each
//! appended batch so the file can be followed live.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use kiln_core::ports::BoxFuture;
use kiln_core::ports::logs::{LogSink, LogSinkError};

/// Appends the log to one file; `finish` returns the file's path.
#[derive(Debug)]
pub struct FileLogSink {
    path: PathBuf,
    writer: Mutex<Option<BufWriter<File>>>,
}

impl FileLogSink {
    /// Creates (or truncates) the log file at `path`, creating its parent directories.
    pub fn create(path: impl AsRef<Path>) -> Result<Self, LogSinkError> {
        let path = path.as_ref().to_path_buf();
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let file = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .open(&path)?;
        Ok(Self {
            path,
            writer: Mutex::new(Some(BufWriter::with_capacity(256 * 1024, file))),
        })
    }

    /// Where the log is written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn with_writer<T>(
        &self,
        f: impl FnOnce(&mut BufWriter<File>) -> std::io::Result<T>,
    ) -> Result<T, LogSinkError> {
        let mut guard = self.writer.lock().map_err(|_| LogSinkError::Backend {
            message: "log file writer poisoned by an earlier panic".into(),
            retryable: false,
        })?;
        let writer = guard.as_mut().ok_or_else(|| LogSinkError::Backend {
            message: format!("log file {} is already finished", self.path.display()),
            retryable: false,
        })?;
        Ok(f(writer)?)
    }
}

impl LogSink for FileLogSink {
    fn append<'a>(&'a self, lines: &'a [u8]) -> BoxFuture<'a, Result<(), LogSinkError>> {
        // Each append is a batch from the log pipeline (every 200 ms at most); flushing it makes the file a
        // live tail that readers (`kiln logs -f`, the console) see within the batch interval.
        Box::pin(async move {
            self.with_writer(|w| {
                w.write_all(lines)?;
                w.flush()
            })
        })
    }

    fn finish(&self) -> BoxFuture<'_, Result<String, LogSinkError>> {
        Box::pin(async move {
            self.with_writer(|w| w.flush())?;
            if let Ok(mut guard) = self.writer.lock() {
                guard.take();
            }
            Ok(self.path.display().to_string())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        // The sink's futures never pend, so one poll finishes them.
        let mut f = std::pin::pin!(f);
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        match f.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(v) => v,
            std::task::Poll::Pending => panic!("file sink future pended"),
        }
    }

    #[test]
    fn appended_lines_are_in_the_file_after_finish() {
        let dir = tempfile::tempdir().unwrap();
        let sink = FileLogSink::create(dir.path().join("logs/build.log")).unwrap();
        block_on(sink.append(b"one\n")).unwrap();
        block_on(sink.append(b"two\n")).unwrap();
        let location = block_on(sink.finish()).unwrap();
        assert_eq!(std::fs::read_to_string(&location).unwrap(), "one\ntwo\n");
        assert!(block_on(sink.append(b"late\n")).is_err());
    }
}
