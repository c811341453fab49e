//! Invocation spans to an OpenTelemetry collector, over OTLP/HTTP: see
//! [`OtlpExporter`].

use std::error::Error as StdError;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{
    span::SpanKind, status::StatusCode, ResourceSpans, ScopeSpans, Span, SpanFlags, Status,
};
use prost::Message;
use tokio::sync::{mpsc, oneshot};

use crate::trace::{InvocationSpan, SpanSink};

/// Spans waiting to be sent; past this, `record` drops them.
pub(crate) const QUEUE: usize = 16_384;
/// Most spans in one export request.
pub(crate) const BATCH: usize = 512;
/// A partial batch is sent after at most this long.
pub(crate) const FLUSH_INTERVAL: Duration = Duration::from_secs(1);
/// How long dropping the exporter waits for queued spans to be sent.
pub(crate) const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(2);
/// One export request's limit (the OTLP exporters' default).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// At most one warning this often.
const WARN_EVERY: Duration = Duration::from_secs(30);

/// Why an exporter could not be made.
#[derive(Debug, thiserror::Error)]
pub enum OtlpError {
    #[error("invalid OTLP endpoint {endpoint:?}: {reason}")]
    InvalidEndpoint { endpoint: String, reason: String },
    #[error("could not start the OTLP exporter: {0}")]
    Start(String),
}

/// Invocation spans to an OpenTelemetry collector, over OTLP/HTTP.
///
/// Sends invocation spans to an OTLP/HTTP collector.
///
/// A [`SpanSink`]: `record` hands the span to a bounded
/// queue and returns (a full queue drops the span and counts it, so a slow
/// or absent collector never slows an invocation). One background thread,
/// with a small runtime of its own, takes spans off the queue in batches of
/// up to 512 or whatever arrived within a second, and POSTs each batch as a
/// protobuf `ExportTraceServiceRequest` to `{endpoint}/v1/traces`.
/// A batch the collector refuses or never answers is dropped, not retried;
/// failures are logged at most once every 30 seconds. Dropping the exporter
/// sends what is queued, giving up after about two seconds.
///
/// Each invocation is one `SERVER` span named after the function, with the
/// trace, span and parent ids of its [`InvocationSpan`], and the attributes
/// of the OpenTelemetry FaaS semantic conventions:
///
/// | attribute | value |
/// | --- | --- |
/// | `faas.name` | the function's name |
/// | `faas.version` | the version that ran (`$LATEST`, `1`, …) |
/// | `faas.invocation_id` | the request id |
/// | `faas.trigger` | `http` for a function URL, `pubsub` for an asynchronous (`Event`) invocation, which runs when the platform's event queue delivers it, `other` for the Invoke API |
/// | `faas.coldstart` | whether the invocation started a new environment |
/// | `updraft.invocation_type` | the trigger as the invoker names it: `invoke`, `event` or `url` |
/// | `error.type` | the function error's type, when it failed |
///
/// A failed invocation's span has status `ERROR` with the error type as its
/// message; a successful one leaves the status unset, as the conventions ask
/// of server spans. The resource carries `service.name` (as configured) and
/// `cloud.provider` = `updraft`. Spans whose trace context is not sampled
/// (the caller sent a `traceparent` with the sampled flag clear) are not
/// exported, as a parent-based sampler would not record them.
pub struct OtlpExporter {
    url: String,
    tx: Option<mpsc::Sender<InvocationSpan>>,
    /// Dropped (or sent) to tell the worker when shutdown began.
    shutdown: Option<oneshot::Sender<Instant>>,
    /// Closed when the worker has finished.
    done: Option<std::sync::Mutex<std::sync::mpsc::Receiver<()>>>,
    thread: Option<JoinHandle<()>>,
    dropped: Arc<AtomicU64>,
}

