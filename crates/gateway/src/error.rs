//! Every failure a handler can answer with, in Lambda's error format.

use axum::response::{IntoResponse, Response};
use updraft_api::LambdaError;
use updraft_invoker::InvokeError;
use updraft_registry::RegistryError;

/// A handler's error: a [`LambdaError`] rendered as Lambda renders it.
#[derive(Debug)]
pub struct ApiError(pub LambdaError);

impl From<LambdaError> for ApiError {
    fn from(e: LambdaError) -> Self {
        ApiError(e)
    }
}

impl From<RegistryError> for ApiError {
    fn from(e: RegistryError) -> Self {
        ApiError(match e {
            RegistryError::NotFound(m) => LambdaError::ResourceNotFound(m),
            RegistryError::Conflict(m) => LambdaError::ResourceConflict(m),
            RegistryError::InvalidParameter(m) => LambdaError::InvalidParameterValue(m),
            RegistryError::PreconditionFailed(m) => LambdaError::PreconditionFailed(m),
            RegistryError::Internal(m) => {
                tracing::error!(error = %m, "internal error");
                LambdaError::Service("An internal error occurred; see the server log.".into())
            }
        })
    }
}

impl From<InvokeError> for ApiError {
    fn from(e: InvokeError) -> Self {
        match e {
            InvokeError::Throttled(t) => ApiError(LambdaError::throttled(t.reason())),
            InvokeError::Registry(e) => e.into(),
        }
    }
}

impl From<updraft_types::InvalidName> for ApiError {
    fn from(e: updraft_types::InvalidName) -> Self {
        ApiError(e.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, headers, body) = self.0.into_parts();
        (status, headers, body).into_response()
    }
}

pub async fn unknown_operation(req: axum::extract::Request) -> ApiError {
    ApiError(LambdaError::UnknownOperation(format!(
        "{} {}",
        req.method(),
        req.uri().path()
    )))
}
