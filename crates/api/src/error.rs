//! The Lambda error format: an `X-Amzn-ErrorType` header naming the
//! exception and a JSON body `{"Type": "User"|"Service", "Message": ...}`.
//!
//! Clients pick the exception from the header (boto3 raises
//! `client.exceptions.<Type>`, the CLI prints `An error occurred (<Type>)`),
//! so the type names here are AWS's exactly.

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode};
use serde_json::json;

/// The header that carries the exception name.
pub const ERROR_TYPE_HEADER: &str = "x-amzn-errortype";

/// Every error the Lambda API answers with. `Display` is the message sent
/// to the client, so it never carries internal detail.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LambdaError {
    /// 404: the function, version, alias or URL config does not exist.
    #[error("{0}")]
    ResourceNotFound(String),
    /// 404: no provisioned concurrency config for the qualifier.
    #[error("{0}")]
    ProvisionedConcurrencyConfigNotFound(String),
    /// 409: it exists already, or is being changed.
    #[error("{0}")]
    ResourceConflict(String),
    /// 400: a value is not acceptable.
    #[error("{0}")]
    InvalidParameterValue(String),
    /// 400: a value breaks a modelled constraint
    /// (`1 validation error detected: ...`).
    #[error("{0}")]
    Validation(String),
    /// 413: the request or its payload is too large.
    #[error("{0}")]
    RequestTooLarge(String),
    /// 408: the request's body did not arrive in time.
    #[error("{0}")]
    RequestTimeout(String),
    /// 429: throttled; `reason` is Lambda's `Reason` (for example
    /// `ReservedFunctionConcurrentInvocationLimitExceeded`).
    #[error("{message}")]
    TooManyRequests {
        message: String,
        reason: Option<String>,
    },
    /// 500: our fault.
    #[error("{0}")]
    Service(String),
    /// 412: the `RevisionId` given does not match the current one.
    #[error("{0}")]
    PreconditionFailed(String),
    /// 400: a resource policy would pass Lambda's size limit.
    #[error("{0}")]
    PolicyLengthExceeded(String),
    /// 400: the body is not the JSON the operation takes.
    #[error("{0}")]
    InvalidRequestContent(String),
    /// 415: the request's content type is not accepted.
    #[error("The payload is not JSON.")]
    UnsupportedMediaType,
    /// 404: no operation is routed at this method and path.
    #[error("Unknown operation: {0}")]
    UnknownOperation(String),
    /// 403 (usually): authentication failed; `error_type` is the AWS name
    /// (`InvalidSignatureException`, ...).
    #[error("{message}")]
    Auth {
        status: StatusCode,
        error_type: &'static str,
        message: String,
    },
}

impl LambdaError {
    /// The HTTP status Lambda answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            LambdaError::ResourceNotFound(_)
            | LambdaError::UnknownOperation(_)
            | LambdaError::ProvisionedConcurrencyConfigNotFound(_) => StatusCode::NOT_FOUND,
            LambdaError::ResourceConflict(_) => StatusCode::CONFLICT,
            LambdaError::InvalidParameterValue(_)
            | LambdaError::Validation(_)
            | LambdaError::PolicyLengthExceeded(_)
            | LambdaError::InvalidRequestContent(_) => StatusCode::BAD_REQUEST,
            LambdaError::RequestTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            LambdaError::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            LambdaError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            LambdaError::Service(_) => StatusCode::INTERNAL_SERVER_ERROR,
            LambdaError::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
            LambdaError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            LambdaError::Auth { status, .. } => *status,
        }
    }

    /// The exception name for `X-Amzn-ErrorType`.
    pub fn error_type(&self) -> &'static str {
        match self {
            LambdaError::ResourceNotFound(_) => "ResourceNotFoundException",
            LambdaError::ProvisionedConcurrencyConfigNotFound(_) => {
                "ProvisionedConcurrencyConfigNotFoundException"
            }
            LambdaError::ResourceConflict(_) => "ResourceConflictException",
            LambdaError::InvalidParameterValue(_) => "InvalidParameterValueException",
            LambdaError::Validation(_) => "ValidationException",
            LambdaError::RequestTooLarge(_) => "RequestTooLargeException",
            LambdaError::RequestTimeout(_) => "RequestTimeoutException",
            LambdaError::TooManyRequests { .. } => "TooManyRequestsException",
            LambdaError::Service(_) => "ServiceException",
            LambdaError::PreconditionFailed(_) => "PreconditionFailedException",
            LambdaError::PolicyLengthExceeded(_) => "PolicyLengthExceededException",
            LambdaError::InvalidRequestContent(_) => "InvalidRequestContentException",
            LambdaError::UnsupportedMediaType => "UnsupportedMediaTypeException",
            LambdaError::UnknownOperation(_) => "UnknownOperationException",
            LambdaError::Auth { error_type, .. } => error_type,
        }
    }

    /// A 429 with Lambda's generic message and the given `Reason`.
    pub fn throttled(reason: &str) -> Self {
        LambdaError::TooManyRequests {
            message: "Rate Exceeded.".into(),
            reason: Some(reason.into()),
        }
    }

    /// Status, headers (`X-Amzn-ErrorType`, `Content-Type`) and JSON body.
    /// A 5xx is `"Type": "Service"`, anything else `"Type": "User"`.
    pub fn into_parts(self) -> (StatusCode, HeaderMap, Bytes) {
        let status = self.status();
        let error_type = self.error_type();
        let kind = if status.is_server_error() {
            "Service"
        } else {
            "User"
        };
        let message = self.to_string();
        let body = match self {
            LambdaError::TooManyRequests {
                reason: Some(reason),
                ..
            } => json!({"Type": kind, "Message": message, "Reason": reason}),
            _ => json!({"Type": kind, "Message": message}),
        };
        let mut headers = HeaderMap::new();
        headers.insert(ERROR_TYPE_HEADER, HeaderValue::from_static(error_type));
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        (status, headers, Bytes::from(body.to_string()))
    }
}

