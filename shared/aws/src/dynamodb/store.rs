//! [`BuildStore`] on the single table: idempotent creation in one TransactWriteItems, build numbers from an
//! atomic counter, paged listings from the `byProject`/`byCreation` indexes, and conditional updates that never
//! overwrite a terminal build.

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, TransactWriteItem};

use super::expr::{Names, put, update};
use super::items::{
    Item, KIND_BUILD, PK_GLOBAL, Row, SK_COUNTER, SK_RUNNING, build_key, decode_token, encode, encode_token,
    get_n, get_s, idempotency_key, key, n, new_build_item, project_pk, row_from_item, s,
};
use super::{DynamoBuildStore, INDEX_BY_CREATION, INDEX_BY_PROJECT, backend, now_ms};
use kiln_core::build::{Build, BuildId, ProjectName};
use kiln_core::ports::BoxFuture;
use kiln_core::ports::build_store::{
    BuildState, BuildStore, Created, Page, SortOrder, StoreError, StoredBuild, UpdateOutcome,
};

/// DynamoDB's limit on items in one TransactWriteItems.
const MAX_TRANSACTION_ITEMS: usize = 100;

/// How a transaction failed.
pub(super) enum TxFailure {
    /// Cancelled; one reason code per item (`None`, `ConditionalCheckFailed`, ...).
    Cancelled(Vec<String>),
    Failed(StoreError),
}

