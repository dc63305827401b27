//! The `webhook` function's entry point: settings, clients, the use cases and the router once per instance, then
//! lambda_http turns each Function URL event into a request for the router.

use kiln_fn_webhook::Webhook;
use kiln_lambda::Wiring;
use lambda_http::Error;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    kiln_lambda::init_tracing();
    let webhook = Webhook::from_wiring(&Wiring::from_env().await?)?;
    lambda_http::run(webhook.router()).await
}
