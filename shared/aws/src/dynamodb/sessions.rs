//! [`SessionStore`] on the single table: one item per logged-in console session (`pk` = `SESSION#<id>`, `sk` =
//! `#SESSION`) with `created`, `lastUsed` and `expires` (epoch milliseconds), `userAgent`, and the table's TTL
//! attribute `expiresAt` (epoch seconds) so DynamoDB removes it after it ends. Session items carry `kind` =
//! `SESSION` and `seq` = `<created ms>#<id>`, so listing them is a Query on the `byCreation` index. A use is a
//! conditional update (the session exists, has not ended and was used since the idle cut-off), so a revoked,
//! ended or idle session can never be brought back by a request racing its revocation.

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::ReturnValue;

use super::items::{Item, get_s, get_time, key, millis, n, s, seq};
use super::{INDEX_BY_CREATION, backend, query_partition};
use kiln_core::build::Timestamp;
use kiln_core::ports::BoxFuture;
use kiln_core::ports::build_store::StoreError;
use kiln_core::ports::sessions::{ConsoleSession, SessionError, SessionStore};

/// Sort key of a session item.
const SK_SESSION: &str = "#SESSION";
/// The constant `kind` of session items (hash key of the `byCreation` index).
const KIND_SESSION: &str = "SESSION";

/// Console sessions on the stack's one table.
#[derive(Debug, Clone)]
pub struct DynamoSessionStore {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoSessionStore {
    /// Sessions on `table` (the build store's table, made by the template or
    /// [`super::DynamoBuildStore::create_table`]).
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> DynamoSessionStore {
        DynamoSessionStore {
            client,
            table: table.into(),
        }
    }
}

fn session_key(id: &str) -> Item {
    key(format!("SESSION#{id}"), SK_SESSION)
}

fn session_item(session: &ConsoleSession) -> Item {
    let mut item = session_key(&session.id);
    item.extend([
        ("id".to_owned(), s(&session.id)),
        ("created".to_owned(), n(millis(session.created))),
        ("lastUsed".to_owned(), n(millis(session.last_used))),
        ("expires".to_owned(), n(millis(session.expires))),
        ("expiresAt".to_owned(), n(millis(session.expires).div_ceil(1000))),
        ("userAgent".to_owned(), s(&session.user_agent)),
        ("kind".to_owned(), s(KIND_SESSION)),
        ("seq".to_owned(), s(seq(millis(session.created), &session.id))),
    ]);
    item
}

fn from_item(item: &Item) -> Option<ConsoleSession> {
    Some(ConsoleSession {
        id: get_s(item, "id")?.to_owned(),
        created: get_time(item, "created")?,
        last_used: get_time(item, "lastUsed")?,
        expires: get_time(item, "expires")?,
        user_agent: get_s(item, "userAgent").unwrap_or_default().to_owned(),
    })
}

fn from_store(err: StoreError) -> SessionError {
    match err {
        StoreError::Backend { message, retryable } => SessionError::Backend { message, retryable },
        other => SessionError::Backend {
            message: other.to_string(),
            retryable: false,
        },
    }
}

impl DynamoSessionStore {
    async fn put(&self, session: &ConsoleSession) -> Result<(), SessionError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(session_item(session)))
            .send()
            .await
            .map_err(|e| from_store(backend(&e)))?;
        Ok(())
    }

    async fn use_session(
        &self,
        id: &str,
        now: Timestamp,
        idle_since: Timestamp,
    ) -> Result<Option<ConsoleSession>, SessionError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(session_key(id)))
            .update_expression("SET #lastUsed = :now")
            .condition_expression("attribute_exists(#pk) AND #expires > :now AND #lastUsed >= :idle")
            .expression_attribute_names("#pk", "pk")
            .expression_attribute_names("#lastUsed", "lastUsed")
            .expression_attribute_names("#expires", "expires")
            .expression_attribute_values(":now", n(millis(now)))
            .expression_attribute_values(":idle", n(millis(idle_since)))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(output) => Ok(output.attributes().and_then(from_item)),
            Err(err)
                if matches!(
                    err.as_service_error(),
                    Some(UpdateItemError::ConditionalCheckFailedException(_))
                ) =>
            {
                Ok(None)
            }
            Err(err) => Err(from_store(backend(&err))),
        }
    }

    async fn live(&self, now: Timestamp, idle_since: Timestamp) -> Result<Vec<ConsoleSession>, SessionError> {
        let items = query_partition(&self.client, &self.table, INDEX_BY_CREATION, "kind", KIND_SESSION)
            .await
            .map_err(from_store)?;
        let mut sessions: Vec<ConsoleSession> = items
            .iter()
            .filter_map(from_item)
            .filter(|session| session.is_live(now, idle_since))
            .collect();
        sessions.sort_by(|a, b| b.last_used.cmp(&a.last_used).then(b.created.cmp(&a.created)));
        Ok(sessions)
    }

    async fn delete(&self, id: &str) -> Result<(), SessionError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(session_key(id)))
            .send()
            .await
            .map_err(|e| from_store(backend(&e)))?;
        Ok(())
    }
}

impl SessionStore for DynamoSessionStore {
    fn create<'a>(&'a self, session: &'a ConsoleSession) -> BoxFuture<'a, Result<(), SessionError>> {
        Box::pin(self.put(session))
    }

    fn touch<'a>(
        &'a self,
        id: &'a str,
        now: Timestamp,
        idle_since: Timestamp,
    ) -> BoxFuture<'a, Result<Option<ConsoleSession>, SessionError>> {
        Box::pin(self.use_session(id, now, idle_since))
    }

    fn list(
        &self,
        now: Timestamp,
        idle_since: Timestamp,
    ) -> BoxFuture<'_, Result<Vec<ConsoleSession>, SessionError>> {
        Box::pin(self.live(now, idle_since))
    }

    fn revoke<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), SessionError>> {
        Box::pin(self.delete(id))
    }
}
