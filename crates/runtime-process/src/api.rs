//! The Lambda Runtime API of one environment, served over a Unix socket
//! (bridged to `127.0.0.1:9001` inside the sandbox's network namespace).
//!
//! | request                                             | answer |
//! |-----------------------------------------------------|--------|
//! | `GET /2018-06-01/runtime/invocation/next`           | long poll; 200 with the event and the `Lambda-Runtime-*` headers |
//! | `POST /2018-06-01/runtime/invocation/{id}/response` | 202 `{"status":"OK"}`; 400 unknown id; 413 over the size limit; streaming mode accepted |
//! | `POST /2018-06-01/runtime/invocation/{id}/error`    | 202; error type from the body, else the header, else `Unhandled` |
//! | `POST /2018-06-01/runtime/init/error`               | 202 during init, else 403 |
//!
//! Header names are case-insensitive (hyper), `Content-Type` is never
//! required. Error bodies are Lambda's `{"errorMessage","errorType"}`.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use bytes::{Bytes, BytesMut};
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use tokio::net::UnixListener;
use tokio::sync::{oneshot, watch};
use updraft_pool::FunctionError;

use crate::fault;

/// Lambda's synchronous response limit (6 MB).
pub(crate) const MAX_RESPONSE: usize = 6 * 1024 * 1024;
/// Lambda's limit for a streamed response (20 MB).
pub(crate) const MAX_STREAMED_RESPONSE: usize = 20 * 1024 * 1024;
/// Bound on an error document.
const MAX_ERROR_BODY: usize = 1024 * 1024;

const PREFIX: &str = "/2018-06-01/runtime/";

/// Connections one environment may hold open to its Runtime API.
pub const MAX_CONNECTIONS: usize = 32;

/// One event handed to the runtime by `/invocation/next`.
#[derive(Debug, Clone)]
pub(crate) struct NextEvent {
    pub request_id: String,
    pub deadline_ms: i64,
    pub function_arn: String,
    pub trace_id: String,
    pub client_context: Option<String>,
    pub cognito_identity: Option<String>,
    pub payload: Bytes,
}

/// How an invocation ended, as the runtime reported it.
pub(crate) type Reply = Result<Bytes, FunctionError>;

#[derive(Default)]
struct State {
    /// The runtime called `/next` at least once: init is over.
    ready: bool,
    /// A `/next` long poll waiting for an event.
    waiting: Option<oneshot::Sender<NextEvent>>,
    /// The invocation in progress (until its reply).
    current: Option<(String, oneshot::Sender<Reply>)>,
    /// The last request id answered (a second answer gets 403, not 400).
    answered: Option<String>,
    init_error: Option<FunctionError>,
}

/// The shared state of one environment's Runtime API.
#[derive(Clone)]
pub(crate) struct RuntimeApi {
    state: Arc<Mutex<State>>,
    changed: Arc<watch::Sender<u64>>,
}

