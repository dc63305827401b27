//! Console sessions on SQLite: the `sessions` table, one row per logged-in session (see
//! [`kiln_core::ports::sessions`]). Ended sessions are deleted when a new one is created, so the table holds only
//! sessions that may still be live. Writes run on the store's writer thread, reads on a read connection
//! ([`crate::sqlite`]).

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::sqlite::{SqliteStore, backend};
use kiln_core::build::Timestamp;
use kiln_core::ports::BoxFuture;
use kiln_core::ports::build_store::StoreError;
use kiln_core::ports::sessions::{ConsoleSession, SessionError, SessionStore};

/// The table, created with the rest of the schema ([`crate::sqlite`]).
pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    created INTEGER NOT NULL,
    last_used INTEGER NOT NULL,
    expires INTEGER NOT NULL,
    user_agent TEXT NOT NULL
);
";

const COLUMNS: &str = "id, created, last_used, expires, user_agent";

fn session_error(err: impl std::fmt::Display) -> SessionError {
    SessionError::Backend {
        message: format!("sqlite: {err}"),
        retryable: false,
    }
}

fn from_store(err: StoreError) -> SessionError {
    match err {
        StoreError::Backend { message, retryable } => SessionError::Backend { message, retryable },
        other => session_error(other),
    }
}

fn row(r: &Row<'_>) -> rusqlite::Result<ConsoleSession> {
    Ok(ConsoleSession {
        id: r.get(0)?,
        created: Timestamp::from_epoch_millis(r.get(1)?),
        last_used: Timestamp::from_epoch_millis(r.get(2)?),
        expires: Timestamp::from_epoch_millis(r.get(3)?),
        user_agent: r.get(4)?,
    })
}

impl SqliteStore {
    /// [`SessionStore::create`] for synchronous callers; also deletes the sessions that ended by `created`.
    pub fn create_session_sync(&self, session: &ConsoleSession) -> Result<(), SessionError> {
        let session = session.clone();
        self.write_blocking(move |conn| create_in(conn, &session))
            .map_err(from_store)
    }

    /// [`SessionStore::touch`] for synchronous callers.
    pub fn touch_session_sync(
        &self,
        id: &str,
        now: Timestamp,
        idle_since: Timestamp,
    ) -> Result<Option<ConsoleSession>, SessionError> {
        let id = id.to_owned();
        self.write_blocking(move |conn| touch_in(conn, &id, now, idle_since))
            .map_err(from_store)
    }

    /// [`SessionStore::list`] for synchronous callers.
    pub fn sessions_sync(
        &self,
        now: Timestamp,
        idle_since: Timestamp,
    ) -> Result<Vec<ConsoleSession>, SessionError> {
        self.read_blocking(|conn| list_in(conn, now, idle_since))
            .map_err(from_store)
    }

    /// [`SessionStore::revoke`] for synchronous callers.
    pub fn revoke_session_sync(&self, id: &str) -> Result<(), SessionError> {
        let id = id.to_owned();
        self.write_blocking(move |conn| revoke_in(conn, &id))
            .map_err(from_store)
    }
}

fn create_in(conn: &Connection, session: &ConsoleSession) -> Result<(), StoreError> {
    conn.execute(
        "DELETE FROM sessions WHERE expires <= ?1",
        [session.created.epoch_millis()],
    )
    .map_err(backend)?;
    conn.execute(
        &format!("INSERT INTO sessions ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5)"),
        params![
            session.id,
            session.created.epoch_millis(),
            session.last_used.epoch_millis(),
            session.expires.epoch_millis(),
            session.user_agent
        ],
    )
    .map_err(backend)?;
    Ok(())
}

fn touch_in(
    conn: &Connection,
    id: &str,
    now: Timestamp,
    idle_since: Timestamp,
) -> Result<Option<ConsoleSession>, StoreError> {
    conn.query_row(
        &format!(
            "UPDATE sessions SET last_used = ?2 \
             WHERE id = ?1 AND expires > ?2 AND last_used >= ?3 RETURNING {COLUMNS}"
        ),
        params![id, now.epoch_millis(), idle_since.epoch_millis()],
        row,
    )
    .optional()
    .map_err(backend)
}

