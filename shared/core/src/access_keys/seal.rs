//! Sealing key secrets at rest: AES-256-GCM under a key derived (SHA-256) from the deployment's key-sealing
//! secret (a file of random bytes beside the local database; a generated Secrets Manager secret on AWS), with a
//! fresh random nonce per secret and the key id as associated data, so a sealed secret copied onto another key's
//! record does not open. Sealed form: `v1:` and the base64 of nonce and ciphertext.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use sha2::{Digest, Sha256};

/// The version tag of the sealed form.
const VERSION: &str = "v1:";
/// AES-GCM's nonce length.
const NONCE_LEN: usize = 12;
/// The fewest bytes of sealing secret accepted (the generated ones are 32 or more).
pub const MIN_SEALING_SECRET: usize = 16;

/// Why a secret could not be sealed or opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("the key-sealing secret is {0} bytes; it needs at least {MIN_SEALING_SECRET}")]
    ShortSecret(usize),
    #[error("the system's random number source failed: {0}")]
    Random(String),
    #[error(
        "the secret of key {key} does not open with this deployment's key-sealing secret (was the sealing secret replaced, or the record copied from another deployment?)"
    )]
    WrongKey { key: String },
    #[error("the secret of key {key} is not in a sealed form Kiln knows")]
    Malformed { key: String },
}

/// Seals and opens key secrets with one deployment's sealing secret.
#[derive(Clone)]
pub struct KeySealer {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for KeySealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeySealer(..)")
    }
}

impl KeySealer {
    /// A sealer keyed by the SHA-256 of `secret`.
    pub fn new(secret: &[u8]) -> Result<KeySealer, SealError> {
        if secret.len() < MIN_SEALING_SECRET {
            return Err(SealError::ShortSecret(secret.len()));
        }
        let key = Sha256::digest(secret);
        let cipher = Aes256Gcm::new_from_slice(&key).map_err(|_| SealError::ShortSecret(secret.len()))?;
        Ok(KeySealer { cipher })
    }

    /// `plaintext` sealed for key `key_id`.
    pub fn seal(&self, key_id: &str, plaintext: &str) -> Result<String, SealError> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|e| SealError::Random(e.to_string()))?;
        let sealed = self
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: key_id.as_bytes(),
                },
            )
            .map_err(|_| SealError::Malformed {
                key: key_id.to_owned(),
            })?;
        let mut out = nonce.to_vec();
        out.extend(sealed);
        Ok(format!("{VERSION}{}", BASE64.encode(out)))
    }

    /// The secret `sealed` holds for key `key_id`.
    pub fn open(&self, key_id: &str, sealed: &str) -> Result<String, SealError> {
        let malformed = || SealError::Malformed {
            key: key_id.to_owned(),
        };
        let encoded = sealed.strip_prefix(VERSION).ok_or_else(malformed)?;
        let bytes = BASE64.decode(encoded).map_err(|_| malformed())?;
        if bytes.len() <= NONCE_LEN {
            return Err(malformed());
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        let plain = self
            .cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: key_id.as_bytes(),
                },
            )
            .map_err(|_| SealError::WrongKey {
                key: key_id.to_owned(),
            })?;
        String::from_utf8(plain).map_err(|_| malformed())
    }
}

/// New random sealing-secret text (64 hex characters), for a deployment that has none yet.
pub fn new_sealing_secret() -> Result<String, SealError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| SealError::Random(e.to_string()))?;
    Ok(hex::encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_secret_opens_only_with_its_sealing_secret_and_key_id() {
        let sealer = KeySealer::new(b"0123456789abcdef0123").expect("sealer");
        let sealed = sealer.seal("KILNAAAA", "wJalrXUtnFEMI/K7MDENG").expect("seal");
        assert!(sealed.starts_with("v1:"));
        assert!(!sealed.contains("wJalr"));
        assert_ne!(
            sealed,
            sealer.seal("KILNAAAA", "wJalrXUtnFEMI/K7MDENG").expect("seal"),
            "fresh nonce"
        );
        assert_eq!(
            sealer.open("KILNAAAA", &sealed).expect("open"),
            "wJalrXUtnFEMI/K7MDENG"
        );
        assert!(matches!(
            sealer.open("KILNBBBB", &sealed),
            Err(SealError::WrongKey { .. })
        ));
        let other = KeySealer::new(b"another sealing secret").expect("sealer");
        assert!(matches!(
            other.open("KILNAAAA", &sealed),
            Err(SealError::WrongKey { .. })
        ));
        assert!(matches!(
            sealer.open("KILNAAAA", "v1:%%"),
            Err(SealError::Malformed { .. })
        ));
        assert!(matches!(
            sealer.open("KILNAAAA", "plain"),
            Err(SealError::Malformed { .. })
        ));
    }

    #[test]
    fn a_short_sealing_secret_is_refused() {
        assert_eq!(
            KeySealer::new(b"short").expect_err("short"),
            SealError::ShortSecret(5)
        );
        assert_eq!(new_sealing_secret().expect("secret").len(), 64);
    }
}
