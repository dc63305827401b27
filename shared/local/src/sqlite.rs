//! The SQLite build store (WAL mode): build records, idempotency keys, per-project build counters, the
//! dispatch queue and the notice outbox, in one database file; the build operations are in
//! [`sqlite_builds`](crate::sqlite_builds), the queue, projects and outbox beside it.
//!
//! **Threads.** No SQLite call runs on an async worker thread. Every write of this process goes to one writer
//! thread that owns the write connection ([`sqlite_writer`](crate::sqlite_writer): a bounded queue of jobs,
//! each answered after its transaction commits, several jobs per transaction when they queue up); async reads
//! run on tokio's blocking threads with a pooled query-only connection. A full write queue is
//! [`StoreError::AtCapacity`] at once. The `*_sync` methods are for synchronous callers (tests, setup code off
//! the runtime): they run reads on the calling thread and wait for the writer, and a `*_sync` write called
//! from inside an async task panics (tokio's guard against blocking a runtime thread), so no async path can
//! use them by mistake.
//!
//! **Processes.** `kiln serve` and its runners (`kiln runner`, one process per build) share the file: each
//! process opens its own store and writer, and SQLite's lock serialises the writers of all processes
//! (`BEGIN IMMEDIATE`). That is the one place a write waits for another process, so only the writer
//! connection has the long busy timeout ([`WRITE_BUSY_TIMEOUT`], 30 s); WAL readers never wait for writers and
//! get a short one ([`READ_BUSY_TIMEOUT`]) for the moments another process recovers or resets the WAL index.
//! While the server's writer waits for a runner's lock, its queue fills instead of its worker threads
//! blocking.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::Connection;

use crate::sqlite_writer::{BATCH_MAX, QUEUE_CAPACITY, Writer, stopped};
use kiln_core::ports::build_store::StoreError;

