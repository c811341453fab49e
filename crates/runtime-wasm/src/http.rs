//! `wasi:http/incoming-handler` components.
//!
//! ```text
//!   HttpTemplate (one per code: ProxyPre, linked once)
//!     └─ start() ──> HttpEnvironment (one Store + one instance, reused)
//!                      └─ invoke(): request ──> handle() ──> response head ──> respond
//!                                                         └─ body streams until done
//! ```
//!
//! The instance is created once per environment, so state the guest keeps
//! outside the handler survives warm invocations, as in Lambda. An
//! environment whose guest trapped, timed out or ran out of memory is
//! discarded.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use http_body_util::{BodyExt, Full};
use tokio::sync::oneshot;
use tracing::Instrument;
use updraft_pool::{
    Body, BoxError, EnvConfig, Environment, FunctionError, Input, Invocation, LogSink, Outcome,
    Protocol, Template,
};
use wasmtime::Store;
use wasmtime_wasi_http::p2::bindings::http::types::{ErrorCode, Scheme};
use wasmtime_wasi_http::p2::bindings::{Proxy, ProxyPre};
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasmtime_wasi_http::WasiHttpView;

use crate::engine::EngineHandle;
use crate::fault::{self, INIT_ERROR, RESPONSE_ERROR};
use crate::output::{GuestOutput, LogSlot};
use crate::sandbox::{new_store, wasi_builder, ComponentState, Endpoint};
use crate::tmp::{PrivateTmp, TmpDirs};

/// How long instantiation (the init phase) may take.
pub(crate) const INIT_TIMEOUT: Duration = Duration::from_secs(10);

/// Largest response body collected for an event invocation (Lambda's
/// synchronous payload limit).
pub(crate) const MAX_EVENT_RESPONSE: usize = 6 * 1024 * 1024;

pub(crate) struct HttpTemplate {
    pub engine: Arc<EngineHandle>,
    pub tmp: Arc<TmpDirs>,
    pub pre: ProxyPre<ComponentState>,
    /// Where the guest's outgoing requests may go.
    pub endpoint: Option<Arc<Endpoint>>,
}

#[async_trait]
impl Template for HttpTemplate {
    fn protocol(&self) -> Protocol {
        Protocol::Http
    }

    async fn start(
        &self,
        config: &EnvConfig,
        log: &LogSink,
    ) -> Result<Box<dyn Environment>, FunctionError> {
        let tmp = self.tmp.take()?;
        let slot = LogSlot::default();
        slot.set(Some(log.clone()));
        let wasi = wasi_builder(
            config,
            self.endpoint.as_deref(),
            tmp.path(),
            None,
            GuestOutput::Log(slot.clone()),
            GuestOutput::Log(slot.clone()),
        )
        .map_err(|e| FunctionError::new(INIT_ERROR, e))?
        .build();
        let quota = tmp.quota(config.ephemeral_storage_mb);
        let mut store = new_store(
            &self.engine.engine,
            ComponentState::new(wasi, config.memory_mb, self.endpoint.clone(), quota),
        );
        store.data_mut().limits.deadline = Some(Instant::now() + INIT_TIMEOUT);
        let instantiated =
            tokio::time::timeout(INIT_TIMEOUT, self.pre.instantiate_async(&mut store)).await;
        store.data_mut().limits.deadline = None;
        slot.set(None);
        let proxy = match instantiated {
            Ok(Ok(proxy)) => proxy,
            Ok(Err(err)) => {
                let limits = &store.data().limits;
                return Err(init_error(&err, limits.refused(), config.memory_mb));
            }
            Err(_) => {
                return Err(FunctionError::new(
                    fault::TIMED_OUT,
                    format!(
                        "Init timed out after {:.2} seconds",
                        INIT_TIMEOUT.as_secs_f64()
                    ),
                ))
            }
        };
        Ok(Box::new(HttpEnvironment {
            store,
            proxy,
            log: slot,
            memory_mb: config.memory_mb,
            broken: false,
            _tmp: tmp,
        }))
    }
}

/// The function error for a failed instantiation.
pub(crate) fn init_error(err: &wasmtime::Error, refused: bool, memory_mb: u32) -> FunctionError {
    if refused {
        return FunctionError::new(
            fault::OUT_OF_MEMORY,
            format!(
                "Error: Runtime exited with error: function exceeded its memory limit of {memory_mb} MB"
            ),
        );
    }
    let what = match err.downcast_ref::<wasmtime::Trap>() {
        Some(trap) => format!("wasm trap: {trap}"),
        None => err.to_string(),
    };
    FunctionError::new(
        INIT_ERROR,
        format!("Error: Runtime exited with error: {what}"),
    )
}

