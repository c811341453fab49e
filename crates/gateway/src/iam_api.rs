//! IAM and STS on the shared endpoint: the query protocol (a form body
//! with `Action=...&Version=...`, XML replies), answered by the identity
//! directory, which authorizes each operation itself.

use std::net::SocketAddr;
use std::time::SystemTime;

use axum::extract::ConnectInfo;
use axum::response::{IntoResponse, Response};
use http::request::Parts;
use http::StatusCode;
use updraft_auth::VerifiedIdentity;
use updraft_iam::{Api, Caller, RequestMeta};

use crate::AppState;

const IAM_XMLNS: &str = "https://iam.amazonaws.com/doc/2010-05-08/";
const STS_XMLNS: &str = "https://sts.amazonaws.com/doc/2011-06-15/";

/// Answers one IAM (`service` = `iam`) or STS (`sts`) request.
pub(crate) fn handle(
    state: &AppState,
    service: &str,
    parts: &Parts,
    body: &[u8],
    caller: &Caller,
    identity: &VerifiedIdentity,
) -> Response {
    let mut params = crate::form::pairs(body);
    // The query string may carry parameters too (GET requests, presigned
    // GetCallerIdentity).
    if let Some(q) = parts.uri.query() {
        params.extend(
            crate::form::pairs(q.as_bytes())
                .into_iter()
                .filter(|(k, _)| !k.starts_with("X-Amz-")),
        );
    }
    let api = if service == "sts" { Api::Sts } else { Api::Iam };
    let meta = RequestMeta {
        source_ip: parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip()),
        secure_transport: parts
            .extensions
            .get::<crate::authorize::SecureTransport>()
            .is_some_and(|s| s.0),
        region: identity.region.clone(),
        request_id: uuid::Uuid::new_v4().to_string(),
        now: SystemTime::now(),
    };
    let answer = state.iam.handle(api, caller, &params, &meta);
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        status,
        [
            (http::header::CONTENT_TYPE, "text/xml".to_string()),
            (
                http::HeaderName::from_static("x-amzn-requestid"),
                meta.request_id,
            ),
        ],
        answer.body,
    )
        .into_response()
}

/// A query-protocol error (`<ErrorResponse>`), for failures before the
/// directory sees the request (authentication).
pub(crate) fn xml_error(service: &str, status: StatusCode, code: &str, message: &str) -> Response {
    let ns = if service == "sts" {
        STS_XMLNS
    } else {
        IAM_XMLNS
    };
    let request_id = uuid::Uuid::new_v4().to_string();
    let body = format!(
        "<ErrorResponse xmlns=\"{ns}\"><Error><Type>Sender</Type><Code>{code}</Code>\
         <Message>{}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>",
        escape(message)
    );
    (
        status,
        [
            (http::header::CONTENT_TYPE, "text/xml".to_string()),
            (
                http::HeaderName::from_static("x-amzn-requestid"),
                request_id,
            ),
        ],
        body,
    )
        .into_response()
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}