impl OtlpExporter {
    /// An exporter sending to `{endpoint}/v1/traces` (`endpoint` is the
    /// collector's base URL, e.g. `http://127.0.0.1:4318`; a URL already
    /// ending in `/v1/traces` is used as it is). Only `http` is supported.
    pub fn new(endpoint: &str, service_name: &str) -> Result<Self, OtlpError> {
        let url = traces_url(endpoint)?;
        let client = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(|e| OtlpError::Start(error_chain(&e)))?;
        let worker = Worker {
            client,
            url: url.clone(),
            resource: Resource {
                attributes: vec![
                    string_attr("service.name", service_name),
                    string_attr("cloud.provider", "updraft"),
                ],
                ..Default::default()
            },
            scope: InstrumentationScope {
                name: env!("CARGO_PKG_NAME").into(),
                version: env!("CARGO_PKG_VERSION").into(),
                ..Default::default()
            },
            dropped: Arc::new(AtomicU64::new(0)),
            reported_dropped: 0,
            warnings: Throttle::default(),
        };
        let dropped = worker.dropped.clone();

        let (tx, rx) = mpsc::channel(QUEUE);
        let (shutdown_tx, shutdown_rx) = oneshot::channel();
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("updraft-otlp".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => {
                        let _ = started_tx.send(Ok(()));
                        rt
                    }
                    Err(e) => {
                        let _ = started_tx.send(Err(e.to_string()));
                        return;
                    }
                };
                rt.block_on(worker.run(rx, shutdown_rx));
                // Name resolution may still hold a blocking thread: don't wait on it.
                rt.shutdown_timeout(Duration::from_millis(100));
                drop(done_tx);
            })
            .map_err(|e| OtlpError::Start(e.to_string()))?;
        match started_rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(OtlpError::Start(e)),
            Err(_) => return Err(OtlpError::Start("exporter thread exited".into())),
        }
        Ok(OtlpExporter {
            url: url.to_string(),
            tx: Some(tx),
            shutdown: Some(shutdown_tx),
            done: Some(std::sync::Mutex::new(done_rx)),
            thread: Some(thread),
            dropped,
        })
    }

    /// The URL spans are posted to.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Spans that were recorded but not delivered: the queue was full, the
    /// collector failed or rejected them, or shutdown ran out of time.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

