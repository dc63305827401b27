//! Locating the fixtures and sending them the way each provider would: event header, signature, delivery id.

use crate::trigger::{Headers, Outcome, TriggerEvent, WebhookSecret, parse_webhook, sign_hex};

/// The secret every fixture is signed with.
pub const TEST_SECRET: &str = "kiln-test-secret";

pub(crate) use crate::test_support::fixtures_dir;

/// Every webhook fixture as `(provider dir, file name)`, sorted.
pub fn all_webhook_files() -> Vec<(String, String)> {
    let mut files = Vec::new();
    for provider in ["bitbucket", "gitea", "github", "gitlab"] {
        let dir = fixtures_dir().join("webhooks").join(provider);
        for entry in std::fs::read_dir(&dir).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            if name.ends_with(".json") {
                files.push((provider.to_owned(), name));
            }
        }
    }
    files.sort();
    files
}

/// The raw bytes of `webhooks/<provider>/<file>`.
pub fn read(provider: &str, file: &str) -> Vec<u8> {
    std::fs::read(fixtures_dir().join("webhooks").join(provider).join(file)).unwrap()
}

/// The "Event header" value the fixtures README gives for a file (derived from its name, as the README names them).
pub fn event_header_value(provider: &str, file: &str) -> String {
    let stem = file.strip_prefix("forgejo.").unwrap_or(file);
    let first = stem.split('.').next().unwrap();
    match provider {
        "github" | "gitea" => first.to_owned(),
        "gitlab" => match first {
            "push" => "Push Hook".into(),
            "tag_push" => "Tag Push Hook".into(),
            "merge_request" => "Merge Request Hook".into(),
            other => panic!("no GitLab event header for {other}"),
        },
        "bitbucket" => first.replacen('-', ":", 1),
        other => panic!("unknown provider {other}"),
    }
}

/// Headers a provider sends with `body` signed by `secret`: event, signature, delivery id, user agent.
pub fn signed_headers(provider: &str, file: &str, body: &[u8], secret: &str) -> Headers {
    let event = event_header_value(provider, file);
    let mac = sign_hex(&WebhookSecret::new(secret), body);
    let delivery = format!("delivery-{provider}-{file}");
    let pairs: Vec<(String, String)> = match provider {
        "github" => vec![
            ("X-GitHub-Event".into(), event),
            ("X-GitHub-Delivery".into(), delivery),
            ("X-Hub-Signature-256".into(), format!("sha256={mac}")),
            ("User-Agent".into(), "GitHub-Hookshot/044aadd".into()),
            ("Content-Type".into(), "application/json".into()),
        ],
        "gitlab" => vec![
            ("X-Gitlab-Event".into(), event),
            ("X-Gitlab-Event-UUID".into(), delivery),
            ("X-Gitlab-Token".into(), secret.into()),
            ("User-Agent".into(), "GitLab/17.6.0".into()),
        ],
        // No X-Request-UUID: these deliveries exercise the digest fallback.
        "bitbucket" => vec![
            ("X-Event-Key".into(), event),
            (
                "X-Hook-UUID".into(),
                "{5a6c3b7e-0000-4000-8000-000000000001}".into(),
            ),
            ("X-Hub-Signature".into(), format!("sha256={mac}")),
            ("User-Agent".into(), "Bitbucket-Webhooks/2.0".into()),
        ],
        "gitea" if file.starts_with("forgejo.") => vec![
            ("X-Forgejo-Event".into(), event.clone()),
            ("X-Gitea-Event".into(), event.clone()),
            ("X-GitHub-Event".into(), event),
            ("X-Forgejo-Delivery".into(), delivery),
            ("X-Forgejo-Signature".into(), mac),
            ("User-Agent".into(), "Go-http-client/1.1".into()),
        ],
        "gitea" => vec![
            ("X-Gitea-Event".into(), event.clone()),
            ("X-GitHub-Event".into(), event),
            ("X-Gitea-Delivery".into(), delivery),
            ("X-Gitea-Signature".into(), mac),
            ("User-Agent".into(), "Go-http-client/1.1".into()),
        ],
        other => panic!("unknown provider {other}"),
    };
    Headers::from_pairs(pairs)
}

/// Signs and parses one fixture as its provider would deliver it.
pub fn deliver(provider: &str, file: &str) -> Outcome {
    let body = read(provider, file);
    let headers = signed_headers(provider, file, &body, TEST_SECRET);
    parse_webhook(&headers, &body, &WebhookSecret::new(TEST_SECRET))
}

/// The accepted event of a fixture (panics with the outcome otherwise).
pub fn accepted(provider: &str, file: &str) -> TriggerEvent {
    match deliver(provider, file) {
        Outcome::Accepted(event) => event,
        other => panic!("{provider}/{file} was not accepted: {other:?}"),
    }
}
