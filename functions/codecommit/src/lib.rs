//! The `codecommit` function: an EventBridge rule (one per repository, from `template.yaml`) delivers
//! "CodeCommit Repository State Change" events; [`handle`] runs
//! [`Services::accept_codecommit_event`](kiln_core::usecases::Services::accept_codecommit_event) and hands
//! every build it started (or found again, for a duplicate delivery) to the dispatch signal (one
//! `{"buildId": "<id>"}` message per build on the dispatch queue). The dispatch function is idempotent per
//! build, so re-sending a redelivered build's id is harmless and covers an earlier invocation that failed after
//! creating the build.
//!
//! Errors from the store or a lost dispatch signal fail the invocation, so Lambda's asynchronous retries run it
//! again (builds are created idempotently on the event id); malformed and ignored events succeed with a summary.

use kiln_core::build::Timestamp;
use kiln_core::ports::dispatch_signal::{DispatchSignal, SignalError};
use kiln_core::usecases::codecommit::CodeCommitDelivery;
use kiln_core::usecases::{Services, UseCaseError};
use serde_json::{Value, json};

/// Why an invocation failed (Lambda retries it).
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error(transparent)]
    UseCase(#[from] UseCaseError),
    #[error(transparent)]
    Dispatch(#[from] SignalError),
}

impl From<HandlerError> for lambda_runtime::Diagnostic {
    fn from(err: HandlerError) -> Self {
        let error_type = match &err {
            HandlerError::UseCase(_) => "KilnUseCaseError",
            HandlerError::Dispatch(_) => "KilnDispatchQueueError",
        };
        lambda_runtime::Diagnostic {
            error_type: error_type.to_owned(),
            error_message: err.to_string(),
        }
    }
}

/// Handles one event; returns a summary (`buildIds`, or `ignored` with the reason).
pub async fn handle(
    services: &Services,
    dispatch: &dyn DispatchSignal,
    event: &Value,
    now: Timestamp,
) -> Result<Value, HandlerError> {
    let event_id = event["id"].as_str().unwrap_or_default();
    let delivery = services.accept_codecommit_event(event, now).await?;
    let build_ids = delivery.build_ids();
    if !build_ids.is_empty() {
        dispatch.queued(&build_ids).await?;
    }
    Ok(match delivery {
        CodeCommitDelivery::Routed(projects) => {
            let names: Vec<&str> = projects.iter().map(|(name, _)| name.as_str()).collect();
            tracing::info!(event_id, projects = ?names, builds = ?build_ids, "codecommit event accepted");
            json!({ "buildIds": build_ids, "projects": names })
        }
        CodeCommitDelivery::Ignored(reason) => {
            tracing::info!(event_id, kind = reason.kind(), reason = %reason, "codecommit event ignored");
            json!({ "ignored": true, "kind": reason.kind(), "reason": reason.to_string() })
        }
        CodeCommitDelivery::Malformed { message } => {
            // Retrying cannot fix the event's shape: succeed, and leave the reason in the log.
            tracing::warn!(event_id, message = %message, "codecommit event malformed");
            json!({ "ignored": true, "kind": "MALFORMED", "reason": message })
        }
    })
}
