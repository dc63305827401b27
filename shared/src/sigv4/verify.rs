//! Verifying the SigV4 signature of an incoming request (the CodeBuild JSON API's authentication): parse the
//! `Authorization` header, check scope, clock skew and session token, recompute the signature and compare it in
//! constant time. Errors carry the error type AWS JSON services answer with.

use hmac::Mac;

use super::authorization::{self, ParsedAuthorization, truncate};
use super::canonical::{
    CanonicalParts, HttpRequest, canonical_headers, canonical_query, canonical_request, canonical_uri,
    credential_scope, keyed, sha256_hex, signing_key, string_to_sign,
};
use super::{AmzDate, Credentials};

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

/// Why a request was refused. Messages quote the client's input where useful and never contain a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// No `Authorization` header at all.
    #[error("missing authentication token: sign the request with aws signature version 4 (AWS4-HMAC-SHA256)")]
    MissingAuthorization,
    /// The header is not `AWS4-HMAC-SHA256 …`.
    #[error("unsupported authorization algorithm '{algorithm}': only AWS4-HMAC-SHA256 is accepted")]
    UnsupportedAlgorithm { algorithm: String },
    /// The header's parameters are missing, repeated or malformed.
    #[error("malformed authorization header: {reason}")]
    MalformedAuthorization { reason: String },
    /// A header SigV4 requires to be signed (`host`, `x-amz-date`) is not in `SignedHeaders`.
    #[error("'{header}' must be a signed header in the authorization header")]
    RequiredHeaderNotSigned { header: &'static str },
    /// `x-amz-date` is missing, repeated, or not `YYYYMMDDTHHMMSSZ`.
    #[error("x-amz-date must be one iso 8601 basic-format date like '20150830T123600Z', got '{value}'")]
    InvalidDate { value: String },
    /// The credential scope's date is not the date of `x-amz-date`.
    #[error(
        "date in credential scope does not match yyyymmdd from x-amz-date: '{scope_date}' != '{header_date}'"
    )]
    ScopeDateMismatch { scope_date: String, header_date: String },
    /// The credential scope names another service.
    #[error("credential should be scoped to correct service: '{expected}', not '{got}'")]
    WrongService { expected: String, got: String },
    /// The credential scope names a region this server does not serve.
    #[error("credential should be scoped to a valid region: '{expected}', not '{got}'")]
    WrongRegion { expected: String, got: String },
    /// `x-amz-date` is older than the allowed skew.
    #[error("signature expired: {signed_at} is now earlier than {earliest} ({now} - {minutes} min.)")]
    Expired {
        signed_at: AmzDate,
        earliest: AmzDate,
        now: AmzDate,
        minutes: u64,
    },
    /// `x-amz-date` is further in the future than the allowed skew.
    #[error("signature not yet current: {signed_at} is still later than {latest} ({now} + {minutes} min.)")]
    NotYetCurrent {
        signed_at: AmzDate,
        latest: AmzDate,
        now: AmzDate,
        minutes: u64,
    },
    /// The access key id is not configured here.
    #[error("the security token included in the request is invalid: unknown access key id")]
    UnknownAccessKey,
    /// The session token is missing, unexpected or wrong.
    #[error("the security token included in the request is invalid")]
    InvalidSecurityToken,
    /// `x-amz-content-sha256` asks for an unsigned or streaming payload.
    #[error(
        "x-amz-content-sha256 '{value}' is not accepted: this api requires the payload's sha-256 to be signed"
    )]
    UnsignedPayload { value: String },
    /// `x-amz-content-sha256` is not the SHA-256 of the body received.
    #[error("x-amz-content-sha256 does not match the sha-256 of the request body")]
    PayloadHashMismatch,
    /// A header listed in `SignedHeaders` is not in the request.
    #[error("signed header '{header}' is not present in the request")]
    SignedHeaderAbsent { header: String },
    /// The recomputed signature differs.
    #[error(
        "the request signature we calculated does not match the signature you provided: check your secret \
         access key, region, and signing method"
    )]
    SignatureMismatch,
}

impl VerifyError {
    /// The `__type` an AWS JSON 1.1 service answers with for this refusal.
    pub fn aws_error_type(&self) -> &'static str {
        match self {
            Self::MissingAuthorization => "MissingAuthenticationTokenException",
            Self::UnsupportedAlgorithm { .. }
            | Self::MalformedAuthorization { .. }
            | Self::RequiredHeaderNotSigned { .. }
            | Self::InvalidDate { .. } => "IncompleteSignatureException",
            Self::UnknownAccessKey | Self::InvalidSecurityToken => "UnrecognizedClientException",
            Self::ScopeDateMismatch { .. }
            | Self::WrongService { .. }
            | Self::WrongRegion { .. }
            | Self::Expired { .. }
            | Self::NotYetCurrent { .. }
            | Self::UnsignedPayload { .. }
            | Self::PayloadHashMismatch
            | Self::SignedHeaderAbsent { .. }
            | Self::SignatureMismatch => "InvalidSignatureException",
        }
    }

    /// The HTTP status Kiln answers with: 403 for every authentication failure.
    pub fn http_status(&self) -> u16 {
        403
    }
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
    if signed_at.abs_diff_seconds(now) <= max_skew_seconds {
        return Ok(());
    }
    let minutes = max_skew_seconds / 60;
    let shifted = |secs: u64| AmzDate::from_unix_seconds(secs).unwrap_or(now);
    if signed_at < now {
        let earliest = shifted(now.unix_seconds().saturating_sub(max_skew_seconds));
        Err(VerifyError::Expired {
            signed_at,
            earliest,
            now,
            minutes,
        })
    } else {
        let latest = shifted(now.unix_seconds().saturating_add(max_skew_seconds));
        Err(VerifyError::NotYetCurrent {
            signed_at,
            latest,
            now,
            minutes,
        })
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
