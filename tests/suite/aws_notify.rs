//! Notices to SQS and SNS against moto (an SQS queue subscribed to the topic receives the SNS envelope), and the
//! SQS queue helpers the dispatch function uses.

use aws_sdk_sqs::types::QueueAttributeName;
use kiln_aws::{AwsClients, AwsNotifier, SqsQueue};
use kiln_core::build::{AccountContext, Build, BuildId, Timestamp};
use kiln_core::ports::notifier::{Notice, Notifier};
use kiln_core::usecases::notices::{NoticeSource, notices_for};

use crate::aws_support::{create_queue, with_moto};

async fn queue_arn(clients: &AwsClients, url: &str) -> String {
    clients
        .sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("queue attributes")
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn))
        .expect("a queue arn")
        .clone()
}

fn notice() -> Notice {
    let id = BuildId::parse("web:5f8c7c3e-1111-2222-3333-444455556666").expect("id");
    let at = Timestamp::from_epoch_millis(1_700_000_000_000);
    let build = Build::new(id, 1, &AccountContext::local(), at);
    let mut notice = notices_for(&NoticeSource::default(), None, &build, at.epoch_millis()).remove(0);
    notice.event.id = "5f8c7c3e-1111-2222-3333-444455556666".to_owned();
    notice
}

/// The notice's event as the JSON that leaves Kiln.
fn notice_json() -> serde_json::Value {
    serde_json::to_value(notice().event).expect("JSON")
}

#[test]
fn a_notice_reaches_the_notice_queue_and_the_topic_subscribers() {
    with_moto(|clients, _| async move {
        let notices = create_queue(&clients, "notices").await;
        let subscriber = create_queue(&clients, "subscriber").await;
        let topic = clients
            .sns
            .create_topic()
            .name("builds")
            .send()
            .await
            .expect("create topic")
            .topic_arn()
            .expect("topic arn")
            .to_owned();
        clients
            .sns
            .subscribe()
            .topic_arn(&topic)
            .protocol("sqs")
            .endpoint(queue_arn(&clients, &subscriber).await)
            .send()
            .await
            .expect("subscribe");

        let notifier = AwsNotifier::new(
            clients.sqs.clone(),
            clients.sns.clone(),
            Some(notices.clone()),
            Some(topic),
        );
        notifier.publish(&notice()).await.expect("publish");

        let direct = SqsQueue::new(clients.sqs.clone(), notices)
            .receive(10, 1)
            .await
            .expect("receive");
        assert_eq!(direct.len(), 1);
        let event: serde_json::Value = serde_json::from_str(&direct[0].body).expect("JSON body");
        assert_eq!(event, notice_json());

        let via_topic = SqsQueue::new(clients.sqs.clone(), subscriber)
            .receive(10, 1)
            .await
            .expect("receive");
        assert_eq!(via_topic.len(), 1);
        let envelope: serde_json::Value = serde_json::from_str(&via_topic[0].body).expect("SNS envelope");
        assert_eq!(envelope["Type"], "Notification");
        let inner: serde_json::Value =
            serde_json::from_str(envelope["Message"].as_str().expect("Message")).expect("JSON message");
        assert_eq!(inner, notice_json());
    });
}

#[test]
fn a_dispatch_message_put_back_with_a_delay_is_received_again_and_then_deleted() {
    with_moto(|clients, _| async move {
        let queue = SqsQueue::new(clients.sqs.clone(), create_queue(&clients, "dispatch").await);
        queue.send(r#"{"buildId":"web:1"}"#, 0).await.expect("send");
        let first = queue.receive(10, 1).await.expect("receive");
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].receive_count, 1);
        assert!(
            queue.receive(10, 0).await.expect("receive").is_empty(),
            "in flight, so invisible"
        );

        queue
            .retry_later(&first[0].receipt_handle, 0)
            .await
            .expect("back to the queue");
        let second = queue.receive(10, 1).await.expect("receive");
        assert_eq!(second.len(), 1);
        assert_eq!(second[0].body, first[0].body);
        assert_eq!(second[0].receive_count, 2);

        queue.delete(&second[0].receipt_handle).await.expect("delete");
        assert!(queue.receive(10, 0).await.expect("receive").is_empty());
    });
}
