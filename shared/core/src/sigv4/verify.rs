//! Verifying the SigV4 signature of an incoming request (the CodeBuild JSON API's authentication): parse the
//! `Authorization` header, check scope, clock skew and session token, recompute the signature and compare it in
//! constant time. Errors carry the error type AWS JSON services answer with.

use hmac::Mac;

use super::authorization::{self, ParsedAuthorization, truncate};
use super::canonical::{
    CanonicalParts, HttpRequest, canonical_headers, canonical_query, canonical_request, canonical_uri,
    credential_scope, keyed, sha256_hex, signing_key, string_to_sign,
};
use super::error::VerifyError;
use super::{AmzDate, Credentials};
use crate::time::Skew;

/// AWS's allowed difference between the request time and the server's clock.
pub const MAX_CLOCK_SKEW_SECONDS: u64 = 15 * 60;

/// Where the verifier finds the secret for an access key id.
pub trait CredentialStore {
    /// The credentials whose access key id is `access_key_id`, if known.
    fn credentials_for(&self, access_key_id: &str) -> Option<Credentials>;
}

/// A single configured key pair (the local `kiln serve` case).
impl CredentialStore for Credentials {
    fn credentials_for(&self, access_key_id: &str) -> Option<Credentials> {
        (self.access_key_id() == access_key_id).then(|| self.clone())
    }
}

/// Any lookup function.
impl<F: Fn(&str) -> Option<Credentials>> CredentialStore for F {
    fn credentials_for(&self, access_key_id: &str) -> Option<Credentials> {
        self(access_key_id)
    }
}

/// What the verifier accepts besides a correct signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyPolicy {
    /// The only service accepted in the credential scope.
    pub service: String,
    /// The only region accepted in the credential scope; `None` accepts any.
    pub region: Option<String>,
    /// The largest accepted difference between `x-amz-date` and the server's clock.
    pub max_skew_seconds: u64,
}

impl VerifyPolicy {
    /// Kiln's CodeBuild API: service `codebuild`, any region, AWS's 15-minute skew.
    pub fn codebuild() -> Self {
        Self {
            service: "codebuild".to_owned(),
            region: None,
            max_skew_seconds: MAX_CLOCK_SKEW_SECONDS,
        }
    }
}

/// Who signed an accepted request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedRequest {
    /// The access key id the request was signed with.
    pub access_key_id: String,
    /// The region of the credential scope.
    pub region: String,
    /// The request's `x-amz-date`.
    pub signed_at: AmzDate,
}

/// The access key id `request` claims to be signed with (from its one `Authorization` header), before any
/// check: what a server looks up (perhaps asynchronously) before calling [`verify`] with the key found.
pub fn claimed_access_key_id(request: &HttpRequest<'_>) -> Result<String, VerifyError> {
    let mut values = request.header_values("authorization");
    let header = values.next().ok_or(VerifyError::MissingAuthorization)?;
    Ok(authorization::parse(header)?.access_key_id)
}

/// Verifies `request`'s SigV4 signature against `store`, under `policy`, at server time `now`.
pub fn verify<S: CredentialStore + ?Sized>(
    request: &HttpRequest<'_>,
    store: &S,
    policy: &VerifyPolicy,
    now: AmzDate,
) -> Result<VerifiedRequest, VerifyError> {
    let mut values = request.header_values("authorization");
    let header = values.next().ok_or(VerifyError::MissingAuthorization)?;
    if values.next().is_some() {
        return Err(VerifyError::MalformedAuthorization {
            reason: "more than one authorization header".into(),
        });
    }
    let auth = authorization::parse(header)?;
    for required in ["host", "x-amz-date"] {
        if !auth.signed_headers.iter().any(|name| name == required) {
            return Err(VerifyError::RequiredHeaderNotSigned { header: required });
        }
    }
    let signed_at = signing_time(request)?;
    check_scope(&auth, signed_at, policy)?;
    check_skew(signed_at, now, policy.max_skew_seconds)?;
    let credentials = store
        .credentials_for(&auth.access_key_id)
        .ok_or(VerifyError::UnknownAccessKey)?;
    check_session_token(request, &credentials)?;
    let payload_hash = payload_hash(request)?;

    let names: Vec<&str> = auth.signed_headers.iter().map(String::as_str).collect();
    let header_block =
        canonical_headers(request, &names).map_err(|name| VerifyError::SignedHeaderAbsent {
            header: truncate(name),
        })?;
    let canonical = canonical_request(&CanonicalParts {
        method: request.method,
        uri: &canonical_uri(request.path, &auth.service),
        query: &canonical_query(request.query),
        headers: &header_block,
        signed_headers: &names.join(";"),
        payload_hash: &payload_hash,
    });
    let scope = credential_scope(&auth.date_stamp, &auth.region, &auth.service);
    let to_sign = string_to_sign(&signed_at.to_string(), &scope, &canonical);
    let key = signing_key(
        credentials.secret_access_key(),
        signed_at,
        &auth.region,
        &auth.service,
    );
    let claimed = auth.signature.ok_or(VerifyError::SignatureMismatch)?;
    // `verify_slice` compares in constant time.
    keyed(&key, to_sign.as_bytes())
        .verify_slice(&claimed)
        .map_err(|_| VerifyError::SignatureMismatch)?;
    Ok(VerifiedRequest {
        access_key_id: auth.access_key_id,
        region: auth.region,
        signed_at,
    })
}

