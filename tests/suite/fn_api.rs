//! The `api` function against moto: the `kiln serve` router behind lambda_http, driven with API Gateway HTTP API
//! events (IAM-authorised, as the template deploys it). StartBuild stores the build in DynamoDB and sends its
//! dispatch message; BatchGetBuilds and ListProjects read DynamoDB; a build's log and its console page are read
//! from the log object in S3; the notice feed does not exist on AWS.

use std::sync::Arc;

use http_body_util::BodyExt;
use kiln_aws::AwsSecretResolver;
use kiln_aws::DynamoSessionStore;
use kiln_aws::S3LogReader;
use kiln_aws::s3::log_key;
use kiln_core::build::BuildId;
use kiln_fn_api::{AwsParts, aws_state, handle};
use kiln_server::console::sessions::ConsoleSessions;
use serde_json::{Value, json};

use crate::aws_support::with_moto;
use crate::fn_box::{FnBox, LOGS_BUCKET};

fn router(fns: &FnBox) -> axum::Router {
    router_with(fns, None)
}

/// The function's router with projects' schedules synced to EventBridge Scheduler group `group` in moto.
fn router_with_schedules(fns: &FnBox, group: &kiln_aws::ScheduleGroup) -> axum::Router {
    let sync = kiln_aws::SchedulerSync {
        group: group.clone(),
        target: kiln_core::usecases::apply_projects::ScheduleTarget {
            arn: "arn:aws:lambda:us-east-1:123456789012:function:kiln-schedule".into(),
            role_arn: "arn:aws:iam::123456789012:role/kiln-schedule-invoke".into(),
        },
    };
    routers(fns, None, Some(Arc::new(sync)))
}

/// The function's router (both doors) on the fn box, with `keyring` for the keys door.
fn router_with(fns: &FnBox, keyring: Option<kiln_core::usecases::keys::Keyring>) -> axum::Router {
    routers(fns, keyring, None)
}

/// The function's router (both doors) on the fn box: `keyring` for the keys door, `schedules` to sync.
fn routers(
    fns: &FnBox,
    keyring: Option<kiln_core::usecases::keys::Keyring>,
    schedules: Option<Arc<dyn kiln_core::ports::schedules::ScheduleSync>>,
) -> axum::Router {
    let parts = AwsParts {
        logs: Arc::new(S3LogReader::new(fns.clients.s3.clone(), LOGS_BUCKET, "")),
        dispatch: fns.dispatch.clone(),
        secrets: Arc::new(AwsSecretResolver::cached(&fns.clients)),
        webhook_url: "https://abcdefgh.lambda-url.us-east-1.on.aws/".into(),
        session_key: Some(b"a key every instance shares".to_vec()),
        sessions: Some(ConsoleSessions::new(Arc::new(DynamoSessionStore::new(
            fns.clients.dynamodb.clone(),
            crate::fn_box::TABLE,
        )))),
        keyring,
        schedules,
    };
    kiln_fn_api::doors(kiln_server::app(aws_state(fns.services.clone(), parts)))
}

/// An HTTP API (payload 2.0) event of the IAM door (`/iam` + `path`) with the IAM authoriser's context, as API
/// Gateway sends it after checking the caller's SigV4 signature.
fn http_api_event(method: &str, path: &str, query: &str, headers: &[(&str, &str)], body: &str) -> String {
    let path = if path == "/" {
        "/iam".to_owned()
    } else {
        format!("/iam{path}")
    };
    let path = path.as_str();
    let mut all: serde_json::Map<String, Value> =
        headers.iter().map(|(n, v)| ((*n).to_owned(), json!(v))).collect();
    all.insert(
        "host".into(),
        json!("q1w2e3r4t5.execute-api.us-east-1.amazonaws.com"),
    );
    all.insert(
        "authorization".into(),
        json!("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261124/us-east-1/execute-api/aws4_request, SignedHeaders=host;x-amz-date, Signature=0f1e2d"),
    );
    all.insert("x-amz-date".into(), json!("20261124T210000Z"));
    json!({
        "version": "2.0",
        "routeKey": "ANY /iam/{proxy+}",
        "rawPath": path,
        "rawQueryString": query,
        "headers": all,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "q1w2e3r4t5",
            "authorizer": {"iam": {
                "accessKey": "AKIDEXAMPLE", "accountId": "123456789012", "callerId": "AIDAEXAMPLE",
                "principalOrgId": null, "userArn": "arn:aws:iam::123456789012:user/dev", "userId": "AIDAEXAMPLE"
            }},
            "domainName": "q1w2e3r4t5.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "q1w2e3r4t5",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "198.51.100.7",
                     "userAgent": "aws-cli/2.17.0"},
            "requestId": "Lx2yZjJYIAMEV9Q=",
            "routeKey": "ANY /iam/{proxy+}",
            "stage": "$default",
            "time": "24/Nov/2026:21:00:00 +0000",
            "timeEpoch": 1795467600000_u64
        },
        "body": body,
        "isBase64Encoded": false
    })
    .to_string()
}

