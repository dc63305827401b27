//! Kiln's HTTP front: one [`axum::Router`] that serves `kiln serve` locally and the `api` Lambda on AWS.
//!
//! [`app`] wires the routes: `POST /webhooks/{project}` ([`webhooks`]), `POST /codecommit/events`
//! ([`codecommit`]), the CodeBuild JSON 1.1 API at `POST /`
//! ([`api`]), build logs and their live stream ([`logs`]) and the notice feed ([`events`]). Handlers decode the
//! request, call one use case from [`kiln_core::usecases`] and map the result; [`error::AppError`] is the
//! only way they fail. What differs between the two hosts is in [`AppState`]: where logs are read from, whether
//! there is a notice feed, what happens when a build is queued, and whether streams follow a build live.

pub mod access;
pub mod api;
pub mod codecommit;
pub mod console;
pub mod error;
pub mod events;
pub mod logs;
pub mod webhooks;

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use kiln_core::build::Timestamp;
use kiln_core::ports::BoxFuture;
use kiln_core::ports::logs::LogReader;
use kiln_core::ports::notifier::NoticeFeed;
use kiln_core::sigv4::Credentials;
use kiln_core::usecases::Services;
use kiln_core::usecases::webhook::WebhookSecrets;

/// The largest webhook body accepted (GitHub's maximum payload).
pub const MAX_WEBHOOK_BYTES: usize = 25 * 1024 * 1024;

/// A clock, injectable so tests can move time.
pub type Clock = Arc<dyn Fn() -> Timestamp + Send + Sync>;

/// Told when builds are queued: locally it wakes the dispatcher, on AWS it sends the dispatch messages.
pub trait OnQueued: Send + Sync {
    /// Builds `build_ids` were queued (or found queued, for a repeated request). Failures are the hook's to log:
    /// the builds are already stored.
    fn queued<'a>(&'a self, build_ids: &'a [String]) -> BoxFuture<'a, ()>;
}

impl OnQueued for tokio::sync::Notify {
    fn queued<'a>(&'a self, _build_ids: &'a [String]) -> BoxFuture<'a, ()> {
        self.notify_one();
        Box::pin(async {})
    }
}

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
    /// When set, every API call must carry a valid SigV4 signature for these credentials.
    pub credentials: Option<Credentials>,
    /// Base URL of this server, for webhook `payloadUrl`s.
    pub base_url: String,
    pub clock: Clock,
    /// Resolves projects' webhook secrets.
    pub secrets: Arc<dyn WebhookSecrets>,
    /// Told when a build is queued, so it is dispatched without waiting.
    pub queued: Arc<dyn OnQueued>,
    /// The key console sessions are signed with when there are no credentials to derive it from; `None` makes
    /// one per process (fine for one server, not for several function instances behind one URL).
    pub session_key: Option<Arc<[u8]>>,
    /// Whether log streams follow a running build until it ends (a server), or answer at once with what there
    /// is (a buffered Lambda response: the browser's `EventSource` asks again).
    pub follow: bool,
}

impl AppState {
    /// The current time by the state's clock.
    pub fn now(&self) -> Timestamp {
        (self.clock)()
    }

    /// Tells [`AppState::queued`] about a started build.
    pub async fn announce_queued(&self, build: &kiln_core::build::Build) {
        self.queued.queued(&[build.id().to_string()]).await;
    }
}

/// The router: webhooks, the CodeBuild API, logs and events.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/", post(api::handle))
        .route(
            "/webhooks/{project}",
            post(webhooks::receive).layer(DefaultBodyLimit::max(MAX_WEBHOOK_BYTES)),
        )
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
