//! The `dispatch` Lambda binary: settings and clients built once, then every SQS batch through
//! [`kiln_fn_dispatch::handle`].

use std::sync::Arc;

use aws_lambda_events::event::sqs::SqsEvent;
use kiln_fn_dispatch::{Dispatcher, handle};
use kiln_lambda::Wiring;
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    kiln_lambda::init_tracing();
    let dispatcher = Arc::new(Dispatcher::from_wiring(&Wiring::from_env().await?)?);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| {
        let dispatcher = Arc::clone(&dispatcher);
        async move { Ok::<_, Error>(handle(&dispatcher, event.payload, kiln_lambda::now()).await) }
    }))
    .await
}
