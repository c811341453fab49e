//! Async invocation: every invocation that does not answer its caller
//! (`Invoke` with `Event`, event bus targets, schedules, destinations).
//!
//! ```text
//!  producer ──> Queues::enqueue_invocations ──> lambda-async:{function}   (durable before the 202)
//!                                                     │ receive (batches)
//!  supervisor: one worker per function queue ─────────┘
//!      worker ──> wait for concurrency (at most until the event is too old)
//!             ──> Invoker::invoke_queued (same request id on every attempt)
//!             ──> success: OnSuccess destination, delete
//!                 failure: retry after base, 2×base (a visibility change)
//!                          or, when retries or age run out:
//!                          OnFailure destination, else the function's
//!                          dead-letter queue (DeadLetterConfig), else
//!                          discard (logged); delete
//! ```
//!
//! Delivery is at least once: a message is deleted only after its result
//! is handled; after a crash, whatever was not deleted runs again. Every
//! final failure is also put on the `default` event bus as an event from
//! `updraft.lambda` with detail-type `Async Invocation Failed` (the
//! destination record as detail), so rules can match the platform's own
//! failures. Events of a function deleted while they wait are discarded
//! with a log line (counted as `Discarded`): the function's event-invoke
//! configs went with it, so there is no failure destination to use.

pub mod config;
pub mod destination;
mod worker;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tokio_util::task::TaskTracker;
use updraft_bus::Bus;
use updraft_invoker::Invoker;
use updraft_queues::invocation::AsyncInvocation;
use updraft_queues::Queues;
use updraft_store::usage::trigger;
use updraft_types::{new_request_id, FunctionName, Qualifier};

pub use config::{ConfigChange, EventInvokeConfig};

/// Why an async-invocation operation failed; messages are shown to users.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum EventsError {
    /// A value is not acceptable (Lambda's `InvalidParameterValueException`).
    #[error("{0}")]
    InvalidParameterValue(String),
    /// The store failed; nothing was acknowledged.
    #[error("{0}")]
    Internal(String),
}

/// How delivery behaves.
#[derive(Debug, Clone)]
pub struct AsyncConfig {
    /// The first retry waits this long, the second twice as long (Lambda:
    /// about a minute, then two).
    pub retry_base: Duration,
    /// Most invocations of one function delivered at once (the invoker
    /// still holds each to the function's concurrency).
    pub in_flight_per_function: usize,
}

impl Default for AsyncConfig {
    fn default() -> Self {
        AsyncConfig {
            retry_base: Duration::from_secs(60),
            in_flight_per_function: 256,
        }
    }
}

/// The async-invocation service: producer API, event-invoke configs, and
/// the consumer of the internal queues.
pub struct AsyncEvents {
    queues: Arc<Queues>,
    bus: Arc<Bus>,
    invoker: Arc<Invoker>,
    config: AsyncConfig,
    configs: config::Configs,
    /// Flips to `true` at shutdown: no more receives.
    stop: tokio::sync::watch::Sender<bool>,
    /// Workers and the deliveries they run.
    tasks: TaskTracker,
    /// Queues that have a worker.
    workers: Mutex<HashSet<String>>,
}

impl AsyncEvents {
    /// Loads the event-invoke configs; nothing is delivered before
    /// [`AsyncEvents::start`].
    pub fn new(
        queues: Arc<Queues>,
        bus: Arc<Bus>,
        invoker: Arc<Invoker>,
        config: AsyncConfig,
    ) -> Result<Arc<AsyncEvents>, EventsError> {
        let configs = config::Configs::load(queues.clone())?;
        Ok(Arc::new(AsyncEvents {
            queues,
            bus,
            invoker,
            config,
            configs,
            stop: tokio::sync::watch::channel(false).0,
            tasks: TaskTracker::new(),
            workers: Mutex::new(HashSet::new()),
        }))
    }

    /// Starts delivering in the background: a worker for every function
    /// queue that exists now or appears later.
    pub fn start(self: &Arc<Self>) {
        let this = self.clone();
        self.tasks.spawn(worker::supervise(this));
    }

    /// Stops taking messages and waits, at most `bound`, for the
    /// deliveries under way. Whatever was not done stays queued and runs
    /// after the next start. Returns whether everything finished.
    pub async fn shutdown(&self, bound: Duration) -> bool {
        self.stop.send_replace(true);
        self.tasks.close();
        tokio::time::timeout(bound, self.tasks.wait()).await.is_ok()
    }

    /// An async invocation (`Invoke` with `Event`): durable when this
    /// returns. Returns its request id, which the function sees on every
    /// attempt.
    pub async fn enqueue(
        &self,
        function: &FunctionName,
        qualifier: Option<&Qualifier>,
        payload: Bytes,
        traceparent: Option<String>,
    ) -> Result<String, EventsError> {
        let request_id = new_request_id();
        self.queues
            .enqueue_invocations(vec![AsyncInvocation {
                function: function.to_string(),
                qualifier: qualifier.map(Qualifier::to_string),
                payload,
                request_id: request_id.clone(),
                trigger: trigger::EVENT.to_string(),
                traceparent,
            }])
            .await
            .map_err(|e| EventsError::Internal(format!("queueing an async invocation: {e}")))?;
        Ok(request_id)
    }

    /// `PutFunctionEventInvokeConfig`: replaces the config.
    pub async fn put_config(
        &self,
        function: &FunctionName,
        qualifier: &str,
        change: ConfigChange,
    ) -> Result<EventInvokeConfig, EventsError> {
        let written = self
            .configs
            .write(function.as_str(), qualifier, change, false)
            .await?;
        Ok(written.expect("a put always writes"))
    }

    /// `UpdateFunctionEventInvokeConfig`: changes the members given;
    /// `None` when there is no config to update.
    pub async fn update_config(
        &self,
        function: &FunctionName,
        qualifier: &str,
        change: ConfigChange,
    ) -> Result<Option<EventInvokeConfig>, EventsError> {
        self.configs
            .write(function.as_str(), qualifier, change, true)
            .await
    }

    pub fn get_config(
        &self,
        function: &FunctionName,
        qualifier: &str,
    ) -> Option<EventInvokeConfig> {
        self.configs.get(function.as_str(), qualifier)
    }

    /// A function's configs, by qualifier.
    pub fn list_configs(&self, function: &FunctionName) -> Vec<EventInvokeConfig> {
        self.configs.list(function.as_str())
    }

    /// `DeleteFunctionEventInvokeConfig`; `false` when there was none.
    pub async fn delete_config(
        &self,
        function: &FunctionName,
        qualifier: &str,
    ) -> Result<bool, EventsError> {
        let n = self
            .configs
            .delete(function.as_str(), |q| q == qualifier)
            .await?;
        Ok(n > 0)
    }

    /// A function (`qualifier` `None`) or one of its versions was deleted:
    /// its configs go with it (as in Lambda), so a new function of the same
    /// name starts without them. Events still queued for it are discarded
    /// when they come up.
    pub async fn function_deleted(
        &self,
        function: &FunctionName,
        qualifier: Option<&str>,
    ) -> Result<(), EventsError> {
        self.configs
            .delete(function.as_str(), |q| qualifier.is_none_or(|v| v == q))
            .await?;
        Ok(())
    }
}
