//! The invoke path.
//!
//! ```text
//! trigger (Invoke API, function URL, event source)
//!   -> Invoker::invoke / invoke_url / invoke_queued
//!   -> throttle (account and reserved concurrency, `updraft_pool::Limits`)
//!   -> Registry::template (loaded once per code)
//!   -> Pools::acquire (warm environment, or a cold start within the
//!      memory budget and scale-up limit)
//!   -> Environment::invoke (with a `traceparent` for the function)
//!   -> logs framed START/END/REPORT -> LogWriter; usage record -> Metering;
//!      metrics; span -> SpanSink
//! ```
//! Every trigger goes through `Invoker::run_with_id`; a new trigger only
//! builds an `Input` and a [`Call`].

mod provisioned;
pub mod url_event;

pub use provisioned::ProvisionedStatus;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::BodyExt;
use tokio::sync::oneshot;
use tokio_util::task::TaskTracker;
use tracing::Instrument;
use updraft_metering::{micros, outcome as usage_outcome, trigger, Metering, UsageRecordRef};
use updraft_pool::{
    Body, EnvConfig, FunctionError, Input, Invocation, LogSink, Permit, PoolKey, Pools, Protocol,
    StartError, Template, Throttle,
};
use updraft_registry::{Registry, RegistryError, Resolved};
use updraft_store::LogRecord;
use updraft_telemetry::{
    report, InvocationSpan, LogWriter, Metrics, Outcome as MetricOutcome, SpanSink, TraceContext,
};
use updraft_types::{new_request_id, Account};

/// The most log output kept per invocation.
const LOG_LIMIT: usize = 256 * 1024;
/// What `X-Amz-Log-Type: Tail` returns: the last 4 KB.
const TAIL_BYTES: usize = 4096;

/// Why an invocation did not run. Function errors are not here: they are
/// results ([`InvokeResult::function_error`]).
#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    /// Over a concurrency limit; Lambda's reason says which.
    #[error("Rate Exceeded.")]
    Throttled(Throttle),
    #[error(transparent)]
    Registry(#[from] RegistryError),
}

/// The result of a synchronous invocation.
#[derive(Debug)]
pub struct InvokeResult {
    pub request_id: String,
    pub payload: Bytes,
    /// `Some("Unhandled")` when the function failed.
    pub function_error: Option<&'static str>,
    pub executed_version: String,
    /// Base64 of the last 4 KB of the invocation's log, when asked for.
    pub log_tail: Option<String>,
}

/// What one run produced.
struct Ran {
    request_id: String,
    result: Result<Option<Bytes>, FunctionError>,
    /// Base64 of the log's last 4 KB, when the call asked for it.
    log_tail: Option<String>,
}

/// Who is calling, for one invocation.
#[derive(Debug, Clone)]
pub struct Call {
    pub request_id: String,
    /// One of [`updraft_metering::trigger`].
    pub trigger: &'static str,
    /// The caller's trace context (`traceparent`), if it sent one.
    pub parent: Option<TraceContext>,
    /// Return the end of the log (`X-Amz-Log-Type: Tail`).
    pub tail: bool,
}

impl Call {
    pub fn new(trigger: &'static str, parent: Option<TraceContext>) -> Call {
        Call {
            request_id: new_request_id(),
            trigger,
            parent,
            tail: false,
        }
    }
}

/// A function URL request, as the gateway hands it over.
pub struct UrlCall {
    pub request: http::Request<Body>,
    pub source_ip: String,
    pub domain: String,
    /// The access key that signed the request (AWS_IAM URLs).
    pub authorized_key: Option<String>,
}

pub struct Invoker {
    registry: Arc<Registry>,
    pools: Pools,
    metrics: Arc<Metrics>,
    logs: LogWriter,
    tracker: TaskTracker,
    provisioning: provisioned::Provisioning,
    spans: Option<Arc<dyn SpanSink>>,
    metering: Option<Arc<Metering>>,
}