impl SpanSink for OtlpExporter {
    fn record(&self, span: InvocationSpan) {
        if !span.context.sampled {
            return;
        }
        if let Some(tx) = &self.tx {
            if tx.try_send(span).is_err() {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

impl Drop for OtlpExporter {
    /// Sends what is queued, waiting at most about two seconds.
    fn drop(&mut self) {
        let started = Instant::now();
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(started);
        }
        self.tx.take();
        let finished = match self.done.take() {
            Some(done) => !matches!(
                done.into_inner()
                    .unwrap_or_else(|e| e.into_inner())
                    .recv_timeout(SHUTDOWN_TIMEOUT + Duration::from_millis(500)),
                Err(std::sync::mpsc::RecvTimeoutError::Timeout)
            ),
            None => true,
        };
        if let Some(thread) = self.thread.take() {
            if finished {
                let _ = thread.join();
            }
            // Otherwise the thread is left to end on its own.
        }
    }
}

fn traces_url(endpoint: &str) -> Result<reqwest::Url, OtlpError> {
    let invalid = |reason: String| OtlpError::InvalidEndpoint {
        endpoint: endpoint.to_string(),
        reason,
    };
    let mut url = reqwest::Url::parse(endpoint.trim()).map_err(|e| invalid(e.to_string()))?;
    if url.scheme() != "http" {
        return Err(invalid(format!(
            "scheme {:?} is not supported (only http)",
            url.scheme()
        )));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("no host".into()));
    }
    let path = url.path().trim_end_matches('/');
    let path = if path.ends_with("/v1/traces") {
        path.to_string()
    } else {
        format!("{path}/v1/traces")
    };
    url.set_path(&path);
    Ok(url)
}

struct Worker {
    client: reqwest::Client,
    url: reqwest::Url,
    resource: Resource,
    scope: InstrumentationScope,
    dropped: Arc<AtomicU64>,
    /// `dropped` when it was last mentioned in a warning.
    reported_dropped: u64,
    warnings: Throttle,
}

/// Resolves [`SHUTDOWN_TIMEOUT`] after shutdown began; `expired` once it has.
struct Deadline<F> {
    future: Pin<Box<F>>,
    expired: bool,
}

impl Worker {
    async fn run(
        mut self,
        mut rx: mpsc::Receiver<InvocationSpan>,
        shutdown: oneshot::Receiver<Instant>,
    ) {
        let mut deadline = Deadline {
            future: Box::pin(async move {
                let at = match shutdown.await {
                    Ok(at) => tokio::time::Instant::from_std(at),
                    Err(_) => tokio::time::Instant::now(),
                };
                tokio::time::sleep_until(at + SHUTDOWN_TIMEOUT).await;
            }),
            expired: false,
        };
        let mut batch = Vec::with_capacity(BATCH);
        let mut tick = tokio::time::interval(FLUSH_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tokio::select! {
                span = rx.recv() => match span {
                    Some(span) => {
                        batch.push(span);
                        if batch.len() >= BATCH {
                            self.export(&mut batch, &mut deadline).await;
                        }
                    }
                    // Closed, and everything queued has been received.
                    None => break,
                },
                _ = tick.tick() => {
                    self.export(&mut batch, &mut deadline).await;
                    self.warn_about_drops();
                }
            }
        }
        self.export(&mut batch, &mut deadline).await;
    }

    async fn export<F: Future<Output = ()>>(
        &mut self,
        batch: &mut Vec<InvocationSpan>,
        deadline: &mut Deadline<F>,
    ) {
        if batch.is_empty() {
            return;
        }
        let count = batch.len() as u64;
        if deadline.expired {
            batch.clear();
            self.dropped.fetch_add(count, Ordering::Relaxed);
            return;
        }
        let body = self.request(batch.drain(..)).encode_to_vec();
        let result = tokio::select! {
            result = self.post(body) => result,
            () = deadline.future.as_mut() => {
                deadline.expired = true;
                Err(format!("gave up after {SHUTDOWN_TIMEOUT:?} at shutdown"))
            }
        };
        match result {
            Ok(0) => {}
            Ok(rejected) => {
                self.dropped.fetch_add(rejected, Ordering::Relaxed);
            }
            Err(error) => {
                self.dropped.fetch_add(count, Ordering::Relaxed);
                if let Some(suppressed) = self.warnings.allow() {
                    tracing::warn!(
                        url = %self.url,
                        %error,
                        spans = count,
                        suppressed_warnings = suppressed,
                        "could not export invocation spans"
                    );
                    self.reported_dropped = self.dropped.load(Ordering::Relaxed);
                }
            }
        }
    }

    /// Mentions spans dropped since the last warning (a full queue, or a
    /// collector rejecting some), within the warning budget.
    fn warn_about_drops(&mut self) {
        let dropped = self.dropped.load(Ordering::Relaxed);
        if dropped > self.reported_dropped {
            if let Some(suppressed) = self.warnings.allow() {
                tracing::warn!(
                    url = %self.url,
                    dropped = dropped - self.reported_dropped,
                    suppressed_warnings = suppressed,
                    "invocation spans dropped: the collector is not keeping up"
                );
                self.reported_dropped = dropped;
            }
        }
    }

    fn request(&self, spans: impl Iterator<Item = InvocationSpan>) -> ExportTraceServiceRequest {
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(self.resource.clone()),
                scope_spans: vec![ScopeSpans {
                    scope: Some(self.scope.clone()),
                    spans: spans.map(to_proto).collect(),
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    /// Posts one request; `Ok(n)` when it was accepted with `n` spans rejected.
    async fn post(&self, body: Vec<u8>) -> Result<u64, String> {
        let response = self
            .client
            .post(self.url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/x-protobuf")
            .body(body)
            .send()
            .await
            .map_err(|e| error_chain(&e))?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| error_chain(&e))?;
        if !status.is_success() {
            return Err(format!("the collector answered {status}"));
        }
        let partial = ExportTraceServiceResponse::decode(body)
            .ok()
            .and_then(|r| r.partial_success);
        match partial {
            // Counted as dropped; the next tick's warning mentions them.
            Some(p) if p.rejected_spans > 0 => Ok(u64::try_from(p.rejected_spans).unwrap_or(0)),
            _ => Ok(0),
        }
    }
}

/// The OTLP span for one invocation.
fn to_proto(span: InvocationSpan) -> Span {
    let mut attributes = vec![
        string_attr("faas.name", &span.function),
        string_attr("faas.version", &span.version),
        string_attr("faas.invocation_id", &span.request_id),
        string_attr("faas.trigger", faas_trigger(span.trigger)),
        bool_attr("faas.coldstart", span.cold_start),
        string_attr("updraft.invocation_type", span.trigger),
    ];
    let status = span.error_type.map(|error_type| {
        attributes.push(string_attr("error.type", &error_type));
        Status {
            code: StatusCode::Error as i32,
            message: error_type,
        }
    });
    let mut flags = u32::from(span.context.sampled) | SpanFlags::ContextHasIsRemoteMask as u32;
    if span.parent_span_id.is_some() {
        // The parent came from the caller's `traceparent`.
        flags |= SpanFlags::ContextIsRemoteMask as u32;
    }
    Span {
        trace_id: span.context.trace_id.to_vec(),
        span_id: span.context.span_id.to_vec(),
        parent_span_id: span.parent_span_id.map(|p| p.to_vec()).unwrap_or_default(),
        flags,
        name: span.function,
        kind: SpanKind::Server as i32,
        start_time_unix_nano: unix_nanos(span.start),
        end_time_unix_nano: unix_nanos(span.end),
        attributes,
        status,
        ..Default::default()
    }
}

/// `faas.trigger` for the invoker's trigger names.
fn faas_trigger(trigger: &str) -> &'static str {
    match trigger {
        updraft_store::usage::trigger::URL => "http",
        updraft_store::usage::trigger::EVENT => "pubsub",
        _ => "other",
    }
}

fn unix_nanos(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

fn string_attr(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.into())),
        }),
        ..Default::default()
    }
}

