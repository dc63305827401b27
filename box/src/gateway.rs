//! Function URLs and HTTP APIs on loopback ports, played as AWS plays them: each request becomes the payload
//! 2.0 event Lambda would receive (`rawPath`, `rawQueryString`, lower-case headers with repeated values joined
//! by commas, `cookies`, the body as text or base64, `requestContext` with the route key and, for IAM callers,
//! the caller), the function is invoked with it, and its answer (`statusCode`, `headers`, `cookies`, `body`,
//! `isBase64Encoded`) becomes the HTTP response, buffered whole. Lambda's 6 MB payload limit applies both ways,
//! a failed invocation answers 500 (API) or 502 (URL), and a route with the `AWS_IAM` authoriser needs a SigV4
//! signature with the box's keys for service `execute-api` (`lambda` for a URL), unless the box was started
//! with the API's authoriser turned off.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use kiln_core::sigv4::{AmzDate, Credentials, HttpRequest, VerifyPolicy, verify};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::functions::{Function, Functions};
use crate::wiring::{Route, api};

/// Lambda's synchronous invocation payload limit, request and response.
pub const MAX_PAYLOAD: usize = 6 * 1024 * 1024;

/// What a listener fronts.
pub enum Front {
    /// A Function URL.
    Url { function: Arc<Function>, iam: bool },
    /// An HTTP API's routes.
    Api {
        routes: Vec<Route>,
        functions: Arc<Functions>,
    },
}

/// One listener's state.
pub struct Gateway {
    pub front: Front,
    /// The resource's id, for `requestContext.apiId`.
    pub api_id: String,
    pub region: String,
    pub account: String,
    /// The keys signatures are checked against.
    pub keys: Credentials,
    /// Whether IAM authorisation is checked (false: the box was told to leave it out).
    pub check_iam: bool,
}

/// Serves `listener` until `shutdown`.
pub async fn serve(listener: tokio::net::TcpListener, gateway: Arc<Gateway>, shutdown: CancellationToken) {
    let router = axum::Router::new().fallback(handle).with_state(gateway);
    if let Err(err) = axum::serve(listener, router)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
    {
        tracing::error!(error = %err, "a box listener stopped");
    }
}