impl Invoker {
    pub fn new(
        registry: Arc<Registry>,
        pools: Pools,
        metrics: Arc<Metrics>,
        logs: LogWriter,
        spans: Option<Arc<dyn SpanSink>>,
        metering: Option<Arc<Metering>>,
    ) -> Arc<Self> {
        Arc::new(Invoker {
            registry,
            pools,
            metrics,
            logs,
            tracker: TaskTracker::new(),
            provisioning: Default::default(),
            spans,
            metering,
        })
    }

    pub fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    pub fn pools(&self) -> &Pools {
        &self.pools
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    fn account(&self) -> &Account {
        self.registry.account()
    }

    /// A synchronous invocation (`RequestResponse`).
    pub async fn invoke(
        self: &Arc<Self>,
        target: Resolved,
        payload: Bytes,
        tail: bool,
        parent: Option<TraceContext>,
    ) -> Result<InvokeResult, InvokeError> {
        let permit = self.try_permit(&target)?;
        let template = self.template(&target.config).await?;
        let call = Call {
            tail,
            ..Call::new(trigger::INVOKE, parent)
        };
        let ran = self
            .run_with_id(&target, &template, Input::Event(payload), permit, call)
            .await?;
        let log_tail = ran.log_tail;
        let (payload, function_error) = match ran.result {
            Ok(p) => (p.unwrap_or_default(), None),
            Err(e) => (e.to_payload(), Some("Unhandled")),
        };
        Ok(InvokeResult {
            request_id: ran.request_id,
            payload,
            function_error,
            executed_version: target.executed_version,
            log_tail,
        })
    }

    /// An invocation from an event source (async queue, queue poller):
    /// waits for concurrency rather than being throttled, and tries again
    /// while the node is out of room for a new environment. `call` names
    /// the trigger and carries the request id (stable across retries).
    pub async fn invoke_queued(
        self: &Arc<Self>,
        target: Resolved,
        payload: Bytes,
        call: Call,
    ) -> Result<InvokeResult, InvokeError> {
        let function = target.config.name.as_str();
        let mut backoff = Duration::from_millis(50);
        loop {
            let permit = self.registry.limits().acquire(function).await;
            let template = self.template(&target.config).await?;
            let ran = self
                .run_with_id(
                    &target,
                    &template,
                    Input::Event(payload.clone()),
                    permit,
                    call.clone(),
                )
                .await;
            match ran {
                // Out of memory budget or over the scale-up rate: wait.
                Err(InvokeError::Throttled(_)) => {
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(1));
                }
                Err(e) => return Err(e),
                Ok(ran) => {
                    let log_tail = ran.log_tail;
                    let (payload, function_error) = match ran.result {
                        Ok(p) => (p.unwrap_or_default(), None),
                        Err(e) => (e.to_payload(), Some("Unhandled")),
                    };
                    return Ok(InvokeResult {
                        request_id: ran.request_id,
                        payload,
                        function_error,
                        executed_version: target.executed_version.clone(),
                        log_tail,
                    });
                }
            }
        }
    }

