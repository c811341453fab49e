//! Messages in and out: send, receive (long polling), delete, visibility,
//! purge, and redrive to dead-letter queues.
//!
//! Durability first: a sent message is written before it is in memory
//! (so nothing undurable is ever delivered); deletes and visibility
//! changes change memory, then wait for their write. Receives record the
//! new receive count without waiting: a crash before that write only
//! makes a delivery count one lower.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest as _, Sha256};
use tokio::time::Instant;
use updraft_store::EventWrite;

use crate::message::{
    md5_hex, md5_of_attributes, message_size, parse_handle, validate_attributes, validate_body, Msg,
};
use crate::queue::{sequence_number, Queue};
use crate::{now_ms, NewMessage, QueueError, Queues, ReceiveRequest, Received, Sent};

/// The longest visibility timeout SQS allows, seconds.
const MAX_VISIBILITY_TIMEOUT: u64 = 43_200;

impl Queues {
    /// Sends messages; each is durable when this returns. Every message is
    /// validated first; one invalid message fails the call and sends none
    /// (batch callers validate entries one by one before).
    pub async fn send(
        &self,
        queue: &str,
        messages: Vec<NewMessage>,
    ) -> Result<Vec<Sent>, QueueError> {
        let q = self.queue(queue)?;
        let config = q.lock().config.clone();
        let now = now_ms();
        if !q.internal {
            for m in &messages {
                validate_message(&config, m)?;
            }
        }
        let first_seq = self.next_seqs(messages.len());
        let mut answers: Vec<Sent> = Vec::with_capacity(messages.len());
        let mut msgs = Vec::with_capacity(messages.len());
        let mut remembered = Vec::new();
        for (i, m) in messages.into_iter().enumerate() {
            let seq = first_seq + i as i64;
            let deduplication_id = if config.fifo {
                let id = m
                    .deduplication_id
                    .clone()
                    .unwrap_or_else(|| hex::encode(Sha256::digest(&m.body)));
                let key = config.deduplication_key(m.group_id.as_deref(), &id);
                let state = q.lock();
                if let Some(sent) = state.deduplicated(&key, now) {
                    answers.push(sent);
                    continue;
                }
                Some((id, key))
            } else {
                None
            };
            let delay = m.delay_seconds.unwrap_or(config.delay_seconds);
            let msg = new_msg(uuid::Uuid::new_v4().to_string(), seq, m, now, delay);
            let (deduplication_id, key) = deduplication_id.unzip();
            let msg = Msg {
                deduplication_id,
                ..msg
            };
            let sent = sent_of(&msg, config.fifo);
            if let Some(key) = key {
                q.lock().remember(key.clone(), sent.clone(), now);
                remembered.push(key);
            }
            answers.push(sent);
            msgs.push(msg);
        }
        let outcome = self
            .store_and_deliver(vec![(q.clone(), msgs)], Vec::new())
            .await;
        if outcome.is_err() {
            let mut state = q.lock();
            for id in &remembered {
                state.forget(id);
            }
        }
        outcome.map(|()| answers)
    }

    /// Writes messages (and `extra` writes) in one commit, then makes them
    /// deliverable. Once submitted, the writes are made deliverable when
    /// stored even if the caller stops waiting (a client that hangs up):
    /// stored messages never stay invisible until the next start.
    pub(crate) async fn store_and_deliver(
        &self,
        batches: Vec<(Arc<Queue>, Vec<Msg>)>,
        extra: Vec<EventWrite>,
    ) -> Result<(), QueueError> {
        let count: usize = batches.iter().map(|(_, m)| m.len()).sum();
        let mut writes = Vec::with_capacity(count + extra.len());
        for (q, msgs) in &batches {
            writes.extend(
                msgs.iter()
                    .map(|m| EventWrite::PutMessage(m.to_stored(&q.name))),
            );
        }
        writes.extend(extra);
        let stored = self.committer.submit(writes);
        let activity = self.activity.clone();
        let delivered = tokio::spawn(async move {
            crate::committed(stored.await)?;
            deliver(batches, &activity)
        });
        delivered
            .await
            .unwrap_or_else(|e| Err(QueueError::Internal(format!("delivery failed: {e}"))))
    }