fn list_in(
    conn: &Connection,
    now: Timestamp,
    idle_since: Timestamp,
) -> Result<Vec<ConsoleSession>, StoreError> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM sessions WHERE expires > ?1 AND last_used >= ?2 \
             ORDER BY last_used DESC, created DESC"
        ))
        .map_err(backend)?;
    let rows = stmt
        .query_map(params![now.epoch_millis(), idle_since.epoch_millis()], row)
        .map_err(backend)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(backend)
}

fn revoke_in(conn: &Connection, id: &str) -> Result<(), StoreError> {
    conn.execute("DELETE FROM sessions WHERE id = ?1", [id])
        .map_err(backend)?;
    Ok(())
}

impl SessionStore for SqliteStore {
    fn create<'a>(&'a self, session: &'a ConsoleSession) -> BoxFuture<'a, Result<(), SessionError>> {
        let session = session.clone();
        Box::pin(async move {
            self.write(move |conn| create_in(conn, &session))
                .await
                .map_err(from_store)
        })
    }

    fn touch<'a>(
        &'a self,
        id: &'a str,
        now: Timestamp,
        idle_since: Timestamp,
    ) -> BoxFuture<'a, Result<Option<ConsoleSession>, SessionError>> {
        let id = id.to_owned();
        Box::pin(async move {
            self.write(move |conn| touch_in(conn, &id, now, idle_since))
                .await
                .map_err(from_store)
        })
    }

    fn list(
        &self,
        now: Timestamp,
        idle_since: Timestamp,
    ) -> BoxFuture<'_, Result<Vec<ConsoleSession>, SessionError>> {
        Box::pin(async move {
            self.read(move |conn| list_in(conn, now, idle_since))
                .await
                .map_err(from_store)
        })
    }

    fn revoke<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), SessionError>> {
        let id = id.to_owned();
        Box::pin(async move {
            self.write(move |conn| revoke_in(conn, &id))
                .await
                .map_err(from_store)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_epoch_millis(secs * 1000)
    }

    #[test]
    fn a_session_is_used_until_it_is_revoked_ends_or_sits_idle() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = SqliteStore::open(&dir.path().join("kiln.db")).expect("open");
        let one = ConsoleSession::new("one".into(), at(100), at(1_000), "Firefox");
        let two = ConsoleSession::new("two".into(), at(200), at(1_000), "Chromium");
        store.create_session_sync(&one).expect("create");
        store.create_session_sync(&two).expect("create");

        let used = store.touch_session_sync("one", at(300), at(0)).expect("touch");
        assert_eq!(used.map(|s| s.last_used), Some(at(300)));
        let listed = store.sessions_sync(at(300), at(0)).expect("list");
        let ids: Vec<&str> = listed.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, ["one", "two"], "most recently used first");
        assert_eq!(listed[1].user_agent, "Chromium");

        assert_eq!(
            store.touch_session_sync("two", at(400), at(250)).expect("touch"),
            None,
            "idle"
        );
        assert_eq!(
            store.touch_session_sync("one", at(1_000), at(0)).expect("touch"),
            None,
            "ended"
        );
        assert_eq!(
            store.touch_session_sync("nobody", at(300), at(0)).expect("touch"),
            None
        );
        store.revoke_session_sync("one").expect("revoke");
        store.revoke_session_sync("one").expect("revoking twice is fine");
        assert_eq!(
            store.touch_session_sync("one", at(301), at(0)).expect("touch"),
            None,
            "revoked"
        );
        assert_eq!(store.sessions_sync(at(301), at(0)).expect("list").len(), 1);

        let later = ConsoleSession::new("three".into(), at(2_000), at(3_000), "curl");
        store.create_session_sync(&later).expect("create");
        let left: i64 = store
            .read_blocking(|conn| {
                conn.query_row("SELECT count(*) FROM sessions", [], |r| r.get(0))
                    .map_err(backend)
            })
            .expect("count");
        assert_eq!(left, 1, "ended sessions are deleted when a new one starts");
    }
}
