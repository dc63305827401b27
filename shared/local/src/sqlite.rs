//! The SQLite build store (WAL mode): build records, idempotency keys, per-project build counters, the
//! dispatch queue and the notice outbox, in one database file.
//!
//! Every write runs in a `BEGIN IMMEDIATE` transaction, so concurrent writers (threads or processes — the
//! server and its runners share the file) serialise in SQLite itself; a small pool of connections lets
//! readers run beside them.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use kiln_core::build::{Build, BuildId, ProjectName};
use kiln_core::ports::BoxFuture;
use kiln_core::ports::build_store::{
    BuildState, BuildStore, Created, Page, SortOrder, StoreError, StoredBuild, UpdateOutcome,
};

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

/// The SQLite-backed store; cheap to share behind an `Arc`.
pub struct SqliteStore {
    path: PathBuf,
    sync: SyncMode,
    pool: Mutex<Vec<Connection>>,
    /// Writes in this process take turns on one connection: SQLite's busy handler sleeps in steps of many
    /// milliseconds, so in-process contention is settled here instead.
    writer: Mutex<Option<Connection>>,
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
    /// Opens (creating if needed) the database at `path`, in WAL mode, with the schema in place.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        SqliteStore::open_with(path, SyncMode::default())
    }

    /// [`SqliteStore::open`] with writes synced as `sync` says.
    pub fn open_with(path: &Path, sync: SyncMode) -> Result<SqliteStore, StoreError> {
        let store = SqliteStore {
            path: path.to_path_buf(),
            sync,
            pool: Mutex::new(Vec::new()),
            writer: Mutex::new(None),
        };
        let conn = store.connect()?;
        conn.execute_batch(SCHEMA).map_err(backend)?;
        conn.execute_batch(crate::sqlite_sessions::SCHEMA)
            .map_err(backend)?;
        store.put_back(conn);
        Ok(store)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn connect(&self) -> Result<Connection, StoreError> {
        let conn = Connection::open(&self.path).map_err(backend)?;
        conn.busy_timeout(std::time::Duration::from_secs(30))
            .map_err(backend)?;
        conn.execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;")
            .map_err(backend)?;
        Ok(conn)
    }

    fn put_back(&self, conn: Connection) {
        if let Ok(mut pool) = self.pool.lock()
            && pool.len() < 8
        {
            pool.push(conn);
        }
    }

    /// Runs `f` with a pooled connection.
    pub(crate) fn with_conn<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let pooled = self.pool.lock().ok().and_then(|mut pool| pool.pop());
        let mut conn = match pooled {
            Some(conn) => conn,
            None => self.connect()?,
        };
        let result = f(&mut conn);
        self.put_back(conn);
        result
    }

    /// Runs `f` inside an immediate (write-locking) transaction and commits if it returns `Ok`.
    pub(crate) fn write<T>(
        &self,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut writer = self.writer.lock().map_err(|_| StoreError::Backend {
            message: "the writer lock is poisoned".into(),
            retryable: false,
        })?;
        if writer.is_none() {
            let conn = self.connect()?;
            if self.sync == SyncMode::Full {
                conn.execute_batch("PRAGMA synchronous=FULL;").map_err(backend)?;
            }
            *writer = Some(conn);
        }
        let Some(conn) = writer.as_mut() else {
            return Err(StoreError::Backend {
                message: "no writer connection".into(),
                retryable: true,
            });
        };
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(backend)?;
        let value = f(&tx)?;
        tx.commit().map_err(backend)?;
        Ok(value)
    }

    /// The synchronous body of [`BuildStore::create`].
    pub fn create_sync(&self, key: Option<&str>, builds: Vec<Build>) -> Result<Created, StoreError> {
        self.write(|tx| {
            if let Some(key) = key {
                let existing: Option<String> = tx
                    .prepare_cached("SELECT build_ids FROM idempotency WHERE key = ?1")
                    .and_then(|mut stmt| stmt.query_row([key], |r| r.get(0)).optional())
                    .map_err(backend)?;
                if let Some(ids) = existing {
                    let ids: Vec<BuildId> = serde_json::from_str(&ids).map_err(|e| StoreError::Corrupt {
                        id: key.to_owned(),
                        reason: format!("idempotency entry: {e}"),
                    })?;
                    let mut found = Vec::with_capacity(ids.len());
                    for id in ids {
                        found.push(get_in(tx, &id)?.ok_or_else(|| StoreError::NotFound(id.to_string()))?);
                    }
                    return Ok(Created {
                        builds: found,
                        existing: true,
                    });
                }
            }
            let mut created = Vec::with_capacity(builds.len());
            for build in builds {
                created.push(insert_build(tx, build)?);
            }
            if let Some(key) = key {
                let ids: Vec<&str> = created.iter().map(|b| b.id().as_str()).collect();
                let ids = serde_json::to_string(&ids).map_err(|e| StoreError::Backend {
                    message: format!("encoding build ids: {e}"),
                    retryable: false,
                })?;
                tx.prepare_cached("INSERT INTO idempotency (key, build_ids) VALUES (?1, ?2)")
                    .and_then(|mut stmt| stmt.execute(params![key, ids]))
                    .map_err(backend)?;
            }
            Ok(Created {
                builds: created,
                existing: false,
            })
        })
    }

    /// The synchronous body of [`BuildStore::get`].
    pub fn get_sync(&self, id: &BuildId) -> Result<Option<StoredBuild>, StoreError> {
        self.with_conn(|conn| get_in(conn, id))
    }

    /// The synchronous body of [`BuildStore::list`].
    pub fn list_sync(
        &self,
        project: Option<&ProjectName>,
        order: SortOrder,
        token: Option<&str>,
        limit: usize,
    ) -> Result<Page, StoreError> {
        let after = match token {
            Some(t) => Some(t.parse::<i64>().map_err(|_| StoreError::BadToken(t.to_owned()))?),
            None => None,
        };
        let (column, filter) = match project {
            Some(_) => ("number", "project = ?1"),
            None => ("seq", "?1 IS NULL"),
        };
        let (cmp, dir) = match order {
            SortOrder::Ascending => (">", "ASC"),
            SortOrder::Descending => ("<", "DESC"),
        };
        let sql = format!(
            "SELECT id, {column} FROM builds WHERE {filter} AND (?2 IS NULL OR {column} {cmp} ?2) \
             ORDER BY {column} {dir} LIMIT ?3"
        );
        let fetch = i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX);
        let project = project.map(ProjectName::as_str);
        let rows: Vec<(String, i64)> = self.with_conn(|conn| {
            let mut stmt = conn.prepare_cached(&sql).map_err(backend)?;
            let rows = stmt
                .query_map(params![project, after, fetch], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(backend)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(backend)
        })?;
        let more = rows.len() > limit;
        let rows = &rows[..rows.len().min(limit)];
        let ids = rows
            .iter()
            .map(|(id, _)| {
                BuildId::parse(id).map_err(|e| StoreError::Corrupt {
                    id: id.clone(),
                    reason: e.to_string(),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Page {
            ids,
            next_token: if more {
                rows.last().map(|(_, k)| k.to_string())
            } else {
                None
            },
        })
    }

    /// The synchronous body of [`BuildStore::update`].
    pub fn update_sync(
        &self,
        version: u64,
        state: BuildState,
        build: Build,
    ) -> Result<UpdateOutcome, StoreError> {
        let id = build.id().clone();
        self.write(|tx| {
            let current = get_in(tx, &id)?.ok_or_else(|| StoreError::NotFound(id.to_string()))?;
            if current.state == BuildState::Terminal {
                return Ok(UpdateOutcome::Terminal(current));
            }
            if current.version != version {
                return Ok(UpdateOutcome::Conflict(current));
            }
            let mut build = build;
            build.set_build_number(current.number());
            let text = encode(&build)?;
            let new_version = version + 1;
            tx.execute(
                "UPDATE builds SET state = ?2, version = ?3, record = ?4 WHERE id = ?1",
                params![id.as_str(), state.as_str(), to_i64(new_version), text],
            )
            .map_err(backend)?;
            if state == BuildState::Terminal {
                tx.execute("DELETE FROM queue WHERE build_id = ?1", [id.as_str()])
                    .map_err(backend)?;
            }
            Ok(UpdateOutcome::Updated(StoredBuild {
                state,
                version: new_version,
                build,
            }))
        })
    }
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The stored form of a record: CodeBuild's `Build` JSON.
fn encode(build: &Build) -> Result<String, StoreError> {
    serde_json::to_string(build).map_err(|e| StoreError::Backend {
        message: format!("encoding build {}: {e}", build.id()),
        retryable: false,
    })
}

fn insert_build(tx: &rusqlite::Transaction<'_>, build: Build) -> Result<StoredBuild, StoreError> {
    // Statements on the acceptance path are prepared once per connection (parsing them was a measurable part
    // of each delivery).
    let number: i64 = tx
        .prepare_cached(
            "INSERT INTO counters (project, last) VALUES (?1, 1) \
             ON CONFLICT(project) DO UPDATE SET last = last + 1 RETURNING last",
        )
        .and_then(|mut stmt| stmt.query_row([build.project_name().as_str()], |r| r.get(0)))
        .map_err(backend)?;
    let mut build = build;
    build.set_build_number(u64::try_from(number).unwrap_or_default());
    let (id, project) = (build.id().as_str(), build.project_name().as_str());
    let text = encode(&build)?;
    tx.prepare_cached(
        "INSERT INTO builds (id, project, number, state, version, record) VALUES (?1, ?2, ?3, ?4, 1, ?5)",
    )
    .and_then(|mut stmt| stmt.execute(params![id, project, number, BuildState::Queued.as_str(), text]))
    .map_err(backend)?;
    tx.prepare_cached("INSERT INTO queue (build_id, project) VALUES (?1, ?2)")
        .and_then(|mut stmt| stmt.execute(params![id, project]))
        .map_err(backend)?;
    Ok(StoredBuild {
        state: BuildState::Queued,
        version: 1,
        build,
    })
}

fn get_in(conn: &Connection, id: &BuildId) -> Result<Option<StoredBuild>, StoreError> {
    let row: Option<(String, i64, String)> = conn
        .prepare_cached("SELECT state, version, record FROM builds WHERE id = ?1")
        .and_then(|mut stmt| {
            stmt.query_row([id.as_str()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .optional()
        })
        .map_err(backend)?;
    let Some((state, version, record)) = row else {
        return Ok(None);
    };
    let corrupt = |reason: String| StoreError::Corrupt {
        id: id.to_string(),
        reason,
    };
    let state = BuildState::parse(&state).ok_or_else(|| corrupt(format!("unknown state {state:?}")))?;
    let build = serde_json::from_str(&record).map_err(|e| corrupt(format!("record is not a build: {e}")))?;
    Ok(Some(StoredBuild {
        state,
        version: u64::try_from(version).unwrap_or_default(),
        build,
    }))
}

impl BuildStore for SqliteStore {
    fn create<'a>(
        &'a self,
        key: Option<&'a str>,
        builds: Vec<Build>,
    ) -> BoxFuture<'a, Result<Created, StoreError>> {
        Box::pin(async move { self.create_sync(key, builds) })
    }

    fn get<'a>(&'a self, id: &'a BuildId) -> BoxFuture<'a, Result<Option<StoredBuild>, StoreError>> {
        Box::pin(async move { self.get_sync(id) })
    }

    fn list<'a>(
        &'a self,
        project: Option<&'a ProjectName>,
        order: SortOrder,
        token: Option<&'a str>,
        limit: usize,
    ) -> BoxFuture<'a, Result<Page, StoreError>> {
        Box::pin(async move { self.list_sync(project, order, token, limit) })
    }

    fn update(
        &self,
        version: u64,
        state: BuildState,
        build: Build,
    ) -> BoxFuture<'_, Result<UpdateOutcome, StoreError>> {
        Box::pin(async move { self.update_sync(version, state, build) })
    }
}