    /// Receives up to `max_messages`, waiting up to `wait` for the first.
    /// Messages received more than the redrive policy allows move to the
    /// dead-letter queue instead.
    pub async fn receive(
        &self,
        queue: &str,
        request: ReceiveRequest,
    ) -> Result<Vec<Received>, QueueError> {
        let q = self.queue(queue)?;
        let (wait, visibility) = {
            let config = &q.lock().config;
            (
                request
                    .wait
                    .unwrap_or(Duration::from_secs(config.receive_message_wait_time.into())),
                request
                    .visibility_timeout
                    .unwrap_or(Duration::from_secs(config.visibility_timeout.into())),
            )
        };
        let deadline = Instant::now() + wait;
        loop {
            let notified = q.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let (received, next_visible_ms) = self.take(&q, request.max_messages, visibility)?;
            if !received.is_empty() || Instant::now() >= deadline {
                return Ok(received);
            }
            let mut until = deadline;
            if let Some(next) = next_visible_ms {
                let in_ms = (next - now_ms()).max(0) as u64;
                until = until.min(Instant::now() + Duration::from_millis(in_ms));
            }
            tokio::select! {
                () = &mut notified => {}
                () = tokio::time::sleep_until(until) => {}
            }
        }
    }

    /// One attempt at a receive: takes what is deliverable, moves what
    /// exceeded the redrive policy. Answers the messages and when the next
    /// waiting one becomes visible. Sends wake one waiter; one that takes messages and
    /// leaves some behind wakes the next, so a burst wakes as
    /// many receivers as it feeds.
    fn take(
        &self,
        q: &Queue,
        max: usize,
        visibility: Duration,
    ) -> Result<(Vec<Received>, Option<i64>), QueueError> {
        let now = now_ms();
        let (taken, next, expired, dead_letter) = {
            let mut state = q.lock();
            if state.deleted {
                return Err(QueueError::NonExistentQueue);
            }
            let expired = state.expire(now);
            state.promote(now);
            let dead_letter = state
                .config
                .redrive_policy
                .as_ref()
                .and_then(|p| Some((self.queue(p.target_name()).ok()?, p.max_receive_count)));
            let taken = state.take(
                now,
                max,
                visibility.as_millis() as i64,
                dead_letter.as_ref().map(|(_, limit)| *limit),
            );
            if !taken.received.is_empty() && state.has_ready() {
                q.notify.notify_one();
            }
            (taken, state.next_visible_ms(), expired, dead_letter)
        };
        let mut writes = expired;
        writes.extend(taken.writes);
        if let Some((dlq, _)) = dead_letter.filter(|_| !taken.dead.is_empty()) {
            let first_seq = self.next_seqs(taken.dead.len());
            let moved: Vec<Msg> = taken
                .dead
                .into_iter()
                .enumerate()
                .map(|(i, m)| Msg {
                    seq: first_seq + i as i64,
                    visible_ms: now,
                    receive_count: 0,
                    first_receive_ms: None,
                    ..m
                })
                .collect();
            writes.extend(
                moved
                    .iter()
                    .map(|m| EventWrite::PutMessage(m.to_stored(&dlq.name))),
            );
            {
                let mut state = dlq.lock();
                for m in moved {
                    state.insert(m, now);
                }
            }
            dlq.notify.notify_one();
        }
        self.committer.submit_detached(writes);
        Ok((taken.received, next))
    }

    /// Deletes a received message. A receipt handle whose message is gone
    /// already succeeds (as SQS does); a malformed one is
    /// `ReceiptHandleIsInvalid`.
    pub async fn delete(&self, queue: &str, receipt_handle: &str) -> Result<(), QueueError> {
        let mut results = self.delete_many(queue, &[receipt_handle]).await?;
        results.pop().unwrap_or(Ok(()))
    }

