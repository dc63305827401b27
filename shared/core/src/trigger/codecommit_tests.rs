//! The CodeCommit event parser over the documented event shapes (`tests/events/codecommit/`), the location
//! form, how a source names a repository, and arbitrary JSON (never a panic).

use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;
use crate::trigger::{FilterGroups, webhook_variables};

const UPDATED: &str = include_str!("../../../../tests/events/codecommit/reference-updated-branch.json");
const CREATED: &str = include_str!("../../../../tests/events/codecommit/reference-created-branch.json");
const TAG: &str = include_str!("../../../../tests/events/codecommit/reference-created-tag.json");
const DELETED: &str = include_str!("../../../../tests/events/codecommit/reference-deleted-branch.json");

fn event(text: &str) -> Value {
    serde_json::from_str(text).expect("event file is JSON")
}

fn push(text: &str) -> CodeCommitPush {
    match parse_codecommit_event(&event(text)) {
        Ok(CodeCommitParse::Push(push)) => *push,
        other => panic!("expected a push, got {other:?}"),
    }
}

#[test]
fn a_branch_update_becomes_the_same_push_a_webhook_would() {
    let push = push(UPDATED);
    assert_eq!(push.repository_name, "web");
    assert_eq!(push.region, "eu-west-1");
    let event = push.event;
    assert_eq!(event.provider, Provider::CodeCommit);
    assert_eq!(event.event, WebhookEvent::Push);
    assert_eq!(event.delivery_id.as_str(), "b2b6f6a4-7c1e-4d2a-9f55-0e6a1c7d3e01");
    assert_eq!(event.head_ref.as_str(), "refs/heads/main");
    assert_eq!(event.source_version, "7f2a1c9e5b3d4f60a8e1b2c3d4e5f60718293a4b");
    assert_eq!(
        event.actor.id.as_deref(),
        Some("arn:aws:iam::123456789012:user/Mary_Major")
    );
    assert_eq!(event.actor.login.as_deref(), Some("Mary_Major"));
    assert_eq!(
        event.repository.clone_url_http,
        "https://git-codecommit.eu-west-1.amazonaws.com/v1/repos/web"
    );
    let variables = webhook_variables(&event);
    let names: Vec<(&str, &str)> = variables.iter().map(|(n, v)| (*n, v.as_str())).collect();
    assert_eq!(
        names,
        [
            ("CODEBUILD_WEBHOOK_EVENT", "PUSH"),
            ("CODEBUILD_WEBHOOK_TRIGGER", "branch/main"),
            ("CODEBUILD_WEBHOOK_HEAD_REF", "refs/heads/main"),
            (
                "CODEBUILD_WEBHOOK_ACTOR_ACCOUNT_ID",
                "arn:aws:iam::123456789012:user/Mary_Major"
            ),
            (
                "CODEBUILD_WEBHOOK_PREV_COMMIT",
                "0c1d2e3f405162738495a6b7c8d9e0f1a2b3c4d5"
            ),
        ]
    );
    assert_eq!(crate::trigger::initiator(&event), "aws.codecommit");
}

#[test]
fn a_created_branch_has_no_previous_commit_and_an_assumed_role_actor() {
    let event = push(CREATED).event;
    assert_eq!(event.head_ref.as_str(), "refs/heads/feature/login");
    assert_eq!(event.before_sha, None);
    assert_eq!(event.actor.login.as_deref(), Some("alice"));
}

#[test]
fn a_tag_push_has_a_tag_ref_and_trigger() {
    let event = push(TAG).event;
    assert_eq!(event.head_ref.as_str(), "refs/tags/v1.2.0");
    assert_eq!(event.tag_name.as_deref(), Some("v1.2.0"));
    assert_eq!(crate::trigger::trigger(&event), "tag/v1.2.0");
}

#[test]
fn a_deletion_is_ignored_with_the_deleted_ref_as_reason() {
    let parsed = parse_codecommit_event(&event(DELETED)).expect("well-formed");
    let CodeCommitParse::Ignored(reason) = parsed else {
        panic!("a deletion must be ignored: {parsed:?}");
    };
    assert_eq!(
        reason,
        CodeCommitIgnore::ReferenceDeleted {
            reference: "refs/heads/feature/login".into()
        }
    );
    assert_eq!(
        reason.to_string(),
        "refs/heads/feature/login was deleted; deletions are not built"
    );
}

