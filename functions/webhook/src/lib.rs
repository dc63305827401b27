//! The `webhook` function: provider deliveries to `/webhooks/{project}` behind the function's URL, answered by
//! the very route `kiln serve` runs ([`kiln_server::webhook_app`]): 202 with the build ids, 200 ignored with the
//! reason, 401 bad signature (nothing stored), 400 malformed, 404 unknown project, 413 too large, and JSON
//! refusals for other paths and methods. lambda_http turns each Function URL or HTTP API (payload 2.0) event
//! into a request for that router, base64 bodies included.
//!
//! What the route is given on AWS is in [`Webhook`]: the use cases over DynamoDB, the projects' secrets from SSM
//! and Secrets Manager (cached for a few minutes), and the dispatch signal (one message per accepted build, sent
//! again on a redelivery while the build is still QUEUED; a lost message answers 500 so the provider redelivers).

use std::sync::Arc;

use kiln_core::ports::dispatch_signal::DispatchSignal;
use kiln_core::ports::secrets::SecretResolver;
use kiln_core::usecases::Services;
use kiln_lambda::{SettingsError, Wiring};
use kiln_server::{WebhookState, system_clock, webhook_app};
use lambda_http::{Request, Response};
use tower::ServiceExt;

/// What the route needs on AWS, built once per function instance.
#[derive(Clone)]
pub struct Webhook {
    pub services: Services,
    /// Resolves projects' webhook secrets.
    pub secrets: Arc<dyn SecretResolver>,
    /// Told about accepted deliveries' builds (the dispatch queue).
    pub dispatch: Arc<dyn DispatchSignal>,
}

impl Webhook {
    /// The route's state on AWS: the use cases, the projects' secrets (cached) and the dispatch signal.
    pub fn from_wiring(wiring: &Wiring) -> Result<Webhook, SettingsError> {
        Ok(Webhook {
            secrets: Arc::new(wiring.secrets()),
            dispatch: Arc::new(wiring.dispatch_signal()?),
            services: wiring.services.clone(),
        })
    }

    /// The router the function serves: the webhook route of `kiln serve` alone, on the system clock.
    pub fn router(self) -> axum::Router {
        webhook_app(WebhookState {
            services: self.services,
            secrets: self.secrets,
            dispatch: self.dispatch,
            clock: system_clock(),
        })
    }
}

/// Answers one request through the router (what `lambda_http::run` does per event, minus the event decoding).
pub async fn handle(router: &axum::Router, request: Request) -> Response<axum::body::Body> {
    match router.clone().oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}
