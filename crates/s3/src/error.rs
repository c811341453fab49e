//! Errors: [`S3Error`] for the node-level calls ([`crate::S3::open`],
//! [`crate::S3::expire_now`]) and [`ApiError`], an S3 wire error
//! (`<Error><Code>…`), which every operation answers with.

use http::StatusCode;

use crate::backend::BackendError;

/// A node-level failure.
#[derive(Debug, thiserror::Error)]
pub enum S3Error {
    #[error("object storage failed")]
    Backend(#[from] BackendError),
    /// A blocking task panicked or was cancelled.
    #[error("a storage task failed: {0}")]
    Task(String),
    /// A lifecycle pass stopped (the storage failed under it).
    #[error("lifecycle expiration failed: {0}")]
    Expiration(String),
}

/// An error as S3 sends it: status, code, message.
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Extra elements inside `<Error>` (e.g. `BucketName`, `Key`).
    pub extra: Vec<(&'static str, String)>,
    /// Extra response headers (e.g. `x-amz-delete-marker`).
    pub headers: Vec<(&'static str, String)>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            extra: Vec::new(),
            headers: Vec::new(),
        }
    }

    pub fn with(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.extra.push((name, value.into()));
        self
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub fn no_such_bucket(bucket: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "NoSuchBucket",
            "The specified bucket does not exist",
        )
        .with("BucketName", bucket)
    }

    pub fn no_such_key(key: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "NoSuchKey",
            "The specified key does not exist.",
        )
        .with("Key", key)
    }

    pub fn no_such_upload(upload_id: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "NoSuchUpload",
            "The specified upload does not exist. The upload ID may be invalid, \
             or the upload may have been aborted or completed.",
        )
        .with("UploadId", upload_id)
    }

    pub fn access_denied() -> Self {
        Self::new(StatusCode::FORBIDDEN, "AccessDenied", "Access Denied")
    }

    pub fn invalid_argument(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "InvalidArgument", message)
    }

    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "InvalidRequest", message)
    }

    pub fn malformed_xml() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "MalformedXML",
            "The XML you provided was not well-formed or did not validate against \
             our published schema",
        )
    }

    pub fn precondition_failed(condition: &str) -> Self {
        Self::new(
            StatusCode::PRECONDITION_FAILED,
            "PreconditionFailed",
            "At least one of the pre-conditions you specified did not hold",
        )
        .with("Condition", condition)
    }

    pub fn not_implemented(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_IMPLEMENTED,
            "NotImplemented",
            format!("{what} is not implemented"),
        )
    }

    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            "We encountered an internal error. Please try again.",
        )
    }

    pub fn unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailable",
            "Please reduce your request rate.",
        )
    }
}

impl From<BackendError> for ApiError {
    fn from(e: BackendError) -> Self {
        match &e {
            BackendError::NotFound(what) if what.starts_with("bucket ") => {
                ApiError::no_such_bucket(what.trim_start_matches("bucket "))
            }
            BackendError::NotFound(what) if what.starts_with("upload ") => {
                ApiError::no_such_upload(what.trim_start_matches("upload "))
            }
            BackendError::NotEmpty(bucket) => ApiError::new(
                StatusCode::CONFLICT,
                "BucketNotEmpty",
                "The bucket you tried to delete is not empty",
            )
            .with("BucketName", bucket.clone()),
            BackendError::PreconditionFailed => ApiError::precondition_failed("If-Match"),
            BackendError::Storage {
                transient: true, ..
            } => {
                tracing::warn!(error = ?e, "object storage is unavailable");
                ApiError::unavailable()
            }
            _ => {
                tracing::error!(error = ?e, "object storage failed");
                ApiError::internal()
            }
        }
    }
}