/// Sends one event through the router; returns the status, the headers and the body text.
async fn send(router: &axum::Router, event: &str) -> (u16, axum::http::HeaderMap, String) {
    let request = lambda_http::request::from_str(event).expect("lambda_http reads the event");
    let response = handle(router, request).await;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.expect("the body").to_bytes();
    (status, headers, String::from_utf8(bytes.to_vec()).expect("UTF-8"))
}

async fn call(router: &axum::Router, operation: &str, input: Value) -> (u16, Value) {
    let target = format!("CodeBuild_20161006.{operation}");
    let headers = [
        ("content-type", "application/x-amz-json-1.1"),
        ("x-amz-target", target.as_str()),
    ];
    let event = http_api_event("POST", "/", "", &headers, &input.to_string());
    let (status, _, body) = send(router, &event).await;
    (status, serde_json::from_str(&body).expect("a JSON answer"))
}

#[test]
fn start_build_batch_get_builds_and_list_projects_run_through_a_lambda_http_request() {
    with_moto(|clients, _| async move {
        let fns = FnBox::new(clients).await;
        fns.put_project("web", json!(null)).await;
        let router = router(&fns);

        let (status, listed) = call(&router, "ListProjects", json!({})).await;
        assert_eq!(status, 200, "{listed}");
        assert_eq!(listed["projects"], json!(["web"]));

        let (status, started) = call(
            &router,
            "StartBuild",
            json!({"projectName": "web", "sourceVersion": "main"}),
        )
        .await;
        assert_eq!(status, 200, "{started}");
        let id = started["build"]["id"].as_str().expect("a build id").to_owned();
        let stored = crate::aws_support::build_json(&fns.store, &id).await;
        assert_eq!(stored["sourceVersion"], "main");
        assert_eq!(fns.dispatch_messages().await, vec![json!({"buildId": id})]);

        let missing = "web:00000000-0000-4000-8000-000000000000";
        let (status, got) = call(&router, "BatchGetBuilds", json!({"ids": [id, missing]})).await;
        assert_eq!(status, 200, "{got}");
        assert_eq!(got["builds"][0]["id"], id.as_str());
        assert_eq!(got["builds"][0]["currentPhase"], "QUEUED");
        assert_eq!(got["buildsNotFound"], json!([missing]));

        let (status, refused) = call(&router, "StartBuild", json!({"projectName": "nowhere"})).await;
        assert_eq!(
            (status, refused["__type"].as_str()),
            (400, Some("ResourceNotFoundException"))
        );
        assert!(fns.dispatch_messages().await.is_empty());
    });
}

