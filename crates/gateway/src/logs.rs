//! The JSON-protocol services on `POST /`, routed by `X-Amz-Target`,
//! and CloudWatch Logs (target prefix `Logs_20140328.`).
//!
//! CloudWatch Logs serves the groups and streams the store keeps
//! ([`updraft_store::logs`]): Lambda's `/aws/lambda/NAME` groups, filled
//! by every invocation, and the groups applications create and put events
//! into. Operations: `api` (dispatch, errors, paging tokens), `groups`
//! (groups, retention, tags), `streams` (streams, PutLogEvents), `events`
//! (GetLogEvents, FilterLogEvents) and `pattern` (filter patterns).
//! Calls run on the blocking pool (they read and write SQLite).

mod api;
mod events;
mod groups;
mod pattern;
mod streams;

use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use serde_json::json;

use crate::InAccount;

/// A JSON-protocol error: `{"__type", "message"}`.
pub(crate) fn json_error(status: StatusCode, error_type: &str, message: &str) -> Response {
    (
        status,
        [
            (http::header::CONTENT_TYPE, "application/x-amz-json-1.1"),
            (
                http::HeaderName::from_static("x-amzn-errortype"),
                error_type,
            ),
        ],
        json!({ "__type": error_type, "message": message }).to_string(),
    )
        .into_response()
}

pub async fn json_protocol(state: InAccount, headers: HeaderMap, body: Bytes) -> Response {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    match target {
        t if t.starts_with("Logs_20140328.") => {
            api::handle(&state, &t["Logs_20140328.".len()..], &body).await
        }
        t if t.starts_with("AmazonSQS.") => {
            crate::sqs::json(&state, &t["AmazonSQS.".len()..], &headers, &body).await
        }
        t if t.starts_with(crate::streams::TARGET_PREFIX) => {
            crate::streams::json(&state, &t[crate::streams::TARGET_PREFIX.len()..], &body)
        }
        t if t.starts_with(crate::tables::TARGET_PREFIX) => {
            crate::tables::json(&state, &t[crate::tables::TARGET_PREFIX.len()..], &body)
        }
        t if t.starts_with("AWSEvents.") => {
            crate::eventbridge::json(&state, &t["AWSEvents.".len()..], &body).await
        }
        // No target: a form-encoded body is SQS's query protocol.
        "" if crate::sqs::is_form(&headers) => crate::sqs::query(&state, &headers, &body).await,
        "" => json_error(
            StatusCode::BAD_REQUEST,
            "UnknownOperationException",
            "Missing X-Amz-Target header",
        ),
        other => json_error(
            StatusCode::BAD_REQUEST,
            "UnknownOperationException",
            &format!("Operation {other} is not supported"),
        ),
    }
}
