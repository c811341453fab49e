//! Putting events on a bus: `PutEvents` entries are validated, wrapped
//! in the envelope, matched, and what each matched target receives is
//! written durably before the call answers.

use std::collections::BTreeMap;

use bytes::Bytes;
use serde_json::{json, Value};
use updraft_queues::invocation::AsyncInvocation;
use updraft_queues::{NewMessage, QueueError};

use crate::model::{Destination, Input};
use crate::{now_ms, rfc3339, transform, Bus, BusError, NewEvent};

/// The most entries one `PutEvents` call takes.
pub const MAX_ENTRIES: usize = 10;
/// The most bytes the entries of one `PutEvents` call may total, counted
/// as EventBridge does (see [`EventEntry::size`]).
pub const MAX_ENTRIES_SIZE: usize = 256 * 1024;

/// One `PutEvents` entry as the client sent it.
#[derive(Debug, Clone, Default)]
pub struct EventEntry {
    /// A bus name or ARN; `None` is the default bus.
    pub bus: Option<String>,
    pub source: Option<String>,
    pub detail_type: Option<String>,
    /// JSON text of an object.
    pub detail: Option<String>,
    pub resources: Vec<String>,
    /// ms since the Unix epoch; `None` is now.
    pub time_ms: Option<i64>,
}

impl EventEntry {
    /// The entry's size as EventBridge counts it toward the request limit.
    pub fn size(&self) -> usize {
        let text = |s: &Option<String>| s.as_ref().map_or(0, String::len);
        self.time_ms.map_or(0, |_| 14)
            + text(&self.source)
            + text(&self.detail_type)
            + text(&self.detail)
            + self.resources.iter().map(String::len).sum::<usize>()
    }
}

/// The outcome of one entry: the event id, or `ErrorCode` and
/// `ErrorMessage`.
pub type EntryResult = Result<String, EntryError>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryError {
    pub code: &'static str,
    pub message: String,
}

/// One write to a target.
struct Delivery {
    destination: Destination,
    payload: Bytes,
}

impl Bus {
    /// `PutEvents`: every entry is validated, put on its bus and matched;
    /// the call answers when every target write of every matched rule is
    /// durable. Entries that are not valid are answered as failures and
    /// the others delivered; a bus that does not exist fails the call.
    pub async fn put_events(&self, entries: Vec<EventEntry>) -> Result<Vec<EntryResult>, BusError> {
        if entries.is_empty() || entries.len() > MAX_ENTRIES {
            return Err(BusError::Validation(format!(
                "1 validation error detected: Value at 'entries' failed to satisfy constraint: Member must have length less than or equal to {MAX_ENTRIES} and greater than or equal to 1"
            )));
        }
        if entries.iter().map(EventEntry::size).sum::<usize>() > MAX_ENTRIES_SIZE {
            return Err(BusError::Validation(
                "Total size of the entries in the request is over the limit.".into(),
            ));
        }
        let buses = entries
            .iter()
            .map(|e| self.bus_name(e.bus.as_deref()))
            .collect::<Result<Vec<_>, _>>()?;
        let mut results = Vec::with_capacity(entries.len());
        let mut deliveries = Vec::new();
        for (entry, bus) in entries.into_iter().zip(buses) {
            results.push(validate_entry(&entry).map(|detail| {
                let event = NewEvent {
                    bus,
                    source: entry.source.unwrap_or_default(),
                    detail_type: entry.detail_type.unwrap_or_default(),
                    detail,
                    resources: entry.resources,
                };
                self.route(event, entry.time_ms, &mut deliveries)
            }));
        }
        self.deliver(deliveries).await?;
        Ok(results)
    }

    /// Puts one event on a bus (the platform's own events, async
    /// invocation destinations): matched against the bus's rules and
    /// written durably to the targets before this returns. Returns the
    /// event id.
    pub async fn put_event(&self, event: NewEvent) -> Result<String, BusError> {
        let bus = self.bus_name(Some(&event.bus))?;
        let mut deliveries = Vec::new();
        let id = self.route(NewEvent { bus, ..event }, None, &mut deliveries);
        self.deliver(deliveries).await?;
        Ok(id)
    }

