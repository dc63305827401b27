//! Verification: the fixtures README's signature vectors, refusals, header case, form bodies, delivery ids.

use super::fixtures::{TEST_SECRET, read, signed_headers};
use crate::trigger::{Headers, Outcome, WebhookSecret, parse_webhook, sign_hex};

fn outcome(pairs: &[(&str, &str)], body: &[u8], secret: &str) -> Outcome {
    parse_webhook(
        &Headers::from_pairs(pairs.iter().copied()),
        body,
        &WebhookSecret::new(secret),
    )
}

fn reason(outcome: Outcome) -> String {
    match outcome {
        Outcome::Unauthenticated { reason } => reason,
        other => panic!("expected Unauthenticated, got {other:?}"),
    }
}

#[test]
fn the_readme_signature_vectors_verify() {
    let vectors = [
        (
            "github",
            "push.branch.json",
            "topsecret",
            "X-GitHub-Event",
            "push",
            "X-Hub-Signature-256",
            "sha256=e3bfe744d4e2e29ed990bde8acfb8255ca51ef65f99657767989fb6349f32957",
        ),
        (
            "gitea",
            "pull_request.edited.json",
            "71295b197fa25f4356d2fb9965df3f2379d903d7",
            "X-Gitea-Event",
            "pull_request",
            "X-Gitea-Signature",
            "a31111f057bafe895837f4a93c0f1f528919c199a20438b1fc8e23485780a33a",
        ),
        (
            "gitea",
            "push.json",
            "IsWishesWereHorsesWedAllBeEatingSteak!",
            "X-Gitea-Event",
            "push",
            "X-Gitea-Signature",
            "60fe446c74fa0cb9474f98cc557db79e10c7aaf22cf324ad65239600b9e4d915",
        ),
        (
            "gitea",
            "pull_request.opened.json",
            "IsWishesWereHorsesWedAllBeEatingSteak!",
            "X-Gitea-Event",
            "pull_request",
            "X-Gitea-Signature",
            "65c18a212efc7bde0f336acaec87f596fe20e80b2a0e7e51a790dd38393ff771",
        ),
    ];
    for (provider, file, secret, event_header, event, signature_header, signature) in vectors {
        let body = read(provider, file);
        let result = outcome(
            &[(event_header, event), (signature_header, signature)],
            &body,
            secret,
        );
        assert!(
            matches!(result, Outcome::Accepted(_) | Outcome::Ignored { .. }),
            "{provider}/{file}: {result:?}"
        );
    }
}

#[test]
fn the_readme_invalid_github_signature_is_refused() {
    let body = read("github", "push.branch.json");
    let signature = "sha256=3bfbbc3bfc44498db2254f577b2e4bed201ece6163518ba91cb2c21f0f59d512";
    let result = outcome(
        &[("X-GitHub-Event", "push"), ("X-Hub-Signature-256", signature)],
        &body,
        "topsecret",
    );
    assert_eq!(
        reason(result),
        "X-Hub-Signature-256 does not match the body signed with the configured secret"
    );
}

#[test]
fn a_legacy_sha1_signature_alone_is_refused_even_when_it_is_correct() {
    let body = read("github", "push.branch.json");
    let signature = "sha1=cf93f9ba3c8d3a789e61f91e1e5c6a360d036e98";
    let result = outcome(
        &[("X-GitHub-Event", "push"), ("X-Hub-Signature", signature)],
        &body,
        "topsecret",
    );
    assert!(reason(result).contains("legacy SHA-1"));
}

#[test]
fn a_missing_signature_is_refused_for_every_provider() {
    let body = br#"{"ref":"refs/heads/main"}"#;
    let cases: [(&str, &str, &str); 5] = [
        ("X-GitHub-Event", "push", "missing X-Hub-Signature-256"),
        ("X-Gitlab-Event", "Push Hook", "missing X-Gitlab-Token"),
        ("X-Event-Key", "repo:push", "missing X-Hub-Signature"),
        ("X-Gitea-Event", "push", "missing X-Gitea-Signature"),
        (
            "X-Forgejo-Event",
            "push",
            "missing X-Gitea-Signature / X-Forgejo-Signature",
        ),
    ];
    for (header, event, expected) in cases {
        let text = reason(outcome(&[(header, event)], body, TEST_SECRET));
        assert!(text.starts_with(expected), "{header}: {text}");
    }
}

#[test]
fn a_tampered_body_is_refused_for_every_provider() {
    for (provider, file) in [
        ("github", "push.branch.json"),
        ("gitlab", "push.json"),
        ("bitbucket", "repo-push.branch.json"),
        ("gitea", "push.json"),
        ("gitea", "forgejo.push.branch-created.json"),
    ] {
        let body = read(provider, file);
        let headers = signed_headers(provider, file, &body, TEST_SECRET);
        let secret = if provider == "gitlab" {
            "another-secret"
        } else {
            TEST_SECRET
        };
        let mut tampered = body.clone();
        tampered.extend_from_slice(b" ");
        let result = parse_webhook(&headers, &tampered, &WebhookSecret::new(secret));
        assert!(
            matches!(result, Outcome::Unauthenticated { .. }),
            "{provider}/{file}: {result:?}"
        );
    }
}

#[test]
fn the_forgejo_signature_is_preferred_over_the_gitea_one() {
    let body = read("gitea", "forgejo.push.branch-created.json");
    let good = sign_hex(&WebhookSecret::new(TEST_SECRET), &body);
    let pairs = [
        ("X-Forgejo-Event", "push"),
        ("X-Forgejo-Signature", good.as_str()),
        ("X-Gitea-Signature", "00"),
    ];
    assert!(matches!(
        outcome(&pairs, &body, TEST_SECRET),
        Outcome::Accepted(_)
    ));
    let pairs = [
        ("X-Forgejo-Event", "push"),
        ("X-Forgejo-Signature", "00"),
        ("X-Gitea-Signature", good.as_str()),
    ];
    assert!(matches!(
        outcome(&pairs, &body, TEST_SECRET),
        Outcome::Unauthenticated { .. }
    ));
}

#[test]
fn lower_cased_headers_from_lambda_verify_and_parse() {
    let body = read("github", "push.branch.json");
    let signature = format!("sha256={}", sign_hex(&WebhookSecret::new(TEST_SECRET), &body));
    let pairs = [
        ("x-github-event", "push"),
        ("x-hub-signature-256", signature.as_str()),
    ];
    assert!(matches!(
        outcome(&pairs, &body, TEST_SECRET),
        Outcome::Accepted(_)
    ));
}

#[test]
fn a_form_encoded_body_is_verified_over_the_raw_form_and_parsed_from_its_payload_field() {
    let json = read("github", "push.branch.json");
    let form: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("payload", &String::from_utf8(json).unwrap())
        .finish();
    let signature = format!(
        "sha256={}",
        sign_hex(&WebhookSecret::new(TEST_SECRET), form.as_bytes())
    );
    let pairs = [
        ("X-GitHub-Event", "push"),
        ("Content-Type", "application/x-www-form-urlencoded"),
        ("X-Hub-Signature-256", signature.as_str()),
    ];
    let Outcome::Accepted(event) = outcome(&pairs, form.as_bytes(), TEST_SECRET) else {
        panic!("form body was not accepted");
    };
    assert_eq!(event.head_ref.as_str(), "refs/heads/master");
}

#[test]
fn a_body_without_an_event_header_is_malformed() {
    let result = outcome(&[("Content-Type", "application/json")], b"{}", TEST_SECRET);
    assert!(
        matches!(result, Outcome::Malformed { message } if message.starts_with("no webhook event header"))
    );
}
