//! The dispatch function against moto with real SQS event JSON built from messages moto handed out: a bad
//! message is the only failure reported for it; a build beyond its project's concurrency limit is reported
//! failed too, with its visibility changed so it comes back later (SQS, not Lambda, retries it).

use aws_lambda_events::event::sqs::SqsEvent;
use kiln_aws::SqsQueue;
use kiln_fn_dispatch::{Dispatcher, handle};
use serde_json::json;

use crate::aws_support::with_moto;
use crate::fn_support::{drain, now, project, record, stack, start};

/// The Lambda SQS event for received messages, in the documented shape.
pub(crate) fn sqs_event(messages: &[aws_sdk_sqs::types::Message]) -> SqsEvent {
    let records: Vec<_> = messages
        .iter()
        .map(|m| {
            json!({
                "messageId": m.message_id(),
                "receiptHandle": m.receipt_handle(),
                "body": m.body(),
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": "1767225600000",
                    "SenderId": "AIDAIENQZJOLO23YVJ4VO",
                    "ApproximateFirstReceiveTimestamp": "1767225600001"
                },
                "messageAttributes": {},
                "md5OfBody": m.md5_of_body(),
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:dispatch",
                "awsRegion": "us-east-1"
            })
        })
        .collect();
    serde_json::from_value(json!({ "Records": records })).expect("the documented SQS event shape")
}

#[test]
fn a_batch_reports_only_the_bad_message_and_the_build_over_the_limit_as_failed() {
    with_moto(|clients, endpoint| async move {
        let stack = stack(&clients, &endpoint).await;
        project(&stack, "web", Some(1), json!({})).await;
        let first = start(&stack, "web").await;
        let second = start(&stack, "web").await;
        let queue = SqsQueue::new(clients.sqs.clone(), &stack.dispatch_url);
        for body in [
            json!({"buildId": first}).to_string(),
            json!({"buildId": second}).to_string(),
            "{\"build\": 1}".to_owned(),
        ] {
            queue.send(&body, 0).await.expect("send");
        }
        let mut messages = drain(&clients, &stack.dispatch_url).await;
        assert_eq!(messages.len(), 3);
        let rank = |body: &str| {
            [&first, &second]
                .iter()
                .position(|id| body.contains(id.as_str()))
                .unwrap_or(2)
        };
        messages.sort_by_key(|m| rank(m.body().unwrap_or_default()));
        let ids: Vec<String> = messages
            .iter()
            .map(|m| m.message_id().unwrap_or_default().to_owned())
            .collect();

        let dispatcher = Dispatcher {
            services: stack.services.clone(),
            queue,
        };
        let response = handle(&dispatcher, sqs_event(&messages), now()).await;
        let failed: Vec<&str> = response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect();
        assert_eq!(failed, [ids[1].as_str(), ids[2].as_str()]);

        let launched = record(&stack, &first).await;
        assert_eq!(launched["currentPhase"], "PROVISIONING");
        let waiting = record(&stack, &second).await;
        assert_eq!(waiting["currentPhase"], "QUEUED", "over the limit, it waits");
        assert_eq!(stack.store.running_count(Some("web")).await.expect("count"), 1);
        let tasks = clients
            .ecs
            .list_tasks()
            .cluster("builds")
            .send()
            .await
            .expect("list tasks");
        assert_eq!(tasks.task_arns().len(), 1, "one RunTask");
        assert!(
            drain(&clients, &stack.dispatch_url).await.is_empty(),
            "the delayed message is invisible (15 s on its first receive)"
        );

        // Redelivered, the launched build's message changes nothing.
        let again = handle(&dispatcher, sqs_event(&messages[..1]), now()).await;
        assert!(again.batch_item_failures.is_empty());
        assert_eq!(stack.store.running_count(Some("web")).await.expect("count"), 1);
    });
}
