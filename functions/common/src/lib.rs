//! What every Kiln Lambda function shares: structured JSON logs for CloudWatch ([`init_tracing`]) and the
//! start-up wiring of settings, clients, use cases, the dispatch signal and the secret resolver ([`wiring`]).

pub mod wiring;

pub use kiln_aws::SettingsError;
pub use wiring::Wiring;

use kiln_core::build::Timestamp;

/// The wall clock as the use cases take it (they never read the clock themselves).
pub fn now() -> Timestamp {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    Timestamp::from_epoch_millis(millis)
}

/// Starts JSON tracing for a Lambda function: one object per event on stdout, level from `RUST_LOG`
/// (default `info`), no ANSI colours and no timestamps (CloudWatch adds its own).
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // A second call (tests initialise more than once) keeps the first subscriber.
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_ansi(false)
        .without_time()
        .with_current_span(false)
        .try_init();
}
