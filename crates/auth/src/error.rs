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
            | AuthError::InvalidScope(_) => "InvalidSignatureException",
        }
    }

    /// The HTTP status AWS answers with: 403 for every authentication failure.
    pub fn status(&self) -> http::StatusCode {
        http::StatusCode::FORBIDDEN
    }
}
