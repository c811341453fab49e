//! The contract between the platform and a runtime.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use updraft_types::CodeArchive;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Request and response bodies crossing the runtime boundary.
pub type Body = http_body_util::combinators::UnsyncBoxBody<Bytes, BoxError>;

/// What an environment natively speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// A JSON event in, a result out (WASI commands, the Lambda Runtime API).
    Event,
    /// An HTTP request in, an HTTP response out (`wasi:http/incoming-handler`).
    Http,
}

/// A function error as Lambda reports it: `{"errorMessage","errorType"}`,
/// plus the `trace` lines Lambda's Node.js runtimes add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionError {
    pub error_type: String,
    pub error_message: String,
    /// The stack trace the runtime reported (`trace` of a Node.js error
    /// document); empty when it reported none.
    pub trace: Vec<String>,
}

impl FunctionError {
    pub fn new(error_type: impl Into<String>, error_message: impl Into<String>) -> Self {
        FunctionError {
            error_type: error_type.into(),
            error_message: error_message.into(),
            trace: Vec::new(),
        }
    }

    /// The same error with the runtime's stack trace.
    pub fn with_trace(mut self, trace: Vec<String>) -> Self {
        self.trace = trace;
        self
    }

    /// The payload Lambda returns for an unhandled error (with `trace`
    /// when the runtime reported one).
    pub fn to_payload(&self) -> Bytes {
        let mut doc = serde_json::json!({
            "errorType": self.error_type,
            "errorMessage": self.error_message,
        });
        if !self.trace.is_empty() {
            doc["trace"] = serde_json::json!(self.trace);
        }
        Bytes::from(doc.to_string())
    }
}

/// Why code was refused at deploy time; the text goes back to the user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CodeError(pub String);

/// Where an environment writes the function's log output for the current
/// invocation. Bounded: past `limit` bytes the oldest output is dropped, so a
/// chatty function cannot exhaust the node's memory.
#[derive(Debug, Clone)]
pub struct LogSink {
    inner: Arc<Mutex<LogBuf>>,
}

#[derive(Debug)]
struct LogBuf {
    data: Vec<u8>,
    limit: usize,
    dropped: u64,
}

impl LogSink {
    pub fn new(limit: usize) -> Self {
        LogSink {
            inner: Arc::new(Mutex::new(LogBuf {
                data: Vec::new(),
                limit,
                dropped: 0,
            })),
        }
    }

    pub fn write(&self, bytes: &[u8]) {
        let mut buf = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        buf.data.extend_from_slice(bytes);
        if buf.data.len() > buf.limit {
            let excess = buf.data.len() - buf.limit;
            buf.data.drain(..excess);
            buf.dropped += excess as u64;
        }
    }

    /// Everything written so far, leaving the sink empty.
    pub fn take(&self) -> Vec<u8> {
        let mut buf = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        std::mem::take(&mut buf.data)
    }
}

/// The input of one invocation.
#[allow(clippy::large_enum_variant)] // moved once per invocation, never stored
pub enum Input {
    /// An event payload (Invoke API, async events).
    Event(Bytes),
    /// An HTTP request (function URLs). The environment sends the response
    /// head on `respond` as soon as it has one; the body may keep streaming
    /// until [`Environment::invoke`] returns.
    Http {
        request: http::Request<Body>,
        respond: tokio::sync::oneshot::Sender<http::Response<Body>>,
    },
}

impl Input {
    /// The event payload, for environments that take events only; an HTTP
    /// request gets `Runtime.UnsupportedInput`, naming `what` refuses it
    /// ("a WASI command").
    pub fn into_event(self, request_id: &str, what: &str) -> Result<Bytes, FunctionError> {
        match self {
            Input::Event(payload) => Ok(payload),
            Input::Http { .. } => Err(FunctionError::new(
                "Runtime.UnsupportedInput",
                format!("RequestId: {request_id} Error: {what} takes events, not HTTP requests"),
            )),
        }
    }
}

/// One invocation handed to an environment.
pub struct Invocation {
    pub request_id: String,
    pub input: Input,
    /// The function's timeout; the environment enforces it.
    pub timeout: Duration,
    /// Where the function's own log output goes.
    pub log: LogSink,
    /// The W3C `traceparent` naming this invocation's span, for the
    /// environment to hand to the function (a header for HTTP functions, the
    /// `TRACEPARENT` variable for commands, the trace header of the Runtime
    /// API).
    pub traceparent: Option<String>,
}

/// What an invocation produced.
#[derive(Debug)]
pub struct Outcome {
    /// `Ok(Some(result))` for an event, `Ok(None)` once an HTTP response was
    /// sent in full, `Err` for a function error (trap, timeout, crash, ...).
    pub result: Result<Option<Bytes>, FunctionError>,
    /// The environment must not be reused (it trapped, timed out, ran out of
    /// memory, or its kind cannot run twice).
    pub discard: bool,
    /// Peak memory of the environment so far, in bytes.
    pub max_memory_bytes: u64,
}

/// How to start an environment for one function version.
#[derive(Debug, Clone, Default)]
pub struct EnvConfig {
    pub function_name: String,
    pub version: String,
    /// The function's unqualified ARN
    /// (`arn:aws:lambda:REGION:ACCOUNT:function:NAME`).
    pub function_arn: String,
    /// The execution role (`Role`, an IAM role ARN) whose credentials the
    /// environment gets when the pools have a [`crate::CredentialIssuer`].
    pub role: String,
    /// The function's `Handler` (`module.function` for managed runtimes).
    pub handler: Option<String>,
    pub memory_mb: u32,
    /// How many MB `/tmp` may hold (`EphemeralStorage.Size`); 0 means no
    /// limit (tests that build configurations by hand).
    pub ephemeral_storage_mb: u32,
    pub timeout: Duration,
    /// The complete environment: the function's variables plus the
    /// platform's (`AWS_LAMBDA_FUNCTION_NAME`, ..., and the role's
    /// credentials, added by the pools on a cold start).
    pub env: BTreeMap<String, String>,
}

/// An execution environment: runs one invocation at a time and may be
/// reused for the next.
#[async_trait]
pub trait Environment: Send {
    fn protocol(&self) -> Protocol;

    /// Runs one invocation to completion, within `inv.timeout`.
    async fn invoke(&mut self, inv: Invocation) -> Outcome;
}

/// Starts environments for one piece of code.
#[async_trait]
pub trait Template: Send + Sync {
    fn protocol(&self) -> Protocol;

    /// A cold start: returns a ready environment. Init output goes to `log`.
    async fn start(
        &self,
        config: &EnvConfig,
        log: &LogSink,
    ) -> Result<Box<dyn Environment>, FunctionError>;
}

/// A kind of code the platform can run.
pub trait Runtime: Send + Sync {
    /// The `Runtime` values (as in CreateFunction) this runtime serves.
    fn names(&self) -> &[&str];

    /// Validates and compiles code at deploy time, caching what `load`
    /// needs under `code_sha256`. Returns the detected code kind.
    fn prepare(
        &self,
        runtime: &str,
        code_sha256: &str,
        archive: &CodeArchive,
    ) -> Result<String, CodeError>;

    /// Loads prepared code into a template, without compiling again when
    /// the cached artifact is usable. `archive` is called only when it is not.
    fn load(
        &self,
        runtime: &str,
        code_sha256: &str,
        code_kind: &str,
        archive: &dyn Fn() -> Result<CodeArchive, CodeError>,
    ) -> Result<Arc<dyn Template>, CodeError>;
}
