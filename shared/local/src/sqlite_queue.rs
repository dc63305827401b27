//! The dispatch queue on SQLite: the `queue` table beside the builds, filled in the same transaction that
//! creates a build and emptied when the build turns terminal. Claims, assignments and releases run on the
//! store's writer thread, listings on a read connection ([`crate::sqlite`]).

use std::collections::{HashMap, HashSet};

use rusqlite::{Connection, params};

use super::sqlite::{SqliteStore, backend};
use kiln_core::build::{BuildId, ProjectName};
use kiln_core::ports::BoxFuture;
use kiln_core::ports::build_store::{ClaimOutcome, DispatchQueue, Limits, QueueEntry, StoreError};

impl SqliteStore {
    /// [`DispatchQueue::claim`] for synchronous callers (see [`crate::sqlite`]).
    pub fn claim_sync(&self, limits: &Limits, max: usize) -> Result<Vec<QueueEntry>, StoreError> {
        let limits = limits.clone();
        self.write_blocking(move |conn| claim_in(conn, &limits, max))
    }

    /// [`DispatchQueue::claim_build`] for synchronous callers.
    pub fn claim_build_sync(&self, build_id: &BuildId, limits: &Limits) -> Result<ClaimOutcome, StoreError> {
        let (build_id, limits) = (build_id.clone(), limits.clone());
        self.write_blocking(move |conn| claim_build_in(conn, &build_id, &limits))
    }

    /// [`DispatchQueue::assign`] for synchronous callers.
    pub fn assign_sync(&self, build_id: &BuildId, task: &str) -> Result<(), StoreError> {
        let (build_id, task) = (build_id.clone(), task.to_owned());
        self.write_blocking(move |conn| assign_in(conn, &build_id, &task))
    }

    /// [`DispatchQueue::release`] for synchronous callers.
    pub fn release_sync(&self, build_id: &BuildId) -> Result<(), StoreError> {
        let build_id = build_id.clone();
        self.write_blocking(move |conn| release_in(conn, &build_id))
    }

    /// [`DispatchQueue::entries`] for synchronous callers.
    pub fn entries_sync(&self) -> Result<Vec<QueueEntry>, StoreError> {
        self.read_blocking(read_entries)
    }
}

fn claim_in(conn: &Connection, limits: &Limits, max: usize) -> Result<Vec<QueueEntry>, StoreError> {
    let entries = read_entries(conn)?;
    // A slot is held by a claimed entry or by a live runner whose build already left the queue.
    let mut running: HashMap<ProjectName, usize> = HashMap::new();
    let mut holders: HashSet<&BuildId> = HashSet::new();
    for entry in entries.iter().filter(|e| e.claimed) {
        holders.insert(&entry.build_id);
        *running.entry(entry.project.clone()).or_default() += 1;
    }
    for build_id in &limits.live {
        if holders.insert(build_id) {
            *running.entry(build_id.project()).or_default() += 1;
        }
    }
    let mut total: usize = running.values().sum();
    let mut claimed = Vec::new();
    for entry in entries.iter().filter(|e| !e.claimed) {
        if total >= limits.global || claimed.len() >= max {
            break;
        }
        let count = running.entry(entry.project.clone()).or_default();
        if limits
            .per_project
            .get(&entry.project)
            .is_some_and(|limit| *count >= *limit)
        {
            continue;
        }
        *count += 1;
        total += 1;
        conn.execute(
            "UPDATE queue SET claimed = 1 WHERE build_id = ?1",
            [entry.build_id.as_str()],
        )
        .map_err(backend)?;
        claimed.push(QueueEntry {
            claimed: true,
            ..entry.clone()
        });
    }
    Ok(claimed)
}

fn claim_build_in(
    conn: &Connection,
    build_id: &BuildId,
    limits: &Limits,
) -> Result<ClaimOutcome, StoreError> {
    let entries = read_entries(conn)?;
    let Some(entry) = entries.iter().find(|e| e.build_id == *build_id) else {
        return Ok(ClaimOutcome::NotWaiting);
    };
    if entry.claimed {
        return Ok(ClaimOutcome::NotWaiting);
    }
    let running = entries.iter().filter(|e| e.claimed);
    if running.clone().count() >= limits.global {
        return Ok(ClaimOutcome::GlobalFull);
    }
    let in_project = running.filter(|e| e.project == entry.project).count();
    if limits
        .per_project
        .get(&entry.project)
        .is_some_and(|limit| in_project >= *limit)
    {
        return Ok(ClaimOutcome::ProjectFull);
    }
    conn.execute(
        "UPDATE queue SET claimed = 1 WHERE build_id = ?1",
        [build_id.as_str()],
    )
    .map_err(backend)?;
    Ok(ClaimOutcome::Claimed(QueueEntry {
        claimed: true,
        ..entry.clone()
    }))
}

fn assign_in(conn: &Connection, build_id: &BuildId, task: &str) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE queue SET task = ?2 WHERE build_id = ?1",
        params![build_id.as_str(), task],
    )
    .map_err(backend)?;
    Ok(())
}

fn release_in(conn: &Connection, build_id: &BuildId) -> Result<(), StoreError> {
    conn.execute("DELETE FROM queue WHERE build_id = ?1", [build_id.as_str()])
        .map_err(backend)?;
    Ok(())
}

fn read_entries(conn: &Connection) -> Result<Vec<QueueEntry>, StoreError> {
    let mut stmt = conn
        .prepare_cached("SELECT build_id, claimed, task FROM queue ORDER BY seq")
        .map_err(backend)?;
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)? != 0,
                r.get::<_, Option<String>>(2)?,
            ))
        })
        .map_err(backend)?;
    let mut entries = Vec::new();
    for row in rows {
        let (id, claimed, task) = row.map_err(backend)?;
        let build_id = BuildId::parse(&id).map_err(|e| StoreError::Corrupt {
            id: id.clone(),
            reason: format!("queue entry: {e}"),
        })?;
        entries.push(QueueEntry {
            project: build_id.project(),
            build_id,
            task,
            claimed,
        });
    }
    Ok(entries)
}

impl DispatchQueue for SqliteStore {
    fn claim<'a>(
        &'a self,
        limits: &'a Limits,
        max: usize,
    ) -> BoxFuture<'a, Result<Vec<QueueEntry>, StoreError>> {
        let limits = limits.clone();
        Box::pin(self.write(move |conn| claim_in(conn, &limits, max)))
    }

    fn claim_build<'a>(
        &'a self,
        build_id: &'a BuildId,
        limits: &'a Limits,
    ) -> BoxFuture<'a, Result<ClaimOutcome, StoreError>> {
        let (build_id, limits) = (build_id.clone(), limits.clone());
        Box::pin(self.write(move |conn| claim_build_in(conn, &build_id, &limits)))
    }

    fn assign<'a>(&'a self, build_id: &'a BuildId, task: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        let (build_id, task) = (build_id.clone(), task.to_owned());
        Box::pin(self.write(move |conn| assign_in(conn, &build_id, &task)))
    }

    fn release<'a>(&'a self, build_id: &'a BuildId) -> BoxFuture<'a, Result<(), StoreError>> {
        let build_id = build_id.clone();
        Box::pin(self.write(move |conn| release_in(conn, &build_id)))
    }

    fn entries(&self) -> BoxFuture<'_, Result<Vec<QueueEntry>, StoreError>> {
        Box::pin(self.read(read_entries))
    }
}
