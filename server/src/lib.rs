//! Kiln's HTTP front: one [`axum::Router`] that serves `kiln serve` locally and, later, the `api` Lambda.
//!
//! [`app`] wires the routes: `POST /webhooks/{project}` ([`webhooks`]), the CodeBuild JSON 1.1 API at `POST /`
//! ([`api`]), build logs and their live stream ([`logs`]) and the notice feed ([`events`]). Handlers decode the
//! request, call one use case from [`kiln_shared::usecases`] and map the result; [`error::AppError`] is the
//! only way they fail.

pub mod access;
pub mod api;
pub mod console;
pub mod error;
pub mod events;
pub mod forwarder;
pub mod logs;
pub mod webhooks;

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use kiln_shared::build::Timestamp;
use kiln_shared::ports::BoxFuture;
use kiln_shared::ports::build_store::StoreError;
use kiln_shared::project::SecretRef;
use kiln_shared::sigv4::Credentials;
use kiln_shared::usecases::Services;

/// The largest webhook body accepted (GitHub's maximum payload).
pub const MAX_WEBHOOK_BYTES: usize = 25 * 1024 * 1024;

/// Reads notices back in order (the local outbox; EventBridge has no equivalent and the Lambda omits it).
pub trait NoticeFeed: Send + Sync {
    /// Up to `limit` notices after `cursor`, each with its own cursor.
    fn after(
        &self,
        cursor: u64,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<(u64, serde_json::Value)>, StoreError>>;
}

impl NoticeFeed for kiln_shared::adapters::local::sqlite::SqliteStore {
    fn after(
        &self,
        cursor: u64,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<(u64, serde_json::Value)>, StoreError>> {
        Box::pin(async move {
            Ok(self
                .notices_after(cursor, limit)?
                .into_iter()
                .map(|n| (n.cursor, n.event))
                .collect())
        })
    }
}

/// A clock, injectable so tests can move time.
pub type Clock = Arc<dyn Fn() -> Timestamp + Send + Sync>;

/// Resolves a project's webhook secret reference to the secret.
pub type SecretLookup = Arc<dyn Fn(&SecretRef) -> Result<String, String> + Send + Sync>;

/// The system clock.
pub fn system_clock() -> Clock {
    Arc::new(|| Timestamp::from(std::time::SystemTime::now()))
}

/// Local secret lookup: `{value}`, `{env}` and `{file}` references; SSM and Secrets Manager need AWS.
pub fn local_secrets() -> SecretLookup {
    Arc::new(|reference| match reference {
        SecretRef::Value(v) => Ok(v.clone()),
        SecretRef::Env(name) => std::env::var(name)
            .map_err(|_| format!("environment variable {name:?} holding the secret is not set")),
        SecretRef::File(path) => std::fs::read_to_string(path)
            .map(|s| s.trim_end_matches(['\n', '\r']).to_owned())
            .map_err(|e| format!("cannot read the secret file {path:?}: {e}")),
        SecretRef::Parameter(name) | SecretRef::SecretsManager(name) => Err(format!(
            "secret {name:?} lives in AWS; locally use {{env: NAME}}, {{file: path}} or {{value: ...}}"
        )),
    })
}

/// Everything the handlers share; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub services: Services,
    pub feed: Arc<dyn NoticeFeed>,
    /// Where build logs are written: `<logs_dir>/<project>/<uuid>.log`.
    pub logs_dir: PathBuf,
    /// When set, every API call must carry a valid SigV4 signature for these credentials.
    pub credentials: Option<Credentials>,
    /// Base URL of this server, for webhook `payloadUrl`s.
    pub base_url: String,
    pub clock: Clock,
    pub secrets: SecretLookup,
    /// Notified when a build is queued, so the dispatcher need not wait for its next tick.
    pub wake: Arc<tokio::sync::Notify>,
}

impl AppState {
    /// The current time by the state's clock.
    pub fn now(&self) -> Timestamp {
        (self.clock)()
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
