//! The event store: durable messages and the resources of the event
//! services (queues, event-invoke configs, buses and rules, schedules,
//! event source mappings).
//!
//! Messages are the unit of at-least-once delivery: SQS messages, async
//! invocations waiting for their function, events on their way to a
//! target. A message is written before its producer is acknowledged and
//! deleted when its consumer is done with it; between the two it is
//! loaded again after a restart ([`EventStore::load_messages`]).
//!
//! Resources are JSON documents by `(kind, key)`; the store does not look
//! inside them. Writes of both go through [`EventStore::apply`], so a
//! resource change and the messages it produces (a schedule's last fired
//! slot and the invocation it fired) commit together or not at all.

use crate::Result;

/// One stored message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    /// The queue it belongs to (an SQS queue name, or an internal queue).
    pub queue: String,
    /// Unique within the queue and stable across deliveries.
    pub id: String,
    /// Order within the queue: assigned by the producer, increasing.
    pub seq: i64,
    pub body: Vec<u8>,
    /// A JSON document owned by the producer (message attributes,
    /// invocation metadata...); the store keeps it as given.
    pub attributes: String,
    /// When it was sent, ms since the Unix epoch.
    pub sent_ms: i64,
    /// Not deliverable before this time (delay, visibility timeout,
    /// retry backoff), ms since the Unix epoch.
    pub visible_ms: i64,
    /// How many times it has been delivered.
    pub receive_count: u32,
    /// When it was first delivered, if it has been.
    pub first_receive_ms: Option<i64>,
}

/// One write. A batch of them is applied in order, in one transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventWrite {
    /// Inserts a message, or replaces the one with the same queue and id.
    PutMessage(StoredMessage),
    /// Changes a message's delivery state; nothing if it does not exist.
    UpdateMessage {
        queue: String,
        id: String,
        visible_ms: i64,
        receive_count: u32,
        first_receive_ms: Option<i64>,
    },
    /// Deletes a message; nothing if it does not exist.
    DeleteMessage { queue: String, id: String },
    /// Deletes every message of a queue.
    PurgeQueue { queue: String },
    /// Creates or replaces a resource.
    PutResource {
        kind: String,
        key: String,
        value: String,
    },
    /// Deletes a resource; nothing if it does not exist.
    DeleteResource { kind: String, key: String },
}

/// The durable side of the event services.
pub trait EventStore: Send + Sync {
    /// Applies `writes` in order, all or none; durable when it returns.
    fn apply(&self, writes: &[EventWrite]) -> Result<()>;
    /// Every stored message, by queue, then `seq`.
    fn load_messages(&self) -> Result<Vec<StoredMessage>>;
    /// Every resource of `kind`, as `(key, value)`, by key.
    fn resources(&self, kind: &str) -> Result<Vec<(String, String)>>;
    /// One resource's value.
    fn resource(&self, kind: &str, key: &str) -> Result<Option<String>>;
}
