//! Identity on every API request: authenticate, then authorize.
//!
//! ```text
//! request ─> Content-Length over the route's limit? ─> 413
//!         ─> the signature's form, scope, date and key (head only) ─> 403
//!         ─> read body (≤ the route's limit, within its deadline) ─> SigV4 with the key's secret from IAM ─> Caller
//!        ─> iam / sts?  ─> the iam crate answers (it authorizes each call itself)
//!        ─> operation::classify ─> action + resource ARN
//!        ─> Iam::authorize(caller, action, resource, context, resource policy)
//!        ─> handler (with the Caller and the VerifiedIdentity as extensions)
//! ```
//!
//! The body is read because the signature covers its hash, then handed on
//! to the handler as bytes. The expected service is the one the
//! `X-Amz-Target` prefix names (`logs`, `sqs`, `events`, `dynamodb`), `scheduler` for
//! Scheduler's paths; a form-encoded POST is IAM's or STS's query protocol
//! when its credential scope says so, and SQS's otherwise; everything else
//! is `lambda`.

use std::time::SystemTime;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt, Limited};
use updraft_api::LambdaError;
use updraft_auth::{AuthError, SignedRequest, VerifiedIdentity};
use updraft_iam::{Caller, KeyError};

use crate::operation::Classified;
use crate::{ApiError, Shared};

/// The largest request body any API takes (CreateFunction carries a 50 MB
/// zip, base64-encoded).
pub const MAX_BODY: usize = 70 * 1024 * 1024;

/// The largest body of a request that is neither a code upload nor an
/// invocation: queue messages and events are at most 256 KB, which their
/// encodings (form percent-encoding, JSON escaping) can grow a few times.
pub const MAX_CONTROL_BODY: usize = 2 * 1024 * 1024;

/// Bodies up to this size are read before the head is checked: checking
/// first only pays off when reading the body costs more than the check.
const HEAD_CHECK_ABOVE: u64 = 64 * 1024;

/// What [`verify`] goes by for a request, from its service and route.
struct Route {
    /// The largest body it may carry: code uploads 70 MB (a 50 MB zip in
    /// base64), invocations 6 MB (Lambda's synchronous payload limit),
    /// everything else [`MAX_CONTROL_BODY`].
    limit: usize,
    /// The operation a 413 names.
    operation: Option<&'static str>,
    /// How long its body may take to arrive: code uploads 5 minutes,
    /// anything else a minute.
    deadline: std::time::Duration,
    /// Control-plane work that blocks (the Lambda API but invocations, the
    /// Scheduler and CloudWatch Logs APIs, whose handlers compile code and
    /// write or read SQLite synchronously), run on the blocking pool.
    /// Invocations, queues and events stay on the async workers: their
    /// durable writes go through the queues' committer thread.
    blocking: bool,
}

fn route(service: &str, req: &Request) -> Route {
    const MINUTE: std::time::Duration = std::time::Duration::from_secs(60);
    let control = |blocking| Route {
        limit: MAX_CONTROL_BODY,
        operation: None,
        deadline: MINUTE,
        blocking,
    };
    if service == "dynamodb" {
        // Blocking: the tables write SQLite synchronously.
        return Route {
            limit: crate::tables::MAX_BODY,
            ..control(true)
        };
    }
    if service != "lambda" {
        return control(matches!(service, "scheduler" | "logs"));
    }
    let path = req.uri().path();
    let method = req.method();
    let upload = |operation| Route {
        limit: MAX_BODY,
        operation: Some(operation),
        deadline: 5 * MINUTE,
        blocking: true,
    };
    if path.ends_with("/invocations") || path.contains("/invoke-async") {
        Route {
            limit: crate::invoke::MAX_SYNC_PAYLOAD,
            operation: Some("InvokeFunction"),
            deadline: MINUTE,
            blocking: false,
        }
    } else if method == http::Method::POST && path.trim_end_matches('/') == "/2015-03-31/functions"
    {
        upload("CreateFunction")
    } else if method == http::Method::PUT && path.ends_with("/code") {
        upload("UpdateFunctionCode")
    } else {
        control(true)
    }
}

/// 413 with Lambda's `RequestTooLargeException`.
fn too_large(limit: usize, operation: Option<&str>) -> Response {
    let operation = operation
        .map(|o| format!(" for the {o} operation"))
        .unwrap_or_default();
    ApiError(LambdaError::RequestTooLarge(format!(
        "Request must be smaller than {limit} bytes{operation}"
    )))
    .into_response()
}

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
        Some(t) if t.starts_with(crate::tables::TARGET_PREFIX) => "dynamodb",
        Some(t) if t.starts_with(crate::streams::TARGET_PREFIX) => "dynamodb",
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
                match scope_service(req.headers()) {
                    Some("iam") => "iam",
                    Some("sts") => "sts",
                    // The SQS query protocol (aws CLI v2 before SQS spoke JSON).
                    _ => "sqs",
                }
            } else {
                "lambda"
            }
        }
    }
}

/// The service named in the `Authorization` header's credential scope
/// (`Credential=KEY/DATE/REGION/SERVICE/aws4_request`).
pub(crate) fn scope_service(headers: &http::HeaderMap) -> Option<&str> {
    let auth = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let credential = auth.split("Credential=").nth(1)?;
    let scope = credential.split([',', ' ']).next()?;
    scope.rsplit('/').nth(1)
}

