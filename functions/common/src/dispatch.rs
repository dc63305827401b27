//! The dispatch message: what a function that queues a build sends to the dispatch queue (`KILN_DISPATCH_QUEUE_URL`)
//! so the `dispatch` function starts it. One message per build, body `{"buildId": "<project:uuid>"}`; the
//! build itself is already stored, so a message sent twice is harmless (the dispatcher's claim is conditional).

use kiln_aws::SqsQueue;
use kiln_core::build::BuildId;
use kiln_core::ports::build_store::{BuildState, BuildStore};
use serde::{Deserialize, Serialize};

/// The body of one dispatch message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DispatchMessage {
    /// The build to dispatch, `<project>:<uuid>`.
    pub build_id: String,
}

impl DispatchMessage {
    /// The JSON body.
    pub fn body(&self) -> String {
        serde_json::json!({ "buildId": self.build_id }).to_string()
    }
}

/// Sends dispatch messages for queued builds.
#[derive(Debug, Clone)]
pub struct DispatchSender {
    queue: SqsQueue,
}

impl DispatchSender {
    /// A sender to the dispatch queue.
    pub fn new(queue: SqsQueue) -> DispatchSender {
        DispatchSender { queue }
    }

    /// The queue's URL.
    pub fn url(&self) -> &str {
        self.queue.url()
    }

    /// Sends one message per build; returns the ids whose message could not be sent (each failure is logged).
    pub async fn send(&self, build_ids: &[String]) -> Vec<String> {
        let mut failed = Vec::new();
        for id in build_ids {
            let body = DispatchMessage { build_id: id.clone() }.body();
            match self.queue.send(&body, 0).await {
                Ok(message_id) => tracing::info!(build = %id, message = %message_id, "dispatch message sent"),
                Err(err) => {
                    tracing::error!(build = %id, error = %err, "dispatch message not sent; the build stays QUEUED");
                    failed.push(id.clone());
                }
            }
        }
        failed
    }
}

impl DispatchSender {
    /// Sends the messages for builds a request started: all of them when they are new, and for a repeated
    /// request (`existing`) those still QUEUED, in case the first attempt died between storing the build and
    /// sending its message. Returns the ids whose message could not be sent.
    pub async fn send_started(
        &self,
        builds: &dyn BuildStore,
        ids: &[BuildId],
        existing: bool,
    ) -> Vec<String> {
        let mut queued = Vec::new();
        for id in ids {
            if !existing {
                queued.push(id.to_string());
                continue;
            }
            match builds.get(id).await {
                Ok(Some(stored)) if stored.state == BuildState::Queued => queued.push(id.to_string()),
                Ok(_) => {}
                Err(err) => {
                    tracing::warn!(build = %id, error = %err, "cannot tell whether the build is still queued; sending");
                    queued.push(id.to_string());
                }
            }
        }
        self.send(&queued).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_is_exactly_the_build_id_object() {
        let message = DispatchMessage {
            build_id: "web:0b0e7a9c-6c1c-4c3a-9a57-1d2e3f405162".into(),
        };
        assert_eq!(
            message.body(),
            r#"{"buildId":"web:0b0e7a9c-6c1c-4c3a-9a57-1d2e3f405162"}"#
        );
        let back: DispatchMessage = serde_json::from_str(&message.body()).expect("parses");
        assert_eq!(back, message);
    }
}
