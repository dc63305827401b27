//! The dispatch-queue message every function that creates a build sends (webhook, api, schedule, and
//! task-events for a Spot retry or a freed slot): exactly `{"buildId": "<project:uuid>"}`. The `dispatch`
//! function reads it back; a message naming a build twice is harmless (the claim is idempotent).

use kiln_shared::adapters::aws::SqsQueue;
use kiln_shared::adapters::aws::sqs::QueueError;
use kiln_shared::build::BuildId;
use serde::{Deserialize, Serialize};

/// One dispatch request: the build to start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DispatchMessage {
    /// The build id, `project:uuid`.
    pub build_id: BuildId,
}

/// Why a message body is not a dispatch message.
#[derive(Debug, thiserror::Error)]
pub enum MessageError {
    #[error(
        "dispatch message {body:?} is not {{\"buildId\": \"<project>:<uuid>\"}}: {reason}; \
         send exactly that JSON object"
    )]
    Malformed { body: String, reason: String },
}

impl DispatchMessage {
    /// Parses a message body.
    pub fn parse(body: &str) -> Result<DispatchMessage, MessageError> {
        serde_json::from_str(body).map_err(|e| MessageError::Malformed {
            body: body.chars().take(200).collect(),
            reason: e.to_string(),
        })
    }

    /// The message body.
    pub fn body(&self) -> String {
        serde_json::json!({ "buildId": self.build_id.as_str() }).to_string()
    }
}

/// Sends a dispatch message for `build_id` to the dispatch queue, visible at once.
pub async fn send_dispatch(queue: &SqsQueue, build_id: &BuildId) -> Result<(), QueueError> {
    let message = DispatchMessage {
        build_id: build_id.clone(),
    };
    queue.send(&message.body(), 0).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dispatch_message_round_trips_through_its_exact_body() {
        let body = r#"{"buildId":"web:8745a7a9-c340-456a-9166-edf953571bff"}"#;
        let message = DispatchMessage::parse(body).expect("a valid message");
        assert_eq!(
            message.build_id.as_str(),
            "web:8745a7a9-c340-456a-9166-edf953571bff"
        );
        assert_eq!(message.body(), body);
    }

    #[test]
    fn bodies_that_are_not_a_dispatch_message_are_refused_with_the_body_quoted() {
        for body in [
            "not json",
            "{}",
            r#"{"buildId": "web"}"#,
            r#"{"buildId": "web:8745a7a9-c340-456a-9166-edf953571bff", "extra": 1}"#,
        ] {
            let err = DispatchMessage::parse(body).expect_err(body);
            assert!(err.to_string().contains("buildId"), "{err}");
        }
    }
}
