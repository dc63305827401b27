//! The one place that decides which AWS failures are worth retrying.
//!
//! Retryable: throttling (any service's spelling of it), 5xx and 429 answers, timeouts and I/O failures while
//! sending, and ECS capacity shortages (which RunTask reports in its `failures` list with HTTP 200). Everything
//! else — validation errors, missing resources, failed conditions, access denied — fails the same way again.

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// Error codes that mean "slow down" or "try again" whatever the HTTP status.
const RETRYABLE_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottled",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "LimitExceededException",
    "SlowDown",
    "PriorRequestNotComplete",
    "TransactionInProgressException",
    "InternalError",
    "InternalFailure",
    "InternalServerError",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "ServerException",
    "RequestTimeout",
    "RequestTimeoutException",
];

/// Whether an SDK error is transient: throttling, 5xx/429, a timeout or an I/O failure on the way.
pub fn is_retryable<E: ProvideErrorMetadata>(err: &SdkError<E, HttpResponse>) -> bool {
    match err {
        SdkError::TimeoutError(_) => true,
        SdkError::DispatchFailure(failure) => failure.is_io() || failure.is_timeout(),
        SdkError::ResponseError(response) => is_retryable_status(response.raw().status().as_u16()),
        SdkError::ServiceError(service) => {
            is_retryable_code(service.err().code()) || is_retryable_status(service.raw().status().as_u16())
        }
        // ConstructionFailure and variants a newer SDK may add: the request itself is wrong.
        _ => false,
    }
}

/// Whether an error code (`ThrottlingException`, `SlowDown`, ...) names a transient condition.
pub fn is_retryable_code(code: Option<&str>) -> bool {
    code.is_some_and(|code| RETRYABLE_CODES.contains(&code))
}

/// Whether an HTTP status says "try again later" (429 and every 5xx).
pub fn is_retryable_status(status: u16) -> bool {
    status == 429 || (500..600).contains(&status)
}

/// Whether an ECS RunTask failure reason means no capacity right now (Spot or on-demand), so a later attempt,
/// or the other capacity provider, may succeed.
pub fn is_capacity_failure(reason: &str) -> bool {
    let reason = reason.to_ascii_lowercase();
    reason.contains("capacity is unavailable")
        || reason.contains("insufficient capacity")
        || reason.contains("resource:capacity")
        || reason.contains("no container instances")
        || reason.contains("throttl")
}

/// The error's code (when the service sent one) and its full message chain, for logs and port errors.
pub fn describe<E: ProvideErrorMetadata + std::error::Error + 'static>(
    err: &SdkError<E, HttpResponse>,
) -> String {
    let context = DisplayErrorContext(err).to_string();
    match err.as_service_error().and_then(|e| e.code()) {
        Some(code) => format!("{code}: {context}"),
        None => context,
    }
}

/// The service error code of an SDK error, if the service answered with one.
pub fn code<E: ProvideErrorMetadata>(err: &SdkError<E, HttpResponse>) -> Option<&str> {
    err.as_service_error().and_then(|e| e.code())
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::operation::get_item::GetItemError;
    use aws_smithy_types::body::SdkBody;
    use aws_smithy_types::error::ErrorMetadata;

    use super::*;

    fn service_error(code: &str, status: u16) -> SdkError<GetItemError, HttpResponse> {
        let err = GetItemError::generic(ErrorMetadata::builder().code(code).message("m").build());
        let raw = HttpResponse::new(status.try_into().expect("valid status"), SdkBody::empty());
        SdkError::service_error(err, raw)
    }

    #[test]
    fn throttling_server_errors_and_429_are_retryable_and_client_errors_are_not() {
        let table = [
            ("ThrottlingException", 400, true),
            ("ProvisionedThroughputExceededException", 400, true),
            ("SlowDown", 503, true),
            ("Whatever", 500, true),
            ("Whatever", 429, true),
            ("ConditionalCheckFailedException", 400, false),
            ("ResourceNotFoundException", 400, false),
            ("AccessDeniedException", 403, false),
            ("ValidationException", 400, false),
        ];
        for (code, status, expected) in table {
            assert_eq!(
                is_retryable(&service_error(code, status)),
                expected,
                "{code} {status}"
            );
        }
    }

    #[test]
    fn a_timeout_is_retryable_and_a_construction_failure_is_not() {
        let timeout: SdkError<GetItemError, HttpResponse> = SdkError::timeout_error("slow");
        assert!(is_retryable(&timeout));
        let bad: SdkError<GetItemError, HttpResponse> = SdkError::construction_failure("bad input");
        assert!(!is_retryable(&bad));
    }

    #[test]
    fn ecs_capacity_reasons_are_recognised() {
        assert!(is_capacity_failure(
            "Capacity is unavailable at this time. Please try again later or in a different availability zone"
        ));
        assert!(is_capacity_failure("RESOURCE:CAPACITY"));
        assert!(!is_capacity_failure("MISSING"));
    }

    #[test]
    fn describe_puts_the_code_first() {
        let text = describe(&service_error("ThrottlingException", 400));
        assert!(text.starts_with("ThrottlingException: "), "{text}");
    }
}
