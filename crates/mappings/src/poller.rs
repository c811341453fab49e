//! The pollers of one enabled mapping.
//!
//! A poller loops: resolve the function, fill a batch from the queue,
//! invoke the function with it, delete what was processed. Several
//! pollers of a mapping form a [`Group`], which scales with the backlog
//! (rule in the crate docs). Stopping a group (disable, update, delete)
//! cancels the receive calls at once; an invocation under way finishes
//! and its messages are settled as usual, then the poller ends.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use updraft_invoker::{Call, InvokeResult, Invoker};
use updraft_queues::{Queues, ReceiveRequest, Received};
use updraft_registry::Resolved;
use updraft_store::usage::trigger;
use updraft_telemetry::Delivery;
use updraft_types::{new_request_id, Qualifier};

use crate::config::Mapping;
use crate::event::{self, Source};
use crate::streams::StreamReader;

/// Pollers per mapping without a `ScalingConfig`.
pub const DEFAULT_MAX_POLLERS: usize = 10;
/// How long an empty queue is long-polled (SQS's longest wait).
const LONG_POLL: Duration = Duration::from_secs(20);
/// Messages asked for per receive while filling a batch.
const RECEIVE_CHUNK: usize = 10;
/// Lambda's synchronous payload limit.
const MAX_PAYLOAD: usize = 6 * 1024 * 1024;
/// The largest SQS message.
const MAX_MESSAGE: usize = 256 * 1024;
/// A batch stops filling at this many body bytes, so that the last chunk
/// (of the largest messages, at worst) and the records' other fields still
/// fit in the payload limit.
const FILL_LIMIT: usize = MAX_PAYLOAD - RECEIVE_CHUNK * MAX_MESSAGE - MAX_MESSAGE;
/// Waits after a failure to reach the function or the queue.
const MIN_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// What every poller needs besides its mapping.
pub struct Context {
    pub queues: Arc<Queues>,
    pub invoker: Arc<Invoker>,
    /// Every poller task, so that shutdown can wait for them.
    pub tasks: TaskTracker,
    /// The tables' streams, once attached (stream mappings wait for them).
    pub streams: OnceLock<Arc<dyn StreamReader>>,
    /// Each stream mapping's checkpoint: the last sequence number
    /// delivered (as stored).
    pub positions: Mutex<HashMap<String, u64>>,
    /// Each stream mapping's turn: held by its running poller, so that a
    /// replacement waits for the batch under way.
    pub turns: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl Context {
    /// A stream mapping's checkpoint (0 before any record).
    pub fn position(&self, uuid: &str) -> u64 {
        self.positions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(uuid)
            .copied()
            .unwrap_or(0)
    }

    /// Records a checkpoint that was committed.
    pub fn set_position(&self, uuid: &str, position: u64) {
        self.positions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(uuid.to_string(), position);
    }

    /// Forgets a deleted mapping's checkpoint.
    pub fn forget_position(&self, uuid: &str) {
        self.positions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(uuid);
        self.turns
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(uuid);
    }

    /// The lock a stream mapping's poller holds while it runs.
    pub fn stream_turn(&self, uuid: &str) -> Arc<tokio::sync::Mutex<()>> {
        self.turns
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(uuid.to_string())
            .or_default()
            .clone()
    }
}

/// The pollers of one mapping, with the mapping as it was when they
/// started (a change stops the group and starts another).
pub struct Group {
    ctx: Arc<Context>,
    mapping: Mapping,
    cancel: CancellationToken,
    /// Pollers running.
    active: AtomicUsize,
    max: usize,
}

impl Group {
    /// Starts one poller for `mapping`.
    pub fn start(ctx: Arc<Context>, mapping: Mapping) -> Arc<Group> {
        let max = mapping
            .maximum_concurrency
            .map_or(DEFAULT_MAX_POLLERS, |n| n as usize);
        let group = Arc::new(Group {
            ctx,
            mapping,
            cancel: CancellationToken::new(),
            active: AtomicUsize::new(1),
            max,
        });
        group.ctx.tasks.spawn(group.clone().run());
        group
    }

