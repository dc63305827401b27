//! Why an incoming request's signature was refused, with the AWS error type (`__type`) a JSON 1.1 service
//! answers with for each reason.

use super::AmzDate;

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
