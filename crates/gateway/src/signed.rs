//! SigV4 on every API request.
//!
//! The body is read (up to [`MAX_BODY`]) because the signature covers its
//! hash, then handed on to the handler as bytes. The expected service is
//! the one the `X-Amz-Target` prefix names (`logs`, `sqs`, `events`),
//! `scheduler` for Scheduler's paths, `sqs` for a form-encoded POST (SQS's
//! query protocol), and otherwise `lambda`.

use std::time::SystemTime;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt, Limited};
use updraft_api::LambdaError;
use updraft_auth::{SignedRequest, VerifiedIdentity};

use crate::{ApiError, Shared};

/// The largest request body any API takes (CreateFunction carries a 50 MB
/// zip, base64-encoded).
pub const MAX_BODY: usize = 70 * 1024 * 1024;

/// The service a request must be signed for.
fn expected_service(req: &Request) -> &'static str {
    match req
        .headers()
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
    {
        Some(t) if t.starts_with("Logs_") => "logs",
        Some(t) if t.starts_with("AmazonSQS.") => "sqs",
        Some(t) if t.starts_with("AWSEvents.") => "events",
        Some(_) => "lambda",
        None => {
            let path = req.uri().path();
            let form = req
                .headers()
                .get(http::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
            if path.starts_with("/schedules") || path.starts_with("/schedule-groups") {
                "scheduler"
            } else if form && req.method() == http::Method::POST {
                // The SQS query protocol (aws CLI v2 before SQS spoke JSON).
                "sqs"
            } else {
                "lambda"
            }
        }
    }
}

/// Reads a body up to `limit` bytes; `None` when it is larger.
pub async fn read_body(body: Body, limit: usize) -> Result<Option<bytes::Bytes>, ApiError> {
    match Limited::new(body, limit).collect().await {
        Ok(c) => Ok(Some(c.to_bytes())),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Ok(None),
        Err(e) => Err(ApiError(LambdaError::InvalidRequestContent(format!(
            "could not read the request body: {e}"
        )))),
    }
}

/// Verifies a buffered request against the server's credentials.
pub fn check(
    state: &crate::AppState,
    parts: &http::request::Parts,
    body: &[u8],
    service: &str,
) -> Result<VerifiedIdentity, ApiError> {
    state
        .verifier
        .verify(
            &SignedRequest::from_parts(parts, body),
            service,
            SystemTime::now(),
        )
        .map_err(|e| {
            tracing::debug!(error = %e, path = parts.uri.path(), "request not authenticated");
            ApiError(e.into())
        })
}

pub async fn verify(State(state): Shared, req: Request, next: Next) -> Response {
    let service = expected_service(&req);
    let (parts, body) = req.into_parts();
    let body = match read_body(body, MAX_BODY).await {
        Ok(Some(b)) => b,
        Ok(None) => {
            return ApiError(LambdaError::RequestTooLarge(format!(
                "Request must be smaller than {MAX_BODY} bytes"
            )))
            .into_response()
        }
        Err(e) => return e.into_response(),
    };
    let identity = match check(&state, &parts, &body, service) {
        Ok(id) => id,
        Err(e) => return e.into_response(),
    };
    let mut req = Request::from_parts(parts, Body::from(body));
    req.extensions_mut().insert(identity);
    next.run(req).await
}