    /// A function URL request.
    pub async fn invoke_url(
        self: &Arc<Self>,
        target: Resolved,
        call: UrlCall,
    ) -> Result<http::Response<Body>, InvokeError> {
        let template = self.template(&target.config).await?;
        let parent = call
            .request
            .headers()
            .get("traceparent")
            .and_then(|v| v.to_str().ok())
            .and_then(TraceContext::parse);
        let invocation = Call::new(trigger::URL, parent);
        match template.protocol() {
            Protocol::Http => {
                // Streamed to the function, but no more than a function
                // URL takes (a declared length over it is refused at once).
                if declared_over_limit(call.request.headers()) {
                    return Ok(payload_too_large());
                }
                // A declared length (checked above) is one the HTTP layer
                // holds the body to; only a body without one is counted.
                let mut request = call.request;
                if !request.headers().contains_key(http::header::CONTENT_LENGTH) {
                    request = request
                        .map(|b| http_body_util::Limited::new(b, URL_BODY_LIMIT).boxed_unsync());
                }
                let permit = self.try_permit(&target)?;
                let (tx, rx) = oneshot::channel();
                let this = self.clone();
                let t = target.clone();
                let input = Input::Http {
                    request,
                    respond: tx,
                };
                let done = self.tracker.spawn(async move {
                    this.run_with_id(&t, &template, input, permit, invocation)
                        .await
                });
                match rx.await {
                    Ok(resp) => Ok(resp),
                    // No response was sent: the function failed first.
                    Err(_) => {
                        let ran = done.await.map_err(|e| {
                            RegistryError::Internal(format!("invocation task failed: {e}"))
                        })??;
                        Ok(error_response(ran.result.err()))
                    }
                }
            }
            Protocol::Event => {
                // The whole body, bounded in size and time, before a
                // concurrency slot is taken: a slow or broken upload holds
                // no slot, and an aborted one invokes nothing.
                let (parts, body) = call.request.into_parts();
                let body = match read_url_body(&parts.headers, body).await {
                    Ok(body) => body,
                    Err(refusal) => return Ok(refusal),
                };
                let permit = self.try_permit(&target)?;
                let request_id = invocation.request_id.clone();
                let path_and_query = parts.uri.path_and_query();
                let event = url_event::request_event(&url_event::UrlRequest {
                    method: parts.method.as_str(),
                    path: parts.uri.path(),
                    query: path_and_query.and_then(|p| p.query()).unwrap_or(""),
                    headers: &parts.headers,
                    body: &body,
                    request_id: &request_id,
                    account_id: &self.account().account_id,
                    url_id: target.config.name.as_str(),
                    domain: &call.domain,
                    source_ip: &call.source_ip,
                    authorized_key: call.authorized_key.as_deref(),
                });
                let payload = Bytes::from(event.to_string());
                let ran = self
                    .run_with_id(
                        &target,
                        &template,
                        Input::Event(payload),
                        permit,
                        invocation,
                    )
                    .await?;
                match ran.result {
                    Ok(result) => {
                        let resp = url_event::response_from_result(&result.unwrap_or_default());
                        Ok(resp.map(full_body))
                    }
                    Err(e) => Ok(error_response(Some(e))),
                }
            }
        }
    }

    /// Waits for in-flight invocations (sync, URL and async) to finish, at
    /// most `bound`. Returns whether all finished.
    pub async fn drain(&self, bound: Duration) -> bool {
        self.tracker.close();
        tokio::time::timeout(bound, self.tracker.wait())
            .await
            .is_ok()
    }

    fn try_permit(&self, target: &Resolved) -> Result<Permit, InvokeError> {
        let function = target.config.name.as_str();
        self.registry
            .limits()
            .try_acquire(function)
            .map_err(|t| self.throttled(function, t))
    }

    /// Counts a throttle and says so.
    fn throttled(&self, function: &str, why: Throttle) -> InvokeError {
        self.metrics.invocation(
            &self.registry.scoped_name(function),
            MetricOutcome::Throttled,
            None,
        );
        InvokeError::Throttled(why)
    }

    /// The one path every invocation takes, in a span carrying its
    /// function and request id.
    async fn run_with_id(
        &self,
        target: &Resolved,
        template: &Arc<dyn Template>,
        input: Input,
        permit: Permit,
        call: Call,
    ) -> Result<Ran, InvokeError> {
        let span = tracing::debug_span!(
            "invoke",
            function = %target.config.name,
            request_id = %call.request_id
        );
        self.run_in_span(target, template, input, permit, call)
            .instrument(span)
            .await
    }

