//! The JSON-protocol services on `POST /`, routed by `X-Amz-Target`.
//!
//! CloudWatch Logs' `FilterLogEvents` (target
//! `Logs_20140328.FilterLogEvents`) reads invocation logs from log group
//! `/aws/lambda/NAME`, so `aws logs filter-log-events` works. An invocation
//! matches `filterPattern` (space-separated terms, all required, or a
//! quoted phrase) when any of its lines does; all its lines are returned,
//! START to REPORT. Two fields beyond CloudWatch's: `requestId` and
//! `errorsOnly`. `nextToken` is the last record's sequence number, so a
//! follower can poll from it.

use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::json;
use updraft_store::LogQuery;

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

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct FilterLogEvents {
    log_group_name: Option<String>,
    log_group_identifier: Option<String>,
    log_stream_names: Option<Vec<String>>,
    log_stream_name_prefix: Option<String>,
    start_time: Option<i64>,
    end_time: Option<i64>,
    filter_pattern: Option<String>,
    next_token: Option<String>,
    limit: Option<usize>,
    interleaved: Option<bool>,
    unmask: Option<bool>,
    request_id: Option<String>,
    errors_only: Option<bool>,
}

pub async fn json_protocol(state: InAccount, headers: HeaderMap, body: Bytes) -> Response {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    match target {
        "Logs_20140328.FilterLogEvents" => filter_log_events(&state, &body),
        t if t.starts_with("AmazonSQS.") => {
            crate::sqs::json(&state, &t["AmazonSQS.".len()..], &headers, &body).await
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

fn matches(pattern: &str, line: &str) -> bool {
    let pattern = pattern.trim();
    if pattern.is_empty() {
        return true;
    }
    if let Some(phrase) = pattern.strip_prefix('"').and_then(|p| p.strip_suffix('"')) {
        return line.contains(phrase);
    }
    pattern.split_whitespace().all(|term| line.contains(term))
}

fn filter_log_events(state: &crate::Tenant, body: &[u8]) -> Response {
    let req: FilterLogEvents =
        match serde_json::from_slice(if body.is_empty() { b"{}" } else { body }) {
            Ok(r) => r,
            Err(e) => {
                return json_error(
                    StatusCode::BAD_REQUEST,
                    "SerializationException",
                    &format!("could not parse the request: {e}"),
                )
            }
        };
    // `interleaved` is deprecated (always true on AWS); `unmask` reveals
    // data that protection policies mask, and there are none here.
    let _ = (req.interleaved, req.unmask);
    if req.log_stream_names.is_some() && req.log_stream_name_prefix.is_some() {
        return json_error(
            StatusCode::BAD_REQUEST,
            "InvalidParameterException",
            "You cannot specify both logStreamNames and logStreamNamePrefix.",
        );
    }
    let in_streams = |stream: &str| {
        req.log_stream_names
            .as_ref()
            .is_none_or(|names| names.iter().any(|n| n == stream))
            && req
                .log_stream_name_prefix
                .as_ref()
                .is_none_or(|prefix| stream.starts_with(prefix.as_str()))
    };
    let Some(group) = req.log_group_name.or(req.log_group_identifier) else {
        return json_error(
            StatusCode::BAD_REQUEST,
            "InvalidParameterException",
            "logGroupName is required",
        );
    };
    let Some(function) = group.strip_prefix("/aws/lambda/") else {
        return json_error(
            StatusCode::BAD_REQUEST,
            "ResourceNotFoundException",
            "The specified log group does not exist.",
        );
    };
    let after_seq = match req.next_token.as_deref().map(str::parse::<i64>) {
        None => None,
        Some(Ok(s)) => Some(s),
        Some(Err(_)) => {
            return json_error(
                StatusCode::BAD_REQUEST,
                "InvalidParameterException",
                "The specified nextToken is invalid.",
            )
        }
    };
    let limit = req.limit.unwrap_or(10_000).clamp(1, 10_000);
    let records = match state.store.query_logs(&LogQuery {
        function: function.to_string(),
        after_seq,
        since_ms: req.start_time,
        until_ms: req.end_time,
        request_id: req.request_id,
        errors_only: req.errors_only.unwrap_or(false),
        limit: 1_000,
    }) {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "reading logs");
            return json_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "ServiceUnavailableException",
                "could not read logs",
            );
        }
    };
    let pattern = req.filter_pattern.unwrap_or_default();
    let mut events = Vec::new();
    let mut last_seq = None;
    for r in &records {
        if events.len() >= limit {
            break;
        }
        last_seq = Some(r.seq);
        if !in_streams(&r.stream) || !r.text.lines().any(|l| matches(&pattern, l)) {
            continue;
        }
        for (i, line) in r.text.lines().enumerate() {
            let ts = if line.starts_with("REPORT ") || line.starts_with("END ") {
                r.end_ms
            } else {
                r.start_ms
            };
            events.push(json!({
                "logStreamName": r.stream,
                "timestamp": ts,
                "message": format!("{line}\n"),
                "ingestionTime": r.end_ms,
                "eventId": format!("{}-{i}", r.seq),
            }));
        }
    }
    let mut out = json!({ "events": events, "searchedLogStreams": [] });
    if let Some(seq) = last_seq {
        out["nextToken"] = json!(seq.to_string());
    }
    (
        [(http::header::CONTENT_TYPE, "application/x-amz-json-1.1")],
        out.to_string(),
    )
        .into_response()
}