struct HttpEnvironment {
    store: Store<ComponentState>,
    proxy: Proxy,
    log: LogSlot,
    memory_mb: u32,
    /// Set once the instance may be in an inconsistent state.
    broken: bool,
    /// Declared last: handed back after the store that preopened it is
    /// gone.
    _tmp: PrivateTmp,
}

/// Why an invocation did not succeed.
enum Fault {
    /// The timeout elapsed while the guest was blocked outside wasm.
    Timeout,
    /// The guest trapped or a host call failed: the instance is unusable.
    Guest(wasmtime::Error),
    /// The guest answered with an error; the instance is fine.
    Function(FunctionError),
}

#[async_trait]
impl Environment for HttpEnvironment {
    fn protocol(&self) -> Protocol {
        Protocol::Http
    }

    async fn invoke(&mut self, inv: Invocation) -> Outcome {
        let Invocation {
            request_id,
            input,
            timeout,
            log,
            traceparent,
        } = inv;
        if self.broken {
            return Outcome {
                result: Err(FunctionError::new(
                    fault::TRAP,
                    format!("RequestId: {request_id} Error: the environment failed before and cannot serve"),
                )),
                discard: true,
                max_memory_bytes: self.store.data().limits.peak_bytes(),
            };
        }
        let span = tracing::debug_span!("wasm_invoke", request_id = %request_id);
        self.log.set(Some(log));
        self.store.data_mut().limits.deadline = Some(Instant::now() + timeout);
        self.store.set_epoch_deadline(1);
        let served = match input {
            Input::Http {
                mut request,
                respond,
            } => {
                if let Some(tp) = traceparent.as_deref().and_then(|t| t.parse().ok()) {
                    request.headers_mut().insert("traceparent", tp);
                }
                self.serve(request, respond, &request_id, timeout)
                    .instrument(span)
                    .await
                    .map(|()| None)
            }
            Input::Event(payload) => self
                .serve_event(payload, traceparent.as_deref(), &request_id, timeout)
                .instrument(span)
                .await
                .map(Some),
        };
        self.log.set(None);

        let limits = &self.store.data().limits;
        let (result, discard) = match served {
            Ok(result) => (Ok(result), false),
            Err(Fault::Function(err)) => (Err(err), false),
            Err(Fault::Timeout) => (Err(fault::timed_out(timeout)), true),
            Err(Fault::Guest(err)) => {
                let error =
                    fault::from_guest_error(&err, limits, &request_id, self.memory_mb, timeout);
                tracing::debug!(request_id = %request_id, error = %err, "guest failed");
                (Err(error), true)
            }
        };
        let max_memory_bytes = limits.peak_bytes();
        self.store.data_mut().limits.deadline = None;
        self.broken = discard;
        Outcome {
            result,
            discard,
            max_memory_bytes,
        }
    }
}

impl HttpEnvironment {
    /// Runs one request through the guest's handler; returns once the
    /// handler returned and the response body was consumed (or dropped).
    async fn serve(
        &mut self,
        request: http::Request<Body>,
        respond: oneshot::Sender<http::Response<Body>>,
        request_id: &str,
        timeout: Duration,
    ) -> Result<(), Fault> {
        let respond = Arc::new(Mutex::new(Some(respond)));
        let answered_error = Arc::new(Mutex::new(None::<ErrorCode>));
        let (body_done, body_done_rx) = oneshot::channel::<()>();
        let on_response = {
            let respond = respond.clone();
            let answered_error = answered_error.clone();
            move |response: Result<http::Response<HyperOutgoingBody>, ErrorCode>| match response {
                Ok(response) => {
                    let response = response.map(|body| {
                        WatchedBody {
                            inner: body,
                            done: Some(body_done),
                        }
                        .boxed_unsync()
                    });
                    if let Some(respond) = lock(&respond).take() {
                        // The caller may have gone away; the body is dropped then.
                        let _ = respond.send(response);
                    }
                }
                Err(code) => *lock(&answered_error) = Some(code),
            }
        };

        let request = into_guest_request(request);
        let store = &mut self.store;
        let proxy = &self.proxy;
        let run = async {
            let mut http = store.data_mut().http();
            let (req, out) = match (
                http.new_incoming_request(Scheme::Http, request),
                http.new_response_outparam_from_callback(on_response),
            ) {
                (Ok(req), Ok(out)) => (req, out),
                (Err(e), _) | (_, Err(e)) => {
                    return Err(Fault::Function(FunctionError::new(
                        RESPONSE_ERROR,
                        format!("RequestId: {request_id} Error: cannot pass the request to the function: {e}"),
                    )))
                }
            };
            proxy
                .wasi_http_incoming_handler()
                .call_handle(&mut *store, req, out)
                .await
                .map_err(Fault::Guest)?;
            if let Some(code) = lock(&answered_error).take() {
                return Err(Fault::Function(FunctionError::new(
                    RESPONSE_ERROR,
                    format!("RequestId: {request_id} Error: the function answered with an error: {code:?}"),
                )));
            }
            if lock(&respond).is_some() {
                return Err(Fault::Function(FunctionError::new(
                    RESPONSE_ERROR,
                    format!("RequestId: {request_id} Error: the function returned without sending a response"),
                )));
            }
            // The head went out; wait until the body was read to its end.
            let _ = body_done_rx.await;
            Ok(())
        };
        let result = match tokio::time::timeout(timeout, run).await {
            Ok(result) => result,
            Err(_) => Err(Fault::Timeout),
        };
        // Nobody answers any more: let a waiting caller know.
        lock(&respond).take();
        result
    }

