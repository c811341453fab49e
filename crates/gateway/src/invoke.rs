//! `Invoke`: `POST /2015-03-31/functions/{name}/invocations`.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{Path, Query};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode};
use updraft_api::LambdaError;
use updraft_pool::FunctionError;
use updraft_types::{FunctionRef, Qualifier};

use crate::{ApiError, InAccount};

/// Lambda's synchronous payload limit, each way.
pub const MAX_SYNC_PAYLOAD: usize = 6 * 1024 * 1024;
/// Lambda's asynchronous payload limit.
pub const MAX_ASYNC_PAYLOAD: usize = 1024 * 1024;

/// Resolves `{name}` (a name, `name:qualifier` or an ARN) and `?Qualifier=`.
pub fn target_ref(name: &str, query: &HashMap<String, String>) -> Result<FunctionRef, ApiError> {
    let mut r = FunctionRef::parse(name)?;
    if let Some(q) = query.get("Qualifier") {
        let q = Qualifier::parse(q)?;
        if r.qualifier.as_ref().is_some_and(|existing| *existing != q) {
            return Err(ApiError(LambdaError::InvalidParameterValue(
                "The derived qualifier from the function name does not match the specified qualifier.".into(),
            )));
        }
        r.qualifier = Some(q);
    }
    Ok(r)
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

pub async fn invoke(
    state: InAccount,
    Path(name): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let function = target_ref(&name, &query)?;
    let invocation_type = header(&headers, "x-amz-invocation-type").unwrap_or("RequestResponse");
    let limit = match invocation_type {
        "RequestResponse" | "DryRun" => MAX_SYNC_PAYLOAD,
        "Event" => MAX_ASYNC_PAYLOAD,
        other => {
            return Err(ApiError(LambdaError::InvalidParameterValue(format!(
                "1 validation error detected: Value '{other}' at 'invocationType' failed to satisfy constraint: Member must satisfy enum value set: [Event, RequestResponse, DryRun]"
            ))))
        }
    };
    if body.len() > limit {
        return Err(ApiError(LambdaError::RequestTooLarge(format!(
            "Request must be smaller than {limit} bytes for the InvokeFunction operation"
        ))));
    }
    if !body.is_empty() {
        if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(&body) {
            return Err(ApiError(LambdaError::InvalidRequestContent(format!(
                "Could not parse request body into json: Could not parse payload into json: {e}"
            ))));
        }
    }
    let tail = match header(&headers, "x-amz-log-type") {
        None | Some("None") => false,
        Some("Tail") => true,
        Some(other) => {
            return Err(ApiError(LambdaError::InvalidParameterValue(format!(
                "1 validation error detected: Value '{other}' at 'logType' failed to satisfy constraint: Member must satisfy enum value set: [Tail, None]"
            ))))
        }
    };
    let target = state
        .registry
        .resolve(&function.name, function.qualifier.as_ref())?;
    let parent = header(&headers, "traceparent").and_then(updraft_telemetry::TraceContext::parse);

    match invocation_type {
        "DryRun" => Ok(StatusCode::NO_CONTENT.into_response()),
        "Event" => {
            // Durable before the 202: the message is committed when
            // `enqueue` returns; delivery resolves the qualifier again.
            let request_id = state
                .events
                .enqueue(
                    &target.config.name,
                    function.qualifier.as_ref(),
                    body,
                    parent.map(|p| p.to_string()),
                )
                .await?;
            let mut resp = StatusCode::ACCEPTED.into_response();
            if let Ok(v) = HeaderValue::from_str(&request_id) {
                resp.headers_mut().insert("x-amzn-requestid", v);
            }
            Ok(resp)
        }
        _ => {
            let mut result = state.invoker.invoke(target, body, tail, parent).await?;
            if result.function_error.is_none() && result.payload.len() > MAX_SYNC_PAYLOAD {
                let len = result.payload.len();
                result.payload = FunctionError::new(
                    "Function.ResponseSizeTooLarge",
                    format!("Response payload size ({len} bytes) exceeded maximum allowed payload size ({MAX_SYNC_PAYLOAD} bytes)."),
                )
                .to_payload();
                result.function_error = Some("Unhandled");
            }
            let mut resp = Response::new(Body::from(result.payload));
            let h = resp.headers_mut();
            h.insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            if let Ok(v) = HeaderValue::from_str(&result.request_id) {
                h.insert("x-amzn-requestid", v);
            }
            if let Ok(v) = HeaderValue::from_str(&result.executed_version) {
                h.insert("x-amz-executed-version", v);
            }
            if let Some(fe) = result.function_error {
                h.insert("x-amz-function-error", HeaderValue::from_static(fe));
            }
            if let Some(tail) = result.log_tail.and_then(|t| HeaderValue::from_str(&t).ok()) {
                h.insert("x-amz-log-result", tail);
            }
            Ok(resp)
        }
    }
}
