//! The webhook entry point: a pure function of (headers, raw body, secret) that verifies first, then parses,
//! and returns a typed [`Outcome`] the server maps to a status code (401, 400, 202 ignored, 202 accepted).

use std::borrow::Cow;

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::event::{Context, DeliveryId, TriggerEvent};
use super::headers::{self, Headers, Provider};
use super::json::{FieldError, Node};
use super::secret::WebhookSecret;
use super::{bitbucket, github, gitlab, verify};

/// What became of one delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome")]
// One outcome per request, matched right away: boxing the event would only add a deref at every use.
#[allow(clippy::large_enum_variant)]
pub enum Outcome {
    /// The signature or token is missing or wrong (HTTP 401; store nothing).
    Unauthenticated { reason: String },
    /// The body is not the JSON the event header announces; `message` names the field path (HTTP 400).
    Malformed { message: String },
    /// A well-formed delivery that starts nothing: ping, ref deletion, unsupported event or action (HTTP 2xx).
    Ignored { reason: String },
    /// A push, pull request or release normalised into CodeBuild's terms.
    Accepted(TriggerEvent),
}

/// What a provider parser makes of a verified, well-formed body.
#[derive(Debug)]
pub(crate) enum Parsed {
    Event(Box<TriggerEvent>),
    Ignored(String),
}

/// Shorthand for an `Ignored` parse result.
pub(crate) fn ignored<T: Into<String>>(reason: T) -> Result<Parsed, FieldError> {
    Ok(Parsed::Ignored(reason.into()))
}

/// Verifies the delivery's signature against `secret` over the exact raw `body`, then parses it.
pub fn parse_webhook(headers: &Headers, body: &[u8], secret: &WebhookSecret) -> Outcome {
    let Some(found) = headers::detect(headers) else {
        return no_event_header();
    };
    if let Err(refused) = verify::verify(found.provider, headers, body, secret) {
        return Outcome::Unauthenticated {
            reason: refused.to_string(),
        };
    }
    parse_body(found.provider, found.event, headers, body)
}

/// Parses without verifying any signature. Only for fuzzing the payload parsers and for a project that was
/// deliberately set up without a webhook secret; the server must use [`parse_webhook`] whenever a secret exists.
pub fn parse_unverified(headers: &Headers, body: &[u8]) -> Outcome {
    let Some(found) = headers::detect(headers) else {
        return no_event_header();
    };
    parse_body(found.provider, found.event, headers, body)
}

fn no_event_header() -> Outcome {
    Outcome::Malformed {
        message:
            "no webhook event header: expected X-GitHub-Event, X-Gitlab-Event, X-Event-Key (Bitbucket), \
                  X-Gitea-Event or X-Forgejo-Event"
                .into(),
    }
}

fn parse_body(provider: Provider, event: &str, headers: &Headers, body: &[u8]) -> Outcome {
    let context = Context {
        provider,
        delivery_id: delivery_id(provider, event, headers, body),
        user_agent: headers
            .get("user-agent")
            .filter(|agent| !agent.is_empty())
            .map(str::to_owned),
    };
    let Some(json) = decode_body(provider, headers, body) else {
        return Outcome::Malformed {
            message: "form-encoded body has no \"payload\" field".into(),
        };
    };
    let value: Value = match serde_json::from_slice(&json) {
        Ok(value) => value,
        Err(err) => {
            return Outcome::Malformed {
                message: format!(
                    "body is not valid JSON (line {}, column {}): {err}",
                    err.line(),
                    err.column()
                ),
            };
        }
    };
    if !value.is_object() {
        return Outcome::Malformed {
            message: "(body): expected a JSON object".into(),
        };
    }
    let root = Node::root(&value);
    let parsed = match provider {
        Provider::GitHub | Provider::Gitea => github::parse(&context, event, &root),
        Provider::GitLab => gitlab::parse(&context, event, &root),
        Provider::Bitbucket => bitbucket::parse(&context, event, &root),
        // `headers::detect` never names CodeCommit: its events come from EventBridge (`trigger::codecommit`).
        Provider::CodeCommit => Ok(Parsed::Ignored(
            "CodeCommit events arrive from EventBridge, not as webhook deliveries".into(),
        )),
    };
    match parsed {
        Ok(Parsed::Event(event)) => Outcome::Accepted(*event),
        Ok(Parsed::Ignored(reason)) => Outcome::Ignored { reason },
        Err(FieldError(message)) => Outcome::Malformed { message },
    }
}

/// The JSON document: the body itself, or the `payload` field of a GitHub/Gitea form-encoded body (`None` when
/// a form has no such field).
fn decode_body<'b>(provider: Provider, headers: &Headers, body: &'b [u8]) -> Option<Cow<'b, [u8]>> {
    let is_form = headers.get("content-type").is_some_and(|kind| {
        kind.to_ascii_lowercase()
            .starts_with("application/x-www-form-urlencoded")
    });
    let form_capable = match provider {
        Provider::GitHub | Provider::Gitea => true,
        Provider::GitLab | Provider::Bitbucket | Provider::CodeCommit => false,
    };
    if !(is_form && form_capable) {
        return Some(Cow::Borrowed(body));
    }
    form_urlencoded::parse(body)
        .find(|(key, _)| key == "payload")
        .map(|(_, payload)| Cow::Owned(payload.into_owned().into_bytes()))
}

/// The provider's delivery id header, else a digest of the event header (and Bitbucket's hook id) and body.
fn delivery_id(provider: Provider, event: &str, headers: &Headers, body: &[u8]) -> DeliveryId {
    let names: &[&str] = match provider {
        Provider::GitHub => &["x-github-delivery"],
        Provider::GitLab => &["idempotency-key", "x-gitlab-event-uuid"],
        // X-Hook-UUID names the webhook, not the delivery: only part of the digest below.
        Provider::Bitbucket => &["x-request-uuid"],
        Provider::Gitea => &[
            "x-forgejo-delivery",
            "x-gitea-delivery",
            "x-gogs-delivery",
            "x-github-delivery",
        ],
        Provider::CodeCommit => &[],
    };
    if let Some(id) = headers.first_of(names) {
        return DeliveryId::new(id.to_owned());
    }
    let mut digest = Sha256::new();
    digest.update(provider.as_str().as_bytes());
    digest.update([0]);
    digest.update(event.as_bytes());
    digest.update([0]);
    if provider == Provider::Bitbucket {
        digest.update(headers.get("x-hook-uuid").unwrap_or_default().as_bytes());
    }
    digest.update([0]);
    digest.update(body);
    DeliveryId::new(format!("sha256:{}", hex::encode(digest.finalize())))
}