#[test]
fn a_builds_log_and_its_console_page_are_read_from_the_log_object_in_s3() {
    with_moto(|clients, _| async move {
        let fns = FnBox::new(clients).await;
        fns.put_project("web", json!(null)).await;
        let router = router(&fns);
        let (_, started) = call(&router, "StartBuild", json!({"projectName": "web"})).await;
        let id = started["build"]["id"].as_str().expect("a build id").to_owned();
        let key = log_key("", &BuildId::parse(&id).expect("an id"));
        fns.clients
            .s3
            .put_object()
            .bucket(LOGS_BUCKET)
            .key(&key)
            .body(b"line one\n<b>line two</b>\n".to_vec().into())
            .send()
            .await
            .expect("moto stores the log");

        let path = format!("/builds/{id}/logs");
        let (status, headers, text) = send(&router, &http_api_event("GET", &path, "", &[], "")).await;
        assert_eq!(status, 200);
        assert_eq!(text, "line one\n<b>line two</b>\n");
        assert_eq!(headers["x-kiln-next-offset"], "25");
        let (_, headers, rest) = send(&router, &http_api_event("GET", &path, "offset=9", &[], "")).await;
        assert_eq!(rest, "<b>line two</b>\n");
        assert_eq!(headers["x-kiln-next-offset"], "25");
        let (_, _, past) = send(&router, &http_api_event("GET", &path, "offset=100", &[], "")).await;
        assert_eq!(past, "", "past the end reads as empty");

        let page = format!("/console/builds/{id}");
        let (status, _, html) = send(
            &router,
            &http_api_event("GET", &page, "", &[("accept", "text/html")], ""),
        )
        .await;
        assert_eq!(status, 200, "{html}");
        assert!(
            html.contains("&lt;b&gt;line two&lt;/b&gt;"),
            "the log line, escaped: {html}"
        );

        let (status, _, _) = send(&router, &http_api_event("GET", "/events", "", &[], "")).await;
        assert_eq!(status, 404, "no notice feed on AWS");
    });
}

#[test]
fn the_console_session_key_is_the_variable_or_the_generated_secret_shared_by_every_instance() {
    use kiln_aws::AwsSecretResolver;
    use kiln_fn_api::{SESSION_KEY_VARIABLE, SESSION_SECRET_VARIABLE, console_session_key};
    with_moto(|clients, _| async move {
        let created = clients
            .secrets_manager
            .create_secret()
            .name("kiln-console-session-key")
            .secret_string("k3y-generated-at-deploy")
            .send()
            .await
            .expect("create the secret");
        let arn = created.arn().expect("an ARN").to_owned();
        let resolver = AwsSecretResolver::new(clients.ssm.clone(), clients.secrets_manager.clone());
        let key = |vars: Vec<(&'static str, String)>| {
            let resolver = &resolver;
            async move {
                let lookup = move |name: &str| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone());
                console_session_key(lookup, resolver).await
            }
        };
        // The template's way: the secret's ARN; every instance reads the same value.
        assert_eq!(
            key(vec![(SESSION_SECRET_VARIABLE, arn.clone())]).await,
            Some(b"k3y-generated-at-deploy".to_vec())
        );
        // A key given directly wins.
        assert_eq!(
            key(vec![
                (SESSION_KEY_VARIABLE, "direct".into()),
                (SESSION_SECRET_VARIABLE, arn)
            ])
            .await,
            Some(b"direct".to_vec())
        );
        // An unreadable secret or no configuration: a key per instance (None), logged.
        assert_eq!(
            key(vec![(SESSION_SECRET_VARIABLE, "no-such-secret".into())]).await,
            None
        );
        assert_eq!(key(vec![]).await, None);
    });
}

/// An HTTP API event of the keys door (the `$default` route, no authoriser): `headers` as given.
fn keys_door_event(path: &str, headers: &[(&str, &str)], body: &str) -> String {
    let all: serde_json::Map<String, Value> =
        headers.iter().map(|(n, v)| ((*n).to_owned(), json!(v))).collect();
    json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": all,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "q1w2e3r4t5",
            "domainName": "q1w2e3r4t5.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "q1w2e3r4t5",
            "http": {"method": "POST", "path": path, "protocol": "HTTP/1.1", "sourceIp": "198.51.100.7",
                     "userAgent": "Boto3/1.35.0"},
            "requestId": "Lx2yZjJYIAMEV9R=",
            "routeKey": "$default",
            "stage": "$default",
            "time": "24/Nov/2026:21:00:00 +0000",
            "timeEpoch": 1795467600000_u64
        },
        "body": body,
        "isBase64Encoded": false
    })
    .to_string()
}

