//! The `webhook` function's entry point: settings, clients and the use cases once per instance, then one
//! delivery per event.

use std::sync::Arc;

use kiln_fn_webhook::{Webhook, handle};
use kiln_lambda::Wiring;
use lambda_http::{Error, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    kiln_lambda::init_tracing();
    let wiring = Wiring::from_env().await?;
    let webhook = Arc::new(Webhook {
        secrets: Arc::new(wiring.secrets()),
        dispatch: Arc::new(wiring.dispatch_signal()?),
        services: wiring.services,
    });
    lambda_http::run(service_fn(move |request| {
        let webhook = webhook.clone();
        async move { Ok::<_, Error>(handle(&webhook, request).await) }
    }))
    .await
}