    /// Deletes many received messages in one commit; answers each
    /// handle's outcome, in order (`DeleteMessageBatch`, and consumers
    /// of internal queues finishing many messages at once).
    pub async fn delete_many(
        &self,
        queue: &str,
        receipt_handles: &[&str],
    ) -> Result<Vec<Result<(), QueueError>>, QueueError> {
        let q = self.queue(queue)?;
        let mut results = Vec::with_capacity(receipt_handles.len());
        let mut writes = Vec::new();
        {
            let mut state = q.lock();
            for handle in receipt_handles {
                let Some(h) = parse_handle(handle) else {
                    results.push(Err(QueueError::ReceiptHandleIsInvalid(
                        (*handle).to_owned(),
                    )));
                    continue;
                };
                // A stale handle (the message was received again since)
                // succeeds without deleting, as in SQS.
                let current = state
                    .get(h.seq, &h.id)
                    .is_some_and(|m| m.receive_count == h.receive_count);
                if current {
                    state.remove(h.seq);
                    writes.push(EventWrite::DeleteMessage {
                        queue: q.name.clone(),
                        id: h.id,
                    });
                }
                results.push(Ok(()));
            }
        }
        self.commit(writes).await?;
        Ok(results)
    }

    /// Makes a received message visible again after `timeout` (0: now).
    /// The message must be in flight under this handle
    /// (`MessageNotInflight` otherwise); `timeout` is at most 12 hours.
    pub async fn change_visibility(
        &self,
        queue: &str,
        receipt_handle: &str,
        timeout: Duration,
    ) -> Result<(), QueueError> {
        let q = self.queue(queue)?;
        let h = parse_handle(receipt_handle)
            .ok_or_else(|| QueueError::ReceiptHandleIsInvalid(receipt_handle.to_owned()))?;
        if timeout.as_secs() > MAX_VISIBILITY_TIMEOUT {
            return Err(QueueError::InvalidParameterValue(format!(
                "Value {} for parameter VisibilityTimeout is invalid. Reason: Must be between 0 and 43200.",
                timeout.as_secs()
            )));
        }
        let now = now_ms();
        let write = {
            let mut state = q.lock();
            let msg = state
                .get(h.seq, &h.id)
                .filter(|m| m.receive_count == h.receive_count && state.in_flight(m, now))
                .ok_or_else(|| QueueError::MessageNotInflight(receipt_handle.to_owned()))?;
            let (receive_count, first_receive_ms) = (msg.receive_count, msg.first_receive_ms);
            let visible_ms = now + timeout.as_millis() as i64;
            if state.set_visible(h.seq, visible_ms, now) {
                q.notify.notify_one();
            }
            EventWrite::UpdateMessage {
                queue: q.name.clone(),
                id: h.id,
                visible_ms,
                receive_count,
                first_receive_ms,
            }
        };
        self.commit(vec![write]).await
    }

    /// Deletes every message of a queue.
    pub async fn purge(&self, queue: &str) -> Result<(), QueueError> {
        let q = self.queue(queue)?;
        q.lock().clear();
        self.commit(vec![EventWrite::PurgeQueue {
            queue: q.name.clone(),
        }])
        .await
    }
}

