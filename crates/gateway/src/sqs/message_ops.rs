//! Message operations: send, receive, delete and visibility changes, one
//! at a time or in batches.
//!
//! Message contents (body characters, attributes, size, FIFO rules) are
//! checked by the queues when a message is sent; these handlers check the
//! wire (required parameters, integer ranges, batch rules) and choose
//! what a receive shows (system and message attributes by name).

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use updraft_queues::{AttributeValue, NewMessage, ReceiveRequest, Received};

use super::error::SqsError;
use super::{required, Call};

/// The most entries a batch takes, and the most messages a receive returns.
const MAX_BATCH: usize = 10;
/// A batch's messages together may not be larger (bytes).
const MAX_BATCH_BYTES: usize = 262_144;
/// The longest visibility timeout, seconds.
const MAX_VISIBILITY: i64 = 43_200;
/// The longest long poll, seconds.
const MAX_WAIT: i64 = 20;
/// The longest per-message delay, seconds.
const MAX_DELAY: i64 = 900;

/// A message attribute as the wire carries it (binary values in base64).
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct WireAttribute {
    data_type: Option<String>,
    string_value: Option<String>,
    binary_value: Option<String>,
}

/// The fields of `SendMessage` and of a `SendMessageBatch` entry.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MessageFields {
    message_body: Option<String>,
    delay_seconds: Option<i64>,
    message_attributes: Option<BTreeMap<String, WireAttribute>>,
    message_group_id: Option<String>,
    message_deduplication_id: Option<String>,
}

impl MessageFields {
    /// The message to send; the queues check its contents.
    fn into_message(self) -> Result<NewMessage, SqsError> {
        let body = self
            .message_body
            .filter(|b| !b.is_empty())
            .ok_or_else(|| SqsError::missing_parameter("MessageBody"))?;
        let delay_seconds = match self.delay_seconds {
            None => None,
            Some(d) if (0..=MAX_DELAY).contains(&d) => Some(d as u32),
            Some(d) => {
                return Err(SqsError::invalid_value(
                    "DelaySeconds",
                    d,
                    "DelaySeconds must be >= 0 and <= 900.",
                ))
            }
        };
        let mut attributes = BTreeMap::new();
        for (name, a) in self.message_attributes.unwrap_or_default() {
            attributes.insert(name.clone(), attribute(&name, a)?);
        }
        Ok(NewMessage {
            body: Bytes::from(body),
            delay_seconds,
            attributes,
            group_id: self.message_group_id,
            deduplication_id: self.message_deduplication_id,
            internal: None,
        })
    }
}

fn attribute(name: &str, a: WireAttribute) -> Result<AttributeValue, SqsError> {
    let data_type = a.data_type.filter(|t| !t.is_empty()).ok_or_else(|| {
        SqsError::invalid_parameter_value(format!(
            "The message attribute '{name}' must contain non-empty message attribute type."
        ))
    })?;
    let binary_value = match a.binary_value {
        None => None,
        Some(b) => Some(Bytes::from(STANDARD.decode(b.trim()).map_err(|_| {
            SqsError::invalid_parameter_value(format!(
                "The message attribute '{name}' has an invalid binary value: it must be base64."
            ))
        })?)),
    };
    Ok(AttributeValue {
        data_type,
        string_value: a.string_value,
        binary_value,
    })
}

