//! The `schedule` function's entry point: settings, clients and the use cases once per instance, then one
//! schedule fire per event.

use std::sync::Arc;

use kiln_fn_schedule::{Schedule, ScheduleInput, handle};
use kiln_lambda::Wiring;
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    kiln_lambda::init_tracing();
    let schedule = Arc::new(Schedule::from_wiring(&Wiring::from_env().await?)?);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<ScheduleInput>| {
        let schedule = schedule.clone();
        async move { handle(&schedule, event.payload).await.map_err(Error::from) }
    }))
    .await
}
