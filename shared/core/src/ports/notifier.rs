//! The notifier port: publishes build notices (CodeBuild's EventBridge events) to whoever listens — an
//! outbox table locally, SQS and SNS on AWS.

use super::BoxFuture;
use crate::build::ProjectName;
use crate::notice::NoticeEvent;

/// One notice: an EventBridge event in CodeBuild's shape (`detail-type`, `source`, `detail`, ...).
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    /// The project the build belongs to, for routing to per-project targets.
    pub project: ProjectName,
    /// The whole event.
    pub event: NoticeEvent,
}

/// Why a notice could not be published.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("could not publish the notice: {message}")]
    Backend { message: String, retryable: bool },
}

/// Publishes notices durably (at least once).
pub trait Notifier: Send + Sync {
    /// Publishes `notice`; when this returns `Ok` the notice will be delivered even across restarts.
    fn publish<'a>(&'a self, notice: &'a Notice) -> BoxFuture<'a, Result<(), NotifyError>>;
}

/// Reads notices back in order (the local outbox; EventBridge has no equivalent and the `api` function has none).
pub trait NoticeFeed: Send + Sync {
    /// Up to `limit` notices after `cursor`, each with its own cursor.
    fn after(
        &self,
        cursor: u64,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<(u64, NoticeEvent)>, super::build_store::StoreError>>;
}
