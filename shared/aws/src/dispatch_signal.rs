//! The dispatch signal on AWS: [`SqsDispatchSignal`] sends one [`DispatchMessage`] (`{"buildId": "<id>"}`) per
//! queued build to the dispatch queue (`KILN_DISPATCH_QUEUE_URL`), which starts the `dispatch` function; that
//! function reads the same [`DispatchMessage`] back. The build is stored before its message is sent, so a
//! message sent twice is harmless (the dispatcher's claim is conditional).

use kiln_core::build::BuildId;
use kiln_core::ports::BoxFuture;
use kiln_core::ports::dispatch_signal::{DispatchSignal, SignalError};
use serde::{Deserialize, Serialize};

use crate::sqs::{QueueError, SqsQueue};

/// The body of one dispatch message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DispatchMessage {
    /// The build to dispatch, `<project>:<uuid>`.
    pub build_id: String,
}

impl DispatchMessage {
    /// The message for build `id`.
    pub fn new(id: &BuildId) -> DispatchMessage {
        DispatchMessage {
            build_id: id.as_str().to_owned(),
        }
    }

    /// The JSON body.
    pub fn body(&self) -> String {
        serde_json::json!({ "buildId": self.build_id }).to_string()
    }
}

/// Sends dispatch messages for queued builds.
#[derive(Debug, Clone)]
pub struct SqsDispatchSignal {
    queue: SqsQueue,
}

impl SqsDispatchSignal {
    /// A signal to the dispatch queue.
    pub fn new(queue: SqsQueue) -> SqsDispatchSignal {
        SqsDispatchSignal { queue }
    }

    /// The queue's URL.
    pub fn url(&self) -> &str {
        self.queue.url()
    }

    async fn send_all(&self, ids: &[BuildId]) -> Result<(), SignalError> {
        let mut lost = Vec::new();
        let mut last: Option<QueueError> = None;
        for id in ids {
            match self.queue.send(&DispatchMessage::new(id).body(), 0).await {
                Ok(message_id) => tracing::info!(build = %id, message = %message_id, "dispatch message sent"),
                Err(err) => {
                    tracing::error!(build = %id, error = %err, "dispatch message not sent; the build stays QUEUED");
                    lost.push(id.clone());
                    last = Some(err);
                }
            }
        }
        match last {
            None => Ok(()),
            Some(QueueError::Backend {
                message, retryable, ..
            }) => Err(SignalError::NotSent {
                build_ids: lost,
                message: format!("sqs queue {:?}: {message}", self.queue.url()),
                retryable,
            }),
        }
    }
}

impl DispatchSignal for SqsDispatchSignal {
    fn queued<'a>(&'a self, ids: &'a [BuildId]) -> BoxFuture<'a, Result<(), SignalError>> {
        Box::pin(self.send_all(ids))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_is_exactly_the_build_id_object() {
        let id = BuildId::parse("web:0b0e7a9c-6c1c-4c3a-9a57-1d2e3f405162").expect("a build id");
        let message = DispatchMessage::new(&id);
        assert_eq!(
            message.body(),
            r#"{"buildId":"web:0b0e7a9c-6c1c-4c3a-9a57-1d2e3f405162"}"#
        );
        let back: DispatchMessage = serde_json::from_str(&message.body()).expect("parses");
        assert_eq!(back, message);
    }
}
