//! The `task-events` Lambda binary: settings and clients built once, then every "ECS Task State Change"
//! event through [`kiln_fn_task_events::handle`] (an error makes EventBridge retry the event).

use std::sync::Arc;

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use kiln_fn_task_events::{TaskEvents, handle};
use kiln_lambda::Wiring;
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    kiln_lambda::init_tracing();
    let function = Arc::new(TaskEvents::from_wiring(&Wiring::from_env().await?)?);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<EventBridgeEvent>| {
        let function = Arc::clone(&function);
        async move {
            let outcome = handle(&function, event.payload, kiln_lambda::now()).await?;
            tracing::info!(outcome = ?outcome, "task state change handled");
            Ok::<_, Error>(())
        }
    }))
    .await
}
