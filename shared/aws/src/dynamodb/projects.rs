//! [`ProjectStore`] on the single table: one item per project (`pk` = `PROJECT#<name>`, `sk` = `#PROJECT`) with
//! the CodeBuild `Project` JSON in `record`. Project items carry `kind` = `PROJECT` and `seq` = the name, so
//! listing the names is a Query on the `byCreation` index (sorted by name), never a Scan. Create and update are
//! conditional puts, so a concurrent creation of the same name fails instead of overwriting.

use aws_sdk_dynamodb::operation::put_item::PutItemError;

use super::items::{Item, get_s, key, project_pk, s};
use super::{DynamoBuildStore, INDEX_BY_CREATION, backend, query_partition};
use kiln_core::build::ProjectName;
use kiln_core::ports::BoxFuture;
use kiln_core::ports::build_store::{ProjectStore, PutMode, StoreError};
use kiln_core::project::StoredProject;

/// Sort key of a project item (`pk` = `PROJECT#<name>`).
const SK_PROJECT: &str = "#PROJECT";
/// The constant `kind` of project items (their `seq` is the name).
pub(super) const KIND_PROJECT: &str = "PROJECT";

fn project_key(name: &str) -> Item {
    key(project_pk(name), SK_PROJECT)
}

fn project_item(project: &StoredProject) -> Result<Item, StoreError> {
    let name = project.name().as_str();
    let record = serde_json::to_string(project).map_err(|e| StoreError::Backend {
        message: format!("encoding project {name}: {e}"),
        retryable: false,
    })?;
    let mut item = project_key(name);
    item.extend([
        ("name".to_owned(), s(name)),
        ("record".to_owned(), s(record)),
        ("kind".to_owned(), s(KIND_PROJECT)),
        ("seq".to_owned(), s(name)),
    ]);
    Ok(item)
}

impl DynamoBuildStore {
    async fn read_project(&self, name: &ProjectName) -> Result<Option<StoredProject>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(project_key(name.as_str())))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| backend(&e))?;
        let Some(item) = output.item() else {
            return Ok(None);
        };
        let corrupt = |reason: String| StoreError::Corrupt {
            id: format!("project {name}"),
            reason,
        };
        let text = get_s(item, "record").ok_or_else(|| corrupt("attribute \"record\" is missing".into()))?;
        serde_json::from_str(text)
            .map(Some)
            .map_err(|e| corrupt(format!("record is not a project: {e}")))
    }

    async fn list_project_names(&self) -> Result<Vec<ProjectName>, StoreError> {
        let mut names: Vec<ProjectName> =
            query_partition(&self.client, &self.table, INDEX_BY_CREATION, "kind", KIND_PROJECT)
                .await?
                .iter()
                .filter_map(|item| get_s(item, "name").and_then(|n| ProjectName::parse(n).ok()))
                .collect();
        // The index is sorted by `seq` (the name) already; sorting again keeps the port's promise even if a
        // page boundary or a future key change reorders them.
        names.sort();
        Ok(names)
    }

    async fn write_project(&self, project: &StoredProject, mode: PutMode) -> Result<(), StoreError> {
        let name = project.name().as_str();
        let condition = match mode {
            PutMode::Create => Some("attribute_not_exists(#pk)"),
            PutMode::Update => Some("attribute_exists(#pk)"),
            PutMode::Upsert => None,
        };
        let mut request = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(project_item(project)?));
        if let Some(condition) = condition {
            request = request
                .condition_expression(condition)
                .expression_attribute_names("#pk", "pk");
        }
        match request.send().await {
            Ok(_) => Ok(()),
            Err(err) => match (err.as_service_error(), mode) {
                (Some(PutItemError::ConditionalCheckFailedException(_)), PutMode::Create) => {
                    Err(StoreError::AlreadyExists(name.to_owned()))
                }
                (Some(PutItemError::ConditionalCheckFailedException(_)), PutMode::Update) => {
                    Err(StoreError::NotFound(name.to_owned()))
                }
                _ => Err(backend(&err)),
            },
        }
    }

    async fn remove_project(&self, name: &ProjectName) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(project_key(name.as_str())))
            .send()
            .await
            .map_err(|e| backend(&e))?;
        Ok(())
    }
}

impl ProjectStore for DynamoBuildStore {
    fn get_project<'a>(
        &'a self,
        name: &'a ProjectName,
    ) -> BoxFuture<'a, Result<Option<StoredProject>, StoreError>> {
        Box::pin(self.read_project(name))
    }

    fn project_names(&self) -> BoxFuture<'_, Result<Vec<ProjectName>, StoreError>> {
        Box::pin(self.list_project_names())
    }

    fn put_project<'a>(
        &'a self,
        project: &'a StoredProject,
        mode: PutMode,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.write_project(project, mode))
    }

    fn delete_project<'a>(&'a self, name: &'a ProjectName) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.remove_project(name))
    }
}
