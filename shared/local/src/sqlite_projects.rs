//! Project definitions on SQLite: the `projects` table, one JSON document (CodeBuild's `Project`) per name.

use rusqlite::{OptionalExtension, params};

use super::sqlite::{SqliteStore, backend};
use kiln_core::ports::BoxFuture;
use kiln_core::ports::build_store::{ProjectStore, PutMode, StoreError};

impl SqliteStore {
    /// The synchronous body of [`ProjectStore::get_project`].
    pub fn get_project_sync(&self, name: &str) -> Result<Option<serde_json::Value>, StoreError> {
        let text: Option<String> = self.with_conn(|conn| {
            conn.query_row("SELECT record FROM projects WHERE name = ?1", [name], |r| {
                r.get(0)
            })
            .optional()
            .map_err(backend)
        })?;
        text.map(|t| {
            serde_json::from_str(&t).map_err(|e| StoreError::Corrupt {
                id: format!("project {name}"),
                reason: e.to_string(),
            })
        })
        .transpose()
    }

    /// The synchronous body of [`ProjectStore::project_names`].
    pub fn project_names_sync(&self) -> Result<Vec<String>, StoreError> {
        self.with_conn(|conn| {
            let mut stmt = conn
                .prepare_cached("SELECT name FROM projects ORDER BY name")
                .map_err(backend)?;
            let rows = stmt.query_map([], |r| r.get(0)).map_err(backend)?;
            rows.collect::<Result<Vec<String>, _>>().map_err(backend)
        })
    }

    /// The synchronous body of [`ProjectStore::put_project`].
    pub fn put_project_sync(
        &self,
        name: &str,
        project: serde_json::Value,
        mode: PutMode,
    ) -> Result<(), StoreError> {
        self.write(|tx| {
            let exists = tx
                .query_row("SELECT 1 FROM projects WHERE name = ?1", [name], |_| Ok(()))
                .optional()
                .map_err(backend)?
                .is_some();
            match (mode, exists) {
                (PutMode::Create, true) => return Err(StoreError::AlreadyExists(name.to_owned())),
                (PutMode::Update, false) => return Err(StoreError::NotFound(name.to_owned())),
                (PutMode::Create | PutMode::Update | PutMode::Upsert, _) => {}
            }
            tx.execute(
                "INSERT INTO projects (name, record) VALUES (?1, ?2) \
                 ON CONFLICT(name) DO UPDATE SET record = excluded.record",
                params![name, project.to_string()],
            )
            .map_err(backend)?;
            Ok(())
        })
    }

    /// The synchronous body of [`ProjectStore::delete_project`].
    pub fn delete_project_sync(&self, name: &str) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.execute("DELETE FROM projects WHERE name = ?1", [name])
                .map_err(backend)?;
            Ok(())
        })
    }
}

impl ProjectStore for SqliteStore {
    fn get_project<'a>(
        &'a self,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<serde_json::Value>, StoreError>> {
        Box::pin(async move { self.get_project_sync(name) })
    }

    fn project_names(&self) -> BoxFuture<'_, Result<Vec<String>, StoreError>> {
        Box::pin(async move { self.project_names_sync() })
    }

    fn put_project<'a>(
        &'a self,
        name: &'a str,
        project: serde_json::Value,
        mode: PutMode,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move { self.put_project_sync(name, project, mode) })
    }

    fn delete_project<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move { self.delete_project_sync(name) })
    }
}