    async fn run_in_span(
        &self,
        target: &Resolved,
        template: &Arc<dyn Template>,
        input: Input,
        _permit: Permit,
        call: Call,
    ) -> Result<Ran, InvokeError> {
        let Call {
            request_id,
            trigger,
            parent,
            tail,
        } = call;
        // The invocation's own span: a child of the caller's, or a new trace.
        let trace = parent.map_or_else(TraceContext::new_root, |p| p.child());
        let started_at = SystemTime::now();
        let config = &target.config;
        let function = config.name.as_str();
        // Pools, metrics and spans are the node's, shared by every account.
        let scoped = self.registry.scoped_name(function);
        let key = PoolKey {
            function: scoped.to_string(),
            version: config.version.clone(),
            revision: config.revision_id.clone(),
        };
        let timeout = Duration::from_secs(config.timeout.into());
        let log = LogSink::new(LOG_LIMIT);
        let started_ms = chrono::Utc::now().timestamp_millis();
        let acquired = match self
            .pools
            .acquire(&key, template, || self.env_config(target), &log)
            .await
        {
            Ok(lease) => Ok(lease),
            Err(StartError::Init(e)) => Err(e),
            Err(StartError::NoMemory) => return Err(self.throttled(function, Throttle::NodeMemory)),
            Err(StartError::ScaleUpLimit) => {
                return Err(self.throttled(function, Throttle::ScaleUp))
            }
            // Lambda answers Invoke with InvalidParameterValueException; the
            // cause was logged by the pools.
            Err(e @ StartError::Credentials(_)) => {
                return Err(InvokeError::Registry(RegistryError::InvalidParameter(
                    e.to_string(),
                )))
            }
        };
        log.write(report::start_line(&request_id, &target.executed_version).as_bytes());
        let start = Instant::now();
        let (result, max_memory, init_duration) = match acquired {
            Ok(mut lease) => {
                let init = lease.init_duration;
                if let Some(d) = init {
                    self.metrics.cold_start(&scoped, d.as_secs_f64());
                }
                let outcome = lease
                    .env()
                    .invoke(Invocation {
                        request_id: request_id.clone(),
                        input,
                        timeout,
                        log: log.clone(),
                        traceparent: Some(trace.to_string()),
                    })
                    .await;
                lease.record_memory(outcome.max_memory_bytes);
                lease.release(outcome.discard);
                (outcome.result, outcome.max_memory_bytes, init)
            }
            Err(e) => (
                Err(FunctionError::new(
                    if e.error_type.is_empty() {
                        "Runtime.InitError".to_string()
                    } else {
                        e.error_type
                    },
                    e.error_message,
                )),
                0,
                None,
            ),
        };
        let duration = start.elapsed();
        let timed_out = matches!(&result, Err(e) if e.error_type == "Sandbox.Timedout");
        if let Err(e) = &result {
            log.write(
                format!(
                    "{} {} {}\n",
                    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ"),
                    request_id,
                    e.error_message
                )
                .as_bytes(),
            );
        }
        log.write(
            report::end_lines(&report::Report {
                request_id: &request_id,
                version: &target.executed_version,
                duration,
                memory_size_mb: config.memory_size,
                max_memory_used_bytes: max_memory,
                init_duration,
                status: timed_out.then_some("timeout"),
            })
            .as_bytes(),
        );
        let outcome = match &result {
            Ok(_) => MetricOutcome::Success,
            Err(_) if timed_out => MetricOutcome::Timeout,
            Err(_) => MetricOutcome::Error,
        };
        if let Some(metering) = &self.metering {
            metering.record(UsageRecordRef {
                function,
                version: &target.executed_version,
                request_id: &request_id,
                start_ms: started_ms,
                duration_us: micros(duration),
                billed_ms: report::billed_ms(duration),
                memory_mb: config.memory_size,
                init_duration_us: init_duration.map(micros),
                outcome: match outcome {
                    MetricOutcome::Success => usage_outcome::SUCCESS,
                    MetricOutcome::Timeout => usage_outcome::TIMEOUT,
                    _ => usage_outcome::ERROR,
                },
                trigger,
            });
        }
        self.metrics
            .invocation(&scoped, outcome, Some(duration.as_secs_f64()));
        let text = String::from_utf8(log.take())
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
        let log_tail = tail.then(|| {
            let bytes = text.as_bytes();
            let start = bytes.len().saturating_sub(TAIL_BYTES);
            base64::engine::general_purpose::STANDARD.encode(&bytes[start..])
        });
        self.logs.write(LogRecord {
            seq: 0,
            function: function.to_string(),
            stream: log_stream(started_ms, &target.executed_version, &config.revision_id),
            request_id: request_id.clone(),
            start_ms: started_ms,
            end_ms: chrono::Utc::now().timestamp_millis(),
            is_error: result.is_err(),
            text,
        });
        if let Some(spans) = &self.spans {
            spans.record(InvocationSpan {
                context: trace,
                parent_span_id: parent.map(|p| p.span_id),
                function: scoped.to_string(),
                version: target.executed_version.clone(),
                request_id: request_id.clone(),
                trigger,
                start: started_at,
                end: SystemTime::now(),
                cold_start: init_duration.is_some(),
                error_type: result.as_ref().err().map(|e| e.error_type.clone()),
            });
        }
        Ok(Ran {
            request_id,
            result,
            log_tail,
        })
    }