impl DynamoBuildStore {
    /// Runs one TransactWriteItems.
    pub(super) async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<(), TxFailure> {
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) => match err.as_service_error() {
                Some(aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(
                    cancelled,
                )) => Err(TxFailure::Cancelled(
                    cancelled
                        .cancellation_reasons()
                        .iter()
                        .map(|r| r.code().unwrap_or("None").to_owned())
                        .collect(),
                )),
                _ => Err(TxFailure::Failed(backend(&err))),
            },
        }
    }

    /// Reads a build item with a strongly consistent read.
    pub(super) async fn get_row(&self, id: &BuildId) -> Result<Option<Row>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(build_key(id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| backend(&e))?;
        output.item().map(row_from_item).transpose()
    }

    /// The current value of a running count (`None` = all projects).
    pub async fn running_count(&self, project: Option<&str>) -> Result<i64, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(running_key(project)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| backend(&e))?;
        Ok(output
            .item()
            .and_then(|item| get_n(item, "running"))
            .and_then(|v| i64::try_from(v).ok())
            .unwrap_or(0))
    }

    async fn next_number(&self, project: &ProjectName) -> Result<u64, StoreError> {
        let output = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(project_pk(project.as_str()), SK_COUNTER)))
            .update_expression("ADD #last :one")
            .expression_attribute_names("#last", "last")
            .expression_attribute_values(":one", n(1))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(|e| backend(&e))?;
        output
            .attributes()
            .and_then(|a| get_n(a, "last"))
            .ok_or_else(|| StoreError::Backend {
                message: format!("the build counter of project {project:?} returned no value"),
                retryable: true,
            })
    }

    async fn builds_under_key(&self, key_value: &str) -> Result<Option<Vec<StoredBuild>>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(idempotency_key(key_value)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| backend(&e))?;
        let Some(item) = output.item() else {
            return Ok(None);
        };
        // TTL deletion lags by up to two days: an expired key is treated as absent.
        if get_n(item, "expiresAt").is_some_and(|at| at < now_ms() / 1000) {
            return Ok(None);
        }
        let ids = get_ids(item, "buildIds");
        let mut builds = Vec::with_capacity(ids.len());
        for id in ids {
            let id = BuildId::parse(&id).map_err(|e| StoreError::Corrupt {
                id: key_value.to_owned(),
                reason: format!("idempotency key: {e}"),
            })?;
            let row = self
                .get_row(&id)
                .await?
                .ok_or_else(|| StoreError::NotFound(id.to_string()))?;
            builds.push(row.build);
        }
        Ok(Some(builds))
    }

    async fn create_builds(
        &self,
        key_value: Option<&str>,
        builds: Vec<Build>,
    ) -> Result<Created, StoreError> {
        if let Some(key_value) = key_value
            && let Some(found) = self.builds_under_key(key_value).await?
        {
            return Ok(Created {
                builds: found,
                existing: true,
            });
        }
        if builds.len() + 1 > MAX_TRANSACTION_ITEMS {
            return Err(StoreError::Backend {
                message: format!(
                    "{} builds in one creation; at most {} fit one transaction",
                    builds.len(),
                    MAX_TRANSACTION_ITEMS - 1
                ),
                retryable: false,
            });
        }
        let created_ms = now_ms();
        let mut stored = Vec::with_capacity(builds.len());
        let mut writes = Vec::with_capacity(builds.len() + 1);
        let absent = Names::attrs(&["pk"]);
        for mut build in builds {
            let number = self.next_number(build.project_name()).await?;
            build.set_build_number(number);
            let new = StoredBuild {
                state: BuildState::Queued,
                version: 1,
                build,
            };
            writes.push(put(
                &self.table,
                new_build_item(&new, created_ms)?,
                "attribute_not_exists(#pk)",
                &absent,
            )?);
            stored.push(new);
        }
        if let Some(key_value) = key_value {
            let mut item = idempotency_key(key_value);
            let ids = stored.iter().map(|b| s(b.id().as_str())).collect();
            item.insert("buildIds".to_owned(), AttributeValue::L(ids));
            item.insert(
                "expiresAt".to_owned(),
                n(created_ms / 1000 + self.key_ttl.as_secs()),
            );
            let names = Names::attrs(&["pk", "expiresAt"]).value("now", n(created_ms / 1000));
            writes.push(put(
                &self.table,
                item,
                "attribute_not_exists(#pk) OR #expiresAt < :now",
                &names,
            )?);
        }
        if writes.is_empty() {
            return Ok(Created {
                builds: stored,
                existing: false,
            });
        }
        match self.transact(writes).await {
            Ok(()) => Ok(Created {
                builds: stored,
                existing: false,
            }),
            Err(TxFailure::Failed(err)) => Err(err),
            Err(TxFailure::Cancelled(reasons)) => {
                let key_lost =
                    key_value.is_some() && reasons.last().is_some_and(|r| r == "ConditionalCheckFailed");
                if let (true, Some(key_value)) = (key_lost, key_value)
                    && let Some(found) = self.builds_under_key(key_value).await?
                {
                    // A concurrent creation with the same key won; its builds are the answer.
                    return Ok(Created {
                        builds: found,
                        existing: true,
                    });
                }
                Err(StoreError::Backend {
                    message: format!(
                        "creating builds was cancelled ({}); a build id may already exist",
                        reasons.join(", ")
                    ),
                    retryable: reasons.iter().any(|r| r == "TransactionConflict"),
                })
            }
        }
    }

    async fn list_ids(
        &self,
        project: Option<&ProjectName>,
        order: SortOrder,
        token: Option<&str>,
        limit: usize,
    ) -> Result<Page, StoreError> {
        let (index, hash, value, index_keys) = match project {
            Some(project) => (
                INDEX_BY_PROJECT,
                "project",
                project.as_str(),
                ["project", "number"],
            ),
            None => (INDEX_BY_CREATION, "kind", KIND_BUILD, ["kind", "seq"]),
        };
        let mut start = token.map(|t| decode_token(t, &index_keys)).transpose()?;
        let limit = limit.max(1);
        let mut items: Vec<Item> = Vec::new();
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(index)
                .key_condition_expression("#h = :h")
                .expression_attribute_names("#h", hash)
                .expression_attribute_values(":h", s(value))
                .scan_index_forward(order == SortOrder::Ascending)
                .limit(i32::try_from(limit + 1 - items.len()).unwrap_or(i32::MAX))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| backend(&e))?;
            items.extend(output.items().iter().cloned());
            match output.last_evaluated_key() {
                Some(last) if items.len() <= limit => start = Some(last.clone()),
                _ => break,
            }
        }
        let more = items.len() > limit;
        items.truncate(limit);
        Ok(Page {
            ids: items
                .iter()
                .filter_map(|i| get_s(i, "id").and_then(|id| BuildId::parse(id).ok()))
                .collect(),
            next_token: if more {
                items.last().map(|i| encode_token(i, &index_keys))
            } else {
                None
            },
        })
    }

    async fn update_build(
        &self,
        version: u64,
        state: BuildState,
        build: Build,
    ) -> Result<UpdateOutcome, StoreError> {
        let id = build.id().clone();
        // A failed condition whose cause was only a claim/release (which do not bump `version`) is retried.
        for _ in 0..3 {
            let row = self
                .get_row(&id)
                .await?
                .ok_or_else(|| StoreError::NotFound(id.to_string()))?;
            if row.build.state == BuildState::Terminal {
                return Ok(UpdateOutcome::Terminal(row.build));
            }
            if row.build.version != version {
                return Ok(UpdateOutcome::Conflict(row.build));
            }
            let mut build = build.clone();
            build.set_build_number(row.build.number());
            let new = StoredBuild {
                state,
                version: version + 1,
                build,
            };
            if self.write_update(&row, &new).await? {
                return Ok(UpdateOutcome::Updated(new));
            }
        }
        let row = self
            .get_row(&id)
            .await?
            .ok_or_else(|| StoreError::NotFound(id.to_string()))?;
        Ok(match row.build.state {
            BuildState::Terminal => UpdateOutcome::Terminal(row.build),
            BuildState::Queued | BuildState::InProgress => UpdateOutcome::Conflict(row.build),
        })
    }

    /// Writes `new` over `row` if nothing changed in between; a terminal write also leaves the dispatch index
    /// and gives back the concurrency slot, in the same transaction. `Ok(false)` when a condition failed.
    async fn write_update(&self, row: &Row, new: &StoredBuild) -> Result<bool, StoreError> {
        let terminal = new.state == BuildState::Terminal;
        let attrs: &[&str] = if terminal {
            &["state", "version", "record", "claimed", "activeKind", "activeSeq"]
        } else {
            &["state", "version", "record", "claimed"]
        };
        let mut names = Names::attrs(attrs)
            .value("state", s(new.state.as_str()))
            .value("new", n(new.version))
            .value("old", n(row.build.version))
            .value("terminal", s(BuildState::Terminal.as_str()))
            .value("claimed", AttributeValue::Bool(row.claimed))
            .value("record", s(encode(&new.build)?));
        let condition = "#version = :old AND #state <> :terminal AND #claimed = :claimed";
        let mut expression = "SET #state = :state, #version = :new, #record = :record".to_owned();
        if terminal {
            // Leaving the dispatch index and giving the slot back happen in the same transaction.
            expression.push_str(", #claimed = :false REMOVE #activeKind, #activeSeq");
            names = names.value("false", AttributeValue::Bool(false));
        }
        let mut writes = vec![update(
            &self.table,
            build_key(new.id()),
            &expression,
            Some(condition),
            &names,
        )?];
        if terminal && row.claimed {
            writes.extend(self.slot_changes(new.project(), -1)?);
        }
        self.transact_conditional(writes).await
    }

    /// Runs a transaction whose only expected failure is a failed condition (`Ok(false)`).
    pub(super) async fn transact_conditional(
        &self,
        writes: Vec<TransactWriteItem>,
    ) -> Result<bool, StoreError> {
        match self.transact(writes).await {
            Ok(()) => Ok(true),
            Err(TxFailure::Cancelled(reasons))
                if reasons
                    .iter()
                    .any(|r| r == "ConditionalCheckFailed" || r == "TransactionConflict") =>
            {
                Ok(false)
            }
            Err(TxFailure::Cancelled(reasons)) => Err(StoreError::Backend {
                message: format!("transaction cancelled: {}", reasons.join(", ")),
                retryable: true,
            }),
            Err(TxFailure::Failed(err)) => Err(err),
        }
    }

    /// Unconditional `ADD running delta` on the project's and the global running counts.
    pub(super) fn slot_changes(
        &self,
        project: &ProjectName,
        delta: i64,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        let names = Names::attrs(&["running"]).value("delta", AttributeValue::N(delta.to_string()));
        Ok(vec![
            update(
                &self.table,
                running_key(Some(project.as_str())),
                "ADD #running :delta",
                None,
                &names,
            )?,
            update(
                &self.table,
                running_key(None),
                "ADD #running :delta",
                None,
                &names,
            )?,
        ])
    }
}

