use axum::response::Response;
use bytes::Bytes;
use http::HeaderMap;

use crate::AppState;

/// A JSON-protocol EventBridge call (`X-Amz-Target: AWSEvents.{operation}`).
pub fn json(state: &AppState, operation: &str, headers: &HeaderMap, body: &Bytes) -> Response {
    let _ = (state, headers, body);
    crate::logs::json_error(
        http::StatusCode::BAD_REQUEST,
        "UnknownOperationException",
        &format!("Operation {operation} is not supported"),
    )
}