    /// An event on an HTTP function: `POST /` with the payload as a JSON
    /// body; the response body is the result, a 5xx status a function error.
    async fn serve_event(
        &mut self,
        payload: Bytes,
        traceparent: Option<&str>,
        request_id: &str,
        timeout: Duration,
    ) -> Result<Bytes, Fault> {
        let body = Full::new(payload)
            .map_err(|never| match never {})
            .boxed_unsync();
        let mut request = http::Request::new(body);
        *request.method_mut() = http::Method::POST;
        *request.uri_mut() = http::Uri::from_static("/");
        let headers = request.headers_mut();
        headers.insert(
            http::header::HOST,
            http::HeaderValue::from_static("localhost"),
        );
        headers.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/json"),
        );
        if let Some(tp) = traceparent.and_then(|t| t.parse().ok()) {
            headers.insert("traceparent", tp);
        }

        let (respond, response) = oneshot::channel::<http::Response<Body>>();
        let collect = async move {
            let response = response.await.ok()?;
            let status = response.status();
            let body = collect_limited(response.into_body(), MAX_EVENT_RESPONSE).await;
            Some((status, body))
        };
        let serve = self.serve(request, respond, request_id, timeout);
        tokio::pin!(serve, collect);
        let mut collected = None;
        let served = loop {
            tokio::select! {
                served = &mut serve => break served,
                c = &mut collect, if collected.is_none() => collected = Some(c),
            }
        };
        served?;
        let collected = match collected {
            Some(c) => c,
            None => collect.await,
        };
        match collected {
            None => Err(Fault::Function(FunctionError::new(
                RESPONSE_ERROR,
                format!("RequestId: {request_id} Error: the function returned without sending a response"),
            ))),
            Some((_, Err(e))) => Err(Fault::Function(FunctionError::new(
                RESPONSE_ERROR,
                format!("RequestId: {request_id} Error: reading the function's response failed: {e}"),
            ))),
            Some((status, Ok(_))) if status.is_server_error() => {
                Err(Fault::Function(FunctionError::new(
                    RESPONSE_ERROR,
                    format!("function returned HTTP status {}", status.as_u16()),
                )))
            }
            Some((_, Ok(body))) => Ok(body),
        }
    }
}

/// Reads a body to its end, refusing more than `limit` bytes.
async fn collect_limited(mut body: Body, limit: usize) -> Result<Bytes, String> {
    let mut out = bytes::BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| e.to_string())?;
        if let Ok(data) = frame.into_data() {
            if out.len() + data.len() > limit {
                return Err(format!(
                    "the response exceeded the maximum of {limit} bytes"
                ));
            }
            out.extend_from_slice(&data);
        }
    }
    Ok(out.freeze())
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Our request, in the shape `wasmtime-wasi-http` takes: body errors become
/// its error type, and a request without an authority gets `Host: localhost`.
fn into_guest_request(
    mut request: http::Request<Body>,
) -> http::Request<impl HttpBody<Data = Bytes, Error = wasmtime_wasi_http::Error> + Send + 'static>
{
    if request.uri().authority().is_none() && !request.headers().contains_key(http::header::HOST) {
        request.headers_mut().insert(
            http::header::HOST,
            http::HeaderValue::from_static("localhost"),
        );
    }
    request.map(|body| {
        body.map_err(|e: BoxError| wasmtime_wasi_http::Error::InternalError(Some(e.to_string())))
    })
}

/// The guest's response body, which tells the environment when it has been
/// read to its end or dropped.
struct WatchedBody {
    inner: HyperOutgoingBody,
    /// Dropped at the end of the body (or with the body).
    done: Option<oneshot::Sender<()>>,
}

impl HttpBody for WatchedBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match polled {
            Poll::Ready(None) => {
                self.done.take();
                Poll::Ready(None)
            }
            Poll::Ready(Some(Err(e))) => {
                self.done.take();
                Poll::Ready(Some(Err(Box::new(e))))
            }
            Poll::Ready(Some(Ok(frame))) => Poll::Ready(Some(Ok(frame))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
