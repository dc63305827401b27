//! The DynamoDB build store and dispatch queue against moto: idempotent creation (double creation returns the
//! first builds), per-project build numbers, conditional updates (stale versions and terminal builds refused),
//! paging newest first, the sparse in-progress index, and running counts under concurrency limits.

use std::collections::HashMap;

use kiln_aws::{AwsClients, DynamoBuildStore};
use kiln_core::build::{AccountContext, Build, BuildId, ProjectName, StatusType, Timestamp};
use kiln_core::ports::build_store::{
    BuildState, BuildStore, DispatchQueue, Limits, SortOrder, StoreError, UpdateOutcome,
};
use serde_json::Value;

use crate::aws_support::with_moto;

async fn store(clients: &AwsClients) -> DynamoBuildStore {
    let store = DynamoBuildStore::new(clients.dynamodb.clone(), "kiln-builds");
    store.create_table().await.expect("create the table");
    store
}

fn build_id(project: &str, n: u32) -> BuildId {
    BuildId::parse(&format!("{project}:00000000-0000-4000-8000-{n:012}")).expect("id")
}

fn new_build(project: &str, n: u32) -> Build {
    Build::new(
        build_id(project, n),
        0,
        &AccountContext::local(),
        Timestamp::from_epoch_millis(1_700_000_000_000),
    )
}

/// Build `id` (number 0, as a use case hands it over) with `members` set over its record.
fn with(id: &BuildId, members: Value) -> Build {
    let project = id.project();
    let mut record = serde_json::to_value(new_build(project.as_str(), 0)).expect("record");
    record["id"] = serde_json::json!(id);
    record["arn"] = serde_json::json!(AccountContext::local().build_arn(id));
    record
        .as_object_mut()
        .expect("object")
        .extend(members.as_object().expect("members").clone());
    serde_json::from_value(record).expect("a build")
}

fn web() -> ProjectName {
    ProjectName::parse("web").expect("name")
}

async fn create_one(store: &DynamoBuildStore, project: &str, n: u32) -> BuildId {
    let created = store
        .create(None, vec![new_build(project, n)])
        .await
        .expect("create");
    created.builds[0].id().clone()
}

#[test]
fn creating_twice_with_one_key_returns_the_first_builds_and_numbers_count_per_project() {
    with_moto(|clients, _| async move {
        let store = store(&clients).await;
        let first = store
            .create(Some("delivery-1"), vec![new_build("web", 1)])
            .await
            .expect("create");
        assert!(!first.existing);
        assert_eq!(first.builds[0].number(), 1);
        assert_eq!(first.builds[0].build.build_number(), 1);

        let again = store
            .create(Some("delivery-1"), vec![new_build("web", 2)])
            .await
            .expect("create again");
        assert!(again.existing);
        assert_eq!(again.builds, first.builds);
        assert_eq!(
            store.get(&build_id("web", 2)).await.expect("get"),
            None,
            "nothing new was written"
        );

        let second = store
            .create(Some("delivery-2"), vec![new_build("web", 3)])
            .await
            .expect("create");
        assert_eq!(second.builds[0].number(), 2);
        let other = store
            .create(None, vec![new_build("api", 4)])
            .await
            .expect("create");
        assert_eq!(other.builds[0].number(), 1, "numbers are per project");

        let stored = store
            .get(first.builds[0].id())
            .await
            .expect("get")
            .expect("present");
        assert_eq!(stored, first.builds[0]);
        assert_eq!(stored.state, BuildState::Queued);
    });
}

#[test]
fn the_idempotency_key_item_carries_a_ttl() {
    with_moto(|clients, _| async move {
        let store = store(&clients).await;
        store
            .create(Some("delivery-ttl"), vec![new_build("web", 1)])
            .await
            .expect("create");
        let item = clients
            .dynamodb
            .get_item()
            .table_name("kiln-builds")
            .key("pk", aws_sdk_dynamodb_attr("KEY#delivery-ttl"))
            .key("sk", aws_sdk_dynamodb_attr("#KEY"))
            .send()
            .await
            .expect("get the key item");
        let expires: u64 = item
            .item()
            .and_then(|i| i.get("expiresAt"))
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse().ok())
            .expect("an expiresAt number");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs();
        assert!(
            expires > now && expires <= now + 24 * 3600 + 5,
            "expiresAt {expires}, now {now}"
        );
        let ttl = clients
            .dynamodb
            .describe_time_to_live()
            .table_name("kiln-builds")
            .send()
            .await
            .expect("ttl");
        let description = ttl.time_to_live_description().expect("a ttl description");
        assert_eq!(description.attribute_name(), Some("expiresAt"));
    });
}

fn aws_sdk_dynamodb_attr(value: &str) -> aws_sdk_dynamodb::types::AttributeValue {
    aws_sdk_dynamodb::types::AttributeValue::S(value.to_owned())
}