fn bool_attr(key: &str, value: bool) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::BoolValue(value)),
        }),
        ..Default::default()
    }
}

/// An error and its causes, `: `-separated (reqwest's own message alone
/// rarely says what went wrong).
fn error_chain(e: &dyn StdError) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        s.push_str(": ");
        s.push_str(&cause.to_string());
        source = cause.source();
    }
    s
}

/// Lets one warning through per [`WARN_EVERY`], counting the rest.
#[derive(Default)]
struct Throttle {
    last: Option<Instant>,
    suppressed: u64,
}

impl Throttle {
    /// `Some(warnings suppressed since the last one)` if a warning may be
    /// logged now.
    fn allow(&mut self) -> Option<u64> {
        match self.last {
            Some(at) if at.elapsed() < WARN_EVERY => {
                self.suppressed += 1;
                None
            }
            _ => {
                self.last = Some(Instant::now());
                Some(std::mem::take(&mut self.suppressed))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_urls() {
        let url = |e: &str| traces_url(e).map(|u| u.to_string());
        assert_eq!(
            url("http://127.0.0.1:4318").unwrap(),
            "http://127.0.0.1:4318/v1/traces"
        );
        assert_eq!(
            url("http://collector:4318/").unwrap(),
            "http://collector:4318/v1/traces"
        );
        assert_eq!(
            url("http://collector:4318/otlp/v1/traces/").unwrap(),
            "http://collector:4318/otlp/v1/traces"
        );
        assert_eq!(
            url(" http://collector:4318/otlp ").unwrap(),
            "http://collector:4318/otlp/v1/traces"
        );
        assert!(url("https://collector:4318").is_err());
        assert!(url("collector:4318").is_err());
        assert!(url("http://").is_err());
        assert!(url("").is_err());
    }

    #[test]
    fn triggers_follow_the_faas_conventions() {
        assert_eq!(faas_trigger("url"), "http");
        assert_eq!(faas_trigger("event"), "pubsub");
        assert_eq!(faas_trigger("invoke"), "other");
        assert_eq!(faas_trigger("something-new"), "other");
    }

    #[test]
    fn warnings_are_throttled() {
        let mut t = Throttle::default();
        assert_eq!(t.allow(), Some(0));
        assert_eq!(t.allow(), None);
        assert_eq!(t.allow(), None);
        t.last = Some(Instant::now() - WARN_EVERY);
        assert_eq!(t.allow(), Some(2));
    }
}
