//! The `api` function's entry point: settings, clients and the router once per instance, then lambda_http
//! turns each HTTP API event into a request for the router.

use kiln_lambda::Wiring;
use lambda_http::Error;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    kiln_lambda::init_tracing();
    let wiring = Wiring::from_env().await?;
    let router = kiln_fn_api::router(&wiring, |name| std::env::var(name).ok()).await?;
    lambda_http::run(router).await
}
