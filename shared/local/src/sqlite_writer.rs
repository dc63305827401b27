//! The one writer of a [`SqliteStore`](crate::sqlite::SqliteStore): a thread that owns the process's write
//! connection and runs every write the store makes, so no write runs on an async worker thread and writers in
//! this process never wait for each other inside SQLite.
//!
//! Callers hand it jobs over a bounded channel ([`Writer::submit`]); each job is answered through a oneshot
//! once the transaction that holds it has committed (or with its error), never before. The thread takes one
//! job, then drains what else is already waiting, up to [`BATCH_MAX`], and runs them in one `BEGIN IMMEDIATE`
//! transaction, each in its own `SAVEPOINT`: a job that fails rolls back only its savepoint and gets its own
//! error, the others commit together. One commit (and under `synchronous=FULL` one sync) then serves the
//! whole batch: group commit. Nothing waits for a batch to fill, so a lone write is not delayed.
//!
//! A full channel (the writer far behind, or waiting for another process's lock) is answered at once with
//! [`StoreError::AtCapacity`], which the HTTP edge turns into 503 with `Retry-After`.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};

use rusqlite::Connection;
use tokio::sync::oneshot;

use super::sqlite::backend;
use kiln_core::ports::build_store::StoreError;

/// The most jobs one transaction holds. One commit per batch is what lets intake grow past one commit's cost
/// per delivery; 1 turns group commit off (every job its own transaction).
pub const BATCH_MAX: usize = 64;

/// How many jobs may wait for the writer before new ones are refused with [`StoreError::AtCapacity`]: about a
/// tenth of a second of intake at the speed goal, far more than the server's requests in flight normally hold.
pub const QUEUE_CAPACITY: usize = 1024;

/// What the caller of [`Writer::submit`] waits on: the job's result, sent after its transaction committed.
pub(crate) type Answer<T> = oneshot::Receiver<Result<T, StoreError>>;

/// A job waiting for the writer, with its answer once the batch's fate is known.
trait Job: Send {
    /// Runs the work on `conn`; `false` if it failed (its savepoint is then rolled back).
    fn run(&mut self, conn: &Connection) -> bool;
    /// Answers the caller: its own result if `batch` committed (or if the job itself failed), else the batch's
    /// error.
    fn answer(self: Box<Self>, batch: Result<(), &StoreError>);
}

/// A job over work `F` producing a `T`.
struct Pending<T, F> {
    work: Option<F>,
    result: Option<Result<T, StoreError>>,
    reply: oneshot::Sender<Result<T, StoreError>>,
}

impl<T, F> Job for Pending<T, F>
where
    T: Send,
    F: FnOnce(&Connection) -> Result<T, StoreError> + Send,
{
    fn run(&mut self, conn: &Connection) -> bool {
        let Some(work) = self.work.take() else {
            return false;
        };
        // A panicking job must not take the writer (and every later write of the process) down with it.
        let result = catch_unwind(AssertUnwindSafe(|| work(conn))).unwrap_or_else(|_| {
            Err(StoreError::Backend {
                message: "a write panicked; it was rolled back".into(),
                retryable: false,
            })
        });
        let ok = result.is_ok();
        self.result = Some(result);
        ok
    }

    fn answer(self: Box<Self>, batch: Result<(), &StoreError>) {
        let result = match (self.result, batch) {
            (Some(Err(own)), _) => Err(own),
            (Some(Ok(value)), Ok(())) => Ok(value),
            (Some(Ok(_)) | None, Err(err)) => Err(err.clone()),
            (None, Ok(())) => Err(stopped()),
        };
        // The caller may have gone away (a dropped request); the write stands either way.
        let _ = self.reply.send(result);
    }
}

/// The handle on the writer thread; dropping the last one lets the thread finish what is queued and end.
pub(crate) struct Writer {
    jobs: SyncSender<Box<dyn Job>>,
    /// Committed transactions; read by the tests that check batching.
    #[cfg_attr(not(test), allow(dead_code))]
    commits: Arc<AtomicU64>,
}

