//! Delivery ids, malformed bodies and ignored events, checked field by field.

use super::fixtures::{TEST_SECRET, accepted, deliver, read, signed_headers};
use crate::trigger::{Headers, Outcome, WebhookSecret, parse_unverified, parse_webhook, sign_hex};

fn unverified(pairs: &[(&str, &str)], body: &[u8]) -> Outcome {
    parse_unverified(&Headers::from_pairs(pairs.iter().copied()), body)
}

fn malformed(outcome: Outcome) -> String {
    match outcome {
        Outcome::Malformed { message } => message,
        other => panic!("expected Malformed, got {other:?}"),
    }
}

#[test]
fn gitlab_prefers_the_idempotency_key_which_is_stable_across_retries() {
    let body = read("gitlab", "push.json");
    let pairs = [
        ("X-Gitlab-Event", "Push Hook"),
        ("X-Gitlab-Event-UUID", "event-uuid"),
        ("Idempotency-Key", "retry-stable-key"),
    ];
    let Outcome::Accepted(event) = unverified(&pairs, &body) else {
        panic!("not accepted")
    };
    assert_eq!(event.delivery_id.as_str(), "retry-stable-key");
}

#[test]
fn bitbucket_uses_the_request_uuid_and_never_the_hook_uuid_alone() {
    let body = read("bitbucket", "repo-push.branch.json");
    let with_request = [
        ("X-Event-Key", "repo:push"),
        ("X-Request-UUID", "req-1"),
        ("X-Hook-UUID", "hook-1"),
    ];
    let Outcome::Accepted(event) = unverified(&with_request, &body) else {
        panic!("not accepted")
    };
    assert_eq!(event.delivery_id.as_str(), "req-1");

    let hook_only = [("X-Event-Key", "repo:push"), ("X-Hook-UUID", "hook-1")];
    let Outcome::Accepted(first) = unverified(&hook_only, &body) else {
        panic!("not accepted")
    };
    let Outcome::Accepted(again) = unverified(&hook_only, &body) else {
        panic!("not accepted")
    };
    assert!(first.delivery_id.as_str().starts_with("sha256:"));
    assert_eq!(
        first.delivery_id, again.delivery_id,
        "the digest is stable for a redelivery"
    );

    let mut other_body = body.clone();
    other_body.push(b'\n');
    let Outcome::Accepted(other) = unverified(&hook_only, &other_body) else {
        panic!("not accepted")
    };
    assert_ne!(
        first.delivery_id, other.delivery_id,
        "another body is another delivery"
    );
}

#[test]
fn gitea_and_forgejo_deliveries_use_their_delivery_headers() {
    assert_eq!(
        accepted("gitea", "push.json").delivery_id.as_str(),
        "delivery-gitea-push.json"
    );
    let forgejo = accepted("gitea", "forgejo.push.branch-created.json");
    assert_eq!(
        forgejo.delivery_id.as_str(),
        "delivery-gitea-forgejo.push.branch-created.json"
    );
}

#[test]
fn a_pull_request_without_a_head_sha_is_malformed_with_the_field_path() {
    let body = br#"{"action":"opened","number":1,"pull_request":{"head":{"ref":"x"},"base":{"ref":"main"}},
        "repository":{"full_name":"o/r","clone_url":"https://x/o/r.git"}}"#;
    let message = malformed(unverified(&[("X-GitHub-Event", "pull_request")], body));
    assert_eq!(message, "pull_request.head.sha: missing");
}

#[test]
fn invalid_json_is_malformed_with_line_and_column() {
    let body = b"{\n  \"ref\": ,\n}";
    let secret = WebhookSecret::new(TEST_SECRET);
    let signature = format!("sha256={}", sign_hex(&secret, body));
    let headers = Headers::from_pairs([
        ("X-GitHub-Event", "push"),
        ("X-Hub-Signature-256", signature.as_str()),
    ]);
    let message = malformed(parse_webhook(&headers, body, &secret));
    assert!(
        message.starts_with("body is not valid JSON (line 2, column 10)"),
        "{message}"
    );
}

#[test]
fn a_mistyped_field_is_malformed_and_names_the_expected_type() {
    let body = br#"{"ref":"refs/heads/main","after":42}"#;
    let message = malformed(unverified(&[("X-GitHub-Event", "push")], body));
    assert_eq!(message, "after: expected a string, found a number");
}

#[test]
fn the_bitbucket_documentation_templates_are_refused_not_built() {
    for file in [
        "pullrequest-created.json",
        "pullrequest-updated.json",
        "pullrequest-fulfilled.json",
    ] {
        let message = malformed(deliver("bitbucket", file));
        assert!(message.contains("OPEN|MERGED|DECLINED"), "{file}: {message}");
    }
}

