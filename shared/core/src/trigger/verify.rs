//! Signature verification over the raw body, before anything is parsed. Comparisons are constant-time:
//! HMACs through `hmac`'s `verify_slice`, GitLab's plain token through `subtle`.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::headers::{Headers, Provider};
use super::secret::WebhookSecret;

type HmacSha256 = Hmac<Sha256>;

/// Checks the provider's signature header against `secret`; the error is the reason for `Unauthenticated`.
pub(crate) fn verify(
    provider: Provider,
    headers: &Headers,
    body: &[u8],
    secret: &WebhookSecret,
) -> Result<(), String> {
    match provider {
        Provider::GitHub => verify_github(headers, body, secret),
        Provider::GitLab => verify_gitlab(headers, secret),
        Provider::Bitbucket => {
            let Some(value) = headers.get("x-hub-signature") else {
                return Err("missing X-Hub-Signature header (set a secret on the Bitbucket webhook)".into());
            };
            verify_prefixed("X-Hub-Signature", value, body, secret)
        }
        Provider::Gitea => verify_gitea(headers, body, secret),
        // CodeCommit events are not webhooks: EventBridge (AWS) or the API's SigV4 (`kiln serve`) authenticates them.
        Provider::CodeCommit => Err("CodeCommit events carry no webhook signature".into()),
    }
}

fn verify_github(headers: &Headers, body: &[u8], secret: &WebhookSecret) -> Result<(), String> {
    if let Some(value) = headers.get("x-hub-signature-256") {
        return verify_prefixed("X-Hub-Signature-256", value, body, secret);
    }
    if headers.get("x-hub-signature").is_some() {
        return Err(
            "only the legacy SHA-1 X-Hub-Signature was sent; SHA-1 signatures are refused, \
                    X-Hub-Signature-256 is required"
                .into(),
        );
    }
    Err("missing X-Hub-Signature-256 header (set the webhook secret on GitHub)".into())
}

fn verify_gitlab(headers: &Headers, secret: &WebhookSecret) -> Result<(), String> {
    let Some(token) = headers.get("x-gitlab-token") else {
        return Err("missing X-Gitlab-Token header (set the secret token on the GitLab webhook)".into());
    };
    if bool::from(token.as_bytes().ct_eq(secret.expose())) {
        Ok(())
    } else {
        Err("X-Gitlab-Token does not match the configured secret".into())
    }
}

/// Forgejo's own header first, then Gitea's, then the GitHub-style one Gitea also sends.
fn verify_gitea(headers: &Headers, body: &[u8], secret: &WebhookSecret) -> Result<(), String> {
    for name in ["X-Forgejo-Signature", "X-Gitea-Signature", "X-Gogs-Signature"] {
        if let Some(value) = headers.get(name) {
            return verify_hex(name, value, body, secret);
        }
    }
    if let Some(value) = headers.get("x-hub-signature-256") {
        return verify_prefixed("X-Hub-Signature-256", value, body, secret);
    }
    Err("missing X-Gitea-Signature / X-Forgejo-Signature header (set the webhook secret)".into())
}

/// A `sha256=<hex>` value.
fn verify_prefixed(name: &str, value: &str, body: &[u8], secret: &WebhookSecret) -> Result<(), String> {
    let Some(hex_mac) = value.strip_prefix("sha256=") else {
        let shown: String = value.chars().take(12).collect();
        return Err(format!("{name} must start with \"sha256=\", found {shown:?}"));
    };
    verify_hex(name, hex_mac, body, secret)
}

/// A bare hex HMAC-SHA256 of the body.
fn verify_hex(name: &str, hex_mac: &str, body: &[u8], secret: &WebhookSecret) -> Result<(), String> {
    let Ok(expected) = hex::decode(hex_mac) else {
        return Err(format!("{name} is not a hex HMAC-SHA256"));
    };
    let Ok(mut mac) = HmacSha256::new_from_slice(secret.expose()) else {
        return Err("the configured secret cannot be used as an HMAC key".into());
    };
    mac.update(body);
    mac.verify_slice(&expected)
        .map_err(|_| format!("{name} does not match the body signed with the configured secret"))
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
        assert_eq!(err, "X-Hub-Signature-256 is not a hex HMAC-SHA256");
    }

    #[test]
    fn a_sha1_prefixed_value_in_the_sha256_header_is_refused() {
        let secret = WebhookSecret::new("s");
        let err = verify_prefixed("X-Hub-Signature", "sha1=abcdef", b"{}", &secret).unwrap_err();
        assert!(err.contains("must start with \"sha256=\""), "{err}");
    }
}
