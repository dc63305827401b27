//! The dispatch queue on SQLite: the `queue` table beside the builds, filled in the same transaction that
//! creates a build and emptied when the build turns terminal.

use std::collections::{HashMap, HashSet};

use rusqlite::params;

use super::sqlite::{SqliteStore, backend};
use kiln_core::ports::BoxFuture;
use kiln_core::ports::build_store::{ClaimOutcome, DispatchQueue, Limits, QueueEntry, StoreError};

impl SqliteStore {
    /// The synchronous body of [`DispatchQueue::claim`].
    pub fn claim_sync(&self, limits: &Limits, max: usize) -> Result<Vec<QueueEntry>, StoreError> {
        self.write(|tx| {
            let entries = read_entries(tx)?;
            // A slot is held by a claimed entry or by a live runner whose build already left the queue.
            let mut running: HashMap<&str, usize> = HashMap::new();
            let mut holders: HashSet<&str> = HashSet::new();
            for entry in entries.iter().filter(|e| e.claimed) {
                holders.insert(entry.build_id.as_str());
                *running.entry(entry.project.as_str()).or_default() += 1;
            }
            for build_id in &limits.live {
                if holders.insert(build_id.as_str()) {
                    let project = build_id.split_once(':').map_or(build_id.as_str(), |(p, _)| p);
                    *running.entry(project).or_default() += 1;
                }
            }
            let mut total: usize = running.values().sum();
            let mut claimed = Vec::new();
            for entry in entries.iter().filter(|e| !e.claimed) {
                if total >= limits.global || claimed.len() >= max {
                    break;
                }
                let count = running.entry(entry.project.as_str()).or_default();
                if limits
                    .per_project
                    .get(&entry.project)
                    .is_some_and(|limit| *count >= *limit)
                {
                    continue;
                }
                *count += 1;
                total += 1;
                tx.execute(
                    "UPDATE queue SET claimed = 1 WHERE build_id = ?1",
                    [&entry.build_id],
                )
                .map_err(backend)?;
                claimed.push(QueueEntry {
                    claimed: true,
                    ..entry.clone()
                });
            }
            Ok(claimed)
        })
    }

    /// The synchronous body of [`DispatchQueue::claim_build`].
    pub fn claim_build_sync(&self, build_id: &str, limits: &Limits) -> Result<ClaimOutcome, StoreError> {
        self.write(|tx| {
            let entries = read_entries(tx)?;
            let Some(entry) = entries.iter().find(|e| e.build_id == build_id) else {
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
            tx.execute("UPDATE queue SET claimed = 1 WHERE build_id = ?1", [build_id])
                .map_err(backend)?;
            Ok(ClaimOutcome::Claimed(QueueEntry {
                claimed: true,
                ..entry.clone()
            }))
        })
    }

    /// The synchronous body of [`DispatchQueue::assign`].
    pub fn assign_sync(&self, build_id: &str, task: &str) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.execute(
                "UPDATE queue SET task = ?2 WHERE build_id = ?1",
                params![build_id, task],
            )
            .map_err(backend)?;
            Ok(())
        })
    }

    /// The synchronous body of [`DispatchQueue::release`].
    pub fn release_sync(&self, build_id: &str) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.execute("DELETE FROM queue WHERE build_id = ?1", [build_id])
                .map_err(backend)?;
            Ok(())
        })
    }

    /// The synchronous body of [`DispatchQueue::entries`].
    pub fn entries_sync(&self) -> Result<Vec<QueueEntry>, StoreError> {
        self.with_conn(|conn| read_entries(conn))
    }
}

fn read_entries(conn: &rusqlite::Connection) -> Result<Vec<QueueEntry>, StoreError> {
    let mut stmt = conn
        .prepare_cached("SELECT build_id, project, claimed, task FROM queue ORDER BY seq")
        .map_err(backend)?;
    let rows = stmt
        .query_map([], |r| {
            Ok(QueueEntry {
                build_id: r.get(0)?,
                project: r.get(1)?,
                claimed: r.get::<_, i64>(2)? != 0,
                task: r.get(3)?,
            })
        })
        .map_err(backend)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(backend)
}

impl DispatchQueue for SqliteStore {
    fn claim<'a>(
        &'a self,
        limits: &'a Limits,
        max: usize,
    ) -> BoxFuture<'a, Result<Vec<QueueEntry>, StoreError>> {
        Box::pin(async move { self.claim_sync(limits, max) })
    }

    fn claim_build<'a>(
        &'a self,
        build_id: &'a str,
        limits: &'a Limits,
    ) -> BoxFuture<'a, Result<ClaimOutcome, StoreError>> {
        Box::pin(async move { self.claim_build_sync(build_id, limits) })
    }

    fn assign<'a>(&'a self, build_id: &'a str, task: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move { self.assign_sync(build_id, task) })
    }

    fn release<'a>(&'a self, build_id: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move { self.release_sync(build_id) })
    }

    fn entries(&self) -> BoxFuture<'_, Result<Vec<QueueEntry>, StoreError>> {
        Box::pin(async move { self.entries_sync() })
    }
}