impl From<updraft_auth::AuthError> for LambdaError {
    fn from(e: updraft_auth::AuthError) -> Self {
        LambdaError::Auth {
            status: e.status(),
            error_type: e.error_type(),
            message: e.to_string(),
        }
    }
}

impl From<updraft_types::InvalidName> for LambdaError {
    fn from(e: updraft_types::InvalidName) -> Self {
        if e.0.contains("validation error") {
            LambdaError::Validation(e.0)
        } else {
            LambdaError::InvalidParameterValue(e.0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(b: &Bytes) -> serde_json::Value {
        serde_json::from_slice(b).unwrap()
    }

    #[test]
    fn not_found_is_a_user_error_with_the_type_header() {
        let (status, headers, b) =
            LambdaError::ResourceNotFound("Function not found: arn:x".into()).into_parts();
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(headers["x-amzn-errortype"], "ResourceNotFoundException");
        assert_eq!(headers["content-type"], "application/json");
        assert_eq!(
            body(&b),
            json!({"Type": "User", "Message": "Function not found: arn:x"})
        );
    }

    #[test]
    fn server_errors_are_service_errors() {
        let (status, headers, b) = LambdaError::Service("boom".into()).into_parts();
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(headers[ERROR_TYPE_HEADER], "ServiceException");
        assert_eq!(body(&b)["Type"], "Service");
    }

    #[test]
    fn throttling_carries_its_reason() {
        let (status, headers, b) =
            LambdaError::throttled("ReservedFunctionConcurrentInvocationLimitExceeded")
                .into_parts();
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(headers[ERROR_TYPE_HEADER], "TooManyRequestsException");
        assert_eq!(
            body(&b),
            json!({"Type": "User", "Message": "Rate Exceeded.",
                   "Reason": "ReservedFunctionConcurrentInvocationLimitExceeded"})
        );
        let (_, _, b) = LambdaError::TooManyRequests {
            message: "slow down".into(),
            reason: None,
        }
        .into_parts();
        assert!(body(&b).get("Reason").is_none());
    }

    #[test]
    fn statuses_and_types_match_lambda() {
        let cases = [
            (
                LambdaError::ResourceConflict("x".into()),
                409,
                "ResourceConflictException",
            ),
            (
                LambdaError::InvalidParameterValue("x".into()),
                400,
                "InvalidParameterValueException",
            ),
            (
                LambdaError::Validation("x".into()),
                400,
                "ValidationException",
            ),
            (
                LambdaError::RequestTooLarge("x".into()),
                413,
                "RequestTooLargeException",
            ),
            (
                LambdaError::RequestTimeout("x".into()),
                408,
                "RequestTimeoutException",
            ),
            (
                LambdaError::PreconditionFailed("x".into()),
                412,
                "PreconditionFailedException",
            ),
            (
                LambdaError::InvalidRequestContent("x".into()),
                400,
                "InvalidRequestContentException",
            ),
            (
                LambdaError::UnsupportedMediaType,
                415,
                "UnsupportedMediaTypeException",
            ),
            (
                LambdaError::UnknownOperation("GET /x".into()),
                404,
                "UnknownOperationException",
            ),
        ];
        for (err, status, ty) in cases {
            assert_eq!(err.status().as_u16(), status, "{ty}");
            assert_eq!(err.error_type(), ty);
        }
    }

    #[test]
    fn auth_errors_keep_aws_names() {
        let err: LambdaError = updraft_auth::AuthError::UnrecognizedClient.into();
        let (status, headers, b) = err.into_parts();
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(headers[ERROR_TYPE_HEADER], "UnrecognizedClientException");
        assert_eq!(
            body(&b)["Message"],
            "The security token included in the request is invalid."
        );
        let err: LambdaError = updraft_auth::AuthError::MissingAuthenticationToken.into();
        assert_eq!(err.error_type(), "MissingAuthenticationTokenException");
    }
}