#[test]
fn filter_groups_apply_to_codecommit_pushes_like_webhook_pushes() {
    let groups: FilterGroups = serde_json::from_value(json!([[
        {"type": "EVENT", "pattern": "PUSH"},
        {"type": "HEAD_REF", "pattern": "^refs/heads/main$"},
        {"type": "ACTOR_ACCOUNT_ID", "pattern": ":user/Mary_Major$"}
    ]]))
    .expect("filter groups");
    let compiled = groups.compile().expect("compiles");
    assert!(matches!(
        compiled.evaluate(&push(UPDATED).event),
        crate::trigger::FilterDecision::Build { group: Some(0) }
    ));
    assert!(matches!(
        compiled.evaluate(&push(TAG).event),
        crate::trigger::FilterDecision::NoMatch { .. }
    ));
}

fn with(mut value: Value, pointer: &str, replacement: Option<Value>) -> Value {
    let (parent, key) = pointer.rsplit_once('/').expect("pointer");
    let object = value
        .pointer_mut(parent)
        .and_then(Value::as_object_mut)
        .expect("parent object");
    match replacement {
        Some(new) => object.insert(key.to_owned(), new),
        None => object.remove(key),
    };
    value
}

#[test]
fn other_events_and_reference_types_are_ignored_with_a_typed_reason() {
    let base = event(UPDATED);
    let table = [
        (
            with(
                base.clone(),
                "/detail-type",
                Some(json!("CodeCommit Comment on Commit")),
            ),
            CodeCommitIgnore::NotRepositoryStateChange {
                detail_type: "CodeCommit Comment on Commit".into(),
            },
        ),
        (
            with(base.clone(), "/source", Some(json!("aws.codebuild"))),
            CodeCommitIgnore::NotRepositoryStateChange {
                detail_type: DETAIL_TYPE.into(),
            },
        ),
        (
            with(
                base.clone(),
                "/detail/event",
                Some(json!("unreferencedMergeCommitCreated")),
            ),
            CodeCommitIgnore::UnsupportedEvent {
                event: "unreferencedMergeCommitCreated".into(),
            },
        ),
        (
            with(base.clone(), "/detail/referenceType", Some(json!("note"))),
            CodeCommitIgnore::UnsupportedReferenceType {
                reference_type: "note".into(),
            },
        ),
    ];
    for (value, expected) in table {
        assert_eq!(
            parse_codecommit_event(&value),
            Ok(CodeCommitParse::Ignored(expected))
        );
    }
}

#[test]
fn missing_or_mistyped_fields_are_errors_that_name_the_field() {
    let base = event(UPDATED);
    let table = [
        ("/detail/commitId", None, "detail.commitId: missing"),
        (
            "/detail/repositoryName",
            Some(json!(7)),
            "detail.repositoryName: expected a string, found a number",
        ),
        ("/id", Some(json!("")), "id: must not be empty"),
        ("/region", None, "region: missing"),
        ("/detail/event", None, "detail.event: missing"),
        ("/detail-type", None, "detail-type: missing"),
        (
            "/detail/callerUserArn",
            Some(json!({})),
            "detail.callerUserArn: expected a string, found an object",
        ),
    ];
    for (pointer, replacement, expected) in table {
        let err = parse_codecommit_event(&with(base.clone(), pointer, replacement)).expect_err(pointer);
        assert_eq!(err.message, expected, "{pointer}");
    }
    let err = parse_codecommit_event(&json!([1, 2])).expect_err("not an object");
    assert!(
        err.to_string().starts_with("malformed codecommit event: (body)"),
        "{err}"
    );
}

#[test]
fn a_missing_full_name_is_built_from_the_reference_name() {
    let value = with(event(TAG), "/detail/referenceFullName", None);
    let CodeCommitParse::Push(push) = parse_codecommit_event(&value).expect("push") else {
        panic!("a push");
    };
    assert_eq!(push.event.head_ref.as_str(), "refs/tags/v1.2.0");
}

