//! The DynamoDB API on the wire: the JSON 1.0 protocol
//! (`POST /`, `X-Amz-Target: DynamoDB_20120810.{Operation}`), over the
//! account's [`updraft_tables::Tables`].
//!
//! The operations themselves (validation, expressions, storage) are the
//! tables crate's; this module only renders what it answers. Replies carry
//! `x-amz-crc32`, the CRC32 of the body, as DynamoDB's do: the SDKs check
//! it when it is present.

use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderValue, StatusCode};

use crate::Tenant;

/// The `X-Amz-Target` prefix of DynamoDB's operations.
pub(crate) const TARGET_PREFIX: &str = "DynamoDB_20120810.";

/// The largest request body DynamoDB takes (BatchWriteItem: 16 MB).
pub(crate) const MAX_BODY: usize = 16 * 1024 * 1024;

/// Runs `operation` with its JSON input and renders the answer. Blocking:
/// called on the blocking pool (see `signed::route`).
pub(crate) fn json(state: &Tenant, operation: &str, body: &Bytes) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    let input: &[u8] = if body.is_empty() { b"{}" } else { body };
    let (status, body, error_type) = match state.tables.execute(operation, input) {
        Ok(output) => (StatusCode::OK, output, None),
        Err(e) => {
            let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST);
            if status.is_server_error() {
                tracing::error!(error = %e, operation, "a DynamoDB request failed");
            }
            (status, e.body(), Some(e.type_name().to_string()))
        }
    };
    render(status, &body, error_type.as_deref(), &request_id)
}

/// A JSON 1.0 reply with DynamoDB's headers.
pub(crate) fn render(
    status: StatusCode,
    body: &serde_json::Value,
    error_type: Option<&str>,
    request_id: &str,
) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec());
    let crc = crc32fast::hash(&bytes);
    let mut response = (status, bytes).into_response();
    let headers = response.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-amz-json-1.0"),
    );
    headers.insert("x-amz-crc32", HeaderValue::from(crc));
    if let Ok(id) = HeaderValue::from_str(request_id) {
        headers.insert("x-amzn-requestid", id);
    }
    if let Some(kind) = error_type.and_then(|t| HeaderValue::from_str(t).ok()) {
        headers.insert("x-amzn-errortype", kind);
    }
    response
}

/// `AccessDeniedException` (or another refusal before the operation runs)
/// as DynamoDB words it.
pub(crate) fn error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = serde_json::json!({
        "__type": format!("com.amazon.coral.service#{code}"),
        "message": message,
    });
    render(status, &body, Some(code), &uuid::Uuid::new_v4().to_string())
}
