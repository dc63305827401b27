//! `accept_codecommit_event` against the local SQLite store: routing to every project naming the repository,
//! each through its own filter groups, idempotency on the event id, and the typed ignores.

use serde_json::{Value, json};

use kiln_core::ports::build_store::{ProjectStore, PutMode};
use kiln_core::trigger::codecommit::CodeCommitIgnore;
use kiln_core::usecases::codecommit::*;
use kiln_core::usecases::webhook::Delivery;

use super::{Fixture, at, fixture};

const UPDATED: &str = include_str!("../../../../tests/events/codecommit/reference-updated-branch.json");
const TAG: &str = include_str!("../../../../tests/events/codecommit/reference-created-tag.json");
const DELETED: &str = include_str!("../../../../tests/events/codecommit/reference-deleted-branch.json");

fn event(text: &str) -> Value {
    serde_json::from_str(text).expect("event file is JSON")
}

async fn add_project(f: &Fixture, name: &str, source: Value, webhook: Option<Value>) {
    let mut project = json!({
        "name": name,
        "source": source,
        "environment": {"type": "LINUX_CONTAINER", "image": "local", "computeType": "BUILD_GENERAL1_SMALL"},
        "artifacts": {"type": "NO_ARTIFACTS"}
    });
    if let Some(webhook) = webhook {
        project["webhook"] = webhook;
    }
    f.store
        .put_project(&super::stored_project(project), PutMode::Create)
        .await
        .expect("project stored");
}

/// `web-cc` (CODECOMMIT, main only), `web-local` (a local `.../web` clone, no webhook), `api` (another repo).
async fn projects() -> Fixture {
    let f = fixture("exit 0").await;
    add_project(
        &f,
        "web-cc",
        json!({"type": "CODECOMMIT", "location": "https://git-codecommit.eu-west-1.amazonaws.com/v1/repos/web"}),
        Some(json!({"filterGroups": [[{"type": "EVENT", "pattern": "PUSH"},
                                      {"type": "HEAD_REF", "pattern": "^refs/heads/main$"}]]})),
    )
    .await;
    add_project(
        &f,
        "web-local",
        json!({"type": "GIT", "location": "file:///srv/repos/web"}),
        None,
    )
    .await;
    add_project(
        &f,
        "api",
        json!({"type": "CODECOMMIT", "location": "https://git-codecommit.eu-west-1.amazonaws.com/v1/repos/api"}),
        None,
    )
    .await;
    f
}

fn routed(delivery: &CodeCommitDelivery) -> Vec<(&str, &Delivery)> {
    let CodeCommitDelivery::Routed(projects) = delivery else {
        panic!("expected builds, got {delivery:?}");
    };
    projects.iter().map(|(name, d)| (name.as_str(), d)).collect()
}

#[tokio::test]
async fn a_branch_push_builds_every_project_naming_the_repository_once() {
    let f = projects().await;
    let first = f
        .services
        .accept_codecommit_event(&event(UPDATED), at(0))
        .await
        .expect("accepted");
    let names: Vec<&str> = routed(&first).iter().map(|(name, _)| *name).collect();
    assert_eq!(names, ["web-cc", "web-local"]);
    let ids = first.build_ids();
    assert_eq!(ids.len(), 2);
    let record = super::record(&f, &ids[0]);
    assert_eq!(
        record["sourceVersion"],
        "7f2a1c9e5b3d4f60a8e1b2c3d4e5f60718293a4b"
    );
    assert_eq!(record["initiator"], "aws.codecommit");
    let variables = record["webhookVariables"].to_string();
    assert!(variables.contains("refs/heads/main"), "{variables}");

    let again = f
        .services
        .accept_codecommit_event(&event(UPDATED), at(1))
        .await
        .expect("accepted");
    assert_eq!(again.build_ids(), ids, "the same event id starts no second build");
    assert!(
        routed(&again)
            .iter()
            .all(|(_, d)| matches!(d, Delivery::Accepted { redelivery: true, .. }))
    );
}

#[tokio::test]
async fn each_project_applies_its_own_filter_groups() {
    let f = projects().await;
    let delivery = f
        .services
        .accept_codecommit_event(&event(TAG), at(0))
        .await
        .expect("accepted");
    let projects = routed(&delivery);
    assert!(
        matches!(projects[0], ("web-cc", Delivery::Ignored { reason }) if reason.starts_with("no filter group matched")),
        "{projects:?}"
    );
    assert!(
        matches!(projects[1], ("web-local", Delivery::Accepted { .. })),
        "{projects:?}"
    );
}

#[tokio::test]
async fn deletions_and_unknown_repositories_are_ignored_with_a_typed_reason() {
    let f = projects().await;
    let deleted = f
        .services
        .accept_codecommit_event(&event(DELETED), at(0))
        .await
        .expect("handled");
    assert!(
        matches!(
            deleted,
            CodeCommitDelivery::Ignored(CodeCommitIgnore::ReferenceDeleted { .. })
        ),
        "{deleted:?}"
    );
    let mut other = event(UPDATED);
    other["detail"]["repositoryName"] = json!("nobody-builds-this");
    let unknown = f
        .services
        .accept_codecommit_event(&other, at(0))
        .await
        .expect("handled");
    assert_eq!(
        unknown,
        CodeCommitDelivery::Ignored(CodeCommitIgnore::UnknownRepository {
            repository: "nobody-builds-this".into(),
            region: "eu-west-1".into()
        })
    );
    let malformed = f
        .services
        .accept_codecommit_event(&json!({"detail-type": DETAIL}), at(0))
        .await
        .expect("handled");
    assert_eq!(
        malformed,
        CodeCommitDelivery::Malformed {
            message: "detail.event: missing".into()
        }
    );
}

const DETAIL: &str = kiln_core::trigger::codecommit::DETAIL_TYPE;