#[test]
fn codecommit_locations_parse_and_bad_ones_say_why() {
    let good = [
        (
            "https://git-codecommit.eu-west-1.amazonaws.com/v1/repos/web",
            "eu-west-1",
            "web",
        ),
        (
            "https://git-codecommit.us-east-2.amazonaws.com/v1/repos/My.Repo_1-x/",
            "us-east-2",
            "My.Repo_1-x",
        ),
        (
            "https://git-codecommit-fips.us-gov-west-1.amazonaws.com/v1/repos/r",
            "us-gov-west-1",
            "r",
        ),
    ];
    for (location, region, name) in good {
        let parsed = CodeCommitLocation::parse(location).expect(location);
        assert_eq!((parsed.region(), parsed.name()), (region, name), "{location}");
    }
    let bad = [
        (
            "ssh://git-codecommit.eu-west-1.amazonaws.com/v1/repos/web",
            "HTTPS clone URLs",
        ),
        (
            "https://github.com/o/web",
            "is not git-codecommit.REGION.amazonaws.com",
        ),
        (
            "https://git-codecommit.eu-west-1.amazonaws.com/repos/web",
            "the path must be /v1/repos/NAME",
        ),
        (
            "https://git-codecommit.eu-west-1.amazonaws.com/v1/repos/",
            "is not a repository name",
        ),
        (
            "https://git-codecommit.eu-west-1.amazonaws.com/v1/repos/a/b",
            "is not a repository name",
        ),
        (
            "https://git-codecommit.eu-west-1.amazonaws.com/v1/repos/web.git",
            "is not a repository name",
        ),
    ];
    for (location, expected) in bad {
        let err = CodeCommitLocation::parse(location)
            .expect_err(location)
            .to_string();
        assert!(err.contains(expected), "{location}: {err}");
        assert!(err.contains(LOCATION_FORM), "{location}: {err}");
    }
}

#[test]
fn sources_name_a_repository_by_codecommit_url_or_local_directory_name() {
    let url = "https://git-codecommit.eu-west-1.amazonaws.com/v1/repos/web";
    let table = [
        ("CODECOMMIT", url, "web", "eu-west-1", true),
        ("CODECOMMIT", url, "web", "us-east-1", false),
        ("CODECOMMIT", url, "api", "eu-west-1", false),
        ("GIT", "file:///srv/repos/web", "web", "eu-west-1", true),
        ("GIT", "file:///srv/repos/web.git/", "web", "us-east-1", true),
        ("GIT", "/srv/repos/web", "web", "eu-west-1", true),
        ("GIT", "file:///srv/repos/webapp", "web", "eu-west-1", false),
        ("GIT", "https://example.com/o/web", "web", "eu-west-1", false),
        ("GITHUB", "https://github.com/o/web", "web", "eu-west-1", false),
    ];
    for (kind, location, name, region, expected) in table {
        assert_eq!(
            source_names_repository(kind, location, name, region),
            expected,
            "{kind} {location} {name} {region}"
        );
    }
}

/// Any JSON value, nested a few levels, with keys drawn from the event's own so the parser goes deep.
fn json_value() -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        Just("detail-type".to_owned()),
        Just("source".to_owned()),
        Just("detail".to_owned()),
        Just("event".to_owned()),
        Just("referenceType".to_owned()),
        Just("referenceFullName".to_owned()),
        Just("referenceName".to_owned()),
        Just("commitId".to_owned()),
        Just("id".to_owned()),
        "[a-zA-Z-]{0,12}",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        Just(json!(DETAIL_TYPE)),
        Just(json!("referenceCreated")),
        Just(json!("referenceDeleted")),
        Just(json!("branch")),
        Just(json!("tag")),
        Just(json!("refs/heads/")),
        ".{0,24}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(key.clone(), inner, 0..8)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    /// Arbitrary JSON is parsed to a push, an ignore or an error; a push always has a usable ref and commit.
    #[test]
    fn arbitrary_json_never_panics(value in json_value()) {
        if let Ok(CodeCommitParse::Push(push)) = parse_codecommit_event(&value) {
            prop_assert!(push.event.head_ref.as_str().starts_with("refs/"));
            prop_assert!(!push.event.source_version.is_empty());
        }
    }

    /// The real event with one field replaced by arbitrary JSON never panics either.
    #[test]
    fn a_real_event_with_any_field_replaced_never_panics(
        field in prop::sample::select(vec![
            "/id", "/region", "/detail-type", "/source", "/detail", "/detail/event", "/detail/referenceType",
            "/detail/referenceFullName", "/detail/referenceName", "/detail/commitId", "/detail/oldCommitId",
            "/detail/callerUserArn", "/detail/repositoryName",
        ]),
        replacement in json_value(),
    ) {
        let value = with(event(UPDATED), field, Some(replacement));
        match parse_codecommit_event(&value) {
            Ok(CodeCommitParse::Push(push)) => prop_assert!(!push.repository_name.is_empty()),
            Ok(CodeCommitParse::Ignored(reason)) => prop_assert!(!reason.to_string().is_empty()),
            Err(err) => prop_assert!(err.message.contains(':'), "{}", err.message),
        }
    }
}