/// The headers of a CodeBuild call to the keys door, signed for service `codebuild` with `credentials`.
fn signed_headers(
    credentials: &kiln_core::sigv4::Credentials,
    operation: &str,
    body: &str,
) -> Vec<(String, String)> {
    use kiln_core::sigv4::{AmzDate, HttpRequest, SigningParams, sign};
    let target = format!("CodeBuild_20161006.{operation}");
    let host = "q1w2e3r4t5.execute-api.us-east-1.amazonaws.com";
    let headers = [
        ("host", host),
        ("content-type", "application/x-amz-json-1.1"),
        ("x-amz-target", target.as_str()),
    ];
    let request = HttpRequest {
        method: "POST",
        path: "/",
        query: "",
        headers: &headers,
        body: body.as_bytes(),
    };
    let params = SigningParams {
        credentials,
        region: "us-east-1",
        service: "codebuild",
        time: AmzDate::from_system_time(std::time::SystemTime::now()).expect("a clock after 1970"),
    };
    let signed = sign(&request, &params).expect("signed");
    headers
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .chain(
            signed
                .pairs()
                .into_iter()
                .map(|(n, v)| (n.to_owned(), v.to_owned())),
        )
        .collect()
}

#[test]
fn the_keys_door_takes_kiln_access_keys_in_scope_and_the_iam_door_only_iam_callers() {
    use kiln_core::access_keys::KeyScope;
    use kiln_core::access_keys::seal::KeySealer;
    use kiln_core::build::Timestamp;
    use kiln_core::usecases::keys::Keyring;
    with_moto(|clients, _| async move {
        let fns = FnBox::new(clients).await;
        fns.put_project("web", json!(null)).await;
        fns.put_project("api", json!(null)).await;
        let keyring = Keyring::new(
            Arc::new(kiln_aws::DynamoKeyStore::new(
                fns.clients.dynamodb.clone(),
                crate::fn_box::TABLE,
            )),
            KeySealer::new(b"the stack's key-sealing secret").expect("a sealer"),
        );
        let now = Timestamp::from(std::time::SystemTime::now());
        let all = keyring
            .create("all", KeyScope::everything(), now)
            .await
            .expect("a key");
        let web_only = KeyScope::new(vec!["*".into()], vec!["web".into()]).expect("a scope");
        let web = keyring.create("web", web_only, now).await.expect("a key");
        let router = router_with(&fns, Some(keyring.clone()));
        let call =
            |credentials: kiln_core::sigv4::Credentials, operation: &'static str, body: &'static str| {
                let router = router.clone();
                async move {
                    let headers = signed_headers(&credentials, operation, body);
                    let pairs: Vec<(&str, &str)> =
                        headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
                    let (status, _, text) = send(&router, &keys_door_event("/", &pairs, body)).await;
                    (
                        status,
                        serde_json::from_str::<Value>(&text).unwrap_or(Value::Null),
                    )
                }
            };
        let creds = |k: &kiln_core::usecases::keys::NewKey| {
            kiln_core::sigv4::Credentials::new(k.key.id.clone(), k.secret.clone())
        };

        let (status, listed) = call(creds(&all), "ListProjects", "{}").await;
        assert_eq!(status, 200, "{listed}");
        assert_eq!(listed["projects"], json!(["api", "web"]));
        let (status, got) = call(creds(&web), "BatchGetProjects", r#"{"names":["web"]}"#).await;
        assert_eq!(status, 200, "{got}");
        let (status, refused) = call(creds(&web), "BatchGetProjects", r#"{"names":["web","api"]}"#).await;
        assert_eq!(
            (status, refused["__type"].as_str()),
            (403, Some("AccessDeniedException")),
            "{refused}"
        );

        let wrong = kiln_core::sigv4::Credentials::new(all.key.id.clone(), "not the secret");
        let (status, refused) = call(wrong, "ListProjects", "{}").await;
        assert_eq!(status, 403, "a wrong secret: {refused}");
        keyring.revoke(&all.key.id, now).await.expect("revoke");
        let (status, refused) = call(creds(&all), "ListProjects", "{}").await;
        assert_eq!(status, 403, "a revoked key: {refused}");
        assert!(
            refused["message"]
                .as_str()
                .unwrap_or_default()
                .contains("revoked"),
            "{refused}"
        );

        let unsigned = [
            ("content-type", "application/x-amz-json-1.1"),
            ("x-amz-target", "CodeBuild_20161006.ListProjects"),
        ];
        let (status, _, _) = send(&router, &keys_door_event("/", &unsigned, "{}")).await;
        assert_eq!(status, 403, "unsigned on the keys door");
        let (status, _, text) = send(&router, &keys_door_event("/iam", &unsigned, "{}")).await;
        assert_eq!(
            status, 403,
            "the IAM door without an IAM caller in the context: {text}"
        );
    });
}

#[test]
fn create_update_and_delete_project_keep_its_eventbridge_schedules_in_step() {
    with_moto(|clients, _| async move {
        let fns = FnBox::new(clients).await;
        let group = kiln_aws::ScheduleGroup::new(fns.clients.scheduler.clone(), "kiln-fn-schedules");
        group.create_group().await.expect("the schedule group");
        let router = router_with_schedules(&fns, &group);
        let project = |schedules: Value| {
            json!({
                "name": "web",
                "source": {"type": "NO_SOURCE", "buildspec": "version: 0.2\nphases:\n  build:\n    commands:\n      - echo hi\n"},
                "artifacts": {"type": "NO_ARTIFACTS"},
                "environment": {"type": "LINUX_CONTAINER", "image": "aws/codebuild/standard:7.0", "computeType": "BUILD_GENERAL1_SMALL"},
                "serviceRole": "arn:aws:iam::123456789012:role/builds",
                "schedules": schedules,
            })
        };
        let (status, created) = call(
            &router,
            "CreateProject",
            project(json!([
                {"name": "nightly", "expression": "cron(0 3 * * ? *)", "timezone": "Europe/Paris"},
                {"name": "hourly", "expression": "rate(1 hour)"},
            ])),
        )
        .await;
        assert_eq!(status, 200, "{created}");
        let nightly = group
            .find("web.nightly")
            .await
            .expect("get")
            .expect("web.nightly exists");
        assert_eq!(nightly.expression, "cron(0 3 * * ? *)");
        assert_eq!(nightly.timezone.as_deref(), Some("Europe/Paris"));
        assert_eq!(
            nightly.input.as_ref().map(|i| i["project"].clone()),
            Some(json!("web"))
        );
        assert!(group.find("web.hourly").await.expect("get").is_some());

        let (status, updated) = call(
            &router,
            "UpdateProject",
            json!({"name": "web", "schedules": [{"name": "nightly", "expression": "cron(30 4 * * ? *)"}]}),
        )
        .await;
        assert_eq!(status, 200, "{updated}");
        let nightly = group
            .find("web.nightly")
            .await
            .expect("get")
            .expect("still there");
        assert_eq!(nightly.expression, "cron(30 4 * * ? *)", "updated");
        assert_eq!(nightly.timezone.as_deref(), Some("UTC"));
        assert!(
            group.find("web.hourly").await.expect("get").is_none(),
            "a removed schedule is deleted"
        );

        let long = "x".repeat(70);
        let (status, refused) = call(
            &router,
            "UpdateProject",
            json!({"name": "web", "schedules": [{"name": long, "expression": "rate(1 day)"}]}),
        )
        .await;
        assert_eq!(
            (status, refused["__type"].as_str()),
            (400, Some("InvalidInputException")),
            "{refused}"
        );
        assert!(
            group.find("web.nightly").await.expect("get").is_some(),
            "nothing changed"
        );

        let (status, deleted) = call(&router, "DeleteProject", json!({"name": "web"})).await;
        assert_eq!(status, 200, "{deleted}");
        assert!(
            group.find("web.nightly").await.expect("get").is_none(),
            "deleted with its project"
        );
    });
}
