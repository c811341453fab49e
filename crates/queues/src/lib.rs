//! Durable message queues.
//!
//! [`Queues`] keeps every queue's messages in memory, indexed for
//! delivery, and every change in the [`EventStore`]: a send returns only
//! when its message is durable, written in a group commit with whatever
//! else was waiting (one transaction, one sync, for many producers).
//!
//! ```text
//! send ─> validate ─> group commit (durable) ─> queue in memory ─> wake a receiver
//! receive ─> queue in memory (take, mark in flight) ─> update, held back ─┐
//! delete / change_visibility ─> queue in memory ─> group commit ──────────┴─> EventStore
//! ```
//!
//! Memory: every message of every queue (body, attributes, metadata) is
//! held in memory for as long as it is stored, so the node's memory
//! bounds the backlog it can hold; the store is for durability and is
//! read only at start. After a restart the messages are loaded again:
//! those that were in flight are visible at once, delayed ones keep their
//! delay.
//!
//! Semantics are SQS's: visibility timeouts, delays, long polling,
//! receipt handles, redrive to a dead-letter queue after
//! `maxReceiveCount` receives, retention, FIFO queues (ordered message
//! groups, one batch in flight per group, five-minute deduplication). A
//! receive's new delivery state is written without waiting and may be
//! dropped when the message is deleted soon after (see `committer`): a
//! crash can make a receive count lower, never lose a message.
//!
//! The same queues carry internal traffic: async invocations wait for
//! their function in a queue per function ([`invocation`]). Internal
//! queue names contain `:`, which SQS names cannot; they are created on
//! demand, never listed to SQS clients, and exist while they hold
//! messages across restarts.
//!
//! Other event services write their resources through [`Queues::commit`],
//! so a resource change and the messages it produces commit together.
//!
//! A queue's access policy (the `Policy` attribute, or statements added
//! by `AddPermission`) is validated as a resource policy, stored with the
//! queue's config, and kept parsed for the authorizer
//! ([`Queues::policy`]).

mod admin;
mod committer;
mod config;
mod delivery;
pub mod invocation;
mod message;
mod permissions;
mod queue;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::AtomicI64;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;
pub use updraft_store::{EventStore, EventWrite};

pub use config::{validate_name, ATTRIBUTE_NAMES, RESOURCE_KIND};
pub use delivery::validate_message;
pub use message::{md5_hex, md5_of_attributes, message_size, validate_attributes, validate_body};

use committer::Committer;
use message::Msg;
use queue::Queue;

/// Why a queue operation failed, in SQS's terms.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum QueueError {
    /// `AWS.SimpleQueueService.NonExistentQueue`
    #[error("The specified queue does not exist.")]
    NonExistentQueue,
    /// A queue of that name exists with other attributes.
    #[error("A queue already exists with the same name and a different value for attribute {0}")]
    QueueAlreadyExists(String),
    #[error("Unknown Attribute {0}.")]
    InvalidAttributeName(String),
    #[error("Invalid value for the parameter {0}.")]
    InvalidAttributeValue(String),
    #[error("{0}")]
    InvalidParameterValue(String),
    #[error("{0}")]
    MissingParameter(String),
    /// A limit is reached (`AddPermission`'s seven actions).
    #[error("{0}")]
    OverLimit(String),
    /// The body has characters SQS does not allow.
    #[error("{0}")]
    InvalidMessageContents(String),
    #[error("The input receipt handle \"{0}\" is not a valid receipt handle.")]
    ReceiptHandleIsInvalid(String),
    #[error("Value {0} for parameter ReceiptHandle is invalid. Reason: Message does not exist or is not available for visibility timeout change.")]
    MessageNotInflight(String),
    /// The store failed; nothing was acknowledged.
    #[error("internal error: {0}")]
    Internal(String),
}

/// A dead-letter queue and when messages go there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedrivePolicy {
    /// The dead-letter queue's ARN (`arn:aws:sqs:REGION:ACCOUNT:NAME`).
    pub dead_letter_target_arn: String,
    pub max_receive_count: u32,
}

/// A queue's server-side encryption settings, as SQS attributes set them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Encryption {
    pub kms_master_key_id: Option<String>,
    /// Seconds, 60–86400 (SQS answers 300 while a KMS key is set).
    pub kms_data_key_reuse_period: Option<u32>,
    pub sqs_managed_sse: bool,
}

