//! The deployment's [`Keyring`] on AWS: access keys in the stack's table, sealed with the value of the
//! key-sealing secret the template generates (`KeySealingSecret`, named to the api function in
//! `KILN_KEY_SEALING_SECRET`), read once per process.

use std::sync::Arc;

use aws_smithy_types::error::display::DisplayErrorContext;
use kiln_core::access_keys::seal::{KeySealer, SealError};
use kiln_core::usecases::keys::Keyring;

use super::config::AwsClients;
use super::dynamodb::DynamoKeyStore;

/// The variable naming the key-sealing secret (its ARN or name).
pub const SEALING_SECRET_VARIABLE: &str = "KILN_KEY_SEALING_SECRET";

/// Why the keyring could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    #[error(
        "cannot read the key-sealing secret {secret}: {message} (the caller needs secretsmanager:GetSecretValue on it)"
    )]
    Read { secret: String, message: String },
    #[error("the key-sealing secret {secret} has no string value")]
    Empty { secret: String },
    #[error("the key-sealing secret {secret}: {source}")]
    Seal { secret: String, source: SealError },
}

/// The keyring on `table`, sealed with the value of Secrets Manager secret `secret`.
pub async fn open_keyring(clients: &AwsClients, table: &str, secret: &str) -> Result<Keyring, KeyringError> {
    let value = clients
        .secrets_manager
        .get_secret_value()
        .secret_id(secret)
        .send()
        .await
        .map_err(|err| KeyringError::Read {
            secret: secret.to_owned(),
            message: DisplayErrorContext(&err).to_string(),
        })?;
    let text = value
        .secret_string()
        .filter(|v| !v.is_empty())
        .ok_or_else(|| KeyringError::Empty {
            secret: secret.to_owned(),
        })?;
    let sealer = KeySealer::new(text.as_bytes()).map_err(|source| KeyringError::Seal {
        secret: secret.to_owned(),
        source,
    })?;
    Ok(Keyring::new(
        Arc::new(DynamoKeyStore::new(clients.dynamodb.clone(), table)),
        sealer,
    ))
}
