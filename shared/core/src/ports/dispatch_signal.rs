//! The dispatch-signal port: how whatever queues builds (the webhook route, the API, the console, schedules, the
//! CodeCommit trigger, a freed slot) tells the dispatcher "these builds were queued", so they start without
//! waiting for its next pass.
//!
//! Locally the signal wakes the dispatch loop of `kiln serve`; on AWS it is one `{"buildId": "<id>"}` message
//! per build on the dispatch queue, which starts the `dispatch` function. The builds are stored before they are
//! signalled, so a signal sent twice is harmless: the dispatcher's claim is conditional.

use super::BoxFuture;
use crate::build::BuildId;

/// Why the dispatcher could not be told about some builds. They are stored and stay QUEUED; a repeated request
/// (a redelivered webhook, a retried function invocation) signals them again.
#[derive(Debug, thiserror::Error)]
pub enum SignalError {
    #[error("the dispatcher was not told that {} {} queued: {message}", builds_text(.build_ids), if .build_ids.len() == 1 { "was" } else { "were" })]
    NotSent {
        /// The builds whose signal was lost.
        build_ids: Vec<BuildId>,
        /// The last failure, as the backend reported it.
        message: String,
        /// Whether trying again may succeed (throttling, a network error).
        retryable: bool,
    },
}

fn builds_text(ids: &[BuildId]) -> String {
    let names: Vec<&str> = ids.iter().map(BuildId::as_str).collect();
    match names.as_slice() {
        [one] => format!("build {one}"),
        many => format!("builds {}", many.join(", ")),
    }
}

/// Tells the dispatcher that builds were queued.
pub trait DispatchSignal: Send + Sync {
    /// Builds `ids` were queued (or found still queued, for a repeated request). Every build is tried; the
    /// error names those whose signal was lost.
    fn queued<'a>(&'a self, ids: &'a [BuildId]) -> BoxFuture<'a, Result<(), SignalError>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_error_names_every_build_whose_signal_was_lost() {
        let id = |text: &str| BuildId::parse(text).expect("a build id");
        let one = SignalError::NotSent {
            build_ids: vec![id("web:0b0e7a9c-6c1c-4c3a-9a57-1d2e3f405162")],
            message: "throttled".into(),
            retryable: true,
        };
        assert_eq!(
            one.to_string(),
            "the dispatcher was not told that build web:0b0e7a9c-6c1c-4c3a-9a57-1d2e3f405162 was queued: throttled"
        );
        let two = SignalError::NotSent {
            build_ids: vec![
                id("web:0b0e7a9c-6c1c-4c3a-9a57-1d2e3f405162"),
                id("api:1b0e7a9c-6c1c-4c3a-9a57-1d2e3f405162"),
            ],
            message: "access denied".into(),
            retryable: false,
        };
        assert!(
            two.to_string()
                .contains("builds web:0b0e7a9c-6c1c-4c3a-9a57-1d2e3f405162, api:1b0e7a9c-6c1c-4c3a-9a57-1d2e3f405162 were queued"),
            "{two}"
        );
    }
}