fn wire_attribute(a: &AttributeValue) -> Value {
    let mut v = json!({ "DataType": a.data_type });
    if let Some(s) = &a.string_value {
        v["StringValue"] = json!(s);
    }
    if let Some(b) = &a.binary_value {
        v["BinaryValue"] = json!(STANDARD.encode(b));
    }
    v
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SendMessage {
    queue_url: Option<String>,
    #[serde(flatten)]
    fields: MessageFields,
}

pub async fn send_message(call: &Call<'_>, req: SendMessage) -> Result<Value, SqsError> {
    let queue = call.queue(&required(req.queue_url, "QueueUrl")?)?;
    let message = req.fields.into_message()?;
    let sent = call.state.queues.send(&queue.name, vec![message]).await?;
    let sent = sent
        .into_iter()
        .next()
        .ok_or_else(|| SqsError::internal("a send answered no message"))?;
    Ok(sent_fields(&sent, None))
}

fn sent_fields(sent: &updraft_queues::Sent, id: Option<&str>) -> Value {
    let mut out = json!({
        "MessageId": sent.message_id,
        "MD5OfMessageBody": sent.md5_of_body,
    });
    if let Some(id) = id {
        out["Id"] = json!(id);
    }
    if let Some(md5) = &sent.md5_of_message_attributes {
        out["MD5OfMessageAttributes"] = json!(md5);
    }
    if let Some(seq) = &sent.sequence_number {
        out["SequenceNumber"] = json!(seq);
    }
    out
}

/// SQS's checks on a batch as a whole: 1–10 entries whose ids are
/// distinct and made of `A-Za-z0-9_-` (at most 80).
fn check_batch<'e>(
    ids: impl ExactSizeIterator<Item = &'e str>,
    entry: &str,
) -> Result<(), SqsError> {
    match ids.len() {
        0 => return Err(SqsError::empty_batch(entry)),
        n if n > MAX_BATCH => return Err(SqsError::too_many_entries(n)),
        _ => {}
    }
    let mut seen = HashSet::new();
    for id in ids {
        let valid = !id.is_empty()
            && id.len() <= 80
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !valid {
            return Err(SqsError::invalid_batch_entry_id());
        }
        if !seen.insert(id) {
            return Err(SqsError::ids_not_distinct(id));
        }
    }
    Ok(())
}

/// A batch entry that failed, as `Failed` lists it.
fn failed(id: &str, e: &SqsError) -> Value {
    json!({ "Id": id, "SenderFault": e.sender, "Code": e.code, "Message": e.message })
}

