//! Kiln access keys on SQLite: the `access_keys` table, one row per key (see [`kiln_core::access_keys`]); the
//! secret column holds the sealed secret only. [`local_sealer`] keeps the deployment's key-sealing secret in a
//! file beside the database (`keys.secret`, created mode 0600 on first use).

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::sqlite::{SqliteStore, backend};
use kiln_core::access_keys::seal::{KeySealer, new_sealing_secret};
use kiln_core::access_keys::{AccessKey, KeyScope};
use kiln_core::build::Timestamp;
use kiln_core::ports::BoxFuture;
use kiln_core::ports::access_keys::{KeyStore, KeyStoreError};
use kiln_core::ports::build_store::StoreError;

/// The table, created with the rest of the schema ([`crate::sqlite`]).
pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS access_keys (
    id TEXT PRIMARY KEY,
    description TEXT NOT NULL,
    scope TEXT NOT NULL,
    created INTEGER NOT NULL,
    revoked INTEGER,
    sealed_secret TEXT NOT NULL
);
";

const COLUMNS: &str = "id, description, scope, created, revoked, sealed_secret";

/// The file holding the key-sealing secret, in the data directory.
pub const SEALING_SECRET_FILE: &str = "keys.secret";

/// Why the local sealing secret could not be had.
#[derive(Debug, thiserror::Error)]
pub enum LocalSealerError {
    #[error("cannot read or create the key-sealing secret {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("the key-sealing secret {path}: {source}")]
    Seal {
        path: String,
        source: kiln_core::access_keys::seal::SealError,
    },
}

/// The sealer of the deployment whose data directory is `data_dir`: the secret in `keys.secret`, made (random,
/// mode 0600) when absent.
pub fn local_sealer(data_dir: &Path) -> Result<KeySealer, LocalSealerError> {
    let path = data_dir.join(SEALING_SECRET_FILE);
    let shown = path.display().to_string();
    let io = |source| LocalSealerError::Io {
        path: shown.clone(),
        source,
    };
    let secret = match std::fs::read_to_string(&path) {
        Ok(secret) => secret,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            let secret = new_sealing_secret().map_err(|source| LocalSealerError::Seal {
                path: shown.clone(),
                source,
            })?;
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
            {
                Ok(mut file) => {
                    file.write_all(secret.as_bytes()).map_err(io)?;
                    file.sync_all().map_err(io)?;
                    secret
                }
                // Another process made it first: use theirs.
                Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
                    std::fs::read_to_string(&path).map_err(io)?
                }
                Err(err) => return Err(io(err)),
            }
        }
        Err(err) => return Err(io(err)),
    };
    KeySealer::new(secret.trim().as_bytes()).map_err(|source| LocalSealerError::Seal { path: shown, source })
}

fn key_error(err: impl std::fmt::Display) -> KeyStoreError {
    KeyStoreError::Backend {
        message: format!("sqlite: {err}"),
        retryable: false,
    }
}

fn from_store(err: StoreError) -> KeyStoreError {
    match err {
        StoreError::Backend { message, retryable } => KeyStoreError::Backend { message, retryable },
        other => key_error(other),
    }
}

fn row(r: &Row<'_>) -> rusqlite::Result<(AccessKey, String)> {
    let scope: String = r.get(2)?;
    let revoked: Option<i64> = r.get(4)?;
    Ok((
        AccessKey {
            id: r.get(0)?,
            description: r.get(1)?,
            scope: KeyScope::default(),
            created: Timestamp::from_epoch_millis(r.get(3)?),
            revoked: revoked.map(Timestamp::from_epoch_millis),
            sealed_secret: r.get(5)?,
        },
        scope,
    ))
}

/// A row's key with its scope read from the stored JSON.
fn with_scope((mut key, scope): (AccessKey, String)) -> Result<AccessKey, StoreError> {
    key.scope = serde_json::from_str(&scope).map_err(|e| StoreError::Backend {
        message: format!("access key {}: unreadable scope: {e}", key.id),
        retryable: false,
    })?;
    Ok(key)
}

fn create_in(conn: &Connection, key: &AccessKey) -> Result<bool, StoreError> {
    let scope = serde_json::to_string(&key.scope).map_err(|e| StoreError::Backend {
        message: e.to_string(),
        retryable: false,
    })?;
    let inserted = conn
        .execute(
            &format!("INSERT OR IGNORE INTO access_keys ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"),
            params![
                key.id,
                key.description,
                scope,
                key.created.epoch_millis(),
                key.revoked.map(Timestamp::epoch_millis),
                key.sealed_secret
            ],
        )
        .map_err(backend)?;
    Ok(inserted == 1)
}

