//! Durable message queues.
//!
//! [`Queues`] keeps every queue's messages in memory, indexed for
//! delivery, and every change in the [`EventStore`]: a send returns only
//! when its message is durable, written in a group commit with whatever
//! else was waiting (one transaction, one sync, for many producers).
//! After a restart the messages are loaded again, all visible.
//!
//! Semantics are SQS's: visibility timeouts, delays, long polling,
//! receipt handles, redrive to a dead-letter queue after
//! `maxReceiveCount` receives, retention. The same queues carry internal
//! traffic: async invocations wait for their function in a queue per
//! function ([`invocation`]), whose names cannot clash with SQS names.
//!
//! Other event services write their resources through [`Queues::commit`],
//! so a resource change and the messages it produces commit together.

pub mod invocation;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use updraft_store::{EventStore, EventWrite};

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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedrivePolicy {
    /// The dead-letter queue's ARN (`arn:aws:sqs:REGION:ACCOUNT:NAME`).
    pub dead_letter_target_arn: String,
    pub max_receive_count: u32,
}

/// A queue's settings (SQS attributes).
#[derive(Debug, Clone, PartialEq, Eq)]
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
    pub tags: BTreeMap<String, String>,
    /// ms since the Unix epoch.
    pub created_ms: i64,
    pub modified_ms: i64,
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
    _store: Arc<dyn EventStore>,
}

impl Queues {
    /// Loads every queue and message from `store` and starts the group
    /// committer. `region` and `account_id` make queue ARNs and URLs.
    pub fn open(
        store: Arc<dyn EventStore>,
        region: &str,
        account_id: &str,
    ) -> Result<Arc<Queues>, QueueError> {
        let _ = (region, account_id);
        Ok(Arc::new(Queues { _store: store }))
    }

    /// Commits `writes` in the next group commit; returns when durable.
    pub async fn commit(&self, writes: Vec<EventWrite>) -> Result<(), QueueError> {
        let _ = writes;
        todo!()
    }

    /// The store the queues write to (for reading resources at start).
    pub fn store(&self) -> &Arc<dyn EventStore> {
        &self._store
    }

    /// Creates a queue. Creating one that exists with the same settings
    /// answers its config; with others, `QueueAlreadyExists`.
    pub async fn create_queue(&self, config: QueueConfig) -> Result<QueueConfig, QueueError> {
        let _ = config;
        todo!()
    }

    pub fn get_queue(&self, name: &str) -> Option<QueueConfig> {
        let _ = name;
        todo!()
    }

    /// SQS queues (never internal ones) whose name starts with `prefix`,
    /// by name.
    pub fn list_queues(&self, prefix: &str) -> Vec<QueueConfig> {
        let _ = prefix;
        todo!()
    }

    /// Deletes a queue and its messages.
    pub async fn delete_queue(&self, name: &str) -> Result<(), QueueError> {
        let _ = name;
        todo!()
    }

    /// Replaces a queue's settings (`name`, `fifo` and `created_ms` stay).
    pub async fn set_queue_config(&self, config: QueueConfig) -> Result<(), QueueError> {
        let _ = config;
        todo!()
    }

    pub fn stats(&self, name: &str) -> Result<QueueStats, QueueError> {
        let _ = name;
        todo!()
    }

    /// Sends messages; each is durable when this returns. Every message is
    /// validated first; one invalid message fails the call and sends none
    /// (batch callers validate entries one by one before).
    pub async fn send(
        &self,
        queue: &str,
        messages: Vec<NewMessage>,
    ) -> Result<Vec<Sent>, QueueError> {
        let _ = (queue, messages);
        todo!()
    }

    /// Receives up to `max_messages`, waiting up to `wait` for the first.
    /// Messages received more than the redrive policy allows move to the
    /// dead-letter queue instead.
    pub async fn receive(
        &self,
        queue: &str,
        request: ReceiveRequest,
    ) -> Result<Vec<Received>, QueueError> {
        let _ = (queue, request);
        todo!()
    }

    /// Deletes a received message. A receipt handle whose message is gone
    /// already succeeds (as SQS does); a malformed one is
    /// `ReceiptHandleIsInvalid`.
    pub async fn delete(&self, queue: &str, receipt_handle: &str) -> Result<(), QueueError> {
        let _ = (queue, receipt_handle);
        todo!()
    }

    /// Makes a received message visible again after `timeout` (0: now).
    pub async fn change_visibility(
        &self,
        queue: &str,
        receipt_handle: &str,
        timeout: Duration,
    ) -> Result<(), QueueError> {
        let _ = (queue, receipt_handle, timeout);
        todo!()
    }

    /// Deletes every message of a queue.
    pub async fn purge(&self, queue: &str) -> Result<(), QueueError> {
        let _ = queue;
        todo!()
    }

    /// A queue's ARN and URL (`{base_url}/{account}/{name}`).
    pub fn arn(&self, name: &str) -> String {
        let _ = name;
        todo!()
    }

    /// Waits until a queue whose name starts with `prefix` is created or
    /// gets a message (for consumers of internal queues that start their
    /// workers lazily).
    pub async fn activity(&self, prefix: &str) {
        let _ = prefix;
        todo!()
    }

    /// Names of every queue (internal ones included) that start with
    /// `prefix`.
    pub fn queue_names(&self, prefix: &str) -> Vec<String> {
        let _ = prefix;
        todo!()
    }

    /// Stops the committer after the writes already submitted.
    pub fn close(&self) {}
}
