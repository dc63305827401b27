//! The dispatch signal on AWS against moto: one `{"buildId"}` message per queued build on the dispatch queue,
//! read back by the dispatch function's own parser; a queue that cannot be reached loses the signal with an
//! error naming every build.

use kiln_aws::{DispatchMessage, SqsDispatchSignal, SqsQueue};
use kiln_core::build::BuildId;
use kiln_core::ports::dispatch_signal::{DispatchSignal, SignalError};
use serde_json::{Value, json};

use crate::aws_support::{create_queue, with_moto};

fn ids() -> Vec<BuildId> {
    [
        "web:0b0e7a9c-6c1c-4c3a-9a57-1d2e3f405162",
        "api:1c1e7a9c-6c1c-4c3a-9a57-1d2e3f405162",
    ]
    .iter()
    .map(|id| BuildId::parse(id).expect("a build id"))
    .collect()
}

#[test]
fn each_queued_build_gets_one_dispatch_message_that_the_dispatch_function_reads() {
    with_moto(|clients, _| async move {
        let url = create_queue(&clients, "signal-dispatch").await;
        let queue = SqsQueue::new(clients.sqs.clone(), &url);
        let signal = SqsDispatchSignal::new(queue.clone());
        assert_eq!(signal.url(), url);
        signal.queued(&ids()).await.expect("the messages are sent");

        let received = queue.receive(10, 0).await.expect("receive");
        let bodies: Vec<Value> = received
            .iter()
            .map(|m| serde_json::from_str(&m.body).expect("a JSON body"))
            .collect();
        let expected: Vec<Value> = ids().iter().map(|id| json!({"buildId": id.as_str()})).collect();
        assert_eq!(bodies, expected, "exactly {{\"buildId\"}} per build, in order");
        for (message, id) in received.iter().zip(ids()) {
            let parsed = kiln_fn_dispatch::parse_body(&message.body).expect("the dispatch function reads it");
            assert_eq!(parsed, id);
            let typed: DispatchMessage =
                serde_json::from_str(&message.body).expect("the message type reads it");
            assert_eq!(typed, DispatchMessage::new(&id));
        }
    });
}

#[test]
fn a_queue_that_cannot_be_reached_loses_the_signal_naming_every_build() {
    with_moto(|clients, endpoint| async move {
        let missing = format!("{endpoint}/123456789012/no-such-queue");
        let signal = SqsDispatchSignal::new(SqsQueue::new(clients.sqs.clone(), &missing));
        let err = signal.queued(&ids()).await.expect_err("the queue does not exist");
        let SignalError::NotSent { build_ids, .. } = &err;
        assert_eq!(build_ids, &ids());
        let text = err.to_string();
        assert!(
            text.contains("web:0b0e7a9c") && text.contains("no-such-queue"),
            "{text}"
        );
    });
}
