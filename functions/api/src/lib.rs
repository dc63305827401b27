//! The `api` function: the CodeBuild JSON 1.1 API (`POST /`), build logs and the web console — the very
//! [`kiln_server::app`] router `kiln serve` runs — behind an API Gateway HTTP API, through lambda_http. Two
//! doors into the same router:
//!
//! - `/` and every other path (no API Gateway authoriser): requests signed for service `codebuild` with a Kiln
//!   access key (`kiln keys create`), checked here against the keys in the stack's table, sealed with the
//!   template's key-sealing secret (`KILN_KEY_SEALING_SECRET`). This is what the unchanged `aws` CLI and boto3
//!   use with `--endpoint-url`.
//! - `/iam` and `/iam/...` (API Gateway's IAM authoriser): requests signed for service `execute-api` with IAM
//!   credentials, which API Gateway has checked; the prefix is taken off and the caller's ARN marked on the
//!   request ([`kiln_server::access::IamCaller`]), with every permission (IAM's `execute-api:Invoke` decides).
//!
//! What differs from `kiln serve` is all in [`aws_state`]: logs are read from the S3 log objects, there is no
//! notice feed (`/events` answers 404), a queued build gets a dispatch message instead of a wake-up, and log
//! streams answer at once instead of following (a buffered Lambda response cannot stay open).

use std::sync::Arc;

use kiln_aws::{AwsSecretResolver, S3LogReader};
use kiln_aws::{ScheduleGroup, SchedulerSync};
use kiln_core::ports::dispatch_signal::DispatchSignal;
use kiln_core::ports::logs::LogReader;
use kiln_core::ports::schedules::ScheduleSync;
use kiln_core::ports::secrets::{SecretRef, SecretResolver};
use kiln_core::usecases::Services;
use kiln_core::usecases::apply_projects::ScheduleTarget;
use kiln_core::usecases::keys::Keyring;
use kiln_lambda::{SettingsError, Wiring};
use kiln_server::access::{Access, IamCaller};
use kiln_server::console::sessions::ConsoleSessions;
use kiln_server::{AppState, system_clock};
use lambda_http::{Request, Response};
use tower::ServiceExt;

/// What the router needs on AWS, beside the use cases.
pub struct AwsParts {
    /// Reads the S3 log objects.
    pub logs: Arc<dyn LogReader>,
    /// Tells the dispatcher about queued builds (the dispatch queue).
    pub dispatch: Arc<dyn DispatchSignal>,
    /// Resolves webhook secrets (deliveries normally go to the `webhook` function; this serves the same route).
    pub secrets: Arc<dyn SecretResolver>,
    /// The webhook function's URL, for CreateWebhook's `payloadUrl`.
    pub webhook_url: String,
    /// The console session key shared by every instance ([`console_session_key`]); `None` makes one per
    /// instance, and a form posted to another instance then asks to reload.
    pub session_key: Option<Vec<u8>>,
    /// Where logged-in console sessions are kept (items in the stack's table), so they can be revoked.
    pub sessions: Option<ConsoleSessions>,
    /// The Kiln access keys that may sign requests on the keys door; `None` refuses every call there.
    pub keyring: Option<Keyring>,
    /// Keeps projects' EventBridge Scheduler schedules in step with CreateProject, UpdateProject and
    /// DeleteProject ([`schedule_sync`]).
    pub schedules: Option<Arc<dyn ScheduleSync>>,
}

/// The variables naming the stack's schedule group, the schedule function's ARN and the role schedules invoke
/// it with (the template sets all three).
pub const SCHEDULE_VARIABLES: [&str; 3] = [
    "KILN_SCHEDULE_GROUP",
    "KILN_SCHEDULE_TARGET_ARN",
    "KILN_SCHEDULE_ROLE_ARN",
];

