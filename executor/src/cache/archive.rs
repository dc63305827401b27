//! The cache archive format: a tar stream compressed with multi-threaded zstd. Paths under the source directory
//! are stored as `src/<relative path>`, absolute cache paths (such as `/root/.m2`) as `abs/<path>`. Restoring
//! refuses entries that would land outside those two roots (`..`, absolute names, or a symlinked parent that
//! leads elsewhere). (De)compression runs on its own thread, so reading or writing files overlaps with zstd.

use std::collections::HashSet;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::mpsc;

use crate::artifacts::select::{Selected, SelectedKind};

/// The zstd level (zstd's default, as `tar -I zstd` uses).
pub const ZSTD_LEVEL: i32 = 3;

/// What a pack or unpack handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ArchiveStats {
    /// Entries written or restored.
    pub files: usize,
    /// Uncompressed bytes of file content.
    pub bytes: u64,
}

/// Writes `entries` (names from the selection: relative, or absolute starting with `/`) to a new archive at `out`.
pub fn pack(entries: &[Selected], out: &Path) -> std::io::Result<ArchiveStats> {
    let file = File::create(out)?;
    // As `tar | zstd`: this thread reads files and builds the tar stream, a second thread feeds zstd, with a few
    // megabytes of slack between them; zstd compresses on one worker per core.
    let (tx, rx) = mpsc::sync_channel::<Vec<u8>>(8);
    let compressor = std::thread::spawn(move || -> std::io::Result<()> {
        let mut encoder =
            zstd::stream::write::Encoder::new(BufWriter::with_capacity(1 << 20, file), ZSTD_LEVEL)?;
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get() as u32);
        if cores >= 2 {
            encoder.multithread(cores)?;
        }
        for chunk in rx {
            encoder.write_all(&chunk)?;
        }
        encoder.finish()?.flush()
    });
    let written = write_tar(
        entries,
        ChannelWriter {
            tx: Some(tx),
            buf: Vec::with_capacity(CHUNK),
        },
    );
    let compressed = compressor
        .join()
        .unwrap_or_else(|_| Err(std::io::Error::other("zstd compressor thread panicked")));
    let stats = written?;
    compressed?;
    Ok(stats)
}

/// Writes the tar stream of `entries` into `out` and flushes it.
fn write_tar(entries: &[Selected], out: impl Write) -> std::io::Result<ArchiveStats> {
    let mut builder = tar::Builder::new(out);
    builder.follow_symlinks(false);
    builder.mode(tar::HeaderMode::Complete);
    let mut stats = ArchiveStats::default();
    for entry in entries {
        let name = archive_name(&entry.name);
        match &entry.kind {
            SelectedKind::File => {
                let mut file = File::open(&entry.source)?;
                stats.bytes += file.metadata()?.len();
                builder.append_file(&name, &mut file)?;
            }
            SelectedKind::Symlink { .. } => builder.append_path_with_name(&entry.source, &name)?,
        }
        stats.files += 1;
    }
    builder.into_inner()?.flush()?;
    Ok(stats)
}

/// How many bytes the tar thread hands to the compressor at a time.
const CHUNK: usize = 1 << 20;

/// A writer that sends full chunks to the compressor thread; `flush` sends what is left and closes the channel.
struct ChannelWriter {
    tx: Option<mpsc::SyncSender<Vec<u8>>>,
    buf: Vec<u8>,
}

impl ChannelWriter {
    fn send(&mut self) -> std::io::Result<()> {
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK));
        let Some(tx) = &self.tx else {
            return Err(std::io::Error::other("the cache archive was already finished"));
        };
        tx.send(chunk)
            .map_err(|_| std::io::Error::other("the zstd compressor thread stopped"))
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let room = CHUNK - self.buf.len();
        let n = data.len().min(room);
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if !self.buf.is_empty() {
            self.send()?;
        }
        self.tx = None;
        Ok(())
    }
}

fn archive_name(name: &str) -> String {
    match name.strip_prefix('/') {
        Some(abs) => format!("abs/{abs}"),
        None => format!("src/{name}"),
    }
}

/// Unpacks the archive at `archive` into `src_dir` (for `src/` entries) and `/` (for `abs/` entries).
pub fn unpack(archive: &Path, src_dir: &Path) -> std::io::Result<ArchiveStats> {
    let file = File::open(archive)?;
    let (tx, rx) = mpsc::sync_channel::<std::io::Result<Vec<u8>>>(8);
    let decoder_thread = std::thread::spawn(move || decode_into(file, &tx));
    let result = unpack_stream(
        ChannelReader {
            rx,
            chunk: Vec::new(),
            at: 0,
        },
        src_dir,
    );
    let decoded = decoder_thread
        .join()
        .unwrap_or_else(|_| Err(std::io::Error::other("zstd decoder thread panicked")));
    let stats = result?;
    decoded?;
    Ok(stats)
}

