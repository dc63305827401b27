//! The `webhook` function against moto, driven with real event JSON through the router it serves (the webhook
//! route of `kiln serve`): a Lambda Function URL event and an API Gateway HTTP API event wrapping signed fixture
//! deliveries (plain and base64 bodies), secrets from SSM and Secrets Manager. Accepted deliveries land as QUEUED builds in DynamoDB with one dispatch message each; a bad
//! signature is a 401 that stores and sends nothing; a redelivery answers with the same build.

use std::sync::Arc;

use http_body_util::BodyExt;
use kiln_aws::{AwsSecretResolver, SqsDispatchSignal, SqsQueue};
use kiln_fn_webhook::{Webhook, handle};
use serde_json::{Value, json};

use crate::aws_support::with_moto;
use crate::fn_box::{FnBox, function_url_event, http_api_webhook_event, webhook_fixture};

const GITHUB_SIGNATURE: &str = "sha256=e3bfe744d4e2e29ed990bde8acfb8255ca51ef65f99657767989fb6349f32957";
const GITHUB_BAD_SIGNATURE: &str = "sha256=3bfbbc3bfc44498db2254f577b2e4bed201ece6163518ba91cb2c21f0f59d512";
const GITEA_SECRET: &str = "IsWishesWereHorsesWedAllBeEatingSteak!";
const GITEA_SIGNATURE: &str = "60fe446c74fa0cb9474f98cc557db79e10c7aaf22cf324ad65239600b9e4d915";

/// The function's router over the box: the use cases, cached secrets and the dispatch queue.
fn webhook(fns: &FnBox) -> axum::Router {
    Webhook {
        services: fns.services.clone(),
        secrets: Arc::new(AwsSecretResolver::cached(&fns.clients)),
        dispatch: fns.dispatch.clone(),
    }
    .router()
}

/// Stores the GitHub fixture's secret in SSM and a project `web` whose webhook names it.
async fn github_project(fns: &FnBox) {
    fns.clients
        .ssm
        .put_parameter()
        .name("/kiln/web/webhook")
        .value("topsecret")
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .send()
        .await
        .expect("moto stores the parameter");
    fns.put_project("web", json!({"secret": {"parameter": "/kiln/web/webhook"}}))
        .await;
}

async fn invoke(webhook: &axum::Router, event: &str) -> (u16, Value) {
    let request = lambda_http::request::from_str(event).expect("lambda_http reads the event");
    let response = handle(webhook, request).await;
    let status = response.status().as_u16();
    let bytes = response.into_body().collect().await.expect("the body").to_bytes();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("expected a JSON body ({e}): {}", String::from_utf8_lossy(&bytes)));
    (status, body)
}

fn github_push(signature: &str, delivery: &str) -> Vec<(&'static str, String)> {
    vec![
        ("content-type", "application/json".to_owned()),
        ("x-github-event", "push".to_owned()),
        ("x-github-delivery", delivery.to_owned()),
        ("x-hub-signature-256", signature.to_owned()),
    ]
}

fn pairs<'a>(headers: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    headers.iter().map(|(n, v)| (*n, v.as_str())).collect()
}

#[test]
fn a_function_url_event_with_a_signed_push_queues_one_build_with_one_dispatch_message_and_a_redelivery_finds_it()
 {
    with_moto(|clients, _| async move {
        let fns = FnBox::new(clients).await;
        github_project(&fns).await;
        let webhook = webhook(&fns);
        let body = webhook_fixture("github/push.branch.json");
        let headers = github_push(GITHUB_SIGNATURE, "f2a6b0e0-6c8a-11ee-8c99-0242ac120002");
        let event = function_url_event("/webhooks/web", &pairs(&headers), &body, false);

        let (status, answer) = invoke(&webhook, &event).await;
        assert_eq!(status, 202, "{answer}");
        assert_eq!(answer["redelivery"], false);
        let id = answer["buildIds"][0].as_str().expect("a build id").to_owned();
        assert!(id.starts_with("web:"), "{id}");
        let stored = crate::aws_support::build_json(&fns.store, &id).await;
        assert_eq!(stored["buildStatus"], "IN_PROGRESS");
        assert_eq!(stored["currentPhase"], "QUEUED");
        assert_eq!(stored["trigger"]["provider"], "GITHUB", "{}", stored);
        assert_eq!(fns.dispatch_messages().await, vec![json!({"buildId": id})]);

        let (status, again) = invoke(&webhook, &event).await;
        assert_eq!(status, 202, "{again}");
        assert_eq!(again["redelivery"], true);
        assert_eq!(again["buildIds"][0], id.as_str(), "the same build");
        assert_eq!(
            fns.build_ids("web").await,
            vec![id.clone()],
            "one build in DynamoDB"
        );
        // The build is still QUEUED, so the redelivery sends its message again (the first attempt may have
        // died before sending); it names the same build.
        assert_eq!(fns.dispatch_messages().await, vec![json!({"buildId": id})]);
    });
}

