//! [`DispatchQueue`] on the single table: the sparse `active` index is the queue (oldest first), and a claim is
//! one transaction that marks the build `claimed` and adds one to the project's and the global running counts,
//! each conditional on its limit. Release and terminal writes give the slot back only if the build held it, so
//! a task that dies (task-events → terminal write or release) frees its slot exactly once.

use std::collections::HashSet;

use aws_sdk_dynamodb::types::AttributeValue;

use super::expr::{Names, update};
use super::items::{KIND_ACTIVE, Row, build_key, n, row_from_item, s};
use super::store::{TxFailure, running_key};
use super::{DynamoBuildStore, INDEX_ACTIVE, backend, query_partition};
use kiln_core::build::{BuildId, ProjectName};
use kiln_core::ports::BoxFuture;
use kiln_core::ports::build_store::{
    BuildState, ClaimOutcome, DispatchQueue, Limits, QueueEntry, StoreError,
};

/// What one claim attempt found.
enum Claim {
    Won,
    /// The build left the queue or was claimed by someone else.
    Lost,
    ProjectFull,
    GlobalFull,
}

impl DynamoBuildStore {
    /// Every queued or running build, oldest first, from the sparse `active` index (eventually consistent).
    async fn active_rows(&self) -> Result<Vec<Row>, StoreError> {
        query_partition(&self.client, &self.table, INDEX_ACTIVE, "activeKind", KIND_ACTIVE)
            .await?
            .iter()
            .map(row_from_item)
            .collect()
    }

    /// Ids of the builds in progress, oldest first: a Query on the sparse index, never a Scan.
    pub async fn in_progress(&self) -> Result<Vec<BuildId>, StoreError> {
        Ok(self
            .active_rows()
            .await?
            .into_iter()
            .filter(|row| row.build.state == BuildState::InProgress)
            .map(|row| row.build.id().clone())
            .collect())
    }

    async fn claim_entries(&self, limits: &Limits, max: usize) -> Result<Vec<QueueEntry>, StoreError> {
        let mut claimed = Vec::new();
        let mut full: HashSet<ProjectName> = HashSet::new();
        for row in self.active_rows().await? {
            if claimed.len() >= max || limits.global == 0 {
                break;
            }
            if row.claimed || row.build.state == BuildState::Terminal || full.contains(row.build.project()) {
                continue;
            }
            match self.try_claim(&row, limits).await? {
                Claim::Won => claimed.push(entry(row, true)),
                Claim::Lost => {}
                Claim::ProjectFull => {
                    full.insert(row.build.project().clone());
                }
                Claim::GlobalFull => break,
            }
        }
        Ok(claimed)
    }

    /// Claims one build by id: a consistent read, then the same claim transaction as the queue walk. A claim
    /// that lost only to a concurrent transaction on the running counts is tried again (three times, then a
    /// retryable error, so the caller retries the message rather than dropping it).
    async fn claim_one(&self, build_id: &BuildId, limits: &Limits) -> Result<ClaimOutcome, StoreError> {
        for _ in 0..3 {
            let Some(row) = self.get_row(build_id).await? else {
                return Ok(ClaimOutcome::NotWaiting);
            };
            if !row.active || row.claimed || row.build.state != BuildState::Queued {
                return Ok(ClaimOutcome::NotWaiting);
            }
            if limits.global == 0 {
                return Ok(ClaimOutcome::GlobalFull);
            }
            match self.try_claim(&row, limits).await? {
                Claim::Won => return Ok(ClaimOutcome::Claimed(entry(row, true))),
                Claim::ProjectFull => return Ok(ClaimOutcome::ProjectFull),
                Claim::GlobalFull => return Ok(ClaimOutcome::GlobalFull),
                Claim::Lost => {}
            }
        }
        Err(StoreError::Backend {
            message: format!("claiming build {build_id:?} kept conflicting with other writers; try again"),
            retryable: true,
        })
    }