/// Reads a body up to `limit` bytes within `deadline`; `None` when it is
/// larger, 408 `RequestTimeoutException` when it is slower.
pub async fn read_body(
    body: Body,
    limit: usize,
    deadline: std::time::Duration,
) -> Result<Option<bytes::Bytes>, ApiError> {
    let read = tokio::time::timeout(deadline, Limited::new(body, limit).collect()).await;
    match read {
        Err(_) => Err(ApiError(LambdaError::RequestTimeout(format!(
            "The request body did not arrive within {} s.",
            deadline.as_secs()
        )))),
        Ok(Ok(c)) => Ok(Some(c.to_bytes())),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => Ok(None),
        Ok(Err(e)) => Err(ApiError(LambdaError::InvalidRequestContent(format!(
            "could not read the request body: {e}"
        )))),
    }
}

/// What can be authenticated of a request before its body is read (see
/// [`updraft_auth::check_request_head`]).
fn check_head(
    state: &crate::AppState,
    parts: &http::request::Parts,
    service: &str,
) -> Result<(), ApiError> {
    let now = SystemTime::now();
    updraft_auth::check_request_head(
        &SignedRequest::from_parts(parts, &[]),
        service,
        now,
        |key, token| lookup(state, key, token, now),
    )
    .map(drop)
    .map_err(|e| {
        tracing::debug!(error = %e, path = parts.uri.path(), "request head not authenticated");
        ApiError(e.into())
    })
}

/// The secret and principal of access key `key` (with its session token).
pub(crate) fn lookup(
    state: &crate::AppState,
    key: &str,
    token: Option<&str>,
    now: SystemTime,
) -> Result<(String, Caller), AuthError> {
    let grant = state.iam.lookup_key(key, token, now).map_err(|e| match e {
        KeyError::Expired => AuthError::ExpiredToken,
        _ => AuthError::UnrecognizedClient,
    })?;
    Ok((grant.secret, grant.caller))
}

/// Authenticates a buffered request: its signature, made with a key the
/// identity directory knows, for `service`.
pub fn check(
    state: &crate::AppState,
    parts: &http::request::Parts,
    body: &[u8],
    service: &str,
) -> Result<(VerifiedIdentity, Caller), ApiError> {
    let now = SystemTime::now();
    updraft_auth::verify_with(
        &SignedRequest::from_parts(parts, body),
        service,
        now,
        |key, token| lookup(state, key, token, now),
    )
    .map_err(|e| {
        tracing::debug!(error = %e, path = parts.uri.path(), "request not authenticated");
        ApiError(e.into())
    })
}

pub async fn verify(State(state): Shared, req: Request, next: Next) -> Response {
    let service = expected_service(&req);
    let route = route(service, &req);
    // Before a byte of the body is read: a declared length over the limit,
    // or a head that can never be accepted (no or a malformed signature, an
    // unknown key, a stale date), costs the client no more than its head.
    let size = axum::body::HttpBody::size_hint(req.body());
    if size.lower() > route.limit as u64 {
        return too_large(route.limit, route.operation);
    }
    let (parts, body) = req.into_parts();
    if size.exact().is_none_or(|n| n > HEAD_CHECK_ABOVE) {
        if let Err(e) = check_head(&state, &parts, service) {
            return crate::authorize::auth_failure(service, &parts, e);
        }
    }
    let body = match read_body(body, route.limit, route.deadline).await {
        Ok(Some(b)) => b,
        Ok(None) => return too_large(route.limit, route.operation),
        Err(e) => return e.into_response(),
    };
    let (identity, caller) = match check(&state, &parts, &body, service) {
        Ok(id) => id,
        Err(e) => return crate::authorize::auth_failure(service, &parts, e),
    };
    if service == "iam" || service == "sts" {
        // The directory writes durably before it answers: off the workers.
        let answer = tokio::task::spawn_blocking(move || {
            crate::iam_api::handle(&state, service, &parts, &body, &caller, &identity)
        })
        .await;
        return answer.unwrap_or_else(|e| {
            tracing::error!(error = %e, "an IAM request failed");
            http::StatusCode::INTERNAL_SERVER_ERROR.into_response()
        });
    }
    // The node serves one region: a resource named without an ARN is the
    // caller's account's, in the node's region, whatever region the
    // client signed for.
    let classified = crate::operation::classify(
        &parts,
        &body,
        service,
        &state.account.region,
        caller.account(),
        &|account| state.tenants.contains_key(account),
    );
    let mut parts = parts;
    parts.extensions.insert(identity);
    let owner = match &classified {
        Classified::Operation(op) => {
            if let Err(denied) = crate::authorize::authorize(&state, &caller, op, &parts, service) {
                return *denied;
            }
            op.resources()
                .filter_map(updraft_types::Arn::parse)
                .find_map(|arn| state.tenant(arn.account))
        }
        _ => None,
    };
    // The account the request acts in: its resource's, else the caller's.
    match owner.or_else(|| state.tenant(caller.account())) {
        Some(tenant) => {
            parts.extensions.insert(crate::Owner(tenant.clone()));
        }
        None => {
            let message = format!(
                "The account {} holds no resources on this node.",
                caller.account()
            );
            return crate::authorize::access_denied(service, &parts, message);
        }
    }
    let blocking = route.blocking;
    let mut req = Request::from_parts(parts, Body::from(body));
    req.extensions_mut().insert(caller);
    if !blocking {
        return next.run(req).await;
    }
    // Compiling code and durable writes to the stores take milliseconds to
    // seconds of blocking work: on a thread of the blocking pool, not an
    // async worker. The call also runs to its end if the client hangs up.
    let runtime = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || runtime.block_on(next.run(req)))
        .await
        .unwrap_or_else(|e| {
            tracing::error!(error = %e, service, "a control-plane request failed");
            http::StatusCode::INTERNAL_SERVER_ERROR.into_response()
        })
}