/// Projects' schedules in the stack's group, from [`SCHEDULE_VARIABLES`]; `None` (logged) without them: then
/// projects made through the API get no schedules, as before `kiln projects apply`.
pub fn schedule_sync(
    clients: &kiln_aws::AwsClients,
    lookup: &impl Fn(&str) -> Option<String>,
) -> Option<Arc<dyn ScheduleSync>> {
    let [group, arn, role_arn] = SCHEDULE_VARIABLES.map(|name| lookup(name).filter(|v| !v.is_empty()));
    match (group, arn, role_arn) {
        (Some(group), Some(arn), Some(role_arn)) => Some(Arc::new(SchedulerSync {
            group: ScheduleGroup::new(clients.scheduler.clone(), group),
            target: ScheduleTarget { arn, role_arn },
        })),
        _ => {
            tracing::warn!(
                variables = ?SCHEDULE_VARIABLES,
                "schedule variables missing: projects' schedules are not synced by the API"
            );
            None
        }
    }
}

/// The environment variable holding the console session key itself.
pub const SESSION_KEY_VARIABLE: &str = "KILN_CONSOLE_SESSION_KEY";
/// The environment variable naming the Secrets Manager secret that holds the key (the template generates one).
pub const SESSION_SECRET_VARIABLE: &str = "KILN_CONSOLE_SESSION_SECRET";

/// The console session key every instance shares: `KILN_CONSOLE_SESSION_KEY` itself, else the value of the
/// Secrets Manager secret `KILN_CONSOLE_SESSION_SECRET` names, read once per instance (`lookup` reads the
/// environment). `None` without either, or when the secret cannot be read (logged as an error): each instance
/// then signs with a key of its own, and a session started on one instance asks to sign in again on another.
pub async fn console_session_key(
    lookup: impl Fn(&str) -> Option<String>,
    secrets: &dyn SecretResolver,
) -> Option<Vec<u8>> {
    if let Some(key) = lookup(SESSION_KEY_VARIABLE).filter(|k| !k.is_empty()) {
        return Some(key.into_bytes());
    }
    let secret_id = lookup(SESSION_SECRET_VARIABLE).filter(|s| !s.is_empty())?;
    let reference = SecretRef::Secret {
        secret_id: secret_id.clone(),
        json_key: None,
        version_stage: None,
        version_id: None,
    };
    match secrets.resolve(&reference).await {
        Ok(key) if !key.is_empty() => Some(key.into_bytes()),
        Ok(_) => {
            tracing::error!(secret = %secret_id, "the console session secret is empty: sessions are per instance");
            None
        }
        Err(err) => {
            tracing::error!(secret = %secret_id, error = %err, "console session secret unreadable: sessions are per instance");
            None
        }
    }
}

/// The environment variable setting how many minutes a console session may go unused.
pub const SESSION_IDLE_VARIABLE: &str = "KILN_SESSION_IDLE_MINUTES";

/// How long a console session may go unused: `KILN_SESSION_IDLE_MINUTES` when it is a positive number of
/// minutes (`lookup` reads the environment), else [`kiln_server::console::sessions::DEFAULT_IDLE`].
pub fn session_idle(lookup: impl Fn(&str) -> Option<String>) -> std::time::Duration {
    lookup(SESSION_IDLE_VARIABLE)
        .and_then(|minutes| minutes.trim().parse::<u64>().ok())
        .filter(|minutes| *minutes > 0)
        .map_or(kiln_server::console::sessions::DEFAULT_IDLE, |minutes| {
            std::time::Duration::from_secs(minutes.saturating_mul(60))
        })
}

/// The variable holding the webhook function's URL (CreateWebhook's `payloadUrl`, shown by the console).
pub const WEBHOOK_URL_VARIABLE: &str = "KILN_WEBHOOK_URL";