async fn handle(State(gateway): State<Arc<Gateway>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, MAX_PAYLOAD + 1).await else {
        return message(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large");
    };
    if body.len() > MAX_PAYLOAD {
        return message(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large");
    }
    let path = parts.uri.path().to_owned();
    let query = parts.uri.query().unwrap_or_default().to_owned();
    let (function, route_key, parameters, iam, service, failure) = match &gateway.front {
        Front::Url { function, iam } => (
            function.clone(),
            "$default".to_owned(),
            Vec::new(),
            *iam,
            "lambda",
            StatusCode::BAD_GATEWAY,
        ),
        Front::Api { routes, functions } => {
            let Some((route, parameters)) = api::select(routes, parts.method.as_str(), &path) else {
                return message(StatusCode::NOT_FOUND, "Not Found");
            };
            let Some(function) = functions.get(&route.function) else {
                return message(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error");
            };
            (
                function,
                route.key(),
                parameters,
                route.iam,
                "execute-api",
                StatusCode::INTERNAL_SERVER_ERROR,
            )
        }
    };
    let caller = if iam && gateway.check_iam {
        match authorise(&gateway, service, &parts, &path, &query, &body) {
            Ok(key) => Some(key),
            Err(reason) => return message(StatusCode::FORBIDDEN, &reason),
        }
    } else {
        None
    };
    let incoming = Incoming {
        method: parts.method.as_str(),
        path: &path,
        query: &query,
        headers: &parts.headers,
        body: &body,
        route_key: &route_key,
        parameters: &parameters,
        caller: caller.as_deref(),
    };
    let event = event(&gateway, &incoming);
    if event.to_string().len() > MAX_PAYLOAD {
        return message(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large");
    }
    match function.invoke(event).await {
        Ok(answer) if answer.to_string().len() <= MAX_PAYLOAD => {
            response(answer).unwrap_or_else(|| message(failure, "Internal Server Error"))
        }
        Ok(_) | Err(_) => message(failure, "Internal Server Error"),
    }
}

/// Checks the request's SigV4 signature against the box's keys; returns the caller's access key id.
fn authorise(
    gateway: &Gateway,
    service: &str,
    parts: &axum::http::request::Parts,
    path: &str,
    query: &str,
    body: &[u8],
) -> Result<String, String> {
    let pairs: Vec<(&str, &str)> = parts
        .headers
        .iter()
        .filter_map(|(n, v)| Some((n.as_str(), v.to_str().ok()?)))
        .collect();
    let request = HttpRequest {
        method: parts.method.as_str(),
        path,
        query,
        headers: &pairs,
        body,
    };
    let policy = VerifyPolicy {
        service: service.to_owned(),
        region: Some(gateway.region.clone()),
        max_skew_seconds: kiln_core::sigv4::MAX_CLOCK_SKEW_SECONDS,
    };
    let now = AmzDate::from_system_time(std::time::SystemTime::now()).ok_or("the clock is before 1970")?;
    verify(&request, &gateway.keys, &policy, now)
        .map(|verified| verified.access_key_id)
        .map_err(|e| format!("{e} (this route uses the AWS_IAM authoriser: sign for service {service})"))
}

struct Incoming<'a> {
    method: &'a str,
    path: &'a str,
    query: &'a str,
    headers: &'a HeaderMap,
    body: &'a [u8],
    route_key: &'a str,
    parameters: &'a [(String, String)],
    caller: Option<&'a str>,
}

/// The payload 2.0 event of a request.
fn event(gateway: &Gateway, r: &Incoming<'_>) -> Value {
    let mut headers = serde_json::Map::new();
    let mut cookies = Vec::new();
    for (name, value) in r.headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        if name == axum::http::header::COOKIE {
            cookies.extend(
                value
                    .split(';')
                    .map(|c| c.trim().to_owned())
                    .filter(|c| !c.is_empty()),
            );
            continue;
        }
        headers
            .entry(name.as_str().to_owned())
            .and_modify(|v| *v = Value::String(format!("{},{value}", v.as_str().unwrap_or_default())))
            .or_insert(Value::String(value));
    }
    let host = headers
        .get("host")
        .and_then(Value::as_str)
        .unwrap_or("127.0.0.1")
        .to_owned();
    let user_agent = headers.get("user-agent").cloned().unwrap_or(Value::Null);
    let now = chrono::Utc::now();
    let (body, base64) = match std::str::from_utf8(r.body) {
        Ok(text) => (text.to_owned(), false),
        Err(_) => (BASE64.encode(r.body), true),
    };
    let authorizer = r.caller.map(|key| {
        json!({"iam": {"accessKey": key, "accountId": gateway.account, "callerId": key,
                       "userArn": format!("arn:aws:iam::{}:user/kiln-box", gateway.account), "userId": key}})
    });
    let parameters: serde_json::Map<String, Value> = r
        .parameters
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    let mut event = json!({
        "version": "2.0",
        "routeKey": r.route_key,
        "rawPath": r.path,
        "rawQueryString": r.query,
        "headers": headers,
        "requestContext": {
            "accountId": gateway.account,
            "apiId": gateway.api_id,
            "domainName": host,
            "domainPrefix": host.split('.').next().unwrap_or_default(),
            "http": {"method": r.method, "path": r.path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": user_agent},
            "requestId": uuid::Uuid::new_v4().to_string(),
            "routeKey": r.route_key,
            "stage": "$default",
            "time": now.format("%d/%b/%Y:%H:%M:%S +0000").to_string(),
            "timeEpoch": now.timestamp_millis(),
        },
        "body": body,
        "isBase64Encoded": base64,
    });
    if !cookies.is_empty() {
        event["cookies"] = json!(cookies);
    }
    if !parameters.is_empty() {
        event["pathParameters"] = Value::Object(parameters);
    }
    if let Some(authorizer) = authorizer {
        event["requestContext"]["authorizer"] = authorizer;
    }
    event
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Answer {
    status_code: u16,
    #[serde(default)]
    headers: serde_json::Map<String, Value>,
    #[serde(default)]
    cookies: Vec<String>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    is_base64_encoded: bool,
}

/// The HTTP response of a function's answer; `None` when the answer is not a valid response.
fn response(answer: Value) -> Option<Response> {
    let answer: Answer = serde_json::from_value(answer).ok()?;
    let body = match (answer.body, answer.is_base64_encoded) {
        (None, _) => Vec::new(),
        (Some(text), false) => text.into_bytes(),
        (Some(encoded), true) => BASE64.decode(encoded).ok()?,
    };
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = StatusCode::from_u16(answer.status_code).ok()?;
    for (name, value) in &answer.headers {
        let value = value.as_str().map_or_else(|| value.to_string(), str::to_owned);
        let (Ok(name), Ok(value)) = (HeaderName::try_from(name.as_str()), HeaderValue::try_from(value))
        else {
            continue;
        };
        response.headers_mut().append(name, value);
    }
    for cookie in answer.cookies {
        if let Ok(value) = HeaderValue::try_from(cookie) {
            response
                .headers_mut()
                .append(axum::http::header::SET_COOKIE, value);
        }
    }
    Some(response)
}

fn message(status: StatusCode, text: &str) -> Response {
    (status, axum::Json(json!({ "message": text }))).into_response()
}
