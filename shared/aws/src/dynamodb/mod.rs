//! The DynamoDB build store: builds, projects, build-number counters, running counts and idempotency keys in one
//! table (`pk`/`sk` strings, TTL attribute `expiresAt`) with three GSIs. Design and access patterns:
//!
//! | item | pk | sk | notable attributes |
//! |---|---|---|---|
//! | build | `BUILD#<id>` | `#BUILD` | `project`, `number`, `state`, `version`, `record` (JSON), `kind`/`seq`, `activeKind`/`activeSeq` while queued or running, `claimed`, `task` |
//! | build-number counter | `PROJECT#<name>` | `#COUNTER` | `last` (UpdateItem `ADD last 1`) |
//! | running count | `PROJECT#<name>` or `GLOBAL` | `#RUNNING` | `running` |
//! | idempotency key | `KEY#<key>` | `#KEY` | `buildIds`, `expiresAt` (TTL) |
//! | project | `PROJECT#<name>` | `#PROJECT` | `name`, `record` (JSON), `kind`=`PROJECT`, `seq`=`<name>` |
//! | Kiln access key | `ACCESSKEY#<id>` | `#ACCESSKEY` | `description`, `scope` (JSON), `created`, `revoked`, `sealedSecret`, `kind`=`ACCESSKEY`, `seq` ([`DynamoKeyStore`]) |
//! | console session | `SESSION#<id>` | `#SESSION` | `created`, `lastUsed`, `expires`, `userAgent`, `expiresAt` (TTL), `kind`=`SESSION`, `seq` ([`DynamoSessionStore`]) |
//!
//! Indexes: `byProject` (`project`, `number` N) lists a project's builds by number; `byCreation` (`kind`, `seq`)
//! lists all builds by creation (`kind` = `BUILD`) and all project names (`kind` = `PROJECT`); `active`
//! (`activeKind`, `activeSeq`) is sparse — only queued and running builds carry its keys — so the dispatch queue
//! and "builds in progress" are a Query, never a Scan.

mod access_keys;
mod expr;
mod items;
mod projects;
mod queue;
mod sessions;
mod store;

pub use access_keys::DynamoKeyStore;
pub use sessions::DynamoSessionStore;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
};

use super::retry::{describe, is_retryable};
use kiln_core::ports::build_store::StoreError;

/// Index of a project's builds by number.
pub const INDEX_BY_PROJECT: &str = "byProject";
/// Index of all builds by creation time.
pub const INDEX_BY_CREATION: &str = "byCreation";
/// Sparse index of queued and running builds.
pub const INDEX_ACTIVE: &str = "active";

/// How long an idempotency key is honoured by default (webhook redeliveries come within hours).
pub const DEFAULT_KEY_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// The build store and dispatch queue on one DynamoDB table.
#[derive(Debug, Clone)]
pub struct DynamoBuildStore {
    client: aws_sdk_dynamodb::Client,
    table: String,
    key_ttl: Duration,
}

impl DynamoBuildStore {
    /// A store on `table`, which must have the keys and indexes [`DynamoBuildStore::create_table`] makes.
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> DynamoBuildStore {
        DynamoBuildStore {
            client,
            table: table.into(),
            key_ttl: DEFAULT_KEY_TTL,
        }
    }

    /// Changes how long idempotency keys are honoured.
    pub fn with_key_ttl(mut self, ttl: Duration) -> DynamoBuildStore {
        self.key_ttl = ttl;
        self
    }

    /// The table name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// Creates the table with its three indexes and TTL (for tests and local setups; production tables come
    /// from the SAM template with the same schema).
    pub async fn create_table(&self) -> Result<(), StoreError> {
        let attributes = [
            ("pk", ScalarAttributeType::S),
            ("sk", ScalarAttributeType::S),
            ("project", ScalarAttributeType::S),
            ("number", ScalarAttributeType::N),
            ("kind", ScalarAttributeType::S),
            ("seq", ScalarAttributeType::S),
            ("activeKind", ScalarAttributeType::S),
            ("activeSeq", ScalarAttributeType::S),
        ];
        let mut request = self
            .client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .set_key_schema(Some(key_schema("pk", "sk")?));
        for (name, kind) in attributes {
            request = request.attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(name)
                    .attribute_type(kind)
                    .build()
                    .map_err(invalid)?,
            );
        }
        for (index, hash, range) in [
            (INDEX_BY_PROJECT, "project", "number"),
            (INDEX_BY_CREATION, "kind", "seq"),
            (INDEX_ACTIVE, "activeKind", "activeSeq"),
        ] {
            request = request.global_secondary_indexes(
                GlobalSecondaryIndex::builder()
                    .index_name(index)
                    .set_key_schema(Some(key_schema(hash, range)?))
                    .projection(Projection::builder().projection_type(ProjectionType::All).build())
                    .build()
                    .map_err(invalid)?,
            );
        }
        request.send().await.map_err(|e| backend(&e))?;
        self.client
            .update_time_to_live()
            .table_name(&self.table)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .attribute_name("expiresAt")
                    .enabled(true)
                    .build()
                    .map_err(invalid)?,
            )
            .send()
            .await
            .map_err(|e| backend(&e))?;
        Ok(())
    }
}

fn key_schema(hash: &str, range: &str) -> Result<Vec<KeySchemaElement>, StoreError> {
    Ok(vec![
        KeySchemaElement::builder()
            .attribute_name(hash)
            .key_type(KeyType::Hash)
            .build()
            .map_err(invalid)?,
        KeySchemaElement::builder()
            .attribute_name(range)
            .key_type(KeyType::Range)
            .build()
            .map_err(invalid)?,
    ])
}

/// A request the SDK refused to build (a missing required member): a bug here, never retried.
fn invalid(err: aws_sdk_dynamodb::error::BuildError) -> StoreError {
    StoreError::Backend {
        message: format!("building a dynamodb request: {err}"),
        retryable: false,
    }
}

fn backend<E>(
    err: &aws_sdk_dynamodb::error::SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>,
) -> StoreError
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
{
    StoreError::Backend {
        message: describe(err),
        retryable: is_retryable(err),
    }
}

/// Every item of one partition of index `index` (where attribute `key` equals `value`), following the pages
/// DynamoDB answers (eventually consistent, as GSI queries are).
async fn query_partition(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    index: &str,
    key: &str,
    value: &str,
) -> Result<Vec<items::Item>, StoreError> {
    let mut found = Vec::new();
    let mut start: Option<items::Item> = None;
    loop {
        let output = client
            .query()
            .table_name(table)
            .index_name(index)
            .key_condition_expression("#k = :k")
            .expression_attribute_names("#k", key)
            .expression_attribute_values(":k", items::s(value))
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .map_err(|e| backend(&e))?;
        found.extend(output.items().iter().cloned());
        match output.last_evaluated_key() {
            Some(last) => start = Some(last.clone()),
            None => return Ok(found),
        }
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}
