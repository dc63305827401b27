//! Project definitions on SQLite: the `projects` table, one JSON document (CodeBuild's `Project`) per name.

use rusqlite::{OptionalExtension, params};

use super::sqlite::{SqliteStore, backend};
use kiln_core::build::ProjectName;
use kiln_core::ports::BoxFuture;
use kiln_core::ports::build_store::{ProjectStore, PutMode, StoreError};
use kiln_core::project::StoredProject;

impl SqliteStore {
    /// The synchronous body of [`ProjectStore::get_project`].
    pub fn get_project_sync(&self, name: &ProjectName) -> Result<Option<StoredProject>, StoreError> {
        let text: Option<String> = self.with_conn(|conn| {
            conn.query_row(
                "SELECT record FROM projects WHERE name = ?1",
                [name.as_str()],
                |r| r.get(0),
            )
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
    pub fn project_names_sync(&self) -> Result<Vec<ProjectName>, StoreError> {
        let names = self.with_conn(|conn| {
            let mut stmt = conn
                .prepare_cached("SELECT name FROM projects ORDER BY name")
                .map_err(backend)?;
            let rows = stmt.query_map([], |r| r.get(0)).map_err(backend)?;
            rows.collect::<Result<Vec<String>, _>>().map_err(backend)
        })?;
        names
            .iter()
            .map(|name| {
                ProjectName::parse(name).map_err(|e| StoreError::Corrupt {
                    id: format!("project {name}"),
                    reason: e.to_string(),
                })
            })
            .collect()
    }

    /// The synchronous body of [`ProjectStore::put_project`].
    pub fn put_project_sync(&self, project: &StoredProject, mode: PutMode) -> Result<(), StoreError> {
        let name = project.name().as_str();
        let text = serde_json::to_string(project).map_err(|e| StoreError::Backend {
            message: format!("encoding project {name}: {e}"),
            retryable: false,
        })?;
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
                params![name, text],
            )
            .map_err(backend)?;
            Ok(())
        })
    }

    /// The synchronous body of [`ProjectStore::delete_project`].
    pub fn delete_project_sync(&self, name: &ProjectName) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.execute("DELETE FROM projects WHERE name = ?1", [name.as_str()])
                .map_err(backend)?;
            Ok(())
        })
    }
}

impl ProjectStore for SqliteStore {
    fn get_project<'a>(
        &'a self,
        name: &'a ProjectName,
    ) -> BoxFuture<'a, Result<Option<StoredProject>, StoreError>> {
        Box::pin(async move { self.get_project_sync(name) })
    }

    fn project_names(&self) -> BoxFuture<'_, Result<Vec<ProjectName>, StoreError>> {
        Box::pin(async move { self.project_names_sync() })
    }

    fn put_project<'a>(
        &'a self,
        project: &'a StoredProject,
        mode: PutMode,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move { self.put_project_sync(project, mode) })
    }

    fn delete_project<'a>(&'a self, name: &'a ProjectName) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move { self.delete_project_sync(name) })
    }
}