impl RuntimeApi {
    pub fn new() -> RuntimeApi {
        RuntimeApi {
            state: Arc::default(),
            changed: Arc::new(watch::channel(0).0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn bump(&self) {
        self.changed.send_modify(|n| *n += 1);
    }

    /// Serves connections until the task is aborted. At most
    /// [`MAX_CONNECTIONS`] at once: the socket is reachable from inside the
    /// sandbox, and a function opening connections without end must not
    /// cost the platform memory without end.
    pub async fn serve(self, listener: UnixListener) {
        let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let Ok(slot) = slots.clone().try_acquire_owned() else {
                drop(stream);
                continue;
            };
            let api = self.clone();
            tokio::spawn(async move {
                let _slot = slot;
                let service = hyper::service::service_fn(move |req| {
                    let api = api.clone();
                    async move { Ok::<_, Infallible>(api.handle(req).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .keep_alive(true)
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    }

    /// Waits until init is over: `Ok` once the runtime asks for its first
    /// event, `Err` with the runtime's init error.
    pub async fn wait_ready(&self) -> Result<(), FunctionError> {
        let mut rx = self.changed.subscribe();
        loop {
            {
                let state = self.lock();
                if let Some(err) = &state.init_error {
                    return Err(err.clone());
                }
                if state.ready {
                    return Ok(());
                }
            }
            if rx.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }

    /// Hands `event` to the runtime's `/next` (waiting for one if needed)
    /// and returns where its reply will arrive.
    pub async fn deliver(&self, event: NextEvent) -> oneshot::Receiver<Reply> {
        let mut rx = self.changed.subscribe();
        loop {
            {
                let mut state = self.lock();
                if let Some(waiting) = state.waiting.take() {
                    if !waiting.is_closed() {
                        let (tx, reply) = oneshot::channel();
                        state.current = Some((event.request_id.clone(), tx));
                        match waiting.send(event.clone()) {
                            Ok(()) => return reply,
                            // The long poll went away in between.
                            Err(_) => state.current = None,
                        }
                    }
                }
            }
            if rx.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }

    /// Waits until the runtime asks for its next event (a long poll is
    /// waiting).
    pub async fn wait_polling(&self) {
        let mut rx = self.changed.subscribe();
        loop {
            if self.lock().waiting.as_ref().is_some_and(|w| !w.is_closed()) {
                return;
            }
            if rx.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }

    /// The init error the runtime reported, if any.
    pub fn init_error(&self) -> Option<FunctionError> {
        self.lock().init_error.clone()
    }

    /// Forgets the invocation in progress (it ended without a reply).
    pub fn abandon(&self) {
        let mut state = self.lock();
        if let Some((id, _)) = state.current.take() {
            state.answered = Some(id);
        }
    }

    async fn handle(&self, req: Request<Incoming>) -> Response<Full<Bytes>> {
        let path = req.uri().path().to_string();
        let Some(rest) = path.strip_prefix(PREFIX) else {
            return not_found(&path);
        };
        let parts: Vec<&str> = rest.split('/').collect();
        match (req.method(), parts.as_slice()) {
            (&Method::GET, ["invocation", "next"]) => self.next().await,
            (&Method::POST, ["invocation", id, "response"]) => {
                let id = id.to_string();
                self.response(&id, req).await
            }
            (&Method::POST, ["invocation", id, "error"]) => {
                let id = id.to_string();
                self.error(&id, req).await
            }
            (&Method::POST, ["init", "error"]) => self.post_init_error(req).await,
            (_, ["invocation", "next"])
            | (_, ["invocation", _, "response" | "error"])
            | (_, ["init", "error"]) => json(
                StatusCode::METHOD_NOT_ALLOWED,
                error_doc("Method not allowed", "MethodNotAllowed"),
            ),
            _ => not_found(&path),
        }
    }

    async fn next(&self) -> Response<Full<Bytes>> {
        let (tx, rx) = oneshot::channel();
        {
            let mut state = self.lock();
            state.ready = true;
            state.waiting = Some(tx);
        }
        self.bump();
        let Ok(ev) = rx.await else {
            return json(
                StatusCode::INTERNAL_SERVER_ERROR,
                error_doc("The environment is shutting down", "ShuttingDown"),
            );
        };
        let mut resp = Response::new(Full::new(ev.payload));
        let h = resp.headers_mut();
        let mut put = |name: &'static str, value: &str| {
            if let Ok(v) = HeaderValue::from_str(value) {
                h.insert(name, v);
            }
        };
        put("content-type", "application/json");
        put("lambda-runtime-aws-request-id", &ev.request_id);
        put("lambda-runtime-deadline-ms", &ev.deadline_ms.to_string());
        put("lambda-runtime-invoked-function-arn", &ev.function_arn);
        put("lambda-runtime-trace-id", &ev.trace_id);
        if let Some(cc) = &ev.client_context {
            put("lambda-runtime-client-context", cc);
        }
        if let Some(ci) = &ev.cognito_identity {
            put("lambda-runtime-cognito-identity", ci);
        }
        resp
    }

    /// The reply channel of `id`, or the answer for a wrong id.
    fn take_current(&self, id: &str) -> Result<oneshot::Sender<Reply>, Box<Response<Full<Bytes>>>> {
        let mut state = self.lock();
        match state.current.take() {
            Some((current, tx)) if current == id => {
                state.answered = Some(current);
                Ok(tx)
            }
            other => {
                state.current = other;
                if state.answered.as_deref() == Some(id) {
                    Err(Box::new(json(
                        StatusCode::FORBIDDEN,
                        error_doc(
                            &format!(
                                "Invalid state transition: invocation {id} was already answered"
                            ),
                            "InvalidStateTransition",
                        ),
                    )))
                } else {
                    Err(Box::new(json(
                        StatusCode::BAD_REQUEST,
                        error_doc("Invalid request ID", "InvalidRequestID"),
                    )))
                }
            }
        }
    }

    async fn response(&self, id: &str, req: Request<Incoming>) -> Response<Full<Bytes>> {
        let tx = match self.take_current(id) {
            Ok(tx) => tx,
            Err(resp) => return *resp,
        };
        let streaming = header(req.headers(), "lambda-runtime-function-response-mode")
            .is_some_and(|m| m.eq_ignore_ascii_case("streaming"));
        let limit = if streaming {
            MAX_STREAMED_RESPONSE
        } else {
            MAX_RESPONSE
        };
        let too_large = || {
            FunctionError::new(
                fault::RESPONSE_TOO_LARGE,
                format!(
                    "Response payload size exceeded maximum allowed payload size ({limit} bytes)."
                ),
            )
        };
        let declared = header(req.headers(), "content-length").and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > limit as u64) {
            let _ = tx.send(Err(too_large()));
            self.bump();
            return too_large_response(limit);
        }
        let reply = match read_body(req.into_body(), limit).await {
            Ok((body, trailers)) => match trailers.as_ref().and_then(stream_error) {
                Some(err) => Err(err),
                None => Ok(body),
            },
            Err(BodyError::TooLarge) => {
                let _ = tx.send(Err(too_large()));
                self.bump();
                return too_large_response(limit);
            }
            Err(BodyError::Broken(e)) => Err(FunctionError::new(
                fault::UNHANDLED,
                format!("the runtime's response body broke off: {e}"),
            )),
        };
        let _ = tx.send(reply);
        self.bump();
        accepted()
    }

    async fn error(&self, id: &str, req: Request<Incoming>) -> Response<Full<Bytes>> {
        let tx = match self.take_current(id) {
            Ok(tx) => tx,
            Err(resp) => return *resp,
        };
        let header_type = header(req.headers(), "lambda-runtime-function-error-type");
        let body = read_body(req.into_body(), MAX_ERROR_BODY)
            .await
            .map(|(b, _)| b)
            .unwrap_or_default();
        let _ = tx.send(Err(parse_error(header_type.as_deref(), &body)));
        self.bump();
        accepted()
    }

    async fn post_init_error(&self, req: Request<Incoming>) -> Response<Full<Bytes>> {
        if self.lock().ready {
            return json(
                StatusCode::FORBIDDEN,
                error_doc(
                    "Invalid state transition: init is over",
                    "InvalidStateTransition",
                ),
            );
        }
        let header_type = header(req.headers(), "lambda-runtime-function-error-type");
        let body = read_body(req.into_body(), MAX_ERROR_BODY)
            .await
            .map(|(b, _)| b)
            .unwrap_or_default();
        let err = parse_error(header_type.as_deref(), &body);
        self.lock().init_error = Some(err);
        self.bump();
        accepted()
    }
}

/// The X-Ray trace header (`Lambda-Runtime-Trace-Id`, `_X_AMZN_TRACE_ID`)
/// naming the same trace and span as a W3C `traceparent`
/// (`00-<trace id>-<parent id>-<flags>`): X-Ray's root is the trace id
/// split after 8 hex digits.
pub fn trace_header_from_traceparent(traceparent: &str) -> Option<String> {
    let mut parts = traceparent.trim().split('-');
    let (version, trace, parent, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
    if !hex(version, 2) || !hex(trace, 32) || !hex(parent, 16) || !hex(flags, 2) {
        return None;
    }
    let sampled = u8::from_str_radix(flags, 16).ok()? & 1;
    Some(format!(
        "Root=1-{}-{};Parent={parent};Sampled={sampled}",
        &trace[..8],
        &trace[8..]
    ))
}

/// Reads a header as text.
fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.trim().to_string())
}

/// The function error from an error document (`{"errorMessage",
/// "errorType",...}`, as awslambdaric and lambda_runtime send it) and the
/// optional `Lambda-Runtime-Function-Error-Type` header.
pub(crate) fn parse_error(header_type: Option<&str>, body: &[u8]) -> FunctionError {
    let doc: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let field = |name: &str| {
        doc.as_ref()
            .and_then(|d| d.get(name))
            .and_then(|v| v.as_str())
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let error_type = field("errorType")
        .or_else(|| header_type.filter(|h| !h.is_empty()).map(str::to_string))
        .unwrap_or_else(|| fault::UNHANDLED.to_string());
    let error_message = field("errorMessage").unwrap_or_else(|| {
        if doc.is_some() {
            String::new()
        } else {
            String::from_utf8_lossy(body).into_owned()
        }
    });
    // Lambda's Node.js runtimes report the stack as `trace` lines.
    let trace = doc
        .as_ref()
        .and_then(|d| d.get("trace"))
        .and_then(|t| t.as_array())
        .map(|lines| {
            lines
                .iter()
                .filter_map(|l| l.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    FunctionError::new(error_type, error_message).with_trace(trace)
}

/// The error a streamed response reports in its trailers.
fn stream_error(trailers: &HeaderMap) -> Option<FunctionError> {
    let error_type = header(trailers, "lambda-runtime-function-error-type")?;
    let body = header(trailers, "lambda-runtime-function-error-body")
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .unwrap_or_default();
    Some(parse_error(Some(&error_type), &body))
}

enum BodyError {
    TooLarge,
    Broken(String),
}

/// The body (and trailers) of a request, refusing more than `limit` bytes.
async fn read_body(
    mut body: Incoming,
    limit: usize,
) -> Result<(Bytes, Option<HeaderMap>), BodyError> {
    let mut data = BytesMut::new();
    let mut trailers = None;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| BodyError::Broken(e.to_string()))?;
        match frame.into_data() {
            Ok(chunk) => {
                if data.len() + chunk.len() > limit {
                    return Err(BodyError::TooLarge);
                }
                data.extend_from_slice(&chunk);
            }
            Err(frame) => {
                if let Ok(t) = frame.into_trailers() {
                    trailers = Some(t);
                }
            }
        }
    }
    Ok((data.freeze(), trailers))
}

fn error_doc(message: &str, error_type: &str) -> serde_json::Value {
    serde_json::json!({ "errorMessage": message, "errorType": error_type })
}

fn json(status: StatusCode, doc: serde_json::Value) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(doc.to_string())));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

fn accepted() -> Response<Full<Bytes>> {
    json(StatusCode::ACCEPTED, serde_json::json!({ "status": "OK" }))
}

fn too_large_response(limit: usize) -> Response<Full<Bytes>> {
    json(
        StatusCode::PAYLOAD_TOO_LARGE,
        error_doc(
            &format!("Exceeded maximum allowed payload size ({limit} bytes)."),
            "RequestEntityTooLarge",
        ),
    )
}

fn not_found(path: &str) -> Response<Full<Bytes>> {
    json(
        StatusCode::NOT_FOUND,
        error_doc(&format!("No such Runtime API path: {path}"), "NotFound"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceparent_becomes_an_xray_header() {
        assert_eq!(
            trace_header_from_traceparent(
                "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01"
            )
            .as_deref(),
            Some("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1")
        );
        assert_eq!(trace_header_from_traceparent("garbage"), None);
    }

    #[test]
    fn error_type_from_body_then_header_then_unhandled() {
        let e = parse_error(
            Some("unhandled"),
            br#"{"errorMessage":"boom","errorType":"ValueError","stackTrace":[]}"#,
        );
        assert_eq!(e, FunctionError::new("ValueError", "boom"));
        let e = parse_error(Some("Runtime.ImportModuleError"), b"not json");
        assert_eq!(e.error_type, "Runtime.ImportModuleError");
        assert_eq!(e.error_message, "not json");
        let e = parse_error(None, b"");
        assert_eq!(e.error_type, "Unhandled");
        let e = parse_error(
            None,
            br#"{"errorType":"TypeError","errorMessage":"x","trace":["TypeError: x","    at f (/var/task/a.js:1:1)"]}"#,
        );
        assert_eq!(e.trace, ["TypeError: x", "    at f (/var/task/a.js:1:1)"]);
    }
}
