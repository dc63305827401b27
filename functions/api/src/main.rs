//! The `api` function's entry point: settings, clients and the router once per instance, then lambda_http
//! turns each HTTP API event into a request for the router.

use std::sync::Arc;

use kiln_aws::{AwsSecretResolver, S3LogReader};
use kiln_fn_api::{AwsParts, aws_state, console_session_key, session_idle};
use kiln_lambda::Wiring;
use kiln_server::console::sessions::ConsoleSessions;
use lambda_http::Error;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    kiln_lambda::init_tracing();
    let wiring = Wiring::from_env().await?;
    let logs = S3LogReader::new(
        wiring.clients.s3.clone(),
        wiring.settings.logs_bucket()?,
        kiln_aws::s3::LOG_PREFIX,
    );
    let parts = AwsParts {
        logs: Arc::new(logs),
        dispatch: Arc::new(wiring.dispatch_signal()?),
        secrets: Arc::new(wiring.secrets()),
        webhook_url: std::env::var("KILN_WEBHOOK_URL").unwrap_or_default(),
        session_key: console_session_key(
            |name| std::env::var(name).ok(),
            &AwsSecretResolver::new(wiring.clients.ssm.clone(), wiring.clients.secrets_manager.clone()),
        )
        .await,
        sessions: Some(ConsoleSessions {
            store: Arc::new(wiring.settings.sessions(&wiring.clients)),
            idle: session_idle(|name| std::env::var(name).ok()),
        }),
    };
    let router = kiln_server::app(aws_state(wiring.services, parts));
    lambda_http::run(router).await
}
