//! Tests of the SQLite store, queue and outbox against a real database file in a temp dir.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Value, json};

use super::sqlite::SqliteStore;
use kiln_core::build::{AccountContext, Build, BuildId, ProjectName, StatusType, Timestamp};
use kiln_core::ports::build_store::{BuildState, Limits, SortOrder, UpdateOutcome};
use kiln_core::ports::notifier::Notice;
use kiln_core::project::StoredProject;
use kiln_core::usecases::notices::{NoticeSource, notices_for};

fn store() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("kiln.db")).unwrap();
    (dir, store)
}

/// Build `n` of `project` (project names have at least two characters), with a recognisable uuid.
fn id(project: &str, n: usize) -> BuildId {
    BuildId::parse(&format!("{project}:00000000-0000-4000-8000-{n:012}")).unwrap()
}

fn new_build(project: &str, n: usize) -> Build {
    Build::new(
        id(project, n),
        0,
        &AccountContext::local(),
        Timestamp::from_epoch_millis(1_700_000_000_000),
    )
}

/// Build `n` of `project` with `members` set over its record.
fn build_with(project: &str, n: usize, members: Value) -> Build {
    let mut record = serde_json::to_value(new_build(project, n)).unwrap();
    record
        .as_object_mut()
        .unwrap()
        .extend(members.as_object().unwrap().clone());
    serde_json::from_value(record).unwrap()
}

fn name(project: &str) -> ProjectName {
    ProjectName::parse(project).unwrap()
}

/// A minimal valid project `name` with `members` set over it.
fn project(project: &str, members: Value) -> StoredProject {
    let mut definition = json!({"name": project,
                                "source": {"type": "NO_SOURCE", "buildspec": "version: 0.2\nphases: {}\n"}});
    definition
        .as_object_mut()
        .unwrap()
        .extend(members.as_object().unwrap().clone());
    serde_json::from_value(definition).unwrap()
}

