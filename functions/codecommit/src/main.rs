//! The `codecommit` Lambda: JSON tracing, settings from the environment the template sets (naming any missing
//! variable), clients and services built once, then [`kiln_fn_codecommit::handle`] for each EventBridge event.

use std::time::SystemTime;

use kiln_aws::settings::AwsSettings;
use kiln_core::build::Timestamp;
use kiln_fn_codecommit::handle;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    kiln_lambda::init_tracing();
    let settings = AwsSettings::from_env()?;
    let clients = settings.clients().await;
    let services = settings.services(&clients)?;
    let dispatch = settings.dispatch_signal(&clients)?;
    let (services, dispatch) = (&services, &dispatch);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let now = Timestamp::from(SystemTime::now());
        handle(services, dispatch, &event.payload, now).await
    }))
    .await
}
