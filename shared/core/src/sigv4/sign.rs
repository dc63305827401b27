//! Signing an outgoing request exactly as botocore's `SigV4Auth` does: every header given is signed (except the
//! ones botocore leaves out), plus `x-amz-date` and, with temporary credentials, `x-amz-security-token`.

use super::canonical::{
    ALGORITHM, CanonicalParts, HttpRequest, canonical_headers, canonical_query, canonical_request,
    canonical_uri, credential_scope, is_unsigned_header, sha256_hex, signature_hex, signing_key,
    string_to_sign,
};
use super::{AmzDate, Credentials};

/// What to sign with: credentials, the scope's region and service, and the signing instant.
#[derive(Debug, Clone, Copy)]
pub struct SigningParams<'a> {
    /// The key pair (and optional session token) to sign with.
    pub credentials: &'a Credentials,
    /// The region of the credential scope, e.g. `eu-west-1`.
    pub region: &'a str,
    /// The service of the credential scope, e.g. `codebuild`.
    pub service: &'a str,
    /// The signing instant (becomes `x-amz-date`).
    pub time: AmzDate,
}

/// The headers to add to the request, and the intermediate texts for diagnostics. `Debug` hides the session
/// token (which the canonical request contains too).
#[derive(Clone, PartialEq, Eq)]
pub struct SignatureHeaders {
    /// The `Authorization` header value.
    pub authorization: String,
    /// The `X-Amz-Date` header value.
    pub x_amz_date: String,
    /// The `X-Amz-Security-Token` header value, with temporary credentials.
    pub x_amz_security_token: Option<String>,
    /// The `X-Amz-Content-SHA256` header value, which S3 (only) requires.
    pub x_amz_content_sha256: Option<String>,
    /// The canonical request that was signed (no secret in it; the session token is, when one is used).
    pub canonical_request: String,
    /// The string to sign.
    pub string_to_sign: String,
}

impl SignatureHeaders {
    /// The headers as `(name, value)` pairs, ready to add to the request.
    pub fn pairs(&self) -> Vec<(&'static str, &str)> {
        let mut pairs = vec![("X-Amz-Date", self.x_amz_date.as_str())];
        if let Some(token) = &self.x_amz_security_token {
            pairs.push(("X-Amz-Security-Token", token.as_str()));
        }
        if let Some(hash) = &self.x_amz_content_sha256 {
            pairs.push(("X-Amz-Content-SHA256", hash.as_str()));
        }
        pairs.push(("Authorization", self.authorization.as_str()));
        pairs
    }
}

impl std::fmt::Debug for SignatureHeaders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignatureHeaders")
            .field("authorization", &self.authorization)
            .field("x_amz_date", &self.x_amz_date)
            .field(
                "x_amz_security_token",
                &self.x_amz_security_token.as_ref().map(|_| "<redacted>"),
            )
            .field("x_amz_content_sha256", &self.x_amz_content_sha256)
            .finish_non_exhaustive()
    }
}

/// Why a request could not be signed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    /// SigV4 always signs `host`, so the caller must pass it among the headers.
    #[error(
        "the request has no 'host' header: add the endpoint's host (with its port if not 80/443) before signing"
    )]
    MissingHost,
}

/// Headers the signer sets itself; values passed in for them are replaced, as botocore does.
const SET_BY_SIGNER: [&str; 4] = [
    "authorization",
    "x-amz-date",
    "x-amz-security-token",
    "x-amz-content-sha256",
];

/// Signs `request` (its `host` header included) and returns the headers to add.
pub fn sign(request: &HttpRequest<'_>, params: &SigningParams<'_>) -> Result<SignatureHeaders, SignError> {
    let x_amz_date = params.time.to_string();
    let token = params.credentials.session_token();
    let payload_hash = sha256_hex(request.body);
    let content_sha = (params.service == "s3").then(|| payload_hash.clone());

    let mut headers: Vec<(&str, &str)> = request
        .headers
        .iter()
        .filter(|(name, _)| !SET_BY_SIGNER.iter().any(|set| name.eq_ignore_ascii_case(set)))
        .copied()
        .collect();
    headers.push(("x-amz-date", &x_amz_date));
    if let Some(token) = token {
        headers.push(("x-amz-security-token", token));
    }
    if let Some(hash) = &content_sha {
        headers.push(("x-amz-content-sha256", hash));
    }
    let lower: Vec<String> = headers
        .iter()
        .map(|(name, _)| name.to_ascii_lowercase())
        .collect();
    let mut names: Vec<&str> = lower
        .iter()
        .map(String::as_str)
        .filter(|n| !is_unsigned_header(n))
        .collect();
    names.sort_unstable();
    names.dedup();
    if !names.contains(&"host") {
        return Err(SignError::MissingHost);
    }

    let view = HttpRequest {
        headers: &headers,
        ..*request
    };
    let header_block = canonical_headers(&view, &names).map_err(|_| SignError::MissingHost)?;
    let signed_headers = names.join(";");
    let uri = canonical_uri(request.path, params.service);
    let query = canonical_query(request.query);
    let canonical_request = canonical_request(&CanonicalParts {
        method: request.method,
        uri: &uri,
        query: &query,
        headers: &header_block,
        signed_headers: &signed_headers,
        payload_hash: &payload_hash,
    });
    let scope = credential_scope(&params.time.date_stamp(), params.region, params.service);
    let string_to_sign = string_to_sign(&x_amz_date, &scope, &canonical_request);
    let key = signing_key(
        params.credentials.secret_access_key(),
        params.time,
        params.region,
        params.service,
    );
    let signature = signature_hex(&key, &string_to_sign);
    let authorization = format!(
        "{ALGORITHM} Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
        params.credentials.access_key_id()
    );
    Ok(SignatureHeaders {
        authorization,
        x_amz_date,
        x_amz_security_token: token.map(str::to_owned),
        x_amz_content_sha256: content_sha,
        canonical_request,
        string_to_sign,
    })
}