#[test]
fn twenty_threads_creating_with_the_same_key_create_one_build() {
    let (_dir, store) = store();
    let store = Arc::new(store);
    let handles: Vec<_> = (0..20)
        .map(|n| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                store
                    .create_sync(Some("delivery-1"), vec![new_build("web", n)])
                    .unwrap()
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let ids: std::collections::HashSet<_> = results.iter().map(|c| c.builds[0].id().clone()).collect();
    assert_eq!(ids.len(), 1, "every caller sees the same build: {ids:?}");
    assert_eq!(results.iter().filter(|c| !c.existing).count(), 1);
    assert_eq!(
        store
            .list_sync(None, SortOrder::Descending, None, 100)
            .unwrap()
            .ids
            .len(),
        1
    );
    assert_eq!(store.entries_sync().unwrap().len(), 1, "one queue entry");
}

#[test]
fn build_numbers_count_per_project_and_land_in_the_record() {
    let (_dir, store) = store();
    let a1 = store.create_sync(None, vec![new_build("aa", 1)]).unwrap();
    let b1 = store.create_sync(None, vec![new_build("bb", 1)]).unwrap();
    let a2 = store.create_sync(None, vec![new_build("aa", 2)]).unwrap();
    assert_eq!(
        (
            a1.builds[0].number(),
            b1.builds[0].number(),
            a2.builds[0].number()
        ),
        (1, 1, 2)
    );
    assert_eq!(a2.builds[0].build.build_number(), 2);
    assert_eq!(
        store
            .get_sync(&id("aa", 2))
            .unwrap()
            .unwrap()
            .build
            .build_number(),
        2
    );
}

#[test]
fn updates_need_the_current_version_and_never_touch_a_terminal_build() {
    let (_dir, store) = store();
    store.create_sync(None, vec![new_build("web", 1)]).unwrap();
    let UpdateOutcome::Updated(running) = store
        .update_sync(
            1,
            BuildState::InProgress,
            build_with("web", 1, json!({"buildStatus": "IN_PROGRESS"})),
        )
        .unwrap()
    else {
        panic!("first update must apply")
    };
    assert_eq!(running.version, 2);
    let stale = store
        .update_sync(1, BuildState::InProgress, new_build("web", 1))
        .unwrap();
    assert!(
        matches!(stale, UpdateOutcome::Conflict(ref b) if b.version == 2),
        "{stale:?}"
    );
    let done = store
        .update_sync(
            2,
            BuildState::Terminal,
            build_with("web", 1, json!({"buildStatus": "SUCCEEDED"})),
        )
        .unwrap();
    assert!(matches!(done, UpdateOutcome::Updated(_)));
    assert!(
        store.entries_sync().unwrap().is_empty(),
        "a terminal build leaves the queue"
    );
    let again = store
        .update_sync(
            3,
            BuildState::Terminal,
            build_with("web", 1, json!({"buildStatus": "FAILED"})),
        )
        .unwrap();
    let UpdateOutcome::Terminal(kept) = again else {
        panic!("terminal builds are never overwritten")
    };
    assert_eq!(kept.build.build_status(), StatusType::Succeeded);
}

#[test]
fn listing_pages_newest_first_and_rejects_foreign_tokens() {
    let (_dir, store) = store();
    for n in 1..=5 {
        store.create_sync(None, vec![new_build("web", n)]).unwrap();
    }
    store.create_sync(None, vec![new_build("other", 1)]).unwrap();
    let first = store
        .list_sync(Some(&name("web")), SortOrder::Descending, None, 2)
        .unwrap();
    assert_eq!(first.ids, [id("web", 5), id("web", 4)]);
    let second = store
        .list_sync(
            Some(&name("web")),
            SortOrder::Descending,
            first.next_token.as_deref(),
            2,
        )
        .unwrap();
    assert_eq!(second.ids, [id("web", 3), id("web", 2)]);
    let last = store
        .list_sync(
            Some(&name("web")),
            SortOrder::Descending,
            second.next_token.as_deref(),
            2,
        )
        .unwrap();
    assert_eq!(
        (last.ids.as_slice(), last.next_token),
        (&[id("web", 1)][..], None)
    );
    let all = store.list_sync(None, SortOrder::Ascending, None, 100).unwrap();
    assert_eq!(all.ids.len(), 6);
    assert!(
        store
            .list_sync(Some(&name("web")), SortOrder::Descending, Some("next!"), 2)
            .is_err()
    );
}

#[test]
fn claims_hold_the_per_project_and_global_limits() {
    let (_dir, store) = store();
    for n in 1..=3 {
        store.create_sync(None, vec![new_build("aa", n)]).unwrap();
        store.create_sync(None, vec![new_build("bb", n)]).unwrap();
    }
    let limits = Limits {
        global: 3,
        per_project: HashMap::from([(name("aa"), 1)]),
        live: vec![],
    };
    let claimed: Vec<_> = store
        .claim_sync(&limits, 10)
        .unwrap()
        .into_iter()
        .map(|e| e.build_id)
        .collect();
    assert_eq!(claimed, [id("aa", 1), id("bb", 1), id("bb", 2)]);
    assert!(
        store.claim_sync(&limits, 10).unwrap().is_empty(),
        "global limit reached"
    );
    store.release_sync(&id("aa", 1)).unwrap();
    let next: Vec<_> = store
        .claim_sync(&limits, 10)
        .unwrap()
        .into_iter()
        .map(|e| e.build_id)
        .collect();
    assert_eq!(next, [id("aa", 2)]);
    store.assign_sync(&id("aa", 2), "1234").unwrap();
    let entry = store
        .entries_sync()
        .unwrap()
        .into_iter()
        .find(|e| e.build_id == id("aa", 2))
        .unwrap();
    assert_eq!(entry.task.as_deref(), Some("1234"));
}

#[test]
fn notices_come_back_in_order_after_a_cursor_and_delivery_cursors_persist() {
    let (dir, store) = store();
    for n in 0..3 {
        let build = new_build("web", n);
        let mut event = notices_for(&NoticeSource::default(), None, &build, 0)
            .remove(0)
            .event;
        event.id = n.to_string();
        store
            .append_notice_sync(&Notice {
                project: name("web"),
                event,
            })
            .unwrap();
    }
    let after_first = store.notices_after_sync(1, 10).unwrap();
    assert_eq!(
        after_first
            .iter()
            .map(|n| n.event.id.as_str())
            .collect::<Vec<_>>(),
        ["1", "2"]
    );
    store.set_delivered_cursor_sync("hook", 2).unwrap();
    drop(store);
    let reopened = SqliteStore::open(&dir.path().join("kiln.db")).unwrap();
    assert_eq!(reopened.delivered_cursor_sync("hook").unwrap(), 2);
    assert_eq!(reopened.delivered_cursor_sync("other").unwrap(), 0);
}

#[test]
fn projects_are_created_once_updated_only_when_present_and_deleted() {
    use kiln_core::ports::build_store::{PutMode, StoreError};
    let (_dir, store) = store();
    store
        .put_project_sync(&project("web", json!({})), PutMode::Create)
        .unwrap();
    assert!(matches!(
        store.put_project_sync(&project("web", json!({})), PutMode::Create),
        Err(StoreError::AlreadyExists(name)) if name == "web"
    ));
    assert!(matches!(
        store.put_project_sync(&project("api", json!({})), PutMode::Update),
        Err(StoreError::NotFound(_))
    ));
    store
        .put_project_sync(&project("web", json!({"description": "v2"})), PutMode::Update)
        .unwrap();
    store
        .put_project_sync(&project("api", json!({})), PutMode::Upsert)
        .unwrap();
    assert_eq!(store.project_names_sync().unwrap(), [name("api"), name("web")]);
    assert_eq!(
        store
            .get_project_sync(&name("web"))
            .unwrap()
            .unwrap()
            .project
            .description
            .as_deref(),
        Some("v2")
    );
    store.delete_project_sync(&name("web")).unwrap();
    assert_eq!(store.get_project_sync(&name("web")).unwrap(), None);
}

#[test]
fn writes_sync_as_the_store_was_opened_and_the_mode_parses_from_its_flag() {
    use super::sqlite::{SyncMode, backend};
    let synchronous = |store: &SqliteStore| {
        store
            .write_blocking(|conn| {
                conn.query_row("PRAGMA synchronous", [], |r| r.get::<_, i64>(0))
                    .map_err(backend)
            })
            .unwrap()
    };
    let dir = tempfile::tempdir().unwrap();
    // SQLite's values: 1 = NORMAL, 2 = FULL.
    let normal = SqliteStore::open(&dir.path().join("kiln.db")).unwrap();
    assert_eq!(synchronous(&normal), 1);
    let full = SqliteStore::open_with(&dir.path().join("kiln.db"), SyncMode::Full).unwrap();
    assert_eq!(synchronous(&full), 2);
    assert_eq!("FULL".parse::<SyncMode>(), Ok(SyncMode::Full));
    assert_eq!("normal".parse::<SyncMode>(), Ok(SyncMode::Normal));
    let err = "always".parse::<SyncMode>().unwrap_err();
    assert!(
        err.contains("\"always\"") && err.contains("normal or full"),
        "{err}"
    );
    assert_eq!(SyncMode::Full.as_str(), "full");
}
