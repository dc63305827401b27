//! The `dispatch` Lambda binary: settings and clients built once, then every SQS batch through
//! [`kiln_fn_dispatch::handle`].

use std::sync::Arc;

use aws_lambda_events::event::sqs::SqsEvent;
use kiln_aws::{AwsSettings, SqsQueue};
use kiln_fn_dispatch::{Dispatcher, handle};
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    kiln_lambda::init_tracing();
    let settings = AwsSettings::from_env()?;
    let clients = settings.clients().await;
    let dispatcher = Arc::new(Dispatcher {
        services: settings.services(&clients)?,
        queue: SqsQueue::new(clients.sqs.clone(), settings.dispatch_queue_url()?),
    });
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| {
        let dispatcher = Arc::clone(&dispatcher);
        async move { Ok::<_, Error>(handle(&dispatcher, event.payload, kiln_lambda::now()).await) }
    }))
    .await
}
