//! Project definitions on SQLite: the `projects` table, one JSON document (CodeBuild's `Project`) per name.
//! Writes run on the store's writer thread, reads on a read connection ([`crate::sqlite`]).

use rusqlite::{Connection, OptionalExtension, params};

use super::sqlite::{SqliteStore, backend};
use kiln_core::build::ProjectName;
use kiln_core::ports::BoxFuture;
use kiln_core::ports::build_store::{ProjectStore, PutMode, StoreError};
use kiln_core::project::StoredProject;

impl SqliteStore {
    /// [`ProjectStore::get_project`] for synchronous callers (see [`crate::sqlite`]).
    pub fn get_project_sync(&self, name: &ProjectName) -> Result<Option<StoredProject>, StoreError> {
        self.read_blocking(|conn| get_in(conn, name))
    }

    /// [`ProjectStore::project_names`] for synchronous callers.
    pub fn project_names_sync(&self) -> Result<Vec<ProjectName>, StoreError> {
        self.read_blocking(names_in)
    }

    /// [`ProjectStore::put_project`] for synchronous callers.
    pub fn put_project_sync(&self, project: &StoredProject, mode: PutMode) -> Result<(), StoreError> {
        let (name, text) = encode(project)?;
        self.write_blocking(move |conn| put_in(conn, &name, &text, mode))
    }

    /// [`ProjectStore::delete_project`] for synchronous callers.
    pub fn delete_project_sync(&self, name: &ProjectName) -> Result<(), StoreError> {
        let name = name.clone();
        self.write_blocking(move |conn| delete_in(conn, &name))
    }
}

impl ProjectStore for SqliteStore {
    fn get_project<'a>(
        &'a self,
        name: &'a ProjectName,
    ) -> BoxFuture<'a, Result<Option<StoredProject>, StoreError>> {
        let name = name.clone();
        Box::pin(self.read(move |conn| get_in(conn, &name)))
    }

    fn project_names(&self) -> BoxFuture<'_, Result<Vec<ProjectName>, StoreError>> {
        Box::pin(self.read(names_in))
    }

    fn put_project<'a>(
        &'a self,
        project: &'a StoredProject,
        mode: PutMode,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let (name, text) = encode(project)?;
            self.write(move |conn| put_in(conn, &name, &text, mode)).await
        })
    }

    fn delete_project<'a>(&'a self, name: &'a ProjectName) -> BoxFuture<'a, Result<(), StoreError>> {
        let name = name.clone();
        Box::pin(self.write(move |conn| delete_in(conn, &name)))
    }
}

fn get_in(conn: &Connection, name: &ProjectName) -> Result<Option<StoredProject>, StoreError> {
    let text: Option<String> = conn
        .query_row(
            "SELECT record FROM projects WHERE name = ?1",
            [name.as_str()],
            |r| r.get(0),
        )
        .optional()
        .map_err(backend)?;
    text.map(|t| {
        serde_json::from_str(&t).map_err(|e| StoreError::Corrupt {
            id: format!("project {name}"),
            reason: e.to_string(),
        })
    })
    .transpose()
}

fn names_in(conn: &Connection) -> Result<Vec<ProjectName>, StoreError> {
    let names = {
        let mut stmt = conn
            .prepare_cached("SELECT name FROM projects ORDER BY name")
            .map_err(backend)?;
        let rows = stmt.query_map([], |r| r.get(0)).map_err(backend)?;
        rows.collect::<Result<Vec<String>, _>>().map_err(backend)?
    };
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

/// The project's name and its stored form.
fn encode(project: &StoredProject) -> Result<(String, String), StoreError> {
    let name = project.name().as_str().to_owned();
    let text = serde_json::to_string(project).map_err(|e| StoreError::Backend {
        message: format!("encoding project {name}: {e}"),
        retryable: false,
    })?;
    Ok((name, text))
}

fn put_in(conn: &Connection, name: &str, text: &str, mode: PutMode) -> Result<(), StoreError> {
    let exists = conn
        .query_row("SELECT 1 FROM projects WHERE name = ?1", [name], |_| Ok(()))
        .optional()
        .map_err(backend)?
        .is_some();
    match (mode, exists) {
        (PutMode::Create, true) => return Err(StoreError::AlreadyExists(name.to_owned())),
        (PutMode::Update, false) => return Err(StoreError::NotFound(name.to_owned())),
        (PutMode::Create | PutMode::Update | PutMode::Upsert, _) => {}
    }
    conn.execute(
        "INSERT INTO projects (name, record) VALUES (?1, ?2) \
         ON CONFLICT(name) DO UPDATE SET record = excluded.record",
        params![name, text],
    )
    .map_err(backend)?;
    Ok(())
}

fn delete_in(conn: &Connection, name: &ProjectName) -> Result<(), StoreError> {
    conn.execute("DELETE FROM projects WHERE name = ?1", [name.as_str()])
        .map_err(backend)?;
    Ok(())
}