fn signing_time(request: &HttpRequest<'_>) -> Result<AmzDate, VerifyError> {
    let Some(value) = request.single_header("x-amz-date") else {
        let count = request.header_values("x-amz-date").count();
        let value = if count == 0 {
            "(absent)".to_owned()
        } else {
            format!("({count} headers)")
        };
        return Err(VerifyError::InvalidDate { value });
    };
    AmzDate::parse(value.trim()).ok_or_else(|| VerifyError::InvalidDate {
        value: truncate(value),
    })
}

fn check_scope(
    auth: &ParsedAuthorization,
    signed_at: AmzDate,
    policy: &VerifyPolicy,
) -> Result<(), VerifyError> {
    let header_date = signed_at.date_stamp();
    if auth.date_stamp != header_date {
        return Err(VerifyError::ScopeDateMismatch {
            scope_date: truncate(&auth.date_stamp),
            header_date,
        });
    }
    if auth.service != policy.service {
        return Err(VerifyError::WrongService {
            expected: policy.service.clone(),
            got: truncate(&auth.service),
        });
    }
    match &policy.region {
        Some(expected) if *expected != auth.region => Err(VerifyError::WrongRegion {
            expected: expected.clone(),
            got: truncate(&auth.region),
        }),
        Some(_) | None => Ok(()),
    }
}

fn check_skew(signed_at: AmzDate, now: AmzDate, max_skew_seconds: u64) -> Result<(), VerifyError> {
    let minutes = max_skew_seconds / 60;
    match signed_at.skew(now, max_skew_seconds) {
        Skew::Within => Ok(()),
        Skew::TooOld { earliest } => Err(VerifyError::Expired {
            signed_at,
            earliest,
            now,
            minutes,
        }),
        Skew::TooNew { latest } => Err(VerifyError::NotYetCurrent {
            signed_at,
            latest,
            now,
            minutes,
        }),
    }
}

fn check_session_token(request: &HttpRequest<'_>, credentials: &Credentials) -> Result<(), VerifyError> {
    let sent = request.single_header("x-amz-security-token").map(str::trim);
    let sent_count = request.header_values("x-amz-security-token").count();
    match (credentials.session_token(), sent) {
        (None, None) if sent_count == 0 => Ok(()),
        (Some(expected), Some(sent)) if constant_time_eq(expected.as_bytes(), sent.as_bytes()) => Ok(()),
        (None | Some(_), None | Some(_)) => Err(VerifyError::InvalidSecurityToken),
    }
}

/// The payload hash to sign: the body's SHA-256, after checking any `x-amz-content-sha256` claim against it.
fn payload_hash(request: &HttpRequest<'_>) -> Result<String, VerifyError> {
    let body_hash = sha256_hex(request.body);
    let Some(claimed) = request
        .header_values("x-amz-content-sha256")
        .next()
        .map(str::trim)
    else {
        return Ok(body_hash);
    };
    if claimed == "UNSIGNED-PAYLOAD" || claimed.starts_with("STREAMING-") {
        return Err(VerifyError::UnsignedPayload {
            value: truncate(claimed),
        });
    }
    if claimed != body_hash {
        return Err(VerifyError::PayloadHashMismatch);
    }
    Ok(body_hash)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
