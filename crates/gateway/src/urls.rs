//! Function URLs: `/fn/{name}[:{alias}]/{path...}` for the node's account's
//! functions, `/fn/{account}.{name}[:{alias}]/{path...}` for another's.
//!
//! The function sees the request as a client sent it, with the path under
//! the prefix. `NONE` URLs stream the body straight through; `AWS_IAM`
//! URLs buffer it to check the SigV4 signature first.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use http_body_util::BodyExt;
use updraft_api::LambdaError;
use updraft_invoker::{InvokeError, UrlCall};
use updraft_pool::BoxError;
use updraft_types::{FunctionName, UrlAuthType};

use crate::operation::Operation;
use crate::signed::{check, read_body};
use crate::ApiError;
use crate::Shared;

/// The largest request a function URL takes when it must be buffered.
const MAX_URL_REQUEST: usize = 6 * 1024 * 1024;
/// How long a buffered function URL request's body may take to arrive.
const MAX_URL_BODY_TIME: std::time::Duration = std::time::Duration::from_secs(30);

fn message(status: StatusCode, msg: &str) -> Response {
    (
        status,
        [(http::header::CONTENT_TYPE, "application/json")],
        serde_json::json!({ "Message": msg }).to_string(),
    )
        .into_response()
}

pub async fn function_url(State(state): Shared, req: Request) -> Response {
    let (mut parts, body) = req.into_parts();
    // `/fn/{target}/{rest}`: split by hand so the rest stays percent-encoded.
    let raw = parts.uri.path().strip_prefix("/fn/").unwrap_or("");
    let (target, rest) = match raw.find('/') {
        Some(i) => (&raw[..i], &raw[i..]),
        None => (raw, "/"),
    };
    let target = percent_encoding::percent_decode_str(target)
        .decode_utf8_lossy()
        .into_owned();
    // `ACCOUNT.NAME`: a function of an account other than the node's (a
    // function name never holds a dot).
    let (tenant, target) = match target.split_once('.') {
        Some((account, rest)) => match state.tenant(account) {
            Some(t) => (t.clone(), rest.to_string()),
            None => return message(StatusCode::NOT_FOUND, "Not Found"),
        },
        None => (state.home().clone(), target),
    };
    let (name, alias) = match target.split_once(':') {
        Some((n, a)) => (n.to_string(), Some(a.to_string())),
        None => (target.clone(), None),
    };
    let Ok(name) = FunctionName::new(name) else {
        return message(StatusCode::NOT_FOUND, "Not Found");
    };
    let Some((auth_type, resolved)) = tenant.registry.url_target(&name, alias.as_deref()) else {
        return message(StatusCode::NOT_FOUND, "Not Found");
    };

    // CORS, when the URL has a `Cors` block and a browser sent an origin:
    // a preflight is answered here (before any authentication, as
    // browsers do not sign it), other answers get the headers.
    let origin = parts
        .headers
        .get(http::header::ORIGIN)
        .and_then(|o| o.to_str().ok())
        .map(str::to_string);
    let cors = origin.as_ref().and_then(|_| {
        let block = tenant.registry.url_cors(&name, alias.as_deref())?;
        crate::cors::Cors::from_config(&block)
    });
    if let (Some(cors), Some(origin)) = (&cors, &origin) {
        let preflight = parts.method == http::Method::OPTIONS
            && parts
                .headers
                .contains_key(http::header::ACCESS_CONTROL_REQUEST_METHOD);
        if preflight {
            return cors.preflight(origin);
        }
    }

    let source_ip = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_else(|| "127.0.0.1".into());
    let domain = parts
        .headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost")
        .to_string();

    let (body, authorized_key) = match auth_type {
        UrlAuthType::None => (
            body.map_err(|e| Box::new(e) as BoxError).boxed_unsync(),
            None,
        ),
        UrlAuthType::AwsIam => {
            let bytes = match read_body(body, MAX_URL_REQUEST, MAX_URL_BODY_TIME).await {
                Ok(Some(b)) => b,
                Ok(None) => {
                    return message(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large")
                }
                Err(ApiError(LambdaError::RequestTimeout(_))) => {
                    return message(StatusCode::REQUEST_TIMEOUT, "Request Timeout")
                }
                Err(e) => return e.into_response(),
            };
            let (identity, caller) = match check(&state, &parts, &bytes, "lambda") {
                Ok(verified) => verified,
                Err(_) => return message(StatusCode::FORBIDDEN, "Forbidden"),
            };
            let function_arn = match &alias {
                Some(a) => tenant.account.qualified_arn(&name, a),
                None => tenant.account.function_arn(&name),
            };
            let op = Operation::new("lambda:InvokeFunctionUrl", function_arn);
            let access_key_id = identity.access_key_id.clone();
            parts.extensions.insert(identity);
            if crate::authorize::authorize(&state, &caller, &op, &parts, "lambda").is_err() {
                return message(StatusCode::FORBIDDEN, "Forbidden");
            }
            (
                http_body_util::Full::new(bytes)
                    .map_err(|never| match never {})
                    .boxed_unsync(),
                Some(access_key_id),
            )
        }
    };

    let query = parts
        .uri
        .query()
        .map(|q| format!("?{q}"))
        .unwrap_or_default();
    parts.uri = match format!("{rest}{query}").parse() {
        Ok(u) => u,
        Err(_) => return message(StatusCode::BAD_REQUEST, "Bad Request"),
    };
    let request = http::Request::from_parts(parts, body);
    let call = UrlCall {
        request,
        source_ip,
        domain,
        authorized_key,
    };
    match tenant.invoker.invoke_url(resolved, call).await {
        Ok(resp) => {
            let mut resp = resp.map(Body::new);
            if let (Some(cors), Some(origin)) = (&cors, &origin) {
                cors.decorate(origin, resp.headers_mut());
            }
            resp
        }
        Err(InvokeError::Throttled(_)) => message(StatusCode::TOO_MANY_REQUESTS, "Rate Exceeded."),
        Err(InvokeError::Registry(e)) => {
            tracing::error!(error = %e, function = %name, "function URL request failed");
            message(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
        }
    }
}