fn decode_into(file: File, tx: &mpsc::SyncSender<std::io::Result<Vec<u8>>>) -> std::io::Result<()> {
    let mut decoder = zstd::stream::read::Decoder::with_buffer(BufReader::with_capacity(1 << 20, file))?;
    loop {
        let mut chunk = vec![0u8; 1 << 20];
        let mut filled = 0;
        while filled < chunk.len() {
            match decoder.read(&mut chunk[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let message = e.to_string();
                    let _ = tx.send(Err(e));
                    return Err(std::io::Error::other(message));
                }
            }
        }
        if filled == 0 {
            return Ok(());
        }
        chunk.truncate(filled);
        if tx.send(Ok(chunk)).is_err() {
            return Ok(()); // the reader stopped early; its error is reported
        }
    }
}

/// Reads the decoded chunks the decoder thread sends.
struct ChannelReader {
    rx: mpsc::Receiver<std::io::Result<Vec<u8>>>,
    chunk: Vec<u8>,
    at: usize,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.at >= self.chunk.len() {
            match self.rx.recv() {
                Ok(Ok(chunk)) => (self.chunk, self.at) = (chunk, 0),
                Ok(Err(e)) => return Err(e),
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len() - self.at);
        buf[..n].copy_from_slice(&self.chunk[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

fn unpack_stream(reader: impl Read, src_dir: &Path) -> std::io::Result<ArchiveStats> {
    let mut archive = tar::Archive::new(reader);
    archive.set_preserve_mtime(true);
    archive.set_preserve_permissions(true);
    let src_real = std::fs::canonicalize(src_dir)?;
    let mut checked: HashSet<PathBuf> = HashSet::new();
    let mut stats = ArchiveStats::default();
    for entry in archive.entries()? {
        let mut entry = entry?;
        let name = entry.path()?.into_owned();
        let (root, dest) = destination(&name, &src_real)?;
        let Some(parent) = dest.parent() else { continue };
        if !checked.contains(parent) {
            std::fs::create_dir_all(parent)?;
            if !std::fs::canonicalize(parent)?.starts_with(root) {
                return Err(invalid(&name, "its directory is a symlink that leads elsewhere"));
            }
            checked.insert(parent.to_path_buf());
        }
        if entry.header().entry_type().is_dir() {
            std::fs::create_dir_all(&dest)?;
            continue;
        }
        if std::fs::symlink_metadata(&dest).is_ok_and(|m| m.file_type().is_symlink()) {
            std::fs::remove_file(&dest)?;
        }
        stats.bytes += entry.header().size().unwrap_or(0);
        if entry.header().entry_type().is_file() {
            write_file(&mut entry, &dest)?;
        } else {
            entry.unpack(&dest)?;
        }
        stats.files += 1;
    }
    Ok(stats)
}

/// Writes a regular file's content with large writes, then its mode and modification time.
fn write_file(entry: &mut tar::Entry<'_, impl Read>, dest: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = entry.header().mode()?;
    let mtime = entry.header().mtime()?;
    let file = match File::create(dest) {
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            std::fs::remove_file(dest)?; // a read-only file from an earlier restore
            File::create(dest)?
        }
        other => other?,
    };
    let mut out = BufWriter::with_capacity(256 * 1024, file);
    std::io::copy(entry, &mut out)?;
    let file = out.into_inner().map_err(|e| e.into_error())?;
    file.set_permissions(std::fs::Permissions::from_mode(mode & 0o7777))?;
    file.set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(mtime))?;
    Ok(())
}

/// Where an archive entry goes: `src/..` under the source directory, `abs/..` under `/`.
fn destination<'r>(name: &Path, src_real: &'r Path) -> std::io::Result<(&'r Path, PathBuf)> {
    let mut parts = name.components();
    let root: &Path = match parts.next() {
        Some(Component::Normal(p)) if p == "src" => src_real,
        Some(Component::Normal(p)) if p == "abs" => Path::new("/"),
        _ => return Err(invalid(name, "it is neither under src/ nor abs/")),
    };
    let rest = parts.as_path();
    if rest.as_os_str().is_empty() || !rest.components().all(|c| matches!(c, Component::Normal(_))) {
        return Err(invalid(name, "it contains '..', '.' or an absolute path"));
    }
    Ok((root, root.join(rest)))
}

fn invalid(name: &Path, why: &str) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        format!("refusing cache entry {name:?}: {why}"),
    )
}
