//! Why a request was not authenticated, worded as AWS words it.

/// An authentication failure. `Display` is the message sent to the client;
/// [`AuthError::error_type`] is the value of `X-Amzn-ErrorType`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// Neither an `Authorization` header nor a presigned query string.
    #[error("Missing Authentication Token")]
    MissingAuthenticationToken,
    /// The signature is malformed or lacks a required part.
    #[error("{0}")]
    IncompleteSignature(String),
    /// The access key id is not one of ours.
    #[error("The security token included in the request is invalid.")]
    UnrecognizedClient,
    /// Temporary credentials whose session has ended.
    #[error("The security token included in the request is expired")]
    ExpiredToken,
    /// The signature does not match the one computed for the request.
    #[error(
        "The request signature we calculated does not match the signature you provided. \
         Check your AWS Secret Access Key and signing method. \
         Consult the service documentation for details."
    )]
    InvalidSignature,
    /// The request time is too far from the server's clock, or a presigned
    /// URL has expired. The message names both times.
    #[error("{0}")]
    SignatureExpired(String),
    /// The credential scope names another service than the endpoint serves.
    #[error("Credential should be scoped to correct service: '{expected}'. ")]
    WrongService { expected: String },
    /// The credential scope or a signed value is inconsistent with the
    /// request (scope date, terminator, content hash).
    #[error("{0}")]
    InvalidScope(String),
    /// S3: a presigned URL used after `X-Amz-Date` + `X-Amz-Expires`.
    #[error("Request has expired")]
    RequestExpired,
    /// S3: a presigned URL used before its `X-Amz-Date` (beyond the skew).
    #[error("Request is not valid yet")]
    RequestNotYetValid,
    /// S3: a header-signed request whose time is too far from the clock.
    #[error("The difference between the request time and the current time is too large.")]
    RequestTimeTooSkewed,
    /// S3: the presigned query parameters are missing or malformed.
    #[error("{0}")]
    QueryParametersError(String),
    /// S3: a header-signed request without `x-amz-content-sha256`.
    #[error("Missing required header for this request: x-amz-content-sha256")]
    MissingContentSha256,
    /// S3: a header or form field has a value S3 does not accept.
    #[error("{0}")]
    InvalidArgument(String),
    /// S3 POST: the policy's `expiration` has passed.
    #[error("Invalid according to Policy: Policy expired.")]
    PolicyExpired,
    /// S3: a header every request of this kind must carry is absent.
    #[error("Your request was missing a required header: {0}")]
    MissingHeader(&'static str),
    /// S3: `x-amz-content-sha256` is neither a hex SHA-256 nor a known mode.
    #[error("x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, or a valid sha256 value.")]
    InvalidContentSha256,
    /// S3 POST: the policy document cannot be read, or it has expired.
    #[error("{0}")]
    InvalidPolicy(String),
}

impl AuthError {
    /// The AWS error type name, for the `X-Amzn-ErrorType` header.
    pub fn error_type(&self) -> &'static str {
        match self {
            AuthError::MissingAuthenticationToken => "MissingAuthenticationTokenException",
            AuthError::IncompleteSignature(_) => "IncompleteSignatureException",
            AuthError::UnrecognizedClient => "UnrecognizedClientException",
            AuthError::ExpiredToken => "ExpiredTokenException",
            AuthError::InvalidSignature
            | AuthError::SignatureExpired(_)
            | AuthError::WrongService { .. }
            | AuthError::InvalidScope(_)
            | AuthError::RequestExpired
            | AuthError::RequestNotYetValid
            | AuthError::RequestTimeTooSkewed => "InvalidSignatureException",
            AuthError::QueryParametersError(_)
            | AuthError::MissingContentSha256
            | AuthError::InvalidArgument(_)
            | AuthError::PolicyExpired
            | AuthError::MissingHeader(_)
            | AuthError::InvalidContentSha256
            | AuthError::InvalidPolicy(_) => "IncompleteSignatureException",
        }
    }

    /// The S3 error code (`<Error><Code>`) for this failure.
    pub fn s3_code(&self) -> &'static str {
        match self {
            AuthError::MissingAuthenticationToken
            | AuthError::RequestExpired
            | AuthError::RequestNotYetValid
            | AuthError::PolicyExpired => "AccessDenied",
            AuthError::IncompleteSignature(_)
            | AuthError::WrongService { .. }
            | AuthError::InvalidScope(_) => "AuthorizationHeaderMalformed",
            AuthError::UnrecognizedClient => "InvalidAccessKeyId",
            AuthError::ExpiredToken => "ExpiredToken",
            AuthError::InvalidSignature => "SignatureDoesNotMatch",
            AuthError::SignatureExpired(_) | AuthError::RequestTimeTooSkewed => {
                "RequestTimeTooSkewed"
            }
            AuthError::QueryParametersError(_) => "AuthorizationQueryParametersError",
            AuthError::MissingHeader(_) => "MissingSecurityHeader",
            AuthError::InvalidContentSha256 | AuthError::InvalidArgument(_) => "InvalidArgument",
            AuthError::MissingContentSha256 => "InvalidRequest",
            AuthError::InvalidPolicy(_) => "InvalidPolicyDocument",
        }
    }

    /// The HTTP status S3 answers [`AuthError::s3_code`] with.
    pub fn s3_status(&self) -> http::StatusCode {
        match self {
            AuthError::IncompleteSignature(_)
            | AuthError::WrongService { .. }
            | AuthError::InvalidScope(_)
            | AuthError::ExpiredToken
            | AuthError::QueryParametersError(_)
            | AuthError::MissingHeader(_)
            | AuthError::InvalidContentSha256
            | AuthError::MissingContentSha256
            | AuthError::InvalidArgument(_)
            | AuthError::InvalidPolicy(_) => http::StatusCode::BAD_REQUEST,
            _ => http::StatusCode::FORBIDDEN,
        }
    }

    /// The message S3 sends with [`AuthError::s3_code`] (`<Error><Message>`):
    /// S3's own wording where it differs from the JSON services'.
    pub fn s3_message(&self) -> String {
        match self {
            AuthError::MissingAuthenticationToken => "Access Denied".into(),
            AuthError::UnrecognizedClient => {
                "The AWS Access Key Id you provided does not exist in our records.".into()
            }
            AuthError::ExpiredToken => "The provided token has expired.".into(),
            AuthError::SignatureExpired(_) => AuthError::RequestTimeTooSkewed.to_string(),
            other => other.to_string(),
        }
    }

    /// The HTTP status AWS answers with: 403 for every authentication failure.
    pub fn status(&self) -> http::StatusCode {
        http::StatusCode::FORBIDDEN
    }
}
