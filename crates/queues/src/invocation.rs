//! Async invocations waiting for their function.
//!
//! Every asynchronous invocation (`Invoke` with `Event`, an event bus
//! target, a schedule, a destination) is a message in its function's
//! internal queue, `lambda-async:{function}`, written before the caller is
//! acknowledged. The message id is the invocation's request id, so it is
//! stable across retries and restarts. The consumer (the `events` crate)
//! receives from these queues, runs the function, and deletes the message,
//! retries it (a visibility change) or hands it to a destination.

use bytes::Bytes;
use serde::Deserialize;
use serde_json::Value;

use crate::delivery::{by_queue, new_msg};
use crate::{NewMessage, QueueError, Queues, Received};

/// Internal queue names start with this; SQS names cannot contain `:`.
pub const PREFIX: &str = "lambda-async:";

/// The internal queue of a function's async invocations.
pub fn queue_name(function: &str) -> String {
    format!("{PREFIX}{function}")
}

/// An async invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AsyncInvocation {
    /// The function's name (not an ARN).
    pub function: String,
    /// A version or alias; `None` is `$LATEST`.
    pub qualifier: Option<String>,
    pub payload: Bytes,
    /// Stable across retries: the message id.
    pub request_id: String,
    /// What sent it (`updraft_store::usage::trigger` names: `event`,
    /// `schedule`, `bus`...).
    pub trigger: String,
    /// The caller's W3C trace context.
    pub traceparent: Option<String>,
}

/// What travels in the message besides the payload and the request id
/// (the message id): `[function, qualifier, trigger, traceparent]`, a
/// JSON array because it is built, copied into every delivery and read on
/// the hot path, and an array is the cheapest `Value` to build and copy.
#[derive(Debug, Deserialize)]
struct Meta(String, Option<String>, String, Option<String>);

impl AsyncInvocation {
    /// The message id (the request id) and the message.
    fn into_message(self) -> (String, NewMessage) {
        let optional = |s: Option<String>| s.map_or(Value::Null, Value::String);
        let meta = Value::Array(vec![
            Value::String(self.function),
            optional(self.qualifier),
            Value::String(self.trigger),
            optional(self.traceparent),
        ]);
        let message = NewMessage {
            body: self.payload,
            internal: Some(meta),
            ..Default::default()
        };
        (self.request_id, message)
    }

    /// The invocation a received internal message carries; `None` if the
    /// message was not written by [`Queues::enqueue_invocations`].
    pub fn from_received(message: &Received) -> Option<AsyncInvocation> {
        let Meta(function, qualifier, trigger, traceparent) =
            Meta::deserialize(message.internal.as_ref()?).ok()?;
        Some(AsyncInvocation {
            function,
            qualifier,
            payload: message.body.clone(),
            request_id: message.message_id.clone(),
            trigger,
            traceparent,
        })
    }
}

impl Queues {
    /// Writes async invocations to their functions' queues (created when
    /// missing); returns when all are durable. The message id of each is
    /// its `request_id`.
    pub async fn enqueue_invocations(
        &self,
        invocations: Vec<AsyncInvocation>,
    ) -> Result<(), QueueError> {
        self.enqueue_invocations_with(invocations, Vec::new()).await
    }

    /// [`Queues::enqueue_invocations`], with `extra` writes committed in
    /// the same transaction (a schedule's last fired slot with the
    /// invocation it fired).
    pub async fn enqueue_invocations_with(
        &self,
        invocations: Vec<AsyncInvocation>,
        extra: Vec<updraft_store::EventWrite>,
    ) -> Result<(), QueueError> {
        let now = crate::now_ms();
        let first_seq = self.next_seqs(invocations.len());
        let messages = invocations.into_iter().enumerate().map(|(i, inv)| {
            let queue = queue_name(&inv.function);
            let (id, message) = inv.into_message();
            let msg = new_msg(id, first_seq + i as i64, message, now, 0);
            (queue, msg)
        });
        let batches = by_queue(messages)
            .into_iter()
            .map(|(queue, msgs)| (self.internal_queue(&queue), msgs))
            .collect();
        self.store_and_deliver(batches, extra).await
    }
}
