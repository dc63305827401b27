//! Kiln's HTTP front: one [`axum::Router`] that serves `kiln serve` locally and the `api` and `webhook` Lambdas on
//! AWS.
//!
//! [`app`] wires the routes: `POST /webhooks/{project}` ([`webhooks`]), `POST /codecommit/events`
//! ([`codecommit`]), the CodeBuild JSON 1.1 API at `POST /` ([`api`]), build logs and their live stream
//! ([`logs`], following through [`follow`]) and the notice feed ([`events`]), and the console ([`console`]);
//! [`webhook_app`] serves the webhook route alone (the `webhook` function). Handlers decode the request, call one
//! use case from [`kiln_core::usecases`] and map the result; [`error::AppError`] is the only way they fail. What
//! differs between the hosts is in [`AppState`]: where logs are read from, whether there is a notice feed, how
//! the dispatcher is told about queued builds, where secrets come from, and whether streams follow a build live.

pub mod access;
pub mod api;
pub mod codecommit;
pub mod console;
pub mod error;
pub mod events;
pub mod follow;
#[cfg(test)]
mod follow_tests;
pub mod listen;
pub mod logs;
pub mod webhooks;

pub use webhooks::WebhookState;

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::extract::FromRef;
use axum::routing::{MethodRouter, get, post};
use kiln_core::build::Timestamp;
use kiln_core::ports::dispatch_signal::DispatchSignal;
use kiln_core::ports::logs::LogReader;
use kiln_core::ports::notifier::NoticeFeed;
use kiln_core::ports::secrets::SecretResolver;
use kiln_core::usecases::Services;

/// The largest webhook body accepted (GitHub's maximum payload).
pub const MAX_WEBHOOK_BYTES: usize = 25 * 1024 * 1024;

/// A clock, injectable so tests can move time.
pub type Clock = Arc<dyn Fn() -> Timestamp + Send + Sync>;

/// The system clock.
pub fn system_clock() -> Clock {
    Arc::new(|| Timestamp::from(std::time::SystemTime::now()))
}

/// Everything the handlers share; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub services: Services,
    /// The notice feed where there is one (the local outbox); without it `/events` answers 404 and the console
    /// has no events page.
    pub feed: Option<Arc<dyn NoticeFeed>>,
    /// Reads build logs back: the logs directory locally, the S3 log objects on AWS.
    pub logs: Arc<dyn LogReader>,
    /// The local data directory, whose `objects/` the console serves artifacts from (`None` on AWS, where
    /// artifacts are S3 objects).
    pub data_dir: Option<PathBuf>,
    /// Who may call: the server's own key pair and the Kiln access keys; with neither, anyone (loopback only).
    pub access: access::Access,
    /// Base URL of this server, for webhook `payloadUrl`s.
    pub base_url: String,
    pub clock: Clock,
    /// Resolves projects' webhook secrets.
    pub secrets: Arc<dyn SecretResolver>,
    /// Told when builds are queued, so they are dispatched without waiting: locally it wakes the dispatcher,
    /// on AWS it sends the dispatch messages.
    pub dispatch: Arc<dyn DispatchSignal>,
    /// The key console sessions are signed with when there are no credentials to derive it from; `None` makes
    /// one per process (fine for one server, not for several function instances behind one URL).
    pub session_key: Option<Arc<[u8]>>,
    /// Where logged-in console sessions are kept, so they can be revoked and end when idle; `None` keeps them in
    /// their signed cookies alone.
    pub sessions: Option<console::sessions::ConsoleSessions>,
    /// Keeps the scheduler's schedules in step with projects created, updated and deleted through the API (on
    /// AWS, EventBridge Scheduler); `None` where the server fires schedules from the stored projects itself.
    pub schedules: Option<Arc<dyn kiln_core::ports::schedules::ScheduleSync>>,
    /// Whether log streams follow a running build until it ends (a server), or answer at once with what there
    /// is (a buffered Lambda response: the browser's `EventSource` asks again).
    pub follow: bool,
}

impl AppState {
    /// The current time by the state's clock.
    pub fn now(&self) -> Timestamp {
        (self.clock)()
    }

    /// Tells [`AppState::dispatch`] about a started build. A lost signal is logged, not answered: the build is
    /// stored and the caller's request succeeded.
    pub async fn signal_queued(&self, build: &kiln_core::build::Build) {
        if let Err(err) = self.dispatch.queued(std::slice::from_ref(build.id())).await {
            tracing::error!(build = %build.id(), error = %err, "the dispatcher was not told; the build stays QUEUED");
        }
    }
}

/// `POST /webhooks/{project}` with its body limit, for any router whose state holds a [`WebhookState`].
fn webhook_route<S>() -> MethodRouter<S>
where
    WebhookState: FromRef<S>,
    S: Clone + Send + Sync + 'static,
{
    post(webhooks::receive).layer(DefaultBodyLimit::max(MAX_WEBHOOK_BYTES))
}

/// The webhook edge alone, as the `webhook` function serves it behind its Function URL: the route of [`app`],
/// and JSON refusals for any other path (404) or method (405).
pub fn webhook_app(state: WebhookState) -> Router {
    Router::new()
        .route(
            "/webhooks/{project}",
            webhook_route().fallback(webhooks::not_allowed),
        )
        .fallback(webhooks::no_route)
        .with_state(state)
}

/// The router: webhooks, the CodeBuild API, logs and events.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/", post(api::handle))
        .route("/webhooks/{project}", webhook_route())
        .route("/codecommit/events", post(codecommit::receive))
        .merge(
            Router::new()
                .route("/builds/{id}/logs", get(logs::read))
                .route("/builds/{id}/logs/stream", get(logs::stream))
                .route("/events", get(events::list))
                .route_layer(axum::middleware::from_fn_with_state(
                    state.clone(),
                    access::require,
                )),
        )
        .route("/healthz", get(|| async { "ok" }))
        .merge(console::router(state.clone()))
        .with_state(state)
}