    /// A version's loaded template; loading one (reading and perhaps
    /// compiling code) runs on the blocking pool, not an async worker.
    async fn template(
        &self,
        config: &updraft_types::FunctionConfig,
    ) -> Result<Arc<dyn updraft_pool::Template>, RegistryError> {
        if let Some(t) = self.registry.loaded_template(config) {
            return Ok(t);
        }
        let (registry, config) = (self.registry.clone(), config.clone());
        tokio::task::spawn_blocking(move || registry.template(&config))
            .await
            .map_err(|e| RegistryError::Internal(format!("loading code failed: {e}")))?
    }

    fn env_config(&self, target: &Resolved) -> EnvConfig {
        let c = &target.config;
        let account = self.account();
        let mut env: BTreeMap<String, String> = c.environment.clone();
        env.insert("AWS_LAMBDA_FUNCTION_NAME".into(), c.name.to_string());
        env.insert("AWS_LAMBDA_FUNCTION_VERSION".into(), c.version.clone());
        env.insert(
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE".into(),
            c.memory_size.to_string(),
        );
        env.insert("AWS_REGION".into(), account.region.clone());
        env.insert("AWS_DEFAULT_REGION".into(), account.region.clone());
        env.insert(
            "AWS_LAMBDA_LOG_GROUP_NAME".into(),
            format!("/aws/lambda/{}", c.name),
        );
        env.insert("TZ".into(), ":UTC".into());
        EnvConfig {
            handler: c.handler.clone(),
            function_name: c.name.to_string(),
            version: c.version.clone(),
            function_arn: account.function_arn(&c.name),
            role: c.role.clone(),
            memory_mb: c.memory_size,
            ephemeral_storage_mb: c.ephemeral_storage,
            timeout: Duration::from_secs(c.timeout.into()),
            env,
        }
    }
}

/// Lambda's log stream name, `YYYY/MM/DD/[VERSION]ID`; the date part is
/// formatted once a day per thread, not per invocation.
fn log_stream(start_ms: i64, version: &str, id: &str) -> String {
    thread_local! {
        static DAY: std::cell::RefCell<(i64, String)> = const { std::cell::RefCell::new((-1, String::new())) };
    }
    let day = start_ms.div_euclid(86_400_000);
    DAY.with(|cell| {
        let mut cached = cell.borrow_mut();
        if cached.0 != day {
            let date = chrono::DateTime::from_timestamp_millis(start_ms).unwrap_or_default();
            *cached = (day, date.format("%Y/%m/%d").to_string());
        }
        format!("{}/[{version}]{id}", cached.1)
    })
}

