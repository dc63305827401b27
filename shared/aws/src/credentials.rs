//! The process's own AWS credentials and region from the default chain (environment, profile, the ECS task
//! role's container endpoint, IMDS), as a [`kiln_core::sigv4::Credentials`] the pure signers take — for
//! `kiln git-credential-codecommit`, which signs git requests with whatever role the build runs under.

use aws_config::BehaviorVersion;
use aws_sdk_s3::config::ProvideCredentials;
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
use aws_smithy_types::error::display::DisplayErrorContext;

use kiln_core::sigv4::Credentials;

/// Credentials resolved now, and the configured region (if any).
#[derive(Debug, Clone)]
pub struct LoadedCredentials {
    /// The access key, secret and (for a role) session token.
    pub credentials: Credentials,
    /// `AWS_REGION` or the profile's region.
    pub region: Option<String>,
}

/// Why no credentials could be had.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    /// No provider in the chain had credentials (or one failed); the text is the SDK's explanation.
    #[error(
        "no aws credentials: {0}; give the task role codecommit:GitPull, or set AWS_ACCESS_KEY_ID and \
         AWS_SECRET_ACCESS_KEY (or AWS_PROFILE)"
    )]
    Unavailable(String),
}

/// Resolves credentials and region through the SDK's default chain.
pub async fn load_default_credentials() -> Result<LoadedCredentials, CredentialsError> {
    let http_client = aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https();
    let config = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http_client)
        .load()
        .await;
    let provider = config
        .credentials_provider()
        .ok_or_else(|| CredentialsError::Unavailable("no credentials provider is configured".into()))?;
    let resolved = provider
        .provide_credentials()
        .await
        .map_err(|err| CredentialsError::Unavailable(DisplayErrorContext(&err).to_string()))?;
    let credentials = Credentials::new(resolved.access_key_id(), resolved.secret_access_key());
    let credentials = match resolved.session_token() {
        Some(token) => credentials.with_session_token(token),
        None => credentials,
    };
    Ok(LoadedCredentials {
        credentials,
        region: config.region().map(|region| region.as_ref().to_owned()),
    })
}
