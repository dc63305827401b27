//! Where Kiln access keys live ([`crate::access_keys`]): a table row locally, an item in the stack's table on
//! AWS. The store keeps records as given (secrets already sealed) and never sees a secret in the clear.

use super::BoxFuture;
use crate::access_keys::AccessKey;
use crate::build::Timestamp;

/// Why the key store could not answer.
#[derive(Debug, thiserror::Error)]
pub enum KeyStoreError {
    #[error("key store error: {message}")]
    Backend { message: String, retryable: bool },
    #[error("an access key {0} already exists")]
    Exists(String),
}

/// The access keys of one deployment.
pub trait KeyStore: Send + Sync {
    /// Records a new key; an existing id is [`KeyStoreError::Exists`].
    fn create<'a>(&'a self, key: &'a AccessKey) -> BoxFuture<'a, Result<(), KeyStoreError>>;

    /// Key `id`, revoked or not.
    fn get<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<AccessKey>, KeyStoreError>>;

    /// Every key, revoked ones included, newest first.
    fn list(&self) -> BoxFuture<'_, Result<Vec<AccessKey>, KeyStoreError>>;

    /// Marks key `id` revoked at `at` (a key revoked before keeps its first revocation time); `false` when
    /// there is no such key.
    fn revoke<'a>(&'a self, id: &'a str, at: Timestamp) -> BoxFuture<'a, Result<bool, KeyStoreError>>;
}