/// The largest function URL request body a function gets (Lambda's 6 MB
/// synchronous payload): event-speaking functions get it whole, wasi-http
/// ones as a stream that fails beyond it.
pub const URL_BODY_LIMIT: usize = 6 * 1024 * 1024;

/// How long a function URL request body may take to arrive.
pub const URL_BODY_DEADLINE: Duration = Duration::from_secs(30);

/// Reads a function URL request's body for an event; `Err` is the answer
/// when it is too large (413), too slow (408) or broken off (400).
async fn read_url_body(
    headers: &http::HeaderMap,
    mut body: Body,
) -> Result<Bytes, http::Response<Body>> {
    enum Refusal {
        TooLarge,
        Broken,
    }
    // A declared length over the limit is refused before a byte is read.
    if declared_over_limit(headers) {
        return Err(payload_too_large());
    }
    let read = async {
        let mut buf = bytes::BytesMut::new();
        while let Some(frame) = body.frame().await {
            let Ok(frame) = frame else {
                return Err(Refusal::Broken);
            };
            if let Ok(data) = frame.into_data() {
                if buf.len() + data.len() > URL_BODY_LIMIT {
                    return Err(Refusal::TooLarge);
                }
                buf.extend_from_slice(&data);
            }
        }
        Ok(buf.freeze())
    };
    match tokio::time::timeout(URL_BODY_DEADLINE, read).await {
        Ok(Ok(body)) => Ok(body),
        Ok(Err(Refusal::TooLarge)) => Err(payload_too_large()),
        Ok(Err(Refusal::Broken)) => {
            tracing::debug!("a function URL request body broke off");
            Err(message_response(
                http::StatusCode::BAD_REQUEST,
                "Bad Request",
            ))
        }
        Err(_) => Err(message_response(
            http::StatusCode::REQUEST_TIMEOUT,
            "Request Timeout",
        )),
    }
}

/// Whether a request declares a body larger than a function URL takes.
fn declared_over_limit(headers: &http::HeaderMap) -> bool {
    headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
        .is_some_and(|n| n > URL_BODY_LIMIT as u64)
}

/// A function URL's answer to a body over [`URL_BODY_LIMIT`].
fn payload_too_large() -> http::Response<Body> {
    message_response(
        http::StatusCode::PAYLOAD_TOO_LARGE,
        "Request Entity Too Large",
    )
}

fn full_body(b: Bytes) -> Body {
    http_body_util::Full::new(b)
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// A function URL answer of `status` with Lambda's `{"Message": ...}` body.
fn message_response(status: http::StatusCode, msg: &str) -> http::Response<Body> {
    let body = serde_json::json!({ "Message": msg }).to_string();
    let mut resp = http::Response::new(full_body(Bytes::from(body)));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    resp
}

/// What a function URL answers when the function failed: Lambda answers
/// 502 with a short JSON message.
fn error_response(error: Option<FunctionError>) -> http::Response<Body> {
    let msg = match &error {
        Some(e) if e.error_type == "Sandbox.Timedout" => "Task timed out",
        _ => "Internal Server Error",
    };
    let mut resp = message_response(http::StatusCode::BAD_GATEWAY, msg);
    if let Some(e) = error {
        if let Ok(v) = http::HeaderValue::from_str(&e.error_type) {
            resp.headers_mut().insert("x-amz-function-error", v);
        }
    }
    resp
}

#[cfg(test)]
mod tests {
    #[test]
    fn log_streams_are_named_as_lambda_names_them() {
        // 2026-11-26T18:15:28Z
        let ms = 1_795_716_928_000;
        assert_eq!(
            super::log_stream(ms, "$LATEST", "abc"),
            "2026/11/26/[$LATEST]abc"
        );
        assert_eq!(
            super::log_stream(ms + 86_400_000, "3", "abc"),
            "2026/11/27/[3]abc"
        );
    }
}