/// The key of a running count: a project's, or the global one.
pub(super) fn running_key(project: Option<&str>) -> Item {
    match project {
        Some(project) => key(project_pk(project), SK_RUNNING),
        None => key(PK_GLOBAL.to_owned(), SK_RUNNING),
    }
}

/// The string members of a list attribute.
fn get_ids(item: &Item, name: &str) -> Vec<String> {
    item.get(name)
        .and_then(|v| v.as_l().ok())
        .map(|l| l.iter().filter_map(|v| v.as_s().ok().cloned()).collect())
        .unwrap_or_default()
}

impl BuildStore for DynamoBuildStore {
    fn create<'a>(
        &'a self,
        key: Option<&'a str>,
        builds: Vec<Build>,
    ) -> BoxFuture<'a, Result<Created, StoreError>> {
        Box::pin(self.create_builds(key, builds))
    }

    fn get<'a>(&'a self, id: &'a BuildId) -> BoxFuture<'a, Result<Option<StoredBuild>, StoreError>> {
        Box::pin(async move { Ok(self.get_row(id).await?.map(|row| row.build)) })
    }

    fn list<'a>(
        &'a self,
        project: Option<&'a ProjectName>,
        order: SortOrder,
        token: Option<&'a str>,
        limit: usize,
    ) -> BoxFuture<'a, Result<Page, StoreError>> {
        Box::pin(self.list_ids(project, order, token, limit))
    }

    fn update(
        &self,
        version: u64,
        state: BuildState,
        build: Build,
    ) -> BoxFuture<'_, Result<UpdateOutcome, StoreError>> {
        Box::pin(self.update_build(version, state, build))
    }
}