#[test]
fn unsupported_events_and_actions_are_ignored_with_a_reason() {
    let cases: [(&str, &str, &[u8], &str); 4] = [
        (
            "X-GitHub-Event",
            "issues",
            b"{}",
            "event \"issues\" does not start builds",
        ),
        (
            "X-GitHub-Event",
            "workflow_job",
            b"{}",
            "WORKFLOW_JOB_QUEUED (CodeBuild-hosted Actions runners) is not supported",
        ),
        (
            "X-Gitlab-Event",
            "Note Hook",
            b"{}",
            "event \"Note Hook\" does not start builds",
        ),
        (
            "X-Event-Key",
            "issue:created",
            b"{}",
            "event \"issue:created\" does not start builds",
        ),
    ];
    for (header, event, body, expected) in cases {
        match unverified(&[(header, event)], body) {
            Outcome::Ignored { reason } => assert_eq!(reason, expected),
            other => panic!("{event}: {other:?}"),
        }
    }
}

#[test]
fn github_pull_requests_build_pr_n_and_other_providers_build_the_head_sha() {
    assert_eq!(
        accepted("github", "pull_request.opened.json").source_version,
        "pr/2"
    );
    let gitea = accepted("gitea", "pull_request.opened.json");
    assert_eq!(Some(gitea.source_version), gitea.head_sha);
    let gitlab = accepted("gitlab", "merge_request.open.json");
    assert_eq!(Some(gitlab.source_version), gitlab.head_sha);
    let push = accepted("github", "push.branch.json");
    assert_eq!(push.source_version, "199eddf46df50de8d02e99bf1c5fdb4101338224");
}

#[test]
fn a_signed_fixture_with_the_wrong_secret_is_unauthenticated() {
    let body = read("bitbucket", "repo-push.branch.json");
    let headers = signed_headers("bitbucket", "repo-push.branch.json", &body, "not-the-secret");
    let result = parse_webhook(&headers, &body, &WebhookSecret::new(TEST_SECRET));
    assert!(matches!(result, Outcome::Unauthenticated { .. }));
}

#[test]
fn empty_refs_and_foreign_ref_namespaces_never_become_events() {
    let empty = br#"{"ref":"","after":"abc"}"#;
    assert_eq!(
        malformed(unverified(&[("X-GitHub-Event", "push")], empty)),
        "ref: must not be empty"
    );
    let notes = br#"{"ref":"refs/notes/commits","after":"abc"}"#;
    assert!(matches!(
        unverified(&[("X-GitHub-Event", "push")], notes),
        Outcome::Ignored { .. }
    ));
    let nameless = br#"{"ref":"refs/heads/","after":"abc","checkout_sha":""}"#;
    assert!(matches!(
        unverified(&[("X-Gitlab-Event", "Push Hook")], nameless),
        Outcome::Ignored { .. }
    ));
}

#[test]
fn changed_files_are_the_union_of_added_modified_and_removed_across_commits() {
    let push = accepted("gitea", "push.multi-commit.json");
    assert_eq!(push.changed_files, Some(vec!["aa".to_owned(), "aaa".to_owned()]));
    assert_eq!(
        accepted("bitbucket", "repo-push.branch.json").changed_files,
        None,
        "Bitbucket lists no files"
    );
}

#[test]
fn a_pull_request_from_another_repository_is_marked_as_from_a_fork() {
    let mut payload: serde_json::Value =
        serde_json::from_slice(&read("github", "pull_request.opened.json")).unwrap();
    assert!(!accepted("github", "pull_request.opened.json").from_fork);
    payload["pull_request"]["head"]["repo"]["full_name"] = "someone-else/Hello-World".into();
    let body = serde_json::to_vec(&payload).unwrap();
    let Outcome::Accepted(event) = unverified(&[("X-GitHub-Event", "pull_request")], &body) else {
        panic!("not accepted")
    };
    assert!(event.from_fork);

    payload["pull_request"]["head"]["repo"] = serde_json::Value::Null;
    let body = serde_json::to_vec(&payload).unwrap();
    let Outcome::Accepted(event) = unverified(&[("X-GitHub-Event", "pull_request")], &body) else {
        panic!("not accepted")
    };
    assert!(event.from_fork, "a deleted head repository counts as a fork");
}

#[test]
fn a_merged_pull_request_carries_its_merge_commit_for_every_provider() {
    let cases = [
        (
            "github",
            "pull_request.closed.merged.json",
            "acac2f75d59f43ceab769fb203cfbbf6f3cf8b10",
        ),
        (
            "gitlab",
            "merge_request.merge.json",
            "78a76ee6b4992a6baf64c59fc4c44c7323d60438",
        ),
        ("bitbucket", "pullrequest-fulfilled.drone.json", "4f8f6de9d0ff"),
    ];
    for (provider, file, sha) in cases {
        assert_eq!(
            accepted(provider, file).merge_commit_sha.as_deref(),
            Some(sha),
            "{provider}/{file}"
        );
    }
}
