//! Signature verification over the raw body, before anything is parsed. Comparisons are constant-time:
//! HMACs through `hmac`'s `verify_slice`, GitLab's plain token through `subtle`.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::headers::{Headers, Provider};
use super::secret::WebhookSecret;

type HmacSha256 = Hmac<Sha256>;

/// Why a delivery's signature was refused; the message becomes the 401 response's reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum SignatureError {
    /// The provider's signature header is absent.
    #[error("missing {header} header ({hint})")]
    MissingHeader {
        header: &'static str,
        hint: &'static str,
    },
    /// GitHub sent only the SHA-1 `X-Hub-Signature`.
    #[error(
        "only the legacy SHA-1 X-Hub-Signature was sent; SHA-1 signatures are refused, X-Hub-Signature-256 is required"
    )]
    LegacySha1Only,
    /// GitLab's plain token differs from the secret.
    #[error("X-Gitlab-Token does not match the configured secret")]
    TokenMismatch,
    /// A `sha256=<hex>` header without its prefix; `found` is the value's start.
    #[error("{header} must start with \"sha256=\", found {found:?}")]
    MissingPrefix { header: &'static str, found: String },
    /// The MAC is not hexadecimal.
    #[error("{header} is not a hex HMAC-SHA256")]
    NotHex { header: &'static str },
    /// HMAC refused the secret as a key.
    #[error("the configured secret cannot be used as an HMAC key")]
    UnusableSecret,
    /// The MAC is well-formed but wrong.
    #[error("{header} does not match the body signed with the configured secret")]
    Mismatch { header: &'static str },
    /// A CodeCommit event was handed to webhook verification.
    #[error("CodeCommit events carry no webhook signature")]
    NotAWebhook,
}

/// Checks the provider's signature header against `secret`; the error is the reason for `Unauthenticated`.
pub(crate) fn verify(
    provider: Provider,
    headers: &Headers,
    body: &[u8],
    secret: &WebhookSecret,
) -> Result<(), SignatureError> {
    match provider {
        Provider::GitHub => verify_github(headers, body, secret),
        Provider::GitLab => verify_gitlab(headers, secret),
        Provider::Bitbucket => {
            let Some(value) = headers.get("x-hub-signature") else {
                return Err(SignatureError::MissingHeader {
                    header: "X-Hub-Signature",
                    hint: "set a secret on the Bitbucket webhook",
                });
            };
            verify_prefixed("X-Hub-Signature", value, body, secret)
        }
        Provider::Gitea => verify_gitea(headers, body, secret),
        // CodeCommit events are not webhooks: EventBridge (AWS) or the API's SigV4 (`kiln serve`) authenticates them.
        Provider::CodeCommit => Err(SignatureError::NotAWebhook),
    }
}

fn verify_github(headers: &Headers, body: &[u8], secret: &WebhookSecret) -> Result<(), SignatureError> {
    if let Some(value) = headers.get("x-hub-signature-256") {
        return verify_prefixed("X-Hub-Signature-256", value, body, secret);
    }
    if headers.get("x-hub-signature").is_some() {
        return Err(SignatureError::LegacySha1Only);
    }
    Err(SignatureError::MissingHeader {
        header: "X-Hub-Signature-256",
        hint: "set the webhook secret on GitHub",
    })
}

fn verify_gitlab(headers: &Headers, secret: &WebhookSecret) -> Result<(), SignatureError> {
    let Some(token) = headers.get("x-gitlab-token") else {
        return Err(SignatureError::MissingHeader {
            header: "X-Gitlab-Token",
            hint: "set the secret token on the GitLab webhook",
        });
    };
    if bool::from(token.as_bytes().ct_eq(secret.expose())) {
        Ok(())
    } else {
        Err(SignatureError::TokenMismatch)
    }
}

/// Forgejo's own header first, then Gitea's, then the GitHub-style one Gitea also sends.
fn verify_gitea(headers: &Headers, body: &[u8], secret: &WebhookSecret) -> Result<(), SignatureError> {
    for name in ["X-Forgejo-Signature", "X-Gitea-Signature", "X-Gogs-Signature"] {
        if let Some(value) = headers.get(name) {
            return verify_hex(name, value, body, secret);
        }
    }
    if let Some(value) = headers.get("x-hub-signature-256") {
        return verify_prefixed("X-Hub-Signature-256", value, body, secret);
    }
    Err(SignatureError::MissingHeader {
        header: "X-Gitea-Signature / X-Forgejo-Signature",
        hint: "set the webhook secret",
    })
}

/// A `sha256=<hex>` value.
fn verify_prefixed(
    name: &'static str,
    value: &str,
    body: &[u8],
    secret: &WebhookSecret,
) -> Result<(), SignatureError> {
    let Some(hex_mac) = value.strip_prefix("sha256=") else {
        return Err(SignatureError::MissingPrefix {
            header: name,
            found: value.chars().take(12).collect(),
        });
    };
    verify_hex(name, hex_mac, body, secret)
}

/// A bare hex HMAC-SHA256 of the body.
fn verify_hex(
    name: &'static str,
    hex_mac: &str,
    body: &[u8],
    secret: &WebhookSecret,
) -> Result<(), SignatureError> {
    let Ok(expected) = hex::decode(hex_mac) else {
        return Err(SignatureError::NotHex { header: name });
    };
    let Ok(mut mac) = HmacSha256::new_from_slice(secret.expose()) else {
        return Err(SignatureError::UnusableSecret);
    };
    mac.update(body);
    mac.verify_slice(&expected)
        .map_err(|_| SignatureError::Mismatch { header: name })
}

/// `hex(HMAC-SHA256(secret, body))`, for tests and test clients that sign payloads.
pub fn sign_hex(secret: &WebhookSecret, body: &[u8]) -> String {
    // HMAC accepts keys of any length, so this cannot fail; fall back to an empty MAC rather than panic.
    match HmacSha256::new_from_slice(secret.expose()) {
        Ok(mut mac) => {
            mac.update(body);
            hex::encode(mac.finalize().into_bytes())
        }
        Err(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_test_vector_signs_as_documented() {
        let secret = WebhookSecret::new("It's a Secret to Everybody");
        assert_eq!(
            sign_hex(&secret, b"Hello, World!"),
            "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        );
    }

    #[test]
    fn a_signature_that_is_not_hex_is_refused() {
        let secret = WebhookSecret::new("s");
        let err = verify_prefixed("X-Hub-Signature-256", "sha256=zz", b"{}", &secret).unwrap_err();
        assert_eq!(err.to_string(), "X-Hub-Signature-256 is not a hex HMAC-SHA256");
    }

    #[test]
    fn a_sha1_prefixed_value_in_the_sha256_header_is_refused() {
        let secret = WebhookSecret::new("s");
        let err = verify_prefixed("X-Hub-Signature", "sha1=abcdef", b"{}", &secret)
            .unwrap_err()
            .to_string();
        assert!(err.contains("must start with \"sha256=\""), "{err}");
    }
}