#[test]
fn updates_need_the_current_version_and_never_overwrite_a_terminal_build() {
    with_moto(|clients, _| async move {
        let store = store(&clients).await;
        let id = create_one(&store, "web", 1).await;
        let running = with(
            &id,
            serde_json::json!({"buildStatus": "IN_PROGRESS", "currentPhase": "BUILD"}),
        );
        let UpdateOutcome::Updated(v2) = store
            .update(1, BuildState::InProgress, running)
            .await
            .expect("update")
        else {
            panic!("the first update is written");
        };
        assert_eq!(v2.version, 2);
        assert_eq!(v2.build.build_number(), 1, "the store keeps buildNumber");

        let stale = store
            .update(1, BuildState::InProgress, with(&id, serde_json::json!({})))
            .await
            .expect("update");
        assert!(
            matches!(stale, UpdateOutcome::Conflict(ref b) if b.version == 2),
            "{stale:?}"
        );

        let done = with(&id, serde_json::json!({"buildStatus": "SUCCEEDED"}));
        let outcome = store.update(2, BuildState::Terminal, done).await.expect("update");
        assert!(matches!(outcome, UpdateOutcome::Updated(ref b) if b.state == BuildState::Terminal));

        let late = with(&id, serde_json::json!({"buildStatus": "FAULT"}));
        let refused = store.update(3, BuildState::Terminal, late).await.expect("update");
        let UpdateOutcome::Terminal(kept) = refused else {
            panic!("a terminal build is never overwritten: {refused:?}");
        };
        assert_eq!(kept.build.build_status(), StatusType::Succeeded);
        assert!(matches!(
            store
                .update(
                    1,
                    BuildState::Terminal,
                    with(&build_id("web", 99), serde_json::json!({}))
                )
                .await,
            Err(StoreError::NotFound(_))
        ));
    });
}

#[test]
fn a_project_builds_are_listed_newest_first_in_pages() {
    with_moto(|clients, _| async move {
        let store = store(&clients).await;
        let mut ids = Vec::new();
        for n in 1..=5 {
            ids.push(create_one(&store, "web", n).await);
        }
        create_one(&store, "api", 9).await;

        let mut seen = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = store
                .list(Some(&web()), SortOrder::Descending, token.as_deref(), 2)
                .await
                .expect("list");
            assert!(page.ids.len() <= 2);
            seen.extend(page.ids);
            match page.next_token {
                Some(next) => token = Some(next),
                None => break,
            }
        }
        let newest_first: Vec<BuildId> = ids.iter().rev().cloned().collect();
        assert_eq!(seen, newest_first);

        let ascending = store
            .list(Some(&web()), SortOrder::Ascending, None, 10)
            .await
            .expect("list");
        assert_eq!(ascending.ids, ids);
        assert_eq!(ascending.next_token, None);
        let all = store
            .list(None, SortOrder::Descending, None, 100)
            .await
            .expect("list all");
        assert_eq!(all.ids.len(), 6);
        assert!(matches!(
            store
                .list(Some(&web()), SortOrder::Descending, Some("forged"), 2)
                .await,
            Err(StoreError::BadToken(_))
        ));
    });
}

#[test]
fn claims_respect_project_and_global_limits_and_slots_come_back_once() {
    with_moto(|clients, _| async move {
        let store = store(&clients).await;
        let web1 = create_one(&store, "web", 1).await;
        let web2 = create_one(&store, "web", 2).await;
        let api1 = create_one(&store, "api", 3).await;
        let limits = Limits {
            global: 2,
            per_project: HashMap::from([(web(), 1)]),
            live: vec![],
        };

        let claimed: Vec<BuildId> = store
            .claim(&limits, 10)
            .await
            .expect("claim")
            .into_iter()
            .map(|e| e.build_id)
            .collect();
        assert_eq!(
            claimed,
            vec![web1.clone(), api1.clone()],
            "web is at its limit after one"
        );
        assert_eq!(store.running_count(Some("web")).await.expect("count"), 1);
        assert_eq!(store.running_count(None).await.expect("count"), 2);
        assert!(
            store.claim(&limits, 10).await.expect("claim").is_empty(),
            "global limit reached"
        );

        store
            .assign(&web1, "arn:aws:ecs:us-east-1:123456789012:task/builds/abc")
            .await
            .expect("assign");
        let UpdateOutcome::Updated(running) = store
            .update(1, BuildState::InProgress, with(&web1, serde_json::json!({})))
            .await
            .expect("update")
        else {
            panic!("written");
        };
        assert_eq!(
            store.in_progress().await.expect("in progress"),
            vec![web1.clone()]
        );

        // The task died: its terminal write frees the slot, and a later release does not free it twice.
        store
            .update(
                running.version,
                BuildState::Terminal,
                with(&web1, serde_json::json!({})),
            )
            .await
            .expect("update");
        store.release(&web1).await.expect("release");
        assert_eq!(store.running_count(Some("web")).await.expect("count"), 0);
        assert_eq!(store.running_count(None).await.expect("count"), 1);
        assert!(store.in_progress().await.expect("in progress").is_empty());

        let next: Vec<BuildId> = store
            .claim(&limits, 10)
            .await
            .expect("claim")
            .into_iter()
            .map(|e| e.build_id)
            .collect();
        assert_eq!(next, vec![web2.clone()]);
        store.release(&api1).await.expect("release");
        store.release(&api1).await.expect("a second release is harmless");
        assert_eq!(store.running_count(None).await.expect("count"), 1);
        let entries = store.entries().await.expect("entries");
        assert_eq!(entries.len(), 1);
        assert!(entries[0].claimed && entries[0].build_id == web2);
    });
}