#[test]
fn an_http_api_event_with_a_base64_body_is_decoded_before_its_signature_is_checked() {
    with_moto(|clients, _| async move {
        let fns = FnBox::new(clients).await;
        fns.clients
            .secrets_manager
            .create_secret()
            .name("kiln/gitea-hook")
            .secret_string(json!({"hmac": GITEA_SECRET}).to_string())
            .send()
            .await
            .expect("moto stores the secret");
        fns.put_project(
            "forge",
            json!({"secret": {"secretsManager": "kiln/gitea-hook:hmac"}}),
        )
        .await;
        let webhook = webhook(&fns);
        let body = webhook_fixture("gitea/push.json");
        let headers = [
            ("content-type", "application/json"),
            ("x-gitea-event", "push"),
            ("x-gitea-delivery", "6f1c3a52-1b2c-4d5e-8f90-a1b2c3d4e5f6"),
            ("x-gitea-signature", GITEA_SIGNATURE),
        ];
        let event = http_api_webhook_event("forge", &headers, &body, true);

        let (status, answer) = invoke(&webhook, &event).await;
        assert_eq!(status, 202, "{answer}");
        let id = answer["buildIds"][0].as_str().expect("a build id").to_owned();
        assert_eq!(fns.build_ids("forge").await, vec![id.clone()]);
        assert_eq!(fns.dispatch_messages().await, vec![json!({"buildId": id})]);
    });
}

#[test]
fn a_bad_signature_is_refused_with_401_and_nothing_is_stored_or_sent() {
    with_moto(|clients, _| async move {
        let fns = FnBox::new(clients).await;
        github_project(&fns).await;
        let webhook = webhook(&fns);
        let body = webhook_fixture("github/push.branch.json");
        for base64 in [false, true] {
            let headers = github_push(GITHUB_BAD_SIGNATURE, "0b6f5c1e-6c8a-11ee-8c99-0242ac120002");
            let event = function_url_event("/webhooks/web", &pairs(&headers), &body, base64);
            let (status, answer) = invoke(&webhook, &event).await;
            assert_eq!(status, 401, "{answer}");
            assert!(
                answer["message"].as_str().is_some_and(|m| !m.is_empty()),
                "{answer}"
            );
        }
        assert!(fns.build_ids("web").await.is_empty(), "nothing stored");
        assert!(fns.dispatch_messages().await.is_empty(), "nothing sent");
    });
}

#[test]
fn unknown_projects_ignored_events_and_malformed_bodies_answer_as_the_local_server_does() {
    with_moto(|clients, _| async move {
        let fns = FnBox::new(clients).await;
        fns.put_project("open", json!({"allowUnsigned": true})).await;
        fns.put_project("closed", json!({})).await;
        let webhook = webhook(&fns);
        let push = webhook_fixture("github/push.branch.json");
        let ping = webhook_fixture("github/ping.json");
        let cases: [(&str, &str, &[u8], u16); 5] = [
            ("/webhooks/nowhere", "push", &push, 404),
            ("/webhooks/closed", "push", &push, 401),
            ("/webhooks/open", "ping", &ping, 200),
            ("/webhooks/open", "push", b"{not json", 400),
            ("/hooks/open", "push", &push, 404),
        ];
        for (path, event_name, body, expected) in cases {
            let headers = [
                ("content-type", "application/json"),
                ("x-github-event", event_name),
                ("x-github-delivery", "1d2e3f40-6c8a-11ee-8c99-0242ac120002"),
            ];
            let event = function_url_event(path, &headers, body, false);
            let (status, answer) = invoke(&webhook, &event).await;
            assert_eq!(status, expected, "{path} {event_name}: {answer}");
            if expected == 200 {
                assert_eq!(answer["ignored"], true, "{answer}");
            }
        }
        assert!(fns.build_ids("open").await.is_empty());
        assert!(fns.dispatch_messages().await.is_empty());
    });
}

#[test]
fn a_lost_dispatch_message_answers_500_and_the_providers_redelivery_sends_it() {
    with_moto(|clients, endpoint| async move {
        let fns = FnBox::new(clients).await;
        github_project(&fns).await;
        let missing = format!("{endpoint}/123456789012/no-such-queue");
        let broken = Webhook {
            services: fns.services.clone(),
            secrets: Arc::new(AwsSecretResolver::cached(&fns.clients)),
            dispatch: Arc::new(SqsDispatchSignal::new(SqsQueue::new(
                fns.clients.sqs.clone(),
                missing,
            ))),
        }
        .router();
        let body = webhook_fixture("github/push.branch.json");
        let headers = github_push(GITHUB_SIGNATURE, "5c0ffee0-6c8a-11ee-8c99-0242ac120002");
        let event = function_url_event("/webhooks/web", &pairs(&headers), &body, false);

        let (status, answer) = invoke(&broken, &event).await;
        assert_eq!(status, 500, "{answer}");
        assert_eq!(answer["__type"], "InternalFailure", "{answer}");
        let stored = fns.build_ids("web").await;
        assert_eq!(stored.len(), 1, "the build is stored before the signal");

        let (status, again) = invoke(&webhook(&fns), &event).await;
        assert_eq!(status, 202, "{again}");
        assert_eq!(again["redelivery"], true);
        assert_eq!(
            fns.dispatch_messages().await,
            vec![json!({"buildId": stored[0]})],
            "the redelivery sends the message the first attempt lost"
        );
    });
}

#[test]
fn a_method_other_than_post_is_refused_with_405_and_a_json_reason() {
    with_moto(|clients, _| async move {
        let fns = FnBox::new(clients).await;
        fns.put_project("open", json!({})).await;
        let event = function_url_event("/webhooks/open", &[], b"", false).replace("\"POST\"", "\"GET\"");
        let (status, answer) = invoke(&webhook(&fns), &event).await;
        assert_eq!(status, 405, "{answer}");
        assert!(
            answer["message"].as_str().is_some_and(|m| m.contains("POST")),
            "{answer}"
        );
        assert!(fns.build_ids("open").await.is_empty());
    });
}
