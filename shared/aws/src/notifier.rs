//! The notifier on AWS: each notice (CodeBuild's EventBridge event JSON) goes to an SQS notice queue and/or an
//! SNS topic, with a `project` and a `detail-type` message attribute so subscriptions can filter.
//!
//! FIFO notice queues get the project as message group (notices of one project stay in order) and the event id
//! as deduplication id (a retried publish is delivered once).

use sha2::{Digest, Sha256};

use super::retry::{describe, is_retryable};
use kiln_core::ports::BoxFuture;
use kiln_core::ports::notifier::{Notice, Notifier, NotifyError};

/// Publishes notices to an SQS queue and an SNS topic (either may be absent).
#[derive(Debug, Clone)]
pub struct AwsNotifier {
    sqs: aws_sdk_sqs::Client,
    sns: aws_sdk_sns::Client,
    queue_url: Option<String>,
    topic_arn: Option<String>,
}

impl AwsNotifier {
    /// A notifier sending to `queue_url` and `topic_arn`, when given.
    pub fn new(
        sqs: aws_sdk_sqs::Client,
        sns: aws_sdk_sns::Client,
        queue_url: Option<String>,
        topic_arn: Option<String>,
    ) -> AwsNotifier {
        AwsNotifier {
            sqs,
            sns,
            queue_url,
            topic_arn,
        }
    }

    async fn publish_notice(&self, notice: &Notice) -> Result<(), NotifyError> {
        let body = serde_json::to_string(&notice.event).map_err(|e| NotifyError::Backend {
            message: format!("encoding the notice: {e}"),
            retryable: false,
        })?;
        let detail_type = notice.event.detail_type.as_str();
        if let Some(url) = &self.queue_url {
            self.send_to_queue(url, notice, &body, detail_type).await?;
        }
        if let Some(topic) = &self.topic_arn {
            self.publish_to_topic(topic, notice, &body, detail_type).await?;
        }
        Ok(())
    }

    async fn send_to_queue(
        &self,
        url: &str,
        notice: &Notice,
        body: &str,
        detail_type: &str,
    ) -> Result<(), NotifyError> {
        let mut request = self
            .sqs
            .send_message()
            .queue_url(url)
            .message_body(body)
            .message_attributes("project", sqs_attribute(notice.project.as_str())?)
            .message_attributes("detail-type", sqs_attribute(detail_type)?);
        if url.ends_with(".fifo") {
            request = request
                .message_group_id(notice.project.as_str())
                .message_deduplication_id(dedup_id(notice, body));
        }
        request.send().await.map_err(|e| NotifyError::Backend {
            message: format!("sending to the notice queue: {}", describe(&e)),
            retryable: is_retryable(&e),
        })?;
        Ok(())
    }

    async fn publish_to_topic(
        &self,
        topic: &str,
        notice: &Notice,
        body: &str,
        detail_type: &str,
    ) -> Result<(), NotifyError> {
        let mut request = self
            .sns
            .publish()
            .topic_arn(topic)
            .message(body)
            .message_attributes("project", sns_attribute(notice.project.as_str())?)
            .message_attributes("detail-type", sns_attribute(detail_type)?);
        if topic.ends_with(".fifo") {
            request = request
                .message_group_id(notice.project.as_str())
                .message_deduplication_id(dedup_id(notice, body));
        }
        request.send().await.map_err(|e| NotifyError::Backend {
            message: format!("publishing to the notice topic: {}", describe(&e)),
            retryable: is_retryable(&e),
        })?;
        Ok(())
    }
}

/// The event's `id` when it has one (≤128 chars), else the SHA-256 of the body.
fn dedup_id(notice: &Notice, body: &str) -> String {
    match notice.event.id.as_str() {
        id if !id.is_empty() && id.len() <= 128 => id.to_owned(),
        _ => hex::encode(Sha256::digest(body.as_bytes())),
    }
}

fn sqs_attribute(value: &str) -> Result<aws_sdk_sqs::types::MessageAttributeValue, NotifyError> {
    aws_sdk_sqs::types::MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .map_err(|e| NotifyError::Backend {
            message: format!("building an SQS message attribute: {e}"),
            retryable: false,
        })
}

fn sns_attribute(value: &str) -> Result<aws_sdk_sns::types::MessageAttributeValue, NotifyError> {
    aws_sdk_sns::types::MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .map_err(|e| NotifyError::Backend {
            message: format!("building an SNS message attribute: {e}"),
            retryable: false,
        })
}

impl Notifier for AwsNotifier {
    fn publish<'a>(&'a self, notice: &'a Notice) -> BoxFuture<'a, Result<(), NotifyError>> {
        Box::pin(self.publish_notice(notice))
    }
}