    async fn try_claim(&self, row: &Row, limits: &Limits) -> Result<Claim, StoreError> {
        let build = Names::attrs(&["activeKind", "claimed"])
            .value("true", AttributeValue::Bool(true))
            .value("false", AttributeValue::Bool(false));
        let mut writes = vec![update(
            &self.table,
            build_key(row.build.id()),
            "SET #claimed = :true",
            Some("attribute_exists(#activeKind) AND #claimed = :false"),
            &build,
        )?];
        let below = "attribute_not_exists(#running) OR #running < :limit";
        let global = Names::attrs(&["running"])
            .value("one", n(1))
            .value("limit", n(limits.global as u64));
        writes.push(update(
            &self.table,
            running_key(None),
            "ADD #running :one",
            Some(below),
            &global,
        )?);
        let project_limit = limits.per_project.get(row.build.project());
        let project = Names::attrs(&["running"])
            .value("one", n(1))
            .value("limit", n(project_limit.copied().unwrap_or(0) as u64));
        let project_names = match project_limit {
            Some(_) => project,
            None => Names::attrs(&["running"]).value("one", n(1)),
        };
        let condition = project_limit.map(|_| below);
        writes.push(update(
            &self.table,
            running_key(Some(row.build.project().as_str())),
            "ADD #running :one",
            condition,
            &project_names,
        )?);
        match self.transact(writes).await {
            Ok(()) => Ok(Claim::Won),
            Err(TxFailure::Failed(err)) => Err(err),
            Err(TxFailure::Cancelled(reasons)) => {
                let failed = |i: usize| reasons.get(i).is_some_and(|r| r == "ConditionalCheckFailed");
                Ok(if failed(1) {
                    Claim::GlobalFull
                } else if failed(2) {
                    Claim::ProjectFull
                } else {
                    Claim::Lost
                })
            }
        }
    }

    async fn assign_task(&self, build_id: &BuildId, task: &str) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(build_key(build_id)))
            .update_expression("SET #task = :task")
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#task", "task")
            .expression_attribute_names("#pk", "pk")
            .expression_attribute_values(":task", s(task))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Err(StoreError::NotFound(build_id.to_string()))
            }
            Err(err) => Err(backend(&err)),
        }
    }

    async fn release_entry(&self, build_id: &BuildId) -> Result<(), StoreError> {
        for _ in 0..3 {
            let Some(row) = self.get_row(build_id).await? else {
                return Ok(());
            };
            if !row.active {
                return Ok(());
            }
            let names = Names::attrs(&["activeKind", "activeSeq", "claimed"])
                .value("was", AttributeValue::Bool(row.claimed))
                .value("false", AttributeValue::Bool(false));
            let mut writes = vec![update(
                &self.table,
                build_key(build_id),
                "SET #claimed = :false REMOVE #activeKind, #activeSeq",
                Some("attribute_exists(#activeKind) AND #claimed = :was"),
                &names,
            )?];
            if row.claimed {
                writes.extend(self.slot_changes(row.build.project(), -1)?);
            }
            if self.transact_conditional(writes).await? {
                return Ok(());
            }
        }
        Err(StoreError::Backend {
            message: format!("releasing build {build_id:?} kept conflicting with other writers; try again"),
            retryable: true,
        })
    }
}

/// The queue entry of a build item.
fn entry(row: Row, claimed: bool) -> QueueEntry {
    QueueEntry {
        build_id: row.build.id().clone(),
        project: row.build.project().clone(),
        task: row.task,
        claimed,
    }
}

impl DispatchQueue for DynamoBuildStore {
    fn claim<'a>(
        &'a self,
        limits: &'a Limits,
        max: usize,
    ) -> BoxFuture<'a, Result<Vec<QueueEntry>, StoreError>> {
        Box::pin(self.claim_entries(limits, max))
    }

    fn claim_build<'a>(
        &'a self,
        build_id: &'a BuildId,
        limits: &'a Limits,
    ) -> BoxFuture<'a, Result<ClaimOutcome, StoreError>> {
        Box::pin(self.claim_one(build_id, limits))
    }

    fn assign<'a>(&'a self, build_id: &'a BuildId, task: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.assign_task(build_id, task))
    }

    fn release<'a>(&'a self, build_id: &'a BuildId) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.release_entry(build_id))
    }

    fn entries(&self) -> BoxFuture<'_, Result<Vec<QueueEntry>, StoreError>> {
        Box::pin(async move {
            Ok(self
                .active_rows()
                .await?
                .into_iter()
                .map(|row| {
                    let claimed = row.claimed;
                    entry(row, claimed)
                })
                .collect())
        })
    }
}