/// The function's router, built once per instance: logs from the logs bucket, the dispatch signal, the cached
/// secret resolver, `KILN_WEBHOOK_URL` and the console session key, all read through `lookup` (the environment
/// on Lambda; the template's variables in the box).
pub async fn router(
    wiring: &Wiring,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<axum::Router, SettingsError> {
    let logs = S3LogReader::new(
        wiring.clients.s3.clone(),
        wiring.settings.logs_bucket()?,
        kiln_aws::s3::LOG_PREFIX,
    );
    let session_resolver =
        AwsSecretResolver::new(wiring.clients.ssm.clone(), wiring.clients.secrets_manager.clone());
    let parts = AwsParts {
        logs: Arc::new(logs),
        dispatch: Arc::new(wiring.dispatch_signal()?),
        secrets: Arc::new(wiring.secrets()),
        webhook_url: lookup(WEBHOOK_URL_VARIABLE).unwrap_or_default(),
        session_key: console_session_key(&lookup, &session_resolver).await,
        sessions: Some(ConsoleSessions {
            store: Arc::new(wiring.settings.sessions(&wiring.clients)),
            idle: session_idle(&lookup),
        }),
        keyring: keyring(wiring, &lookup).await,
        schedules: schedule_sync(&wiring.clients, &lookup),
    };
    Ok(doors(kiln_server::app(aws_state(wiring.services.clone(), parts))))
}

/// The keyring of the stack: keys in its table, sealed with the secret `KILN_KEY_SEALING_SECRET` names. `None`
/// (logged as an error) when the variable is missing or the secret unreadable: then no key is accepted, and
/// only the IAM door works.
async fn keyring(wiring: &Wiring, lookup: &impl Fn(&str) -> Option<String>) -> Option<Keyring> {
    let Some(secret) = lookup(kiln_aws::keyring::SEALING_SECRET_VARIABLE).filter(|s| !s.is_empty()) else {
        tracing::error!(
            variable = kiln_aws::keyring::SEALING_SECRET_VARIABLE,
            "no key-sealing secret: Kiln access keys are refused, only the /iam routes answer"
        );
        return None;
    };
    match kiln_aws::keyring::open_keyring(&wiring.clients, &wiring.settings.table, &secret).await {
        Ok(keyring) => Some(keyring),
        Err(err) => {
            tracing::error!(error = %err, "Kiln access keys are refused, only the /iam routes answer");
            None
        }
    }
}

/// Where IAM callers come in (API Gateway's `AWS_IAM` routes).
pub const IAM_PREFIX: &str = "/iam";

/// The router behind both doors: `/iam/...` (prefix removed) for callers API Gateway's IAM authoriser accepted,
/// everything else for Kiln access keys.
pub fn doors(app: axum::Router) -> axum::Router {
    axum::Router::new()
        .nest(
            IAM_PREFIX,
            app.clone().layer(axum::middleware::from_fn(iam_caller)),
        )
        .fallback_service(app)
}

/// Marks a request of the IAM door with its caller's ARN from API Gateway's request context; a request there
/// with no IAM caller in its context (which API Gateway's authoriser never lets through) is refused.
async fn iam_caller(
    mut request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    use lambda_http::RequestExt;
    use lambda_http::request::RequestContext;
    let caller = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => context
            .authorizer
            .as_ref()
            .and_then(|a| a.iam.as_ref())
            .map(|iam| {
                iam.user_arn
                    .clone()
                    .or_else(|| iam.caller_id.clone())
                    .unwrap_or_default()
            }),
        _ => None,
    };
    let Some(arn) = caller else {
        return kiln_server::error::AppError::Forbidden(
            "the /iam routes take requests API Gateway's IAM authoriser accepted; sign for service execute-api"
                .into(),
        )
        .into_response();
    };
    request.extensions_mut().insert(IamCaller(arn));
    next.run(request).await
}

/// The router's state on AWS.
pub fn aws_state(services: Services, parts: AwsParts) -> AppState {
    AppState {
        services,
        feed: None,
        logs: parts.logs,
        data_dir: None,
        // Never open: without a keyring only the IAM door lets anyone in.
        access: Access {
            server_key: None,
            keyring: parts.keyring,
            anyone: false,
        },
        schedules: parts.schedules,
        base_url: parts.webhook_url,
        clock: system_clock(),
        secrets: parts.secrets,
        dispatch: parts.dispatch,
        session_key: parts.session_key.map(Arc::from),
        sessions: parts.sessions,
        follow: false,
    }
}

/// Answers one request through the router (what `lambda_http::run` does per event, minus the event decoding).
pub async fn handle(router: &axum::Router, request: Request) -> Response<axum::body::Body> {
    match router.clone().oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_idle_period_is_the_variable_in_minutes_or_the_default() {
        let cases = [
            (None, 3_600),
            (Some("15"), 900),
            (Some(" 5 "), 300),
            (Some("0"), 3_600),
            (Some("soon"), 3_600),
        ];
        for (value, secs) in cases {
            let idle = session_idle(|_| value.map(str::to_owned));
            assert_eq!(idle.as_secs(), secs, "{value:?}");
        }
    }
}