/// A queue's settings (SQS attributes); [`QueueConfig::new`] has SQS's
/// defaults.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueConfig {
    pub name: String,
    pub fifo: bool,
    pub content_based_deduplication: bool,
    /// Seconds, 0–43200; default 30.
    pub visibility_timeout: u32,
    /// Seconds, 0–900; default 0.
    pub delay_seconds: u32,
    /// Seconds, 60–1209600; default 345600 (4 days).
    pub message_retention_period: u32,
    /// Bytes, 1024–262144; default 262144.
    pub maximum_message_size: u32,
    /// Seconds, 0–20; default 0.
    pub receive_message_wait_time: u32,
    pub redrive_policy: Option<RedrivePolicy>,
    /// The access policy (`Policy`), JSON text as it was set; a valid
    /// resource policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    pub tags: BTreeMap<String, String>,
    /// Server-side encryption as set (`KmsMasterKeyId`,
    /// `KmsDataKeyReusePeriodSeconds`, `SqsManagedSseEnabled`): kept and
    /// answered, with no effect on how messages are stored (the data
    /// directory is encrypted only if its disk is).
    #[serde(default)]
    pub encryption: Encryption,
    /// `RedriveAllowPolicy`: which queues may use this one as their
    /// dead-letter queue (`None`: any of the account's queues).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redrive_allow_policy: Option<RedriveAllowPolicy>,
    /// FIFO `DeduplicationScope`: whether deduplication ids are unique per
    /// queue or per message group.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deduplicate_per_group: bool,
    /// FIFO `FifoThroughputLimit` (`perQueue` or `perMessageGroupId`): kept
    /// and answered; no throughput quota applies here either way.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fifo_throughput_limit: Option<String>,
    /// ms since the Unix epoch.
    pub created_ms: i64,
    pub modified_ms: i64,
}

/// A dead-letter queue's `RedriveAllowPolicy`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RedriveAllowPolicy {
    AllowAll,
    DenyAll,
    /// Only these source queues (1 to 10 ARNs).
    ByQueue(Vec<String>),
}

/// How many messages a queue holds, and how old the oldest is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueStats {
    /// Deliverable now.
    pub visible: u64,
    /// Received and not deleted, within their visibility timeout.
    pub in_flight: u64,
    /// Waiting for their delay (or a retry backoff) to pass.
    pub delayed: u64,
    /// Age of the oldest message, ms; 0 when empty.
    pub oldest_age_ms: u64,
}

/// A message attribute value, as SQS types it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttributeValue {
    /// `String`, `Number` or `Binary`, optionally with a `.custom` suffix.
    pub data_type: String,
    pub string_value: Option<String>,
    pub binary_value: Option<Bytes>,
}

/// A message to send.
#[derive(Debug, Clone, Default)]
pub struct NewMessage {
    pub body: Bytes,
    /// Overrides the queue's `DelaySeconds`.
    pub delay_seconds: Option<u32>,
    pub attributes: BTreeMap<String, AttributeValue>,
    /// FIFO queues.
    pub group_id: Option<String>,
    pub deduplication_id: Option<String>,
    /// Internal metadata kept with the message (for example an async
    /// invocation's qualifier and trace context); never shown to SQS
    /// clients.
    pub internal: Option<serde_json::Value>,
}

/// What a send answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    pub message_id: String,
    pub md5_of_body: String,
    /// Present when the message has attributes.
    pub md5_of_message_attributes: Option<String>,
    /// FIFO queues.
    pub sequence_number: Option<String>,
}

/// A delivered message.
#[derive(Debug, Clone)]
pub struct Received {
    pub message_id: String,
    pub receipt_handle: String,
    pub body: Bytes,
    pub md5_of_body: String,
    pub attributes: BTreeMap<String, AttributeValue>,
    pub md5_of_message_attributes: Option<String>,
    pub internal: Option<serde_json::Value>,
    pub sent_ms: i64,
    /// Including this delivery.
    pub receive_count: u32,
    pub first_receive_ms: i64,
    pub group_id: Option<String>,
    pub deduplication_id: Option<String>,
    pub sequence_number: Option<String>,
}

/// One receive call.
#[derive(Debug, Clone)]
pub struct ReceiveRequest {
    /// 1–10 for SQS clients; internal consumers may take more.
    pub max_messages: usize,
    /// Overrides the queue's visibility timeout.
    pub visibility_timeout: Option<Duration>,
    /// Long polling: wait up to this long for a message; `None` takes the
    /// queue's `ReceiveMessageWaitTimeSeconds`.
    pub wait: Option<Duration>,
}

/// The durable queues.
pub struct Queues {
    store: Arc<dyn EventStore>,
    region: String,
    account_id: String,
    queues: RwLock<BTreeMap<String, Arc<Queue>>>,
    /// Serializes queue creation, deletion and config changes (each
    /// checks, then commits, then changes memory).
    admin: tokio::sync::Mutex<()>,
    /// The next message `seq`; starts above every stored one and above
    /// the clock in µs, so seqs never repeat across restarts.
    next_seq: AtomicI64,
    committer: Committer,
    /// Activity waiters by queue-name prefix ([`Queues::activity`]).
    activity: Arc<ActivityWaiters>,
}

/// Activity waiters by queue-name prefix ([`Queues::activity`]).
pub(crate) type ActivityWaiters = Mutex<HashMap<String, Arc<Notify>>>;

/// A commit's outcome as the queues report it.
pub(crate) fn committed(
    outcome: Result<committer::Outcome, tokio::sync::oneshot::error::RecvError>,
) -> Result<(), QueueError> {
    match outcome {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(QueueError::Internal(e)),
        Err(_) => Err(QueueError::Internal("the queues are closed".into())),
    }
}

