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
use serde::{Deserialize, Serialize};

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

/// What travels in the message besides the payload.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Meta {
    function: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    qualifier: Option<String>,
    trigger: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    traceparent: Option<String>,
    request_id: String,
}

impl AsyncInvocation {
    fn into_message(self) -> NewMessage {
        let meta = Meta {
            function: self.function,
            qualifier: self.qualifier,
            trigger: self.trigger,
            traceparent: self.traceparent,
            request_id: self.request_id,
        };
        NewMessage {
            body: self.payload,
            internal: Some(serde_json::to_value(meta).expect("plain struct serializes")),
            ..Default::default()
        }
    }

    /// The invocation a received internal message carries; `None` if the
    /// message was not written by [`Queues::enqueue_invocations`].
    pub fn from_received(message: &Received) -> Option<AsyncInvocation> {
        let meta: Meta = serde_json::from_value(message.internal.clone()?).ok()?;
        Some(AsyncInvocation {
            function: meta.function,
            qualifier: meta.qualifier,
            payload: message.body.clone(),
            request_id: meta.request_id,
            trigger: meta.trigger,
            traceparent: meta.traceparent,
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
        let _ = extra;
        let _ = invocations
            .into_iter()
            .map(|i| {
                (
                    queue_name(&i.function),
                    i.request_id.clone(),
                    i.into_message(),
                )
            })
            .collect::<Vec<_>>();
        todo!()
    }
}