/// SQS's checks on one message: body characters and presence, message
/// attributes, total size, and the FIFO rules (a group id is required
/// and per-message delays are not allowed; a deduplication id is required
/// unless the queue deduplicates by content).
pub fn validate_message(config: &crate::QueueConfig, m: &NewMessage) -> Result<(), QueueError> {
    if m.body.is_empty() {
        return Err(QueueError::MissingParameter(
            "The request must contain the parameter MessageBody.".into(),
        ));
    }
    validate_body(&m.body)?;
    validate_attributes(&m.attributes)?;
    let size = message_size(&m.body, &m.attributes);
    let limit = config.maximum_message_size as usize;
    if size > limit {
        return Err(QueueError::InvalidParameterValue(format!(
            "One or more parameters are invalid. Reason: Message must be shorter than {limit} bytes."
        )));
    }
    if let Some(d) = m.delay_seconds {
        if d > 900 {
            return Err(QueueError::InvalidParameterValue(format!(
                "Value {d} for parameter DelaySeconds is invalid. Reason: DelaySeconds must be >= 0 and <= 900."
            )));
        }
    }
    if config.fifo {
        if m.group_id.as_deref().is_none_or(str::is_empty) {
            return Err(QueueError::MissingParameter(
                "The request must contain the parameter MessageGroupId.".into(),
            ));
        }
        if m.delay_seconds.is_some_and(|d| d > 0) {
            return Err(QueueError::InvalidParameterValue(
                "Value for parameter DelaySeconds is invalid. Reason: The request include parameter that is not valid for this queue type.".into(),
            ));
        }
        if m.deduplication_id.is_none() && !config.content_based_deduplication {
            return Err(QueueError::InvalidParameterValue(
                "The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly".into(),
            ));
        }
        for (what, v) in [
            ("MessageGroupId", &m.group_id),
            ("MessageDeduplicationId", &m.deduplication_id),
        ] {
            if let Some(v) = v {
                let ok = !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic());
                if !ok {
                    return Err(QueueError::InvalidParameterValue(format!(
                        "Value {v} for parameter {what} is invalid. Reason: {what} can only include alphanumeric and punctuation characters. 1 to 128 in length."
                    )));
                }
            }
        }
    } else if m.group_id.is_some() || m.deduplication_id.is_some() {
        let what = if m.group_id.is_some() {
            "MessageGroupId"
        } else {
            "MessageDeduplicationId"
        };
        return Err(QueueError::InvalidParameterValue(format!(
            "Value for parameter {what} is invalid. Reason: The request include parameter that is not valid for this queue type."
        )));
    }
    Ok(())
}

/// A new message in memory, deliverable after `delay_seconds`.
pub(crate) fn new_msg(id: String, seq: i64, m: NewMessage, now: i64, delay_seconds: u32) -> Msg {
    Msg {
        id: id.into(),
        seq,
        md5_of_body: md5_hex(&m.body),
        md5_of_attributes: md5_of_attributes(&m.attributes),
        body: m.body,
        attributes: m.attributes,
        internal: m.internal,
        group_id: m.group_id,
        deduplication_id: m.deduplication_id,
        sent_ms: now,
        visible_ms: now + i64::from(delay_seconds) * 1000,
        receive_count: 0,
        first_receive_ms: None,
    }
}

fn sent_of(msg: &Msg, fifo: bool) -> Sent {
    Sent {
        message_id: msg.id.to_string(),
        md5_of_body: msg.md5_of_body.clone(),
        md5_of_message_attributes: msg.md5_of_attributes.clone(),
        sequence_number: fifo.then(|| sequence_number(msg.seq)),
    }
}

/// Groups `(queue, message)` pairs by queue, keeping their order.
pub(crate) fn by_queue<T>(items: impl IntoIterator<Item = (String, T)>) -> Vec<(String, Vec<T>)> {
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut out: Vec<(String, Vec<T>)> = Vec::new();
    for (queue, item) in items {
        let i = *index.entry(queue.clone()).or_insert_with(|| {
            out.push((queue, Vec::new()));
            out.len() - 1
        });
        out[i].1.push(item);
    }
    out
}

/// Makes stored messages deliverable. A queue deleted meanwhile leaves its
/// messages in the store (an SQS queue's are dropped at the next start);
/// the others are delivered.
fn deliver(
    batches: Vec<(Arc<Queue>, Vec<Msg>)>,
    activity: &crate::ActivityWaiters,
) -> Result<(), QueueError> {
    let now = now_ms();
    let mut outcome = Ok(());
    for (q, msgs) in batches {
        if msgs.is_empty() {
            continue;
        }
        let was_empty = {
            let mut state = q.lock();
            if state.deleted {
                outcome = Err(QueueError::NonExistentQueue);
                continue;
            }
            let was_empty = state.is_empty();
            for m in msgs {
                state.insert(m, now);
            }
            was_empty
        };
        // One waiter wakes; it passes the wake on if it leaves messages
        // behind (see `receive`).
        q.notify.notify_one();
        if was_empty {
            crate::admin::wake_activity(activity, &q.name);
        }
    }
    outcome
}