    /// Wraps `event` in its envelope, matches it, and adds what its
    /// targets receive to `deliveries`; returns the event id.
    fn route(
        &self,
        event: NewEvent,
        time_ms: Option<i64>,
        deliveries: &mut Vec<Delivery>,
    ) -> String {
        let id = uuid::Uuid::new_v4().to_string();
        let ingestion_time = rfc3339(now_ms());
        let envelope = json!({
            "version": "0",
            "id": id,
            "detail-type": event.detail_type,
            "source": event.source,
            "account": self.account.account_id,
            "time": time_ms.map_or_else(|| ingestion_time.clone(), rfc3339),
            "region": self.account.region,
            "resources": event.resources,
            "detail": event.detail,
        });
        let matched = self
            .read()
            .rules
            .get(&event.bus)
            .map(|rules| rules.index.matching(&envelope))
            .unwrap_or_default();
        for rule in matched {
            for target in &rule.targets {
                let payload = match &target.input {
                    Input::Event => envelope.to_string(),
                    Input::Constant(text) => text.clone(),
                    Input::Path(path) => path.get(&envelope).unwrap_or(&Value::Null).to_string(),
                    Input::Transformer(t) => t.render(
                        &envelope,
                        &transform::Context {
                            rule_arn: &rule.arn,
                            rule_name: &rule.rule.name,
                            ingestion_time: &ingestion_time,
                        },
                    ),
                };
                deliveries.push(Delivery {
                    destination: target.destination.clone(),
                    payload: Bytes::from(payload),
                });
            }
        }
        tracing::debug!(event = %id, bus = %event.bus, targets = deliveries.len(), "event routed");
        id
    }

    /// Writes every delivery; returns when all are durable. Function
    /// targets go in one write, each queue's messages in one send, all
    /// submitted together so they share group commits. A queue that no
    /// longer exists loses its messages (logged), as an EventBridge target
    /// that cannot be reached.
    async fn deliver(&self, deliveries: Vec<Delivery>) -> Result<(), BusError> {
        let mut invocations = Vec::new();
        let mut messages: BTreeMap<String, Vec<NewMessage>> = BTreeMap::new();
        for d in deliveries {
            match d.destination {
                Destination::Function { name, qualifier } => invocations.push(AsyncInvocation {
                    function: name,
                    qualifier,
                    payload: d.payload,
                    request_id: uuid::Uuid::new_v4().to_string(),
                    trigger: updraft_store::usage::trigger::BUS.into(),
                    traceparent: None,
                }),
                Destination::Queue(name) => messages.entry(name).or_default().push(NewMessage {
                    body: d.payload,
                    ..Default::default()
                }),
            }
        }
        let sends = messages.into_iter().map(|(queue, batch)| async move {
            match self.queues.send(&queue, batch).await {
                Ok(_) => Ok(()),
                Err(QueueError::Internal(e)) => Err(BusError::Internal(e)),
                Err(e) => {
                    tracing::warn!(queue = %queue, error = %e, "event bus target queue refused the event");
                    Ok(())
                }
            }
        });
        let invoke = async {
            if invocations.is_empty() {
                Ok(())
            } else {
                self.queues
                    .enqueue_invocations(invocations)
                    .await
                    .map_err(BusError::from)
            }
        };
        let (invoked, sent) = futures::join!(invoke, futures::future::join_all(sends));
        invoked?;
        sent.into_iter().collect()
    }
}

/// Checks an entry's fields; returns its detail.
fn validate_entry(entry: &EventEntry) -> Result<Value, EntryError> {
    let missing = |field: &str| EntryError {
        code: "InvalidArgument",
        message: format!("Parameter {field} is not valid. Reason: {field} is a required argument."),
    };
    let source = entry.source.as_deref().ok_or_else(|| missing("Source"))?;
    entry
        .detail_type
        .as_deref()
        .ok_or_else(|| missing("DetailType"))?;
    let detail = entry.detail.as_deref().ok_or_else(|| missing("Detail"))?;
    if source.starts_with("aws.") {
        return Err(EntryError {
            code: "NotAuthorizedForSourceException",
            message: "Not authorized for the source.".into(),
        });
    }
    match serde_json::from_str::<Value>(detail) {
        Ok(v @ Value::Object(_)) => Ok(v),
        _ => Err(EntryError {
            code: "MalformedDetail",
            message: "Detail is malformed.".into(),
        }),
    }
}