impl Writer {
    /// Starts the writer thread over `conn`, with room for `capacity` waiting jobs and up to `batch_max` jobs
    /// per transaction.
    pub(crate) fn start(conn: Connection, capacity: usize, batch_max: usize) -> Result<Writer, StoreError> {
        let (jobs, queue) = std::sync::mpsc::sync_channel(capacity);
        let commits = Arc::new(AtomicU64::new(0));
        let counted = Arc::clone(&commits);
        std::thread::Builder::new()
            .name("kiln-sqlite-writer".into())
            .spawn(move || serve(&conn, &queue, batch_max.max(1), &counted))
            .map_err(|e| StoreError::Backend {
                message: format!("starting the sqlite writer thread: {e}"),
                retryable: false,
            })?;
        Ok(Writer { jobs, commits })
    }

    /// Queues `work`; the answer comes once its transaction has committed. A full queue is
    /// [`StoreError::AtCapacity`] at once.
    pub(crate) fn submit<T, F>(&self, work: F) -> Result<Answer<T>, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job = Box::new(Pending {
            work: Some(work),
            result: None,
            reply,
        });
        match self.jobs.try_send(job) {
            Ok(()) => Ok(answer),
            Err(TrySendError::Full(_)) => Err(StoreError::AtCapacity),
            Err(TrySendError::Disconnected(_)) => Err(stopped()),
        }
    }

    /// How many transactions the writer has committed (tests use it to see batches).
    #[cfg(test)]
    pub(crate) fn commits(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
    }
}

/// The error for a job the writer will never answer.
pub(crate) fn stopped() -> StoreError {
    StoreError::Backend {
        message: "the sqlite writer thread has stopped".into(),
        retryable: false,
    }
}

/// The writer thread: batches until every handle is gone.
fn serve(conn: &Connection, queue: &Receiver<Box<dyn Job>>, batch_max: usize, commits: &AtomicU64) {
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        while batch.len() < batch_max {
            let Ok(job) = queue.try_recv() else { break };
            batch.push(job);
        }
        let outcome = run_batch(conn, &mut batch);
        match &outcome {
            Ok(()) => {
                commits.fetch_add(1, Ordering::Relaxed);
            }
            Err(err) => tracing::warn!(jobs = batch.len(), error = %err, "sqlite write batch failed"),
        }
        for job in batch {
            job.answer(outcome.as_ref().map(|_| ()));
        }
    }
}

/// Runs `batch` in one transaction, each job in its own savepoint, and commits.
fn run_batch(conn: &Connection, batch: &mut [Box<dyn Job>]) -> Result<(), StoreError> {
    conn.execute_batch("BEGIN IMMEDIATE").map_err(backend)?;
    let ran = batch.iter_mut().try_for_each(|job| run_one(conn, job.as_mut()));
    let outcome = ran.and_then(|()| conn.execute_batch("COMMIT").map_err(backend));
    if outcome.is_err()
        && !conn.is_autocommit()
        && let Err(err) = conn.execute_batch("ROLLBACK")
    {
        tracing::error!(error = %err, "rolling back a failed sqlite write batch");
    }
    outcome
}

/// Runs one job in its savepoint, rolling the savepoint back if the job failed.
fn run_one(conn: &Connection, job: &mut dyn Job) -> Result<(), StoreError> {
    conn.execute_batch("SAVEPOINT job").map_err(backend)?;
    let end = if job.run(conn) {
        "RELEASE job"
    } else {
        "ROLLBACK TO job; RELEASE job"
    };
    conn.execute_batch(end).map_err(backend)?;
    // Some errors (disk full, I/O) make SQLite roll back the whole transaction: nothing of the batch is left.
    if conn.is_autocommit() {
        return Err(StoreError::Backend {
            message: "sqlite rolled the write transaction back".into(),
            retryable: true,
        });
    }
    Ok(())
}