    /// Stops every poller: waits in progress end now, invocations under
    /// way finish first.
    pub fn stop(&self) {
        self.cancel.cancel();
    }

    /// Starts another poller unless the group is at its maximum.
    fn grow(self: &Arc<Self>) {
        let grown = self
            .active
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.max).then_some(n + 1)
            });
        if grown.is_ok() {
            self.ctx.tasks.spawn(self.clone().run());
        }
    }

    /// Ends the calling poller unless it is the last one.
    fn try_retire(&self) -> bool {
        self.active
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n > 1).then_some(n - 1)
            })
            .is_ok()
    }

    async fn run(self: Arc<Self>) {
        let mut backoff = MIN_BACKOFF;
        while !self.cancel.is_cancelled() {
            let target = match self.resolve() {
                Ok(t) => t,
                Err(e) => {
                    tracing::warn!(uuid = %self.mapping.uuid, error = %e, "event source mapping cannot reach its function");
                    if !self.pause(&mut backoff).await {
                        break;
                    }
                    continue;
                }
            };
            let batch = match self.fill().await {
                Fill::Batch(batch) => batch,
                Fill::Empty => {
                    if self.try_retire() {
                        return;
                    }
                    continue;
                }
                Fill::Failed(e) => {
                    tracing::warn!(uuid = %self.mapping.uuid, queue = %self.mapping.queue, error = %e, "event source mapping cannot read its queue");
                    if !self.pause(&mut backoff).await {
                        break;
                    }
                    continue;
                }
                Fill::Cancelled => break,
            };
            backoff = MIN_BACKOFF;
            if self
                .ctx
                .queues
                .stats(&self.mapping.queue)
                .is_ok_and(|s| s.visible > 0)
            {
                self.grow();
            }
            self.deliver(target, batch).await;
        }
        self.active.fetch_sub(1, Ordering::AcqRel);
    }

    fn resolve(&self) -> Result<Resolved, updraft_registry::RegistryError> {
        let qualifier = self
            .mapping
            .qualifier
            .as_deref()
            .map(Qualifier::parse)
            .transpose()
            .map_err(|e| updraft_registry::RegistryError::InvalidParameter(e.0))?;
        self.ctx
            .invoker
            .registry()
            .resolve(&self.mapping.function, qualifier.as_ref())
    }

    /// Sleeps `backoff` (doubling it for next time); `false` if the group
    /// was stopped meanwhile.
    async fn pause(&self, backoff: &mut Duration) -> bool {
        let wait = *backoff;
        *backoff = (*backoff * 2).min(MAX_BACKOFF);
        tokio::select! {
            _ = self.cancel.cancelled() => false,
            _ = tokio::time::sleep(wait) => true,
        }
    }

    /// One batch: long-polls for the first messages, then keeps receiving
    /// until the batch is full, the batching window (from the first
    /// message) has passed, or the bodies approach the payload limit.
    /// With no window, it takes what is visible right away.
    async fn fill(&self) -> Fill {
        let size = self.mapping.batch_size as usize;
        let mut batch = match self.receive(size.min(RECEIVE_CHUNK), LONG_POLL).await {
            Ok(Some(first)) if first.is_empty() => return Fill::Empty,
            Ok(Some(first)) => first,
            Ok(None) => return Fill::Cancelled,
            Err(e) => return Fill::Failed(e),
        };
        let window = Duration::from_secs(u64::from(self.mapping.batching_window));
        let deadline = Instant::now() + window;
        let mut bytes: usize = batch.iter().map(|m| m.body.len()).sum();
        while batch.len() < size && bytes < FILL_LIMIT {
            let wait = deadline.saturating_duration_since(Instant::now());
            let chunk = (size - batch.len()).min(RECEIVE_CHUNK);
            match self.receive(chunk, wait).await {
                Ok(Some(more)) if more.is_empty() => break,
                Ok(Some(more)) => {
                    let short = more.len() < chunk;
                    bytes += more.iter().map(|m| m.body.len()).sum::<usize>();
                    batch.extend(more);
                    if short && wait.is_zero() {
                        break;
                    }
                }
                // Received messages stay in flight and come back after
                // their visibility timeout.
                Ok(None) => return Fill::Cancelled,
                Err(_) => break,
            }
        }
        Fill::Batch(batch)
    }

    /// One receive call; `None` when the group was stopped during it.
    async fn receive(
        &self,
        max_messages: usize,
        wait: Duration,
    ) -> Result<Option<Vec<Received>>, updraft_queues::QueueError> {
        let request = ReceiveRequest {
            max_messages,
            visibility_timeout: None,
            wait: Some(wait),
        };
        tokio::select! {
            _ = self.cancel.cancelled() => Ok(None),
            r = self.ctx.queues.receive(&self.mapping.queue, request) => r.map(Some),
        }
    }

    /// Invokes the function with `batch` and settles its messages.
    async fn deliver(&self, target: Resolved, batch: Vec<Received>) {
        let function = target.config.name.to_string();
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        let oldest = batch.iter().map(|m| m.sent_ms).min().unwrap_or(now_ms);
        let age = (now_ms - oldest).max(0) as f64 / 1000.0;
        let account = self.ctx.invoker.registry().account();
        let source = Source {
            arn: &self.mapping.event_source_arn,
            region: &account.region,
            sender_id: &account.account_id,
        };
        let payload = Bytes::from(event::sqs_event(&batch, &source).to_string());
        let call = Call {
            request_id: new_request_id(),
            trigger: trigger::QUEUE,
            parent: None,
            tail: false,
        };
        let result = self.ctx.invoker.invoke_queued(target, payload, call).await;
        let processed = self.processed(&batch, result);
        let outcome = if processed.len() == batch.len() {
            Delivery::Success
        } else {
            Delivery::Retry
        };
        self.ctx
            .invoker
            .metrics()
            .delivery(&function, "sqs", outcome, Some(age));
        let deletes = processed.iter().map(|m| {
            self.ctx
                .queues
                .delete(&self.mapping.queue, &m.receipt_handle)
        });
        for r in futures::future::join_all(deletes).await {
            if let Err(e) = r {
                tracing::warn!(uuid = %self.mapping.uuid, error = %e, "deleting a processed message failed; it will be delivered again");
            }
        }
    }

    /// The messages of `batch` that the invocation processed: all of them
    /// on success, none on a failure, and with `ReportBatchItemFailures`
    /// those the function did not report.
    fn processed<'b>(
        &self,
        batch: &'b [Received],
        result: Result<InvokeResult, updraft_invoker::InvokeError>,
    ) -> Vec<&'b Received> {
        let result = match result {
            Ok(r) if r.function_error.is_none() => r,
            Ok(_) => return Vec::new(),
            Err(e) => {
                tracing::warn!(uuid = %self.mapping.uuid, error = %e, "event source mapping invocation did not run");
                return Vec::new();
            }
        };
        if !self.mapping.report_batch_item_failures {
            return batch.iter().collect();
        }
        let ids: HashSet<&str> = batch.iter().map(|m| m.message_id.as_str()).collect();
        match event::failed_items(&result.payload, &ids) {
            Ok(failed) => batch
                .iter()
                .filter(|m| !failed.contains(&m.message_id))
                .collect(),
            Err(e) => {
                tracing::warn!(uuid = %self.mapping.uuid, error = %e, "the whole batch failed");
                Vec::new()
            }
        }
    }
}

/// What filling a batch came to.
enum Fill {
    Batch(Vec<Received>),
    /// The long poll ended with nothing.
    Empty,
    Failed(updraft_queues::QueueError),
    Cancelled,
}
