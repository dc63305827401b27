//! The `webhook` function: provider deliveries to `/webhooks/{project}` arriving as Lambda Function URL or API
//! Gateway HTTP API (payload 2.0) events — lambda_http decodes both, base64 bodies included — handled by
//! [`Services::accept_webhook`] with the same answers as `kiln serve`: 202 with the build ids, 200 ignored
//! with the reason, 401 bad signature (nothing stored), 400 malformed, 404 unknown project, 413 too large.
//! Each accepted build gets one dispatch message (and a redelivery whose build is still QUEUED gets it again,
//! in case the first attempt died between storing the build and sending the message).

use std::sync::Arc;

use kiln_core::build::BuildId;
use kiln_core::build::Timestamp;
use kiln_core::ports::dispatch_signal::DispatchSignal;
use kiln_core::ports::secrets::SecretResolver;
use kiln_core::trigger::Headers;
use kiln_core::usecases::Services;
use kiln_core::usecases::webhook::Delivery;
use lambda_http::http::{Method, StatusCode, header};
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::{Value, json};

/// The largest delivery accepted (GitHub's maximum payload; Lambda itself caps requests at 6 MB).
pub const MAX_WEBHOOK_BYTES: usize = 25 * 1024 * 1024;

/// What the handler needs, built once per function instance.
#[derive(Clone)]
pub struct Webhook {
    pub services: Services,
    pub secrets: Arc<dyn SecretResolver>,
    pub dispatch: Arc<dyn DispatchSignal>,
}

/// The project a request is for: the HTTP API's `{project}` path parameter, else the segment after
/// `webhooks/` in the path (a Function URL has no route; a stage name may come before it).
pub fn project_of(request: &Request) -> Option<String> {
    if let Some(project) = request.path_parameters().first("project") {
        return Some(project.to_owned());
    }
    let path = request.uri().path();
    let mut segments = path.split('/').filter(|s| !s.is_empty());
    segments.by_ref().find(|s| *s == "webhooks")?;
    let project = segments.next()?;
    segments.next().is_none().then(|| project.to_owned())
}

/// Handles one delivery; never fails (every outcome is an HTTP answer).
pub async fn handle(webhook: &Webhook, request: Request) -> Response<Body> {
    let Some(project) = project_of(&request) else {
        return json_response(
            StatusCode::NOT_FOUND,
            &json!({"message": format!("no route for {:?}; deliveries go to /webhooks/{{project}}", request.uri().path())}),
        );
    };
    if request.method() != Method::POST {
        return json_response(
            StatusCode::METHOD_NOT_ALLOWED,
            &json!({"message": format!("{} is not allowed; providers POST deliveries", request.method())}),
        );
    }
    let body: &[u8] = match request.body() {
        Body::Empty => &[],
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
    };
    if body.len() > MAX_WEBHOOK_BYTES {
        return json_response(
            StatusCode::PAYLOAD_TOO_LARGE,
            &json!({"message": format!("the delivery is {} bytes; the limit is {MAX_WEBHOOK_BYTES}", body.len())}),
        );
    }
    let pairs = request
        .headers()
        .iter()
        .filter_map(|(n, v)| Some((n.as_str(), v.to_str().ok()?)));
    let headers = Headers::from_pairs(pairs);
    let now = Timestamp::from(std::time::SystemTime::now());
    let delivery = match webhook
        .services
        .accept_webhook(&project, &headers, body, webhook.secrets.as_ref(), now)
        .await
    {
        Ok(delivery) => delivery,
        Err(err) => {
            tracing::error!(project = %project, error = %err, "delivery failed");
            return internal_error();
        }
    };
    match &delivery {
        Delivery::Accepted {
            build_ids,
            redelivery,
        } => {
            let ids: Vec<BuildId> = build_ids
                .iter()
                .filter_map(|id| BuildId::parse(id).ok())
                .collect();
            let signalled = webhook
                .services
                .signal_started(webhook.dispatch.as_ref(), &ids, *redelivery)
                .await;
            tracing::info!(project = %project, builds = ?build_ids, redelivery, "delivery accepted");
            if let Err(err) = signalled {
                tracing::error!(project = %project, error = %err, "delivery stored but not dispatched");
                // The provider retries on a 5xx; the redelivery finds the build and sends its message again.
                return internal_error();
            }
        }
        Delivery::Unauthenticated { reason } => {
            tracing::warn!(project = %project, reason = %reason, "delivery refused: bad signature");
        }
        Delivery::Ignored { .. } | Delivery::Malformed { .. } | Delivery::UnknownProject { .. } => {}
    }
    let (status, body) = delivery.response();
    json_response(
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        &body,
    )
}

fn internal_error() -> Response<Body> {
    let body = json!({"__type": "InternalFailure", "message": "internal error; see the server log"});
    let mut response = json_response(StatusCode::INTERNAL_SERVER_ERROR, &body);
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/x-amz-json-1.1"),
    );
    response
}

fn json_response(status: StatusCode, body: &Value) -> Response<Body> {
    let mut response = Response::new(Body::Text(body.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    response
}
