//! [`KeyStore`] on the single table: one item per Kiln access key (`pk` = `ACCESSKEY#<id>`, `sk` =
//! `#ACCESSKEY`) with `id`, `description`, `scope` (JSON), `created` and `revoked` (epoch milliseconds) and
//! `sealedSecret` (the secret sealed by [`kiln_core::access_keys::seal`]; never the secret itself). Items carry
//! `kind` = `ACCESSKEY` and `seq` = `<created ms>#<id>`, so listing them is a Query on the `byCreation` index.
//! Creating is a conditional put (the id is new); revoking a conditional update (the key exists) that keeps a
//! first revocation time.

use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;

use super::items::{Item, get_s, get_time, key, millis, n, s, seq};
use super::{INDEX_BY_CREATION, backend, query_partition};
use kiln_core::access_keys::AccessKey;
use kiln_core::build::Timestamp;
use kiln_core::ports::BoxFuture;
use kiln_core::ports::access_keys::{KeyStore, KeyStoreError};
use kiln_core::ports::build_store::StoreError;

/// Sort key of an access key item.
const SK_KEY: &str = "#ACCESSKEY";
/// The constant `kind` of access key items (hash key of the `byCreation` index).
const KIND_KEY: &str = "ACCESSKEY";

/// Kiln access keys on the stack's one table.
#[derive(Debug, Clone)]
pub struct DynamoKeyStore {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoKeyStore {
    /// Keys on `table` (the build store's table).
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> DynamoKeyStore {
        DynamoKeyStore {
            client,
            table: table.into(),
        }
    }
}

fn item_key(id: &str) -> Item {
    key(format!("ACCESSKEY#{id}"), SK_KEY)
}

fn from_store(err: StoreError) -> KeyStoreError {
    match err {
        StoreError::Backend { message, retryable } => KeyStoreError::Backend { message, retryable },
        other => KeyStoreError::Backend {
            message: other.to_string(),
            retryable: false,
        },
    }
}

fn to_item(access_key: &AccessKey) -> Result<Item, KeyStoreError> {
    let scope = serde_json::to_string(&access_key.scope).map_err(|e| KeyStoreError::Backend {
        message: e.to_string(),
        retryable: false,
    })?;
    let mut item = item_key(&access_key.id);
    item.extend([
        ("id".to_owned(), s(&access_key.id)),
        ("description".to_owned(), s(&access_key.description)),
        ("scope".to_owned(), s(scope)),
        ("created".to_owned(), n(millis(access_key.created))),
        ("sealedSecret".to_owned(), s(&access_key.sealed_secret)),
        ("kind".to_owned(), s(KIND_KEY)),
        (
            "seq".to_owned(),
            s(seq(millis(access_key.created), &access_key.id)),
        ),
    ]);
    if let Some(revoked) = access_key.revoked {
        item.insert("revoked".to_owned(), n(millis(revoked)));
    }
    Ok(item)
}

fn from_item(item: &Item) -> Result<AccessKey, KeyStoreError> {
    let id = get_s(item, "id").unwrap_or_default().to_owned();
    let corrupt = |what: &str| KeyStoreError::Backend {
        message: format!("access key item {id:?}: {what}"),
        retryable: false,
    };
    let scope = get_s(item, "scope").ok_or_else(|| corrupt("no scope"))?;
    Ok(AccessKey {
        scope: serde_json::from_str(scope).map_err(|e| corrupt(&format!("unreadable scope: {e}")))?,
        description: get_s(item, "description").unwrap_or_default().to_owned(),
        created: get_time(item, "created").ok_or_else(|| corrupt("no creation time"))?,
        revoked: get_time(item, "revoked"),
        sealed_secret: get_s(item, "sealedSecret")
            .ok_or_else(|| corrupt("no sealed secret"))?
            .to_owned(),
        id,
    })
}

impl DynamoKeyStore {
    async fn put(&self, access_key: &AccessKey) -> Result<(), KeyStoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(access_key)?))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", "pk")
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err)
                if matches!(
                    err.as_service_error(),
                    Some(PutItemError::ConditionalCheckFailedException(_))
                ) =>
            {
                Err(KeyStoreError::Exists(access_key.id.clone()))
            }
            Err(err) => Err(from_store(backend(&err))),
        }
    }

    async fn find(&self, id: &str) -> Result<Option<AccessKey>, KeyStoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(item_key(id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| from_store(backend(&e)))?;
        output.item().map(from_item).transpose()
    }

    async fn all(&self) -> Result<Vec<AccessKey>, KeyStoreError> {
        let items = query_partition(&self.client, &self.table, INDEX_BY_CREATION, "kind", KIND_KEY)
            .await
            .map_err(from_store)?;
        let mut keys = items.iter().map(from_item).collect::<Result<Vec<_>, _>>()?;
        keys.sort_by(|a, b| b.created.cmp(&a.created).then(a.id.cmp(&b.id)));
        Ok(keys)
    }

    async fn mark_revoked(&self, id: &str, at: Timestamp) -> Result<bool, KeyStoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(item_key(id)))
            .update_expression("SET #revoked = if_not_exists(#revoked, :at)")
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", "pk")
            .expression_attribute_names("#revoked", "revoked")
            .expression_attribute_values(":at", n(millis(at)))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(err)
                if matches!(
                    err.as_service_error(),
                    Some(UpdateItemError::ConditionalCheckFailedException(_))
                ) =>
            {
                Ok(false)
            }
            Err(err) => Err(from_store(backend(&err))),
        }
    }
}

impl KeyStore for DynamoKeyStore {
    fn create<'a>(&'a self, key: &'a AccessKey) -> BoxFuture<'a, Result<(), KeyStoreError>> {
        Box::pin(self.put(key))
    }

    fn get<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<AccessKey>, KeyStoreError>> {
        Box::pin(self.find(id))
    }

    fn list(&self) -> BoxFuture<'_, Result<Vec<AccessKey>, KeyStoreError>> {
        Box::pin(self.all())
    }

    fn revoke<'a>(&'a self, id: &'a str, at: Timestamp) -> BoxFuture<'a, Result<bool, KeyStoreError>> {
        Box::pin(self.mark_revoked(id, at))
    }
}
