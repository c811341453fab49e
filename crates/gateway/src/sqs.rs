use std::sync::Arc;

use axum::response::Response;
use axum::Router;
use bytes::Bytes;
use http::HeaderMap;

use crate::AppState;

/// Routes of the SQS query protocol beyond `POST /` (queue URLs).
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
}

/// A JSON-protocol SQS call (`X-Amz-Target: AmazonSQS.{operation}`).
pub fn json(state: &AppState, operation: &str, headers: &HeaderMap, body: &Bytes) -> Response {
    let _ = (state, headers, body);
    crate::logs::json_error(
        http::StatusCode::BAD_REQUEST,
        "UnknownOperationException",
        &format!("Operation {operation} is not supported"),
    )
}
