//! Build records on SQLite: the [`BuildStore`] port over the `builds`, `idempotency`, `counters` and `queue`
//! tables. Each operation is one function over a connection, run by the writer thread (writes) or on a read
//! connection (reads) as [`crate::sqlite`] describes; the `*_sync` methods run the same functions for
//! synchronous callers.

use rusqlite::{Connection, OptionalExtension, params};

use super::sqlite::{SqliteStore, backend};
use kiln_core::build::{Build, BuildId, ProjectName};
use kiln_core::ports::BoxFuture;
use kiln_core::ports::build_store::{
    BuildState, BuildStore, Created, Page, SortOrder, StoreError, StoredBuild, UpdateOutcome,
};

impl SqliteStore {
    /// [`BuildStore::create`] for synchronous callers (see [`crate::sqlite`]).
    pub fn create_sync(&self, key: Option<&str>, builds: Vec<Build>) -> Result<Created, StoreError> {
        let key = key.map(str::to_owned);
        self.write_blocking(move |conn| create_in(conn, key.as_deref(), builds))
    }

    /// [`BuildStore::get`] for synchronous callers.
    pub fn get_sync(&self, id: &BuildId) -> Result<Option<StoredBuild>, StoreError> {
        self.read_blocking(|conn| get_in(conn, id))
    }

    /// [`BuildStore::list`] for synchronous callers.
    pub fn list_sync(
        &self,
        project: Option<&ProjectName>,
        order: SortOrder,
        token: Option<&str>,
        limit: usize,
    ) -> Result<Page, StoreError> {
        self.read_blocking(|conn| list_in(conn, project, order, token, limit))
    }

    /// [`BuildStore::update`] for synchronous callers.
    pub fn update_sync(
        &self,
        version: u64,
        state: BuildState,
        build: Build,
    ) -> Result<UpdateOutcome, StoreError> {
        self.write_blocking(move |conn| update_in(conn, version, state, build))
    }
}

impl BuildStore for SqliteStore {
    fn create<'a>(
        &'a self,
        key: Option<&'a str>,
        builds: Vec<Build>,
    ) -> BoxFuture<'a, Result<Created, StoreError>> {
        let key = key.map(str::to_owned);
        Box::pin(self.write(move |conn| create_in(conn, key.as_deref(), builds)))
    }

    fn get<'a>(&'a self, id: &'a BuildId) -> BoxFuture<'a, Result<Option<StoredBuild>, StoreError>> {
        let id = id.clone();
        Box::pin(self.read(move |conn| get_in(conn, &id)))
    }

    fn list<'a>(
        &'a self,
        project: Option<&'a ProjectName>,
        order: SortOrder,
        token: Option<&'a str>,
        limit: usize,
    ) -> BoxFuture<'a, Result<Page, StoreError>> {
        let (project, token) = (project.cloned(), token.map(str::to_owned));
        Box::pin(self.read(move |conn| list_in(conn, project.as_ref(), order, token.as_deref(), limit)))
    }

    fn update(
        &self,
        version: u64,
        state: BuildState,
        build: Build,
    ) -> BoxFuture<'_, Result<UpdateOutcome, StoreError>> {
        Box::pin(self.write(move |conn| update_in(conn, version, state, build)))
    }
}

fn create_in(conn: &Connection, key: Option<&str>, builds: Vec<Build>) -> Result<Created, StoreError> {
    if let Some(key) = key {
        let existing: Option<String> = conn
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
                found.push(get_in(conn, &id)?.ok_or_else(|| StoreError::NotFound(id.to_string()))?);
            }
            return Ok(Created {
                builds: found,
                existing: true,
            });
        }
    }
    let mut created = Vec::with_capacity(builds.len());
    for build in builds {
        created.push(insert_build(conn, build)?);
    }
    if let Some(key) = key {
        let ids: Vec<&str> = created.iter().map(|b| b.id().as_str()).collect();
        let ids = serde_json::to_string(&ids).map_err(|e| StoreError::Backend {
            message: format!("encoding build ids: {e}"),
            retryable: false,
        })?;
        conn.prepare_cached("INSERT INTO idempotency (key, build_ids) VALUES (?1, ?2)")
            .and_then(|mut stmt| stmt.execute(params![key, ids]))
            .map_err(backend)?;
    }
    Ok(Created {
        builds: created,
        existing: false,
    })
}

fn list_in(
    conn: &Connection,
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
    let rows: Vec<(String, i64)> = {
        let mut stmt = conn.prepare_cached(&sql).map_err(backend)?;
        let rows = stmt
            .query_map(params![project, after, fetch], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(backend)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(backend)?
    };
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

fn update_in(
    conn: &Connection,
    version: u64,
    state: BuildState,
    build: Build,
) -> Result<UpdateOutcome, StoreError> {
    let id = build.id().clone();
    let current = get_in(conn, &id)?.ok_or_else(|| StoreError::NotFound(id.to_string()))?;
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
    conn.execute(
        "UPDATE builds SET state = ?2, version = ?3, record = ?4 WHERE id = ?1",
        params![id.as_str(), state.as_str(), to_i64(new_version), text],
    )
    .map_err(backend)?;
    if state == BuildState::Terminal {
        conn.execute("DELETE FROM queue WHERE build_id = ?1", [id.as_str()])
            .map_err(backend)?;
    }
    Ok(UpdateOutcome::Updated(StoredBuild {
        state,
        version: new_version,
        build,
    }))
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

fn insert_build(tx: &Connection, build: Build) -> Result<StoredBuild, StoreError> {
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
