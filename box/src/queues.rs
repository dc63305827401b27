//! SQS event source mappings, played as Lambda's poller plays them: long-poll the queue, hand up to
//! `BatchSize` messages to the function as one `aws:sqs` event, then delete what the function handled — every
//! message when it succeeds, all but its `batchItemFailures` with `ReportBatchItemFailures`, none when it
//! fails (they come back after the queue's visibility timeout, and reach its dead-letter queue after
//! `maxReceiveCount` receives).

use std::sync::Arc;
use std::time::Duration;

use kiln_aws::SqsQueue;
use kiln_aws::sqs::ReceivedMessage;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::functions::Function;
use crate::wiring::QueueSource;

/// One mapping, ready to poll.
pub struct Poller {
    pub source: QueueSource,
    pub queue: SqsQueue,
    pub function: Arc<Function>,
    pub region: String,
}

impl Poller {
    /// Polls until `shutdown`.
    pub async fn run(self, shutdown: CancellationToken) {
        loop {
            let received = tokio::select! {
                () = shutdown.cancelled() => return,
                received = self.queue.receive(self.source.batch_size.clamp(1, 10), 1) => received,
            };
            match received {
                Ok(messages) if !messages.is_empty() => self.deliver(&messages).await,
                Ok(_) => {}
                Err(err) => {
                    tracing::warn!(mapping = %self.source.id, error = %err, "could not poll the queue");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }

    /// One batch: invoke, then delete what the function handled.
    pub async fn deliver(&self, messages: &[ReceivedMessage]) {
        let event = self.event(messages);
        let failed: Vec<String> = match self.function.invoke(event).await {
            Ok(answer) if self.source.report_failures => failures(&answer, messages),
            Ok(_) => Vec::new(),
            Err(_) => messages.iter().map(|m| m.message_id.clone()).collect(),
        };
        for message in messages.iter().filter(|m| !failed.contains(&m.message_id)) {
            if let Err(err) = self.queue.delete(&message.receipt_handle).await {
                tracing::warn!(mapping = %self.source.id, error = %err, "could not delete a handled message");
            }
        }
    }

    fn event(&self, messages: &[ReceivedMessage]) -> Value {
        let now = chrono::Utc::now().timestamp_millis().to_string();
        let records: Vec<Value> = messages
            .iter()
            .map(|m| {
                json!({
                    "messageId": m.message_id,
                    "receiptHandle": m.receipt_handle,
                    "body": m.body,
                    "attributes": {
                        "ApproximateReceiveCount": m.receive_count.to_string(),
                        "SentTimestamp": now,
                        "SenderId": "AIDAKILNBOX",
                        "ApproximateFirstReceiveTimestamp": now
                    },
                    "messageAttributes": {},
                    "md5OfBody": "",
                    "eventSource": "aws:sqs",
                    "eventSourceARN": self.source.queue_arn,
                    "awsRegion": self.region
                })
            })
            .collect();
        json!({ "Records": records })
    }
}

/// The ids a partial batch response reports failed; an answer that is not one fails the whole batch, as
/// Lambda does.
fn failures(answer: &Value, messages: &[ReceivedMessage]) -> Vec<String> {
    match answer["batchItemFailures"].as_array() {
        Some(items) => items
            .iter()
            .filter_map(|i| i["itemIdentifier"].as_str().map(str::to_owned))
            .collect(),
        None if answer.is_null() || answer == &json!({}) => Vec::new(),
        None => messages.iter().map(|m| m.message_id.clone()).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(id: &str) -> ReceivedMessage {
        ReceivedMessage {
            message_id: id.to_owned(),
            receipt_handle: format!("handle-{id}"),
            body: "{}".to_owned(),
            receive_count: 1,
        }
    }

    #[test]
    fn only_the_reported_items_stay_and_a_malformed_answer_keeps_the_batch() {
        let batch = [message("a"), message("b")];
        assert_eq!(
            failures(&json!({"batchItemFailures": [{"itemIdentifier": "b"}]}), &batch),
            ["b"]
        );
        assert!(failures(&json!({"batchItemFailures": []}), &batch).is_empty());
        assert!(failures(&Value::Null, &batch).is_empty());
        assert_eq!(failures(&json!({"unexpected": true}), &batch), ["a", "b"]);
    }
}
