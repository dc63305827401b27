//! The `reaper` Lambda binary: settings and clients built once, then one [`kiln_fn_reaper::handle`] pass per
//! scheduled event (the event itself is ignored); returns what it ended.

use std::sync::Arc;

use kiln_aws::AwsSettings;
use kiln_fn_reaper::{Reaped, handle};
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    kiln_lambda::init_tracing();
    let settings = AwsSettings::from_env()?;
    let clients = settings.clients().await;
    let services = Arc::new(settings.services(&clients)?);
    lambda_runtime::run(service_fn(move |_event: LambdaEvent<serde_json::Value>| {
        let services = Arc::clone(&services);
        async move { Ok::<Reaped, Error>(handle(&services, kiln_lambda::now()).await?) }
    }))
    .await
}
