//! The `dispatch` function: SQS batches from the dispatch queue, one `{"buildId": "<project:uuid>"}` per
//! message, answered with a partial batch response (`batchItemFailures`: only those messages come back).
//!
//! Per message, [`Services::dispatch_build`] decides:
//! - launched, expired (TIMED_OUT), launch failed (FAULT) or no longer waiting: done, the message is deleted;
//! - no slot free (the project's `concurrentBuildLimit` or the global limit): the message's visibility is set
//!   to [`retry_delay`] (15 s doubling per receive, at most 10 min, never past the build's queued timeout) and
//!   it is reported failed, so SQS hands it out again after that delay instead of Lambda retrying at once;
//! - a body that is not a dispatch message, an unknown build, or a store/launcher error: reported failed; it
//!   comes back after the queue's visibility timeout and ends in the DLQ after `maxReceiveCount` receives.

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use kiln_aws::sqs::QueueError;
use kiln_aws::{DispatchMessage, SettingsError, SqsQueue};
use kiln_core::build::{BuildId, Timestamp};
use kiln_core::usecases::dispatch_one::DispatchOutcome;
use kiln_core::usecases::{Services, UseCaseError};
use kiln_lambda::Wiring;

/// The first wait of a build that cannot start yet.
pub const FIRST_DELAY_SECS: u32 = 15;
/// The longest wait between two tries of one build.
pub const MAX_DELAY_SECS: u32 = 600;

/// What the function needs: the use cases on AWS and the dispatch queue itself (to delay a message).
#[derive(Clone)]
pub struct Dispatcher {
    pub services: Services,
    pub queue: SqsQueue,
}

impl Dispatcher {
    /// The dispatcher of a function instance: the use cases and `KILN_DISPATCH_QUEUE_URL`.
    pub fn from_wiring(wiring: &Wiring) -> Result<Dispatcher, SettingsError> {
        Ok(Dispatcher {
            services: wiring.services.clone(),
            queue: SqsQueue::new(wiring.clients.sqs.clone(), wiring.settings.dispatch_queue_url()?),
        })
    }
}

/// What became of one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handled {
    /// Done with (deleted by Lambda): what dispatch did.
    Done(DispatchOutcome),
    /// Waiting for a slot: visible again after this many seconds (reported failed, so not deleted).
    Delayed { seconds: u32 },
}

/// Why a message could not be handled (it is reported failed).
#[derive(Debug, thiserror::Error)]
pub enum DispatchError {
    #[error("message {message_id:?} has no receipt handle; SQS always sends one")]
    NoReceiptHandle { message_id: String },
    #[error(
        "message body {body:?} is not {{\"buildId\": \"<project>:<uuid>\"}}: {reason}; send exactly that JSON object"
    )]
    Malformed { body: String, reason: String },
    #[error(transparent)]
    UseCase(#[from] UseCaseError),
    #[error("could not delay the message: {0}")]
    Queue(#[from] QueueError),
}

/// How long a build that cannot start yet waits before its message is seen again: [`FIRST_DELAY_SECS`] on
/// the first receive, doubling with each receive up to [`MAX_DELAY_SECS`], and no later than one second after
/// its queued timeout (so the timeout is enforced on time).
pub fn retry_delay(receive_count: u32, seconds_until_deadline: i64) -> u32 {
    let doublings = receive_count.saturating_sub(1).min(16);
    let backoff = FIRST_DELAY_SECS
        .saturating_mul(1 << doublings)
        .min(MAX_DELAY_SECS);
    let until_deadline = u32::try_from(seconds_until_deadline.max(0))
        .unwrap_or(u32::MAX)
        .saturating_add(1);
    backoff.min(until_deadline).max(1)
}

/// Handles one SQS batch; the response lists the messages SQS must keep (failed or delayed).
pub async fn handle(dispatcher: &Dispatcher, event: SqsEvent, now: Timestamp) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    for message in &event.records {
        let id = message.message_id.clone().unwrap_or_default();
        match handle_message(dispatcher, message, now).await {
            Ok(Handled::Done(outcome)) => {
                tracing::info!(message_id = %id, outcome = ?outcome, "dispatch message done");
            }
            Ok(Handled::Delayed { seconds }) => {
                tracing::info!(message_id = %id, seconds, "no slot free; the build waits");
                response.batch_item_failures.push(failure(id));
            }
            Err(err) => {
                tracing::warn!(message_id = %id, error = %err, "dispatch message failed");
                response.batch_item_failures.push(failure(id));
            }
        }
    }
    response
}

fn failure(item_identifier: String) -> BatchItemFailure {
    BatchItemFailure { item_identifier }
}

/// Handles one message: dispatches its build, or delays the message while no slot is free.
pub async fn handle_message(
    dispatcher: &Dispatcher,
    message: &SqsMessage,
    now: Timestamp,
) -> Result<Handled, DispatchError> {
    let build_id = parse_body(message.body.as_deref().unwrap_or_default())?;
    let outcome = dispatcher.services.dispatch_build(&build_id, now).await?;
    let DispatchOutcome::Waiting { deadline, .. } = outcome else {
        return Ok(Handled::Done(outcome));
    };
    let handle = message
        .receipt_handle
        .as_deref()
        .ok_or_else(|| DispatchError::NoReceiptHandle {
            message_id: message.message_id.clone().unwrap_or_default(),
        })?;
    let seconds = retry_delay(receive_count(message), now.whole_seconds_until(deadline));
    dispatcher.queue.retry_later(handle, seconds).await?;
    Ok(Handled::Delayed { seconds })
}

/// The build id of a dispatch message body.
pub fn parse_body(body: &str) -> Result<BuildId, DispatchError> {
    let malformed = |reason: String| DispatchError::Malformed {
        body: body.chars().take(200).collect(),
        reason,
    };
    let message: DispatchMessage = serde_json::from_str(body).map_err(|e| malformed(e.to_string()))?;
    BuildId::parse(&message.build_id).map_err(|e| malformed(e.to_string()))
}

/// `ApproximateReceiveCount` of a message (1 when absent).
fn receive_count(message: &SqsMessage) -> u32 {
    message
        .attributes
        .get("ApproximateReceiveCount")
        .and_then(|n| n.parse().ok())
        .unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delay_doubles_with_each_receive_up_to_ten_minutes() {
        let far = 8 * 3600;
        let delays: Vec<u32> = (1..=8).map(|n| retry_delay(n, far)).collect();
        assert_eq!(delays, vec![15, 30, 60, 120, 240, 480, 600, 600]);
        assert_eq!(retry_delay(u32::MAX, far), 600);
    }

    #[test]
    fn only_the_exact_dispatch_message_names_a_build() {
        let id = parse_body(r#"{"buildId":"web:8745a7a9-c340-456a-9166-edf953571bff"}"#).expect("valid");
        assert_eq!(id.as_str(), "web:8745a7a9-c340-456a-9166-edf953571bff");
        for body in ["not json", "{}", r#"{"buildId": "web"}"#, r#"{"buildId": 7}"#] {
            let err = parse_body(body).expect_err(body);
            assert!(err.to_string().contains("buildId"), "{err}");
        }
    }

    #[test]
    fn the_delay_never_passes_the_queued_timeout() {
        assert_eq!(retry_delay(7, 42), 43);
        assert_eq!(retry_delay(1, 0), 1);
        assert_eq!(retry_delay(1, -30), 1);
    }
}
