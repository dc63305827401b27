//! The local [`LogReader`]: build logs read back by byte range from the directory `kiln serve` and its runners
//! write them to, `<root>/<project>/<uuid>.log`.

use std::io::SeekFrom;
use std::path::{Path, PathBuf};

use tokio::io::{AsyncReadExt, AsyncSeekExt};

use kiln_core::build::BuildId;
use kiln_core::ports::BoxFuture;
use kiln_core::ports::logs::{LogChunk, LogReadError, LogReader};

/// The logs directory of a data dir.
#[derive(Debug, Clone)]
pub struct LogDir {
    root: PathBuf,
}

impl LogDir {
    /// Logs under `root`.
    pub fn new(root: impl Into<PathBuf>) -> LogDir {
        LogDir { root: root.into() }
    }

    /// The directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The log file of build `id`: `<root>/<project>/<uuid>.log`.
    pub fn path(&self, id: &BuildId) -> PathBuf {
        self.root
            .join(id.project().as_str())
            .join(format!("{}.log", id.uuid()))
    }

    async fn read(&self, id: &BuildId, offset: u64, max: u64) -> std::io::Result<LogChunk> {
        let mut file = match tokio::fs::File::open(self.path(id)).await {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(LogChunk::default()),
            Err(e) => return Err(e),
        };
        let size = file.metadata().await?.len();
        let mut bytes = Vec::new();
        if offset < size {
            file.seek(SeekFrom::Start(offset)).await?;
            file.take(max).read_to_end(&mut bytes).await?;
        }
        Ok(LogChunk { bytes, size })
    }
}

impl LogReader for LogDir {
    fn read_at<'a>(
        &'a self,
        id: &'a BuildId,
        offset: u64,
        max: u64,
    ) -> BoxFuture<'a, Result<LogChunk, LogReadError>> {
        Box::pin(async move {
            self.read(id, offset, max)
                .await
                .map_err(|source| LogReadError::Io {
                    build: id.to_string(),
                    source,
                })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_reads_by_range_and_a_missing_log_reads_as_empty() {
        let dir = tempfile::tempdir().expect("temp dir");
        let logs = LogDir::new(dir.path());
        let id = BuildId::parse("web:0b0e7a9c-6c1c-4c3a-9a57-1d2e3f405162").expect("id");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let missing = runtime.block_on(logs.read_at(&id, 0, 10)).expect("read");
        assert_eq!(missing, LogChunk::default());
        std::fs::create_dir_all(dir.path().join("web")).expect("mkdir");
        std::fs::write(logs.path(&id), "one\ntwo\n").expect("write");
        let middle = runtime.block_on(logs.read_at(&id, 4, 3)).expect("read");
        assert_eq!((middle.bytes.as_slice(), middle.size), (&b"two"[..], 8));
        let past = runtime.block_on(logs.read_at(&id, 20, 3)).expect("read");
        assert_eq!((past.bytes.len(), past.size), (0, 8));
    }
}