/// How long the writer waits for another process (a runner, the server) to release the write lock.
pub const WRITE_BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a reader waits while another connection recovers or resets the WAL index (readers never wait for
/// writers in WAL mode).
pub const READ_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Read connections kept for reuse; more are opened when more reads run at once.
const POOLED_READERS: usize = 8;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS builds (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    project TEXT NOT NULL,
    number INTEGER NOT NULL,
    state TEXT NOT NULL,
    version INTEGER NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS builds_by_project ON builds(project, number);
CREATE TABLE IF NOT EXISTS idempotency (key TEXT PRIMARY KEY, build_ids TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS counters (project TEXT PRIMARY KEY, last INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS queue (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    build_id TEXT NOT NULL UNIQUE,
    project TEXT NOT NULL,
    claimed INTEGER NOT NULL DEFAULT 0,
    task TEXT
);
CREATE TABLE IF NOT EXISTS notices (
    cursor INTEGER PRIMARY KEY AUTOINCREMENT,
    project TEXT NOT NULL,
    event TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS projects (name TEXT PRIMARY KEY, record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS notice_deliveries (
    target TEXT PRIMARY KEY,
    cursor INTEGER NOT NULL
);
";

/// The SQLite-backed store; cheap to share behind an `Arc`. Dropping it lets its writer thread finish the
/// queued writes and end.
pub struct SqliteStore {
    path: PathBuf,
    readers: Arc<Readers>,
    writer: Writer,
}

/// When a commit is on disk: SQLite's `synchronous` setting for the writes (the database is in WAL mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SyncMode {
    /// `synchronous=NORMAL`: a commit survives the process being killed (`kill -9` included); the last commits
    /// before an operating-system crash or power loss may be lost. The default: the WAL is synced at
    /// checkpoints only, which keeps intake fast.
    #[default]
    Normal,
    /// `synchronous=FULL`: every commit is synced to disk before it returns, so an accepted delivery survives a
    /// power loss too. Costs a sync per write (on the benchmark machine: intake about half as fast, the
    /// webhook-to-first-command latency unchanged).
    Full,
}

impl SyncMode {
    /// The setting's name, as `--sqlite-sync` takes it.
    pub fn as_str(self) -> &'static str {
        match self {
            SyncMode::Normal => "normal",
            SyncMode::Full => "full",
        }
    }
}

impl std::str::FromStr for SyncMode {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.to_ascii_lowercase().as_str() {
            "normal" => Ok(SyncMode::Normal),
            "full" => Ok(SyncMode::Full),
            _ => Err(format!("{text:?} is not a sync mode: use normal or full")),
        }
    }
}

/// Turns a SQLite error into the port's error.
pub(crate) fn backend(err: rusqlite::Error) -> StoreError {
    let retryable = matches!(
        err.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    );
    StoreError::Backend {
        message: format!("sqlite: {err}"),
        retryable,
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`, in WAL mode, with the schema in place, and starts its
    /// writer thread.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        SqliteStore::open_with(path, SyncMode::default())
    }

    /// [`SqliteStore::open`] with writes synced as `sync` says.
    pub fn open_with(path: &Path, sync: SyncMode) -> Result<SqliteStore, StoreError> {
        let conn = write_connection(path, sync)?;
        conn.execute_batch(SCHEMA).map_err(backend)?;
        conn.execute_batch(crate::sqlite_sessions::SCHEMA)
            .map_err(backend)?;
        conn.execute_batch(crate::sqlite_keys::SCHEMA).map_err(backend)?;
        Ok(SqliteStore {
            path: path.to_path_buf(),
            readers: Arc::new(Readers {
                path: path.to_path_buf(),
                pool: Mutex::new(Vec::new()),
            }),
            writer: Writer::start(conn, QUEUE_CAPACITY, BATCH_MAX)?,
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs read `f` on a blocking thread with a pooled connection.
    pub(crate) async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let readers = Arc::clone(&self.readers);
        tokio::task::spawn_blocking(move || readers.with_conn(f))
            .await
            .map_err(|e| StoreError::Backend {
                message: format!("a sqlite read did not finish: {e}"),
                retryable: false,
            })?
    }

    /// Runs read `f` on the calling thread (synchronous callers only).
    pub(crate) fn read_blocking<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.readers.with_conn(f)
    }

    /// Hands write `f` to the writer thread and waits, without blocking, until its transaction has committed.
    pub(crate) async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        self.writer.submit(f)?.await.map_err(|_| stopped())?
    }

    /// [`SqliteStore::write`] for synchronous callers: blocks the calling thread until the commit.
    ///
    /// # Panics
    ///
    /// When called from inside an async task (tokio refuses to block a runtime thread).
    pub(crate) fn write_blocking<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        self.writer.submit(f)?.blocking_recv().map_err(|_| stopped())?
    }

    /// How many write transactions this store's writer has committed.
    #[cfg(test)]
    pub(crate) fn commits(&self) -> u64 {
        self.writer.commits()
    }
}

/// The write connection: WAL mode, `synchronous` as `sync` says, the long busy timeout.
pub(crate) fn write_connection(path: &Path, sync: SyncMode) -> Result<Connection, StoreError> {
    let conn = Connection::open(path).map_err(backend)?;
    conn.busy_timeout(WRITE_BUSY_TIMEOUT).map_err(backend)?;
    let synchronous = match sync {
        SyncMode::Normal => "NORMAL",
        SyncMode::Full => "FULL",
    };
    conn.execute_batch(&format!(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous={synchronous};"
    ))
    .map_err(backend)?;
    Ok(conn)
}

/// The read connections: `query_only`, so no write can slip past the writer.
struct Readers {
    path: PathBuf,
    pool: Mutex<Vec<Connection>>,
}

impl Readers {
    fn connect(&self) -> Result<Connection, StoreError> {
        let conn = Connection::open(&self.path).map_err(backend)?;
        conn.busy_timeout(READ_BUSY_TIMEOUT).map_err(backend)?;
        conn.execute_batch("PRAGMA query_only=1;").map_err(backend)?;
        Ok(conn)
    }

    /// Runs `f` with a pooled connection, opening one if none is free.
    fn with_conn<T>(&self, f: impl FnOnce(&Connection) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let pooled = self.pool.lock().ok().and_then(|mut pool| pool.pop());
        let conn = match pooled {
            Some(conn) => conn,
            None => self.connect()?,
        };
        let result = f(&conn);
        if let Ok(mut pool) = self.pool.lock()
            && pool.len() < POOLED_READERS
        {
            pool.push(conn);
        }
        result
    }
}
