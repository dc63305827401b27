//! Kiln access keys end to end ([`crate::access_keys`]): creating one (a new id and secret, the secret sealed
//! before it reaches the store and shown once), listing and revoking them, and finding the credentials and scope
//! a signed request's key id stands for.

use std::sync::Arc;

use crate::access_keys::seal::{KeySealer, SealError};
use crate::access_keys::{AccessKey, KeyScope, RandomError, ScopeError, new_key_id, new_secret};
use crate::build::Timestamp;
use crate::ports::access_keys::{KeyStore, KeyStoreError};
use crate::sigv4::Credentials;

/// Why a key operation failed.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(transparent)]
    Store(#[from] KeyStoreError),
    #[error(transparent)]
    Seal(#[from] SealError),
    #[error(transparent)]
    Scope(#[from] ScopeError),
    #[error(transparent)]
    Random(#[from] RandomError),
    #[error("there is no access key {0}; `kiln keys list` shows the keys")]
    NotFound(String),
    #[error("the description is {0} characters; keep it under 256")]
    LongDescription(usize),
}

/// The longest description accepted.
pub const DESCRIPTION_MAX: usize = 255;

/// A key just made: its record and its secret, which is shown once and never again.
#[derive(Debug, Clone)]
pub struct NewKey {
    pub key: AccessKey,
    pub secret: String,
}

/// A key that may sign requests now: its credentials and scope.
#[derive(Debug, Clone)]
pub struct ActiveKey {
    pub credentials: Credentials,
    pub scope: KeyScope,
}

/// The keys of one deployment: a store and the deployment's sealer.
#[derive(Clone)]
pub struct Keyring {
    store: Arc<dyn KeyStore>,
    sealer: KeySealer,
}

impl Keyring {
    pub fn new(store: Arc<dyn KeyStore>, sealer: KeySealer) -> Keyring {
        Keyring { store, sealer }
    }

    /// Makes a key for `scope`.
    pub async fn create(
        &self,
        description: &str,
        scope: KeyScope,
        now: Timestamp,
    ) -> Result<NewKey, KeyError> {
        if description.chars().count() > DESCRIPTION_MAX {
            return Err(KeyError::LongDescription(description.chars().count()));
        }
        scope.check()?;
        let id = new_key_id()?;
        let secret = new_secret()?;
        let key = AccessKey {
            sealed_secret: self.sealer.seal(&id, &secret)?,
            id,
            description: description.to_owned(),
            scope,
            created: now,
            revoked: None,
        };
        self.store.create(&key).await?;
        Ok(NewKey { key, secret })
    }

    /// Every key, newest first.
    pub async fn list(&self) -> Result<Vec<AccessKey>, KeyError> {
        Ok(self.store.list().await?)
    }

    /// Revokes key `id`.
    pub async fn revoke(&self, id: &str, now: Timestamp) -> Result<(), KeyError> {
        if self.store.revoke(id, now).await? {
            Ok(())
        } else {
            Err(KeyError::NotFound(id.to_owned()))
        }
    }

    /// The credentials and scope of key `id` when it exists and is not revoked.
    pub async fn active(&self, id: &str) -> Result<Option<ActiveKey>, KeyError> {
        let Some(key) = self.store.get(id).await? else {
            return Ok(None);
        };
        if !key.is_active() {
            return Ok(None);
        }
        let secret = self.sealer.open(&key.id, &key.sealed_secret)?;
        Ok(Some(ActiveKey {
            credentials: Credentials::new(key.id, secret),
            scope: key.scope,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    use crate::ports::BoxFuture;

    #[derive(Default)]
    struct Memory(Mutex<Vec<AccessKey>>);

    impl KeyStore for Memory {
        fn create<'a>(&'a self, key: &'a AccessKey) -> BoxFuture<'a, Result<(), KeyStoreError>> {
            self.0.lock().expect("lock").push(key.clone());
            Box::pin(async { Ok(()) })
        }
        fn get<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<AccessKey>, KeyStoreError>> {
            let found = self.0.lock().expect("lock").iter().find(|k| k.id == id).cloned();
            Box::pin(async move { Ok(found) })
        }
        fn list(&self) -> BoxFuture<'_, Result<Vec<AccessKey>, KeyStoreError>> {
            let all = self.0.lock().expect("lock").clone();
            Box::pin(async move { Ok(all) })
        }
        fn revoke<'a>(&'a self, id: &'a str, at: Timestamp) -> BoxFuture<'a, Result<bool, KeyStoreError>> {
            let mut keys = self.0.lock().expect("lock");
            let found = keys
                .iter_mut()
                .find(|k| k.id == id)
                .map(|k| k.revoked = k.revoked.or(Some(at)));
            Box::pin(async move { Ok(found.is_some()) })
        }
    }

    #[tokio::test]
    async fn a_key_signs_until_it_is_revoked_and_its_secret_is_stored_sealed() {
        let store = Arc::new(Memory::default());
        let ring = Keyring::new(
            store.clone(),
            KeySealer::new(b"a sealing secret for tests").expect("sealer"),
        );
        let at = Timestamp::from_epoch_millis;
        let made = ring
            .create("ci deploys", KeyScope::everything(), at(5))
            .await
            .expect("create");
        let stored = store.0.lock().expect("lock")[0].clone();
        assert!(!stored.sealed_secret.contains(&made.secret), "sealed at rest");
        let active = ring.active(&made.key.id).await.expect("active").expect("found");
        assert_eq!(
            active.credentials,
            Credentials::new(made.key.id.clone(), made.secret.clone())
        );
        assert_eq!(
            ring.active("KILNNOSUCHKEY0000000")
                .await
                .expect("active")
                .map(|a| a.scope),
            None
        );

        ring.revoke(&made.key.id, at(9)).await.expect("revoke");
        assert!(
            ring.active(&made.key.id).await.expect("active").is_none(),
            "revoked"
        );
        assert_eq!(ring.list().await.expect("list")[0].revoked, Some(at(9)));
        let err = ring
            .revoke("KILNNOSUCHKEY0000000", at(9))
            .await
            .expect_err("unknown");
        assert!(err.to_string().contains("kiln keys list"), "{err}");
        let err = ring
            .create(&"x".repeat(300), KeyScope::everything(), at(5))
            .await
            .expect_err("long");
        assert!(matches!(err, KeyError::LongDescription(300)));
    }
}
