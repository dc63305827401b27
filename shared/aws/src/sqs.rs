//! SQS queue helpers for the dispatch queue (and for reading the notice queue in tests and tools): send with
//! an optional delay, long-poll receive, delete, and change visibility (how a build that cannot start yet goes
//! back to the queue later instead of being retried in a busy loop).

use super::retry::{describe, is_retryable};

/// Why a queue operation failed.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("sqs queue {queue:?}: {message}")]
    Backend {
        queue: String,
        message: String,
        retryable: bool,
    },
}

/// One received message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMessage {
    pub message_id: String,
    /// The handle to delete the message or change its visibility with.
    pub receipt_handle: String,
    pub body: String,
    /// How many times SQS has handed this message out (1 on the first delivery).
    pub receive_count: u32,
}

/// One SQS queue by URL.
#[derive(Debug, Clone)]
pub struct SqsQueue {
    client: aws_sdk_sqs::Client,
    url: String,
}

impl SqsQueue {
    /// The queue at `url`.
    pub fn new(client: aws_sdk_sqs::Client, url: impl Into<String>) -> SqsQueue {
        SqsQueue {
            client,
            url: url.into(),
        }
    }

    /// The queue URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Sends `body`, invisible for `delay_seconds` (0–900); returns the message id.
    pub async fn send(&self, body: &str, delay_seconds: u32) -> Result<String, QueueError> {
        let output = self
            .client
            .send_message()
            .queue_url(&self.url)
            .message_body(body)
            .delay_seconds(clamp(delay_seconds, 900))
            .send()
            .await
            .map_err(|e| self.error(&e))?;
        Ok(output.message_id().unwrap_or_default().to_owned())
    }

    /// Receives up to `max` (1–10) messages, waiting up to `wait_seconds` (0–20) for the first one.
    pub async fn receive(&self, max: u32, wait_seconds: u32) -> Result<Vec<ReceivedMessage>, QueueError> {
        let output = self
            .client
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(clamp(max, 10).max(1))
            .wait_time_seconds(clamp(wait_seconds, 20))
            .message_system_attribute_names(
                aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount,
            )
            .send()
            .await
            .map_err(|e| self.error(&e))?;
        Ok(output
            .messages()
            .iter()
            .map(|m| ReceivedMessage {
                message_id: m.message_id().unwrap_or_default().to_owned(),
                receipt_handle: m.receipt_handle().unwrap_or_default().to_owned(),
                body: m.body().unwrap_or_default().to_owned(),
                receive_count: m
                    .attributes()
                    .and_then(|a| {
                        a.get(&aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount)
                    })
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(1),
            })
            .collect())
    }

    /// Deletes a received message.
    pub async fn delete(&self, receipt_handle: &str) -> Result<(), QueueError> {
        self.client
            .delete_message()
            .queue_url(&self.url)
            .receipt_handle(receipt_handle)
            .send()
            .await
            .map_err(|e| self.error(&e))?;
        Ok(())
    }

    /// Makes a received message visible again after `seconds` (0–43200): "try this one later".
    pub async fn retry_later(&self, receipt_handle: &str, seconds: u32) -> Result<(), QueueError> {
        self.client
            .change_message_visibility()
            .queue_url(&self.url)
            .receipt_handle(receipt_handle)
            .visibility_timeout(clamp(seconds, 43_200))
            .send()
            .await
            .map_err(|e| self.error(&e))?;
        Ok(())
    }

    fn error<E>(
        &self,
        err: &aws_sdk_sqs::error::SdkError<E, aws_sdk_sqs::config::http::HttpResponse>,
    ) -> QueueError
    where
        E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
    {
        QueueError::Backend {
            queue: self.url.clone(),
            message: describe(err),
            retryable: is_retryable(err),
        }
    }
}

fn clamp(value: u32, max: u32) -> i32 {
    i32::try_from(value.min(max)).unwrap_or(0)
}