/// Internal queues are those whose name has a `:`, which SQS names cannot.
pub fn is_internal(name: &str) -> bool {
    name.contains(':')
}

/// Now, in ms since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl Queues {
    /// Loads every queue and message from `store` and starts the group
    /// committer. `region` and `account_id` make queue ARNs.
    ///
    /// Messages that were in flight are visible again; delayed ones keep
    /// their delay. Messages of queues that no longer exist are deleted.
    pub fn open(
        store: Arc<dyn EventStore>,
        region: &str,
        account_id: &str,
    ) -> Result<Arc<Queues>, QueueError> {
        let internal_error = |e: updraft_store::StoreError| QueueError::Internal(e.to_string());
        let mut queues = BTreeMap::new();
        for (name, value) in store.resources(RESOURCE_KIND).map_err(internal_error)? {
            match serde_json::from_str::<QueueConfig>(&value) {
                Ok(config) => {
                    queues.insert(name, Arc::new(Queue::new(config, false)));
                }
                Err(e) => {
                    tracing::error!(queue = %name, error = %e, "unreadable queue config; skipped")
                }
            }
        }
        let now = now_ms();
        let mut max_seq = now * 1000;
        let mut orphans = Vec::new();
        for stored in store.load_messages().map_err(internal_error)? {
            max_seq = max_seq.max(stored.seq);
            let queue = match queues.get(&stored.queue) {
                Some(q) => q,
                None if is_internal(&stored.queue) => queues
                    .entry(stored.queue.clone())
                    .or_insert_with(|| Arc::new(Queue::new(internal_config(&stored.queue), true))),
                None => {
                    orphans.push(EventWrite::DeleteMessage {
                        queue: stored.queue,
                        id: stored.id,
                    });
                    continue;
                }
            };
            let mut msg = match Msg::from_stored(stored) {
                Ok(m) => m,
                Err(e) => {
                    tracing::error!(error = %e, "unreadable message; skipped");
                    continue;
                }
            };
            if msg.receive_count > 0 {
                msg.visible_ms = msg.visible_ms.min(now);
            }
            let mut state = queue.lock();
            let dedup = msg
                .deduplication_id
                .as_deref()
                .filter(|_| state.config.fifo)
                .map(|id| state.config.deduplication_key(msg.group_id.as_deref(), id));
            if let Some(dedup) = dedup {
                let sent = Sent {
                    message_id: msg.id.to_string(),
                    md5_of_body: msg.md5_of_body.clone(),
                    md5_of_message_attributes: msg.md5_of_attributes.clone(),
                    sequence_number: Some(queue::sequence_number(msg.seq)),
                };
                state.remember(dedup, sent, msg.sent_ms);
            }
            state.insert(msg, now);
        }
        if !orphans.is_empty() {
            store.apply(&orphans).map_err(internal_error)?;
        }
        let committer = Committer::start(store.clone())
            .map_err(|e| QueueError::Internal(format!("starting the queue committer: {e}")))?;
        Ok(Arc::new(Queues {
            store,
            region: region.to_owned(),
            account_id: account_id.to_owned(),
            queues: RwLock::new(queues),
            admin: tokio::sync::Mutex::new(()),
            next_seq: AtomicI64::new(max_seq + 1),
            committer,
            activity: Default::default(),
        }))
    }

    /// Commits `writes` in the next group commit; returns when durable.
    pub async fn commit(&self, writes: Vec<EventWrite>) -> Result<(), QueueError> {
        if writes.is_empty() {
            return Ok(());
        }
        committed(self.committer.submit(writes).await)
    }

    /// The store the queues write to (for reading resources at start).
    pub fn store(&self) -> &Arc<dyn EventStore> {
        &self.store
    }

    /// Stops the committer after the writes already submitted; later
    /// writes fail.
    pub fn close(&self) {
        self.committer.close();
    }

    fn queue(&self, name: &str) -> Result<Arc<Queue>, QueueError> {
        self.queues
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(name)
            .cloned()
            .ok_or(QueueError::NonExistentQueue)
    }

    /// The internal queue `name`, created (in memory: it is rebuilt from
    /// its messages at start) if missing.
    fn internal_queue(&self, name: &str) -> Arc<Queue> {
        if let Ok(q) = self.queue(name) {
            return q;
        }
        let created = {
            let mut queues = self.queues.write().unwrap_or_else(PoisonError::into_inner);
            queues
                .entry(name.to_owned())
                .or_insert_with(|| Arc::new(Queue::new(internal_config(name), true)))
                .clone()
        };
        self.wake_activity(name);
        created
    }

    fn next_seqs(&self, n: usize) -> i64 {
        self.next_seq
            .fetch_add(n as i64, std::sync::atomic::Ordering::Relaxed)
    }
}

/// Internal queues keep messages for the longest period SQS allows; their
/// consumers decide when an event is too old.
fn internal_config(name: &str) -> QueueConfig {
    let mut config = QueueConfig::new(name);
    config.message_retention_period = 1_209_600;
    config
}
