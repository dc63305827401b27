//! The DynamoDB project store against moto: conditional create/update (a taken name and a missing name are
//! refused), upsert, names sorted from the `byCreation` index (projects never show up as builds), and delete.

use kiln_aws::{AwsClients, DynamoBuildStore};
use kiln_core::build::{AccountContext, Build, BuildId, ProjectName, Timestamp};
use kiln_core::ports::build_store::{BuildStore, ProjectStore, PutMode, SortOrder, StoreError};
use kiln_core::project::StoredProject;
use serde_json::json;

use crate::aws_support::with_moto;

async fn store(clients: &AwsClients) -> DynamoBuildStore {
    let store = DynamoBuildStore::new(clients.dynamodb.clone(), "kiln-builds");
    store.create_table().await.expect("create the table");
    store
}

fn project(name: &str, location: &str) -> StoredProject {
    serde_json::from_value(json!({"name": name, "source": {"type": "GIT", "location": location}}))
        .expect("a project")
}

fn name(name: &str) -> ProjectName {
    ProjectName::parse(name).expect("a name")
}

#[test]
fn creating_a_taken_name_or_updating_a_missing_one_is_refused_and_nothing_is_overwritten() {
    with_moto(|clients, _| async move {
        let store = store(&clients).await;
        store
            .put_project(&project("web", "https://a"), PutMode::Create)
            .await
            .expect("create");
        let again = store
            .put_project(&project("web", "https://b"), PutMode::Create)
            .await;
        assert!(
            matches!(&again, Err(StoreError::AlreadyExists(name)) if name == "web"),
            "{again:?}"
        );
        let missing = store
            .put_project(&project("api", "https://c"), PutMode::Update)
            .await;
        assert!(
            matches!(&missing, Err(StoreError::NotFound(name)) if name == "api"),
            "{missing:?}"
        );
        assert_eq!(store.get_project(&name("api")).await.expect("get"), None);
        assert_eq!(
            store.get_project(&name("web")).await.expect("get"),
            Some(project("web", "https://a")),
            "the refused create left the first definition"
        );

        store
            .put_project(&project("web", "https://d"), PutMode::Update)
            .await
            .expect("update");
        store
            .put_project(&project("api", "https://e"), PutMode::Upsert)
            .await
            .expect("upsert creates");
        store
            .put_project(&project("api", "https://f"), PutMode::Upsert)
            .await
            .expect("upsert replaces");
        assert_eq!(
            store.get_project(&name("web")).await.expect("get"),
            Some(project("web", "https://d"))
        );
        assert_eq!(
            store.get_project(&name("api")).await.expect("get"),
            Some(project("api", "https://f"))
        );
    });
}

#[test]
fn project_names_come_sorted_from_the_index_and_builds_and_projects_never_mix() {
    with_moto(|clients, _| async move {
        let store = store(&clients).await;
        for name in ["zeta", "alpha", "mid-1", "Mid"] {
            store
                .put_project(&project(name, "https://x"), PutMode::Create)
                .await
                .expect("create");
        }
        let id = "alpha:00000000-0000-4000-8000-000000000001".to_owned();
        let build = Build::new(
            BuildId::parse(&id).expect("id"),
            0,
            &AccountContext::local(),
            Timestamp::from_epoch_millis(0),
        );
        store.create(None, vec![build]).await.expect("create a build");

        assert_eq!(
            store.project_names().await.expect("names"),
            vec!["Mid", "alpha", "mid-1", "zeta"]
        );
        let builds = store
            .list(None, SortOrder::Descending, None, 10)
            .await
            .expect("list builds");
        assert_eq!(builds.ids, vec![id], "project items are not builds");
        let alpha = store
            .list(Some(&name("alpha")), SortOrder::Descending, None, 10)
            .await
            .expect("list a project's builds");
        assert_eq!(alpha.ids.len(), 1);
    });
}

#[test]
fn deleting_a_project_removes_it_and_deleting_a_missing_one_is_not_an_error() {
    with_moto(|clients, _| async move {
        let store = store(&clients).await;
        store
            .put_project(&project("web", "https://a"), PutMode::Create)
            .await
            .expect("create");
        store.delete_project(&name("web")).await.expect("delete");
        store.delete_project(&name("web")).await.expect("delete again");
        assert_eq!(store.get_project(&name("web")).await.expect("get"), None);
        assert!(store.project_names().await.expect("names").is_empty());
        store
            .put_project(&project("web", "https://b"), PutMode::Create)
            .await
            .expect("the name is free again");
    });
}
