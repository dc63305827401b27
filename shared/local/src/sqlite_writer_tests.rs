//! Tests of the writer thread: answers after commit, batches whose failing job rolls back alone, a full queue,
//! and async callers that keep their runtime thread while a write waits for another connection's lock.

use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rusqlite::Connection;

use super::sqlite::SqliteStore;
use super::sqlite_writer::Writer;
use kiln_core::build::{AccountContext, Build, BuildId, Timestamp};
use kiln_core::ports::build_store::{BuildStore, StoreError};

fn build(n: usize) -> Build {
    let id = BuildId::parse(&format!("web:00000000-0000-4000-8000-{n:012}")).unwrap();
    Build::new(
        id,
        0,
        &AccountContext::local(),
        Timestamp::from_epoch_millis(1_700_000_000_000),
    )
}

/// A writer over a fresh database with table `t(x INTEGER PRIMARY KEY)`, and a connection of its own to look.
fn writer(capacity: usize) -> (tempfile::TempDir, Writer, Connection) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.db");
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch("PRAGMA journal_mode=WAL; CREATE TABLE t (x INTEGER PRIMARY KEY);")
        .unwrap();
    let writer = Writer::start(conn, capacity, 64).unwrap();
    (dir, writer, Connection::open(&path).unwrap())
}

/// Occupies the writer with a job that waits for the returned gate to be dropped; returns once it runs.
fn occupy(writer: &Writer) -> mpsc::Sender<()> {
    let (started, running) = mpsc::channel();
    let (gate, wait) = mpsc::channel::<()>();
    drop(writer.submit(move |_| {
        started.send(()).ok();
        wait.recv().ok();
        Ok(())
    }));
    running.recv().unwrap();
    gate
}

fn insert(x: i64) -> impl FnOnce(&Connection) -> Result<i64, StoreError> + Send + 'static {
    move |conn| {
        conn.execute("INSERT INTO t (x) VALUES (?1)", [x])
            .map_err(super::sqlite::backend)?;
        Ok(x)
    }
}

fn rows(conn: &Connection) -> Vec<i64> {
    let mut stmt = conn.prepare("SELECT x FROM t ORDER BY x").unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn every_write_is_answered_only_after_its_commit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kiln.db");
    let store = Arc::new(SqliteStore::open(&path).unwrap());
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let (store, path) = (Arc::clone(&store), path.clone());
            std::thread::spawn(move || {
                let look = Connection::open(&path).unwrap();
                for n in 0..25 {
                    let created = store.create_sync(None, vec![build(t * 100 + n)]).unwrap();
                    let id = created.builds[0].id().as_str().to_owned();
                    // Another connection sees only committed data: the answer came after the commit.
                    let seen: i64 = look
                        .query_row("SELECT count(*) FROM builds WHERE id = ?1", [&id], |r| r.get(0))
                        .unwrap();
                    assert_eq!(seen, 1, "build {id} answered before it was committed");
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    assert!(store.commits() <= 200, "at most one commit per write");
}

#[test]
fn a_failing_job_rolls_back_alone_and_the_rest_of_its_batch_commits_once() {
    let (_dir, writer, look) = writer(16);
    let gate = occupy(&writer);
    let first = writer.submit(insert(1)).unwrap();
    let failing = writer
        .submit(|conn| {
            insert(2)(conn)?;
            Err::<i64, _>(StoreError::NotFound("job two".into()))
        })
        .unwrap();
    let panicking = writer
        .submit(|conn| -> Result<i64, StoreError> {
            insert(3)(conn)?;
            panic!("a bug in a job")
        })
        .unwrap();
    let last = writer.submit(insert(4)).unwrap();
    let before = writer.commits();
    drop(gate);
    assert_eq!(first.blocking_recv().unwrap().unwrap(), 1);
    assert!(matches!(failing.blocking_recv().unwrap(), Err(StoreError::NotFound(what)) if what == "job two"));
    assert!(matches!(
        panicking.blocking_recv().unwrap(),
        Err(StoreError::Backend { message, .. }) if message.contains("panicked")
    ));
    assert_eq!(last.blocking_recv().unwrap().unwrap(), 4);
    assert_eq!(
        rows(&look),
        [1, 4],
        "only the failed jobs' writes are rolled back"
    );
    assert_eq!(
        writer.commits() - before,
        2,
        "the occupying job, then the four waiting jobs in one transaction"
    );
}

#[test]
fn a_full_queue_refuses_a_write_at_once_with_the_busy_error() {
    let (_dir, writer, look) = writer(2);
    let gate = occupy(&writer);
    let queued = [
        writer.submit(insert(1)).unwrap(),
        writer.submit(insert(2)).unwrap(),
    ];
    let started = Instant::now();
    let refused = writer.submit(insert(3));
    assert!(
        matches!(refused, Err(StoreError::AtCapacity)),
        "{:?}",
        refused.err()
    );
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "refused without waiting"
    );
    drop(gate);
    for answer in queued {
        answer.blocking_recv().unwrap().unwrap();
    }
    assert_eq!(rows(&look), [1, 2]);
}

#[test]
fn an_async_write_waiting_for_a_lock_leaves_the_runtime_thread_free() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kiln.db");
    let store = Arc::new(SqliteStore::open(&path).unwrap());
    // Another connection (as a runner process would) holds the write lock until told, or for three seconds.
    let (release, released) = mpsc::channel::<()>();
    let (locked, holding) = mpsc::channel();
    let holder_path = path.clone();
    let holder = std::thread::spawn(move || {
        let conn = Connection::open(holder_path).unwrap();
        conn.execute_batch("BEGIN IMMEDIATE").unwrap();
        locked.send(()).unwrap();
        released.recv_timeout(Duration::from_secs(3)).ok();
        conn.execute_batch("COMMIT").unwrap();
    });
    holding.recv().unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    runtime.block_on(async {
        let writing = Arc::clone(&store);
        let write = tokio::spawn(async move { writing.create(None, vec![build(1)]).await });
        let started = Instant::now();
        // The runtime's only thread must run these while the write waits for the lock.
        for _ in 0..10 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let ticked = started.elapsed();
        let waiting = !write.is_finished();
        release.send(()).ok();
        let created = write.await.unwrap().unwrap();
        assert!(
            ticked < Duration::from_secs(1),
            "the runtime was blocked for {ticked:?}"
        );
        assert!(waiting, "the write finished before the lock was released");
        assert_eq!(created.builds.len(), 1);
    });
    holder.join().unwrap();
}

#[tokio::test]
#[should_panic(expected = "Cannot block the current thread")]
async fn a_sync_write_called_from_an_async_task_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("kiln.db")).unwrap();
    let _ = store.create_sync(None, vec![build(1)]);
}
