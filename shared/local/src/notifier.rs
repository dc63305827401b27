//! The local notifier: notices go to the `notices` outbox table of the SQLite store, read back in order by
//! cursor (`GET /events?after=`) and by the outbound HTTP forwarder, whose per-target cursors live beside it.
//! Appends and cursor saves run on the store's writer thread, reads on a read connection ([`crate::sqlite`]).

use rusqlite::{Connection, OptionalExtension, params};

use super::sqlite::{SqliteStore, backend};
use kiln_core::notice::NoticeEvent;
use kiln_core::ports::BoxFuture;
use kiln_core::ports::build_store::StoreError;
use kiln_core::ports::notifier::{Notice, NoticeFeed, Notifier, NotifyError};

/// A notice read back from the outbox with its cursor.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredNotice {
    pub cursor: u64,
    pub project: String,
    pub event: NoticeEvent,
}

impl SqliteStore {
    /// Up to `limit` notices after `cursor`, oldest first.
    pub async fn notices_after(&self, cursor: u64, limit: usize) -> Result<Vec<StoredNotice>, StoreError> {
        self.read(move |conn| notices_in(conn, cursor, limit)).await
    }

    /// The cursor an outbound target has delivered up to (0 when it has delivered nothing).
    pub async fn delivered_cursor(&self, target: &str) -> Result<u64, StoreError> {
        let target = target.to_owned();
        self.read(move |conn| delivered_in(conn, &target)).await
    }

    /// Records that `target` has delivered every notice up to `cursor`.
    pub async fn set_delivered_cursor(&self, target: &str, cursor: u64) -> Result<(), StoreError> {
        let target = target.to_owned();
        self.write(move |conn| set_delivered_in(conn, &target, cursor))
            .await
    }

    /// Appends a notice to the outbox and returns its cursor; for synchronous callers (see [`crate::sqlite`]),
    /// async ones use [`Notifier::publish`].
    pub fn append_notice_sync(&self, notice: &Notice) -> Result<u64, StoreError> {
        let (project, event) = encode(notice)?;
        self.write_blocking(move |conn| append_in(conn, &project, &event))
    }

    /// [`SqliteStore::notices_after`] for synchronous callers.
    pub fn notices_after_sync(&self, cursor: u64, limit: usize) -> Result<Vec<StoredNotice>, StoreError> {
        self.read_blocking(|conn| notices_in(conn, cursor, limit))
    }

    /// [`SqliteStore::delivered_cursor`] for synchronous callers.
    pub fn delivered_cursor_sync(&self, target: &str) -> Result<u64, StoreError> {
        self.read_blocking(|conn| delivered_in(conn, target))
    }

    /// [`SqliteStore::set_delivered_cursor`] for synchronous callers.
    pub fn set_delivered_cursor_sync(&self, target: &str, cursor: u64) -> Result<(), StoreError> {
        let target = target.to_owned();
        self.write_blocking(move |conn| set_delivered_in(conn, &target, cursor))
    }
}

/// The notice's project and its stored form.
fn encode(notice: &Notice) -> Result<(String, String), StoreError> {
    let event = serde_json::to_string(&notice.event).map_err(|e| StoreError::Backend {
        message: format!("encoding a notice: {e}"),
        retryable: false,
    })?;
    Ok((notice.project.as_str().to_owned(), event))
}

fn append_in(conn: &Connection, project: &str, event: &str) -> Result<u64, StoreError> {
    let cursor: i64 = conn
        .prepare_cached("INSERT INTO notices (project, event) VALUES (?1, ?2) RETURNING cursor")
        .and_then(|mut stmt| stmt.query_row(params![project, event], |r| r.get(0)))
        .map_err(backend)?;
    Ok(u64::try_from(cursor).unwrap_or_default())
}

fn notices_in(conn: &Connection, cursor: u64, limit: usize) -> Result<Vec<StoredNotice>, StoreError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT cursor, project, event FROM notices WHERE cursor > ?1 ORDER BY cursor LIMIT ?2",
        )
        .map_err(backend)?;
    let after = i64::try_from(cursor).unwrap_or(i64::MAX);
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = stmt
        .query_map(params![after, limit], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })
        .map_err(backend)?;
    let mut notices = Vec::new();
    for row in rows {
        let (cursor, project, event) = row.map_err(backend)?;
        let event = serde_json::from_str(&event).map_err(|e| StoreError::Corrupt {
            id: format!("notice {cursor}"),
            reason: e.to_string(),
        })?;
        notices.push(StoredNotice {
            cursor: u64::try_from(cursor).unwrap_or_default(),
            project,
            event,
        });
    }
    Ok(notices)
}

fn delivered_in(conn: &Connection, target: &str) -> Result<u64, StoreError> {
    let cursor: Option<i64> = conn
        .query_row(
            "SELECT cursor FROM notice_deliveries WHERE target = ?1",
            [target],
            |r| r.get(0),
        )
        .optional()
        .map_err(backend)?;
    Ok(cursor.and_then(|c| u64::try_from(c).ok()).unwrap_or(0))
}

fn set_delivered_in(conn: &Connection, target: &str, cursor: u64) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO notice_deliveries (target, cursor) VALUES (?1, ?2) \
         ON CONFLICT(target) DO UPDATE SET cursor = excluded.cursor",
        params![target, i64::try_from(cursor).unwrap_or(i64::MAX)],
    )
    .map_err(backend)?;
    Ok(())
}

impl Notifier for SqliteStore {
    fn publish<'a>(&'a self, notice: &'a Notice) -> BoxFuture<'a, Result<(), NotifyError>> {
        Box::pin(async move {
            let appended = match encode(notice) {
                Ok((project, event)) => self.write(move |conn| append_in(conn, &project, &event)).await,
                Err(err) => Err(err),
            };
            appended.map(|_| ()).map_err(|e| NotifyError::Backend {
                retryable: matches!(
                    e,
                    StoreError::Backend { retryable: true, .. } | StoreError::AtCapacity
                ),
                message: e.to_string(),
            })
        })
    }
}

impl NoticeFeed for SqliteStore {
    fn after(&self, cursor: u64, limit: usize) -> BoxFuture<'_, Result<Vec<(u64, NoticeEvent)>, StoreError>> {
        Box::pin(async move {
            Ok(self
                .notices_after(cursor, limit)
                .await?
                .into_iter()
                .map(|n| (n.cursor, n.event))
                .collect())
        })
    }
}
