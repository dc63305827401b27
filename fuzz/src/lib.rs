//! What every fuzz target does with one input: a full signed-path parse (the signature is wrong, so it must
//! come back `Unauthenticated`), then the unverified parse so the JSON paths are explored, then filter
//! evaluation and the build variables for any accepted event, checking the event's invariants.

use std::sync::OnceLock;

use kiln_core::trigger::{
    CompiledFilterGroups, FilterGroups, FilterType, Headers, Outcome, WebhookFilter, WebhookSecret,
    initiator, parse_unverified, parse_webhook, webhook_variables,
};

/// Runs one input through the parser with `event_headers` (an event header and, for some providers, more).
pub fn run(event_headers: &[(&str, &str)], data: &[u8]) {
    let mut signed: Vec<(&str, &str)> = event_headers.to_vec();
    signed.extend([
        (
            "X-Hub-Signature-256",
            "sha256=0000000000000000000000000000000000000000000000000000000000000000",
        ),
        (
            "X-Hub-Signature",
            "sha256=0000000000000000000000000000000000000000000000000000000000000000",
        ),
        ("X-Gitlab-Token", "not-the-secret"),
        (
            "X-Gitea-Signature",
            "0000000000000000000000000000000000000000000000000000000000000000",
        ),
    ]);
    let secret = WebhookSecret::new("fuzz-secret");
    let outcome = parse_webhook(&Headers::from_pairs(signed), data, &secret);
    assert!(
        matches!(outcome, Outcome::Unauthenticated { .. }),
        "a wrong signature passed: {outcome:?}"
    );

    let mut unsigned: Vec<(&str, &str)> = event_headers.to_vec();
    unsigned.push(("User-Agent", "fuzz/1"));
    check(parse_unverified(&Headers::from_pairs(unsigned.clone()), data));
    unsigned.push(("Content-Type", "application/x-www-form-urlencoded"));
    check(parse_unverified(&Headers::from_pairs(unsigned), data));
}

fn check(outcome: Outcome) {
    let Outcome::Accepted(event) = outcome else { return };
    let head_ref = event.head_ref.as_str();
    assert!(
        head_ref.len() > "refs/tags/".len()
            && (head_ref.starts_with("refs/heads/") || head_ref.starts_with("refs/tags/")),
        "bad head ref {head_ref:?}"
    );
    assert!(!event.source_version.is_empty(), "empty source version");
    assert!(!event.delivery_id.as_str().is_empty(), "empty delivery id");
    if let Some(compiled) = filters() {
        let _decision = compiled.evaluate(&event);
    }
    let variables = webhook_variables(&event);
    assert!(variables.len() >= 3, "EVENT, TRIGGER and HEAD_REF are always set");
    assert!(!initiator(&event).is_empty());
}

/// Filter groups exercising every field kind, compiled once (regex compilation dwarfs one evaluation).
fn filters() -> Option<&'static CompiledFilterGroups> {
    static COMPILED: OnceLock<Option<CompiledFilterGroups>> = OnceLock::new();
    COMPILED
        .get_or_init(|| {
            FilterGroups(vec![
                vec![
                    filter(FilterType::Event, "PUSH, PULL_REQUEST_CREATED", false),
                    filter(FilterType::HeadRef, "^refs/heads/", false),
                ],
                vec![
                    filter(
                        FilterType::Event,
                        "PULL_REQUEST_UPDATED,PULL_REQUEST_MERGED, RELEASED",
                        false,
                    ),
                    filter(FilterType::FilePath, "\\.rs$", true),
                    filter(FilterType::BaseRef, "main", false),
                    filter(FilterType::CommitMessage, "(?i)release", false),
                    filter(FilterType::ActorAccountId, "^[0-9]+$", true),
                ],
            ])
            .compile()
            .ok()
        })
        .as_ref()
}

fn filter(filter_type: FilterType, pattern: &str, exclude: bool) -> WebhookFilter {
    WebhookFilter {
        filter_type,
        pattern: pattern.to_owned(),
        exclude_matched_pattern: exclude,
    }
}