fn batch_result(successful: Vec<Value>, failures: Vec<Value>) -> Value {
    json!({ "Successful": successful, "Failed": failures })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SendEntry {
    id: Option<String>,
    #[serde(flatten)]
    fields: MessageFields,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SendMessageBatch {
    queue_url: Option<String>,
    entries: Option<Vec<SendEntry>>,
}

/// Entries that fail their checks (the wire's, then the queue's) are
/// listed in `Failed`; the others are sent together, in one commit.
pub async fn send_message_batch(call: &Call<'_>, req: SendMessageBatch) -> Result<Value, SqsError> {
    let queue = call.queue(&required(req.queue_url, "QueueUrl")?)?;
    let entries = req.entries.unwrap_or_default();
    let ids: Vec<String> = entries
        .iter()
        .map(|e| e.id.clone().unwrap_or_default())
        .collect();
    check_batch(
        ids.iter().map(String::as_str),
        "SendMessageBatchRequestEntry",
    )?;
    let mut failures = Vec::new();
    let mut messages = Vec::new();
    for (id, entry) in ids.iter().zip(entries) {
        match entry.fields.into_message() {
            Ok(m) => messages.push((id.as_str(), m)),
            Err(e) => failures.push(failed(id, &e)),
        }
    }
    let total: usize = messages
        .iter()
        .map(|(_, m)| updraft_queues::message_size(&m.body, &m.attributes))
        .sum();
    if total > MAX_BATCH_BYTES {
        return Err(SqsError::batch_too_long(MAX_BATCH_BYTES, total));
    }
    let (mut ids, mut batch) = (Vec::new(), Vec::new());
    for (id, m) in messages {
        match updraft_queues::validate_message(&queue, &m) {
            Ok(()) => {
                ids.push(id);
                batch.push(m);
            }
            Err(e) => failures.push(failed(id, &e.into())),
        }
    }
    if batch.is_empty() {
        return Ok(batch_result(Vec::new(), failures));
    }
    let sent = call.state.queues.send(&queue.name, batch).await?;
    let successful = ids
        .iter()
        .zip(&sent)
        .map(|(id, s)| sent_fields(s, Some(id)))
        .collect();
    Ok(batch_result(successful, failures))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReceiveMessage {
    queue_url: Option<String>,
    attribute_names: Option<Vec<String>>,
    message_system_attribute_names: Option<Vec<String>>,
    message_attribute_names: Option<Vec<String>>,
    max_number_of_messages: Option<i64>,
    visibility_timeout: Option<i64>,
    wait_time_seconds: Option<i64>,
}

/// An optional integer parameter within `range`.
fn ranged(
    value: Option<i64>,
    name: &str,
    range: std::ops::RangeInclusive<i64>,
    reason: &str,
) -> Result<Option<i64>, SqsError> {
    match value {
        Some(v) if !range.contains(&v) => Err(SqsError::invalid_value(name, v, reason)),
        v => Ok(v),
    }
}

/// Long polls wait inside the queues (asynchronously): a waiting receive
/// holds no thread.
pub async fn receive_message(call: &Call<'_>, req: ReceiveMessage) -> Result<Value, SqsError> {
    let queue = call.queue(&required(req.queue_url, "QueueUrl")?)?;
    let max = ranged(
        req.max_number_of_messages,
        "MaxNumberOfMessages",
        1..=MAX_BATCH as i64,
        "Must be between 1 and 10, if provided.",
    )?
    .unwrap_or(1);
    let visibility = ranged(
        req.visibility_timeout,
        "VisibilityTimeout",
        0..=MAX_VISIBILITY,
        "Must be between 0 and 43200, if provided.",
    )?;
    let wait = ranged(
        req.wait_time_seconds,
        "WaitTimeSeconds",
        0..=MAX_WAIT,
        "Must be >= 0 and <= 20, if provided.",
    )?;
    let received = call
        .state
        .queues
        .receive(
            &queue.name,
            ReceiveRequest {
                max_messages: max as usize,
                visibility_timeout: visibility.map(|v| Duration::from_secs(v as u64)),
                wait: wait.map(|w| Duration::from_secs(w as u64)),
            },
        )
        .await?;
    let system: Vec<String> = req
        .attribute_names
        .into_iter()
        .chain(req.message_system_attribute_names)
        .flatten()
        .collect();
    let wanted = req.message_attribute_names.unwrap_or_default();
    let messages: Vec<Value> = received
        .iter()
        .map(|m| message(call, m, &system, &wanted))
        .collect();
    if messages.is_empty() {
        return Ok(json!({}));
    }
    Ok(json!({ "Messages": messages }))
}

/// A received message as SQS shows it: the system attributes asked for
/// (`All` or by name) and the message attributes asked for (`All`, `.*`,
/// `prefix.*` or by name), with the MD5 of those shown.
fn message(call: &Call<'_>, m: &Received, system: &[String], wanted: &[String]) -> Value {
    let mut out = json!({
        "MessageId": m.message_id,
        "ReceiptHandle": m.receipt_handle,
        "MD5OfBody": m.md5_of_body,
        "Body": String::from_utf8_lossy(&m.body),
    });
    let attributes = system_attributes(call, m, system);
    if !attributes.is_empty() {
        out["Attributes"] = Value::Object(attributes);
    }
    let selected: BTreeMap<String, AttributeValue> = m
        .attributes
        .iter()
        .filter(|(name, _)| wanted.iter().any(|w| attribute_wanted(w, name)))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if let Some(md5) = updraft_queues::md5_of_attributes(&selected) {
        out["MD5OfMessageAttributes"] = json!(md5);
        out["MessageAttributes"] = Value::Object(
            selected
                .iter()
                .map(|(k, v)| (k.clone(), wire_attribute(v)))
                .collect(),
        );
    }
    out
}

fn attribute_wanted(pattern: &str, name: &str) -> bool {
    match pattern {
        "All" | ".*" => true,
        p => match p.strip_suffix(".*") {
            Some(prefix) => name
                .strip_prefix(prefix)
                .is_some_and(|rest| rest.starts_with('.')),
            None => p == name,
        },
    }
}

fn system_attributes(call: &Call<'_>, m: &Received, names: &[String]) -> Map<String, Value> {
    let all = names.iter().any(|n| n == "All");
    let wanted = |n: &str| all || names.iter().any(|w| w == n);
    let candidates = [
        ("SenderId", Some(call.account().to_string())),
        ("SentTimestamp", Some(m.sent_ms.to_string())),
        ("ApproximateReceiveCount", Some(m.receive_count.to_string())),
        (
            "ApproximateFirstReceiveTimestamp",
            Some(m.first_receive_ms.to_string()),
        ),
        ("MessageGroupId", m.group_id.clone()),
        ("MessageDeduplicationId", m.deduplication_id.clone()),
        ("SequenceNumber", m.sequence_number.clone()),
    ];
    candidates
        .into_iter()
        .filter(|(n, _)| wanted(n))
        .filter_map(|(n, v)| Some((n.to_string(), Value::String(v?))))
        .collect()
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteMessage {
    queue_url: Option<String>,
    receipt_handle: Option<String>,
}

pub async fn delete_message(call: &Call<'_>, req: DeleteMessage) -> Result<Value, SqsError> {
    let queue = call.queue(&required(req.queue_url, "QueueUrl")?)?;
    let handle = required(req.receipt_handle, "ReceiptHandle")?;
    call.state.queues.delete(&queue.name, &handle).await?;
    Ok(json!({}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteEntry {
    id: Option<String>,
    receipt_handle: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteMessageBatch {
    queue_url: Option<String>,
    entries: Option<Vec<DeleteEntry>>,
}

/// Every entry's delete is written in one commit.
pub async fn delete_message_batch(
    call: &Call<'_>,
    req: DeleteMessageBatch,
) -> Result<Value, SqsError> {
    let queue = call.queue(&required(req.queue_url, "QueueUrl")?)?;
    let entries = req.entries.unwrap_or_default();
    check_batch(
        entries.iter().map(|e| e.id.as_deref().unwrap_or_default()),
        "DeleteMessageBatchRequestEntry",
    )?;
    let mut failures = Vec::new();
    let mut ids = Vec::new();
    let mut handles = Vec::new();
    for e in &entries {
        let id = e.id.as_deref().unwrap_or_default();
        match e.receipt_handle.as_deref() {
            Some(h) => {
                ids.push(id);
                handles.push(h);
            }
            None => failures.push(failed(id, &SqsError::missing_parameter("ReceiptHandle"))),
        }
    }
    let results = call.state.queues.delete_many(&queue.name, &handles).await?;
    let mut successful = Vec::new();
    for (id, result) in ids.into_iter().zip(results) {
        match result {
            Ok(()) => successful.push(json!({ "Id": id })),
            Err(e) => failures.push(failed(id, &e.into())),
        }
    }
    Ok(batch_result(successful, failures))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChangeVisibility {
    queue_url: Option<String>,
    receipt_handle: Option<String>,
    visibility_timeout: Option<i64>,
}

/// A visibility timeout for `ChangeMessageVisibility`.
fn visibility(value: Option<i64>) -> Result<Duration, SqsError> {
    let v = required(value, "VisibilityTimeout")?;
    ranged(
        Some(v),
        "VisibilityTimeout",
        0..=MAX_VISIBILITY,
        "Must be between 0 and 43200.",
    )?;
    Ok(Duration::from_secs(v as u64))
}

pub async fn change_message_visibility(
    call: &Call<'_>,
    req: ChangeVisibility,
) -> Result<Value, SqsError> {
    let queue = call.queue(&required(req.queue_url, "QueueUrl")?)?;
    let handle = required(req.receipt_handle, "ReceiptHandle")?;
    let timeout = visibility(req.visibility_timeout)?;
    call.state
        .queues
        .change_visibility(&queue.name, &handle, timeout)
        .await?;
    Ok(json!({}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChangeVisibilityEntry {
    id: Option<String>,
    receipt_handle: Option<String>,
    visibility_timeout: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChangeVisibilityBatch {
    queue_url: Option<String>,
    entries: Option<Vec<ChangeVisibilityEntry>>,
}

pub async fn change_message_visibility_batch(
    call: &Call<'_>,
    req: ChangeVisibilityBatch,
) -> Result<Value, SqsError> {
    let queue = call.queue(&required(req.queue_url, "QueueUrl")?)?;
    let entries = req.entries.unwrap_or_default();
    check_batch(
        entries.iter().map(|e| e.id.as_deref().unwrap_or_default()),
        "ChangeMessageVisibilityBatchRequestEntry",
    )?;
    let mut successful = Vec::new();
    let mut failures = Vec::new();
    for e in entries {
        let id = e.id.unwrap_or_default();
        let result = async {
            let handle = required(e.receipt_handle, "ReceiptHandle")?;
            let timeout = visibility(e.visibility_timeout)?;
            call.state
                .queues
                .change_visibility(&queue.name, &handle, timeout)
                .await
                .map_err(SqsError::from)
        }
        .await;
        match result {
            Ok(()) => successful.push(json!({ "Id": id })),
            Err(e) if e.status.is_server_error() => return Err(e),
            Err(e) => failures.push(failed(&id, &e)),
        }
    }
    Ok(batch_result(successful, failures))
}