fn get_in(conn: &Connection, id: &str) -> Result<Option<AccessKey>, StoreError> {
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM access_keys WHERE id = ?1"),
        [id],
        row,
    )
    .optional()
    .map_err(backend)?
    .map(with_scope)
    .transpose()
}

fn list_in(conn: &Connection) -> Result<Vec<AccessKey>, StoreError> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM access_keys ORDER BY created DESC, id"
        ))
        .map_err(backend)?;
    let rows = stmt.query_map([], row).map_err(backend)?;
    rows.map(|r| r.map_err(backend).and_then(with_scope)).collect()
}

fn revoke_in(conn: &Connection, id: &str, at: Timestamp) -> Result<bool, StoreError> {
    let changed = conn
        .execute(
            "UPDATE access_keys SET revoked = coalesce(revoked, ?2) WHERE id = ?1",
            params![id, at.epoch_millis()],
        )
        .map_err(backend)?;
    Ok(changed == 1)
}

impl KeyStore for SqliteStore {
    fn create<'a>(&'a self, key: &'a AccessKey) -> BoxFuture<'a, Result<(), KeyStoreError>> {
        let key = key.clone();
        Box::pin(async move {
            let id = key.id.clone();
            match self.write(move |conn| create_in(conn, &key)).await {
                Ok(true) => Ok(()),
                Ok(false) => Err(KeyStoreError::Exists(id)),
                Err(err) => Err(from_store(err)),
            }
        })
    }

    fn get<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<AccessKey>, KeyStoreError>> {
        let id = id.to_owned();
        Box::pin(async move { self.read(move |conn| get_in(conn, &id)).await.map_err(from_store) })
    }

    fn list(&self) -> BoxFuture<'_, Result<Vec<AccessKey>, KeyStoreError>> {
        Box::pin(async move { self.read(list_in).await.map_err(from_store) })
    }

    fn revoke<'a>(&'a self, id: &'a str, at: Timestamp) -> BoxFuture<'a, Result<bool, KeyStoreError>> {
        let id = id.to_owned();
        Box::pin(async move {
            self.write(move |conn| revoke_in(conn, &id, at))
                .await
                .map_err(from_store)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_core::usecases::keys::Keyring;
    use std::sync::Arc;

    #[tokio::test]
    async fn keys_are_kept_sealed_listed_newest_first_and_revoked_once() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Arc::new(SqliteStore::open(&dir.path().join("kiln.db")).expect("open"));
        let sealer = local_sealer(dir.path()).expect("sealer");
        let mode = std::fs::metadata(dir.path().join(SEALING_SECRET_FILE))
            .expect("secret file")
            .permissions();
        assert_eq!(std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777, 0o600);
        let ring = Keyring::new(store.clone(), sealer);
        let at = Timestamp::from_epoch_millis;
        let scope = KeyScope::new(vec!["BatchGet*".into()], vec!["web".into()]).expect("scope");
        let one = ring
            .create("one", scope.clone(), at(1_000))
            .await
            .expect("create");
        let two = ring
            .create("two", KeyScope::everything(), at(2_000))
            .await
            .expect("create");

        let listed = ring.list().await.expect("list");
        let ids: Vec<&str> = listed.iter().map(|k| k.id.as_str()).collect();
        assert_eq!(ids, [two.key.id.as_str(), one.key.id.as_str()]);
        assert_eq!(listed[1].scope, scope);
        let raw: String = store
            .read_blocking(|conn| {
                conn.query_row("SELECT group_concat(sealed_secret) FROM access_keys", [], |r| {
                    r.get(0)
                })
                .map_err(backend)
            })
            .expect("raw");
        assert!(
            !raw.contains(&one.secret) && !raw.contains(&two.secret),
            "no secret in the clear"
        );

        // A second sealer from the same directory opens the same secrets (the file is reused, not remade).
        let again = Keyring::new(store.clone(), local_sealer(dir.path()).expect("sealer"));
        let active = again.active(&one.key.id).await.expect("active").expect("found");
        assert_eq!(active.credentials.secret_access_key(), one.secret);

        ring.revoke(&one.key.id, at(3_000)).await.expect("revoke");
        ring.revoke(&one.key.id, at(4_000)).await.expect("revoke again");
        assert_eq!(ring.list().await.expect("list")[1].revoked, Some(at(3_000)));
        assert!(ring.active(&one.key.id).await.expect("active").is_none());
        assert!(
            KeyStore::create(&*store, &two.key).await.is_err(),
            "ids are unique"
        );
    }
}
