//! One queue in memory: its messages, indexed for delivery.
//!
//! ```text
//! messages  seq -> Msg          every message, oldest first
//! ids       id  -> seq          a put with a known id replaces it
//! ready     {seq}               deliverable now, in send order
//! waiting   {(visible_ms, seq)} delayed or in flight, soonest first
//! ```
//!
//! A message is in exactly one of `ready` and `waiting`. Whoever looks at
//! the queue first moves what became visible from `waiting` to `ready`
//! ([`QueueState::promote`]) and drops what outlived the retention period
//! ([`QueueState::expire`]), so no timer is needed.
//!
//! FIFO queues deliver each message group in order with at most one
//! batch in flight per group: a group with a message in flight is skipped
//! until that message is deleted or visible again.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use rustc_hash::FxHashMap;
use std::sync::{Arc, Mutex, RwLock};

use tokio::sync::Notify;
use updraft_policy::PolicyDocument;
use updraft_store::EventWrite;

use crate::message::{receipt_handle, Msg};
use crate::{QueueConfig, QueueStats, Received, Sent};

/// How long FIFO queues remember a deduplication id.
pub(crate) const DEDUPLICATION_WINDOW_MS: i64 = 5 * 60 * 1000;

/// A queue: its state behind a lock, and the waiters of long polls.
pub(crate) struct Queue {
    pub name: String,
    /// Internal queues (names with `:`) are invisible to SQS clients.
    pub internal: bool,
    pub state: Mutex<QueueState>,
    /// Woken when messages may have become deliverable.
    pub notify: Notify,
    /// The config's `policy`, parsed; apart from `state` so the
    /// authorizer never waits behind delivery.
    policy: RwLock<Option<Arc<PolicyDocument>>>,
}

impl Queue {
    pub fn new(config: QueueConfig, internal: bool) -> Queue {
        let policy = config
            .policy
            .as_deref()
            .and_then(|p| crate::permissions::parse(&config.name, p));
        Queue {
            name: config.name.clone(),
            internal,
            state: Mutex::new(QueueState::new(config)),
            notify: Notify::new(),
            policy: RwLock::new(policy),
        }
    }

    /// The parsed access policy.
    pub fn policy(&self) -> Option<Arc<PolicyDocument>> {
        self.policy
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Replaces the parsed access policy (after the config changed).
    pub fn set_policy(&self, policy: Option<Arc<PolicyDocument>>) {
        *self
            .policy
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = policy;
    }

    pub fn lock(&self) -> std::sync::MutexGuard<'_, QueueState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A remembered FIFO send: its answer, until `expires_ms`.
#[derive(Debug, Clone)]
struct Deduplicated {
    sent: Sent,
    expires_ms: i64,
}

pub(crate) struct QueueState {
    pub config: QueueConfig,
    /// Set when the queue is deleted: holders of its `Arc` stop using it.
    pub deleted: bool,
    messages: BTreeMap<i64, Msg>,
    ids: FxHashMap<Arc<str>, i64>,
    ready: BTreeSet<i64>,
    waiting: Waiting,
    /// FIFO: deduplication ids seen within the window, and their expiry
    /// order.
    dedup: HashMap<String, Deduplicated>,
    dedup_order: VecDeque<(i64, String)>,
}

/// What one take from a queue produced.
#[derive(Default)]
pub(crate) struct Taken {
    pub received: Vec<Received>,
    /// Messages to move to the dead-letter queue (already removed here).
    pub dead: Vec<Msg>,
    /// Delivery-state changes to store.
    pub writes: Vec<EventWrite>,
}

impl QueueState {
    fn new(config: QueueConfig) -> QueueState {
        QueueState {
            config,
            deleted: false,
            messages: BTreeMap::new(),
            ids: FxHashMap::default(),
            ready: BTreeSet::new(),
            waiting: Waiting::default(),
            dedup: HashMap::new(),
            dedup_order: VecDeque::new(),
        }
    }

    /// Adds a message (replacing one with the same id), ready or waiting
    /// by its `visible_ms`.
    pub fn insert(&mut self, msg: Msg, now: i64) {
        if let Some(old) = self.ids.get(&msg.id).copied() {
            self.remove(old);
        }
        let seq = msg.seq;
        self.ids.insert(msg.id.clone(), seq);
        if msg.visible_ms <= now {
            self.ready.insert(seq);
        } else {
            self.waiting.park(&msg);
        }
        self.messages.insert(seq, msg);
    }

    /// Removes a message wherever it is.
    pub fn remove(&mut self, seq: i64) -> Option<Msg> {
        let msg = self.messages.remove(&seq)?;
        self.ids.remove(&msg.id);
        if !self.ready.remove(&seq) {
            self.waiting.unpark(&msg);
        }
        Some(msg)
    }

    /// A message by seq, if its id is `id`.
    pub fn get(&self, seq: i64, id: &str) -> Option<&Msg> {
        self.messages.get(&seq).filter(|m| &*m.id == id)
    }

    /// Removes every message.
    pub fn clear(&mut self) {
        self.messages.clear();
        self.ids.clear();
        self.ready.clear();
        self.waiting = Waiting::default();
    }

    /// Moves messages whose time has come from `waiting` to `ready`.
    pub fn promote(&mut self, now: i64) {
        while let Some(&(visible, seq)) = self.waiting.set.first() {
            if visible > now {
                break;
            }
            self.waiting.unpark(&self.messages[&seq]);
            self.ready.insert(seq);
        }
    }

    /// Deletes messages older than the retention period; answers their
    /// deletes for the store.
    pub fn expire(&mut self, now: i64) -> Vec<EventWrite> {
        let limit = now - i64::from(self.config.message_retention_period) * 1000;
        let mut writes = Vec::new();
        while let Some((&seq, oldest)) = self.messages.first_key_value() {
            if oldest.sent_ms > limit {
                break;
            }
            if let Some(msg) = self.remove(seq) {
                writes.push(EventWrite::DeleteMessage {
                    queue: self.config.name.clone(),
                    id: msg.id.to_string(),
                });
            }
        }
        self.expire_dedup(now);
        writes
    }

    /// Whether the queue holds no message at all.
    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }

    /// Whether any message is deliverable now (FIFO: not counting groups
    /// in flight).
    pub fn has_ready(&self) -> bool {
        !self.ready.is_empty()
    }

    /// When the next waiting message becomes visible, if any.
    pub fn next_visible_ms(&self) -> Option<i64> {
        self.waiting.set.first().map(|&(v, _)| v)
    }

    pub fn stats(&self, now: i64) -> QueueStats {
        let waiting = self.waiting.set.len() as u64;
        QueueStats {
            visible: self.ready.len() as u64,
            in_flight: waiting - self.waiting.delayed,
            delayed: self.waiting.delayed,
            oldest_age_ms: self
                .messages
                .first_key_value()
                .map_or(0, |(_, m)| (now - m.sent_ms).max(0) as u64),
        }
    }

    /// Delivers up to `max` ready messages, invisible until
    /// `now + visibility_ms`. Messages received `max_receive_count` times
    /// already go to `dead` instead (when the queue has a dead-letter
    /// queue).
    pub fn take(
        &mut self,
        now: i64,
        max: usize,
        visibility_ms: i64,
        max_receive_count: Option<u32>,
    ) -> Taken {
        let mut taken = Taken::default();
        let fifo = self.config.fifo;
        let mut batch_groups: Vec<String> = Vec::new();
        let mut cursor = i64::MIN;
        while taken.received.len() < max {
            let Some(&seq) = self.ready.range(cursor..).next() else {
                break;
            };
            cursor = seq + 1;
            let msg = &self.messages[&seq];
            if fifo {
                if let Some(g) = &msg.group_id {
                    if self.waiting.groups_in_flight.contains_key(g) && !batch_groups.contains(g) {
                        continue;
                    }
                }
            }
            if max_receive_count.is_some_and(|limit| msg.receive_count >= limit) {
                let msg = self.remove(seq).expect("ready message exists");
                taken.writes.push(EventWrite::DeleteMessage {
                    queue: self.config.name.clone(),
                    id: msg.id.to_string(),
                });
                taken.dead.push(msg);
                continue;
            }
            self.ready.remove(&seq);
            let msg = self.messages.get_mut(&seq).expect("ready message exists");
            msg.receive_count += 1;
            msg.visible_ms = now + visibility_ms;
            let first_receive_ms = *msg.first_receive_ms.get_or_insert(now);
            if fifo {
                if let Some(g) = &msg.group_id {
                    if !batch_groups.contains(g) {
                        batch_groups.push(g.clone());
                    }
                }
            }
            taken.writes.push(EventWrite::UpdateMessage {
                queue: self.config.name.clone(),
                id: msg.id.to_string(),
                visible_ms: msg.visible_ms,
                receive_count: msg.receive_count,
                first_receive_ms: msg.first_receive_ms,
            });
            taken.received.push(Received {
                message_id: msg.id.to_string(),
                receipt_handle: receipt_handle(seq, msg.receive_count, &msg.id),
                body: msg.body.clone(),
                md5_of_body: msg.md5_of_body.clone(),
                attributes: msg.attributes.clone(),
                md5_of_message_attributes: msg.md5_of_attributes.clone(),
                internal: msg.internal.clone(),
                sent_ms: msg.sent_ms,
                receive_count: msg.receive_count,
                first_receive_ms,
                group_id: msg.group_id.clone(),
                deduplication_id: msg.deduplication_id.clone(),
                sequence_number: fifo.then(|| sequence_number(seq)),
            });
            self.waiting.park(msg);
        }
        taken
    }

    /// Sets a message's visibility (a received message's timeout
    /// changed). Answers whether it became ready.
    pub fn set_visible(&mut self, seq: i64, visible_ms: i64, now: i64) -> bool {
        let Some(msg) = self.messages.get_mut(&seq) else {
            return false;
        };
        if !self.ready.remove(&seq) {
            self.waiting.unpark(msg);
        }
        msg.visible_ms = visible_ms;
        if visible_ms <= now {
            self.ready.insert(seq);
            true
        } else {
            self.waiting.park(msg);
            false
        }
    }

    /// Whether a message is received and within its visibility timeout.
    pub fn in_flight(&self, msg: &Msg, now: i64) -> bool {
        msg.receive_count > 0 && msg.visible_ms > now && !self.ready.contains(&msg.seq)
    }

    /// FIFO: the answer of an earlier send with this deduplication id,
    /// within the window.
    pub fn deduplicated(&self, id: &str, now: i64) -> Option<Sent> {
        self.dedup
            .get(id)
            .filter(|d| d.expires_ms > now)
            .map(|d| d.sent.clone())
    }

    /// FIFO: remembers a send's deduplication id for the window.
    pub fn remember(&mut self, id: String, sent: Sent, sent_ms: i64) {
        let expires_ms = sent_ms + DEDUPLICATION_WINDOW_MS;
        self.dedup_order.push_back((expires_ms, id.clone()));
        self.dedup.insert(id, Deduplicated { sent, expires_ms });
    }

    /// FIFO: forgets a deduplication id (its send failed).
    pub fn forget(&mut self, id: &str) {
        self.dedup.remove(id);
    }

    fn expire_dedup(&mut self, now: i64) {
        while let Some((expires, _)) = self.dedup_order.front() {
            if *expires > now {
                break;
            }
            let (expires, id) = self.dedup_order.pop_front().expect("checked above");
            if self.dedup.get(&id).is_some_and(|d| d.expires_ms <= expires) {
                self.dedup.remove(&id);
            }
        }
    }
}

/// Messages not deliverable now, soonest first, with the counts the
/// stats and FIFO ordering need.
#[derive(Default)]
struct Waiting {
    set: BTreeSet<(i64, i64)>,
    /// Messages in `set` never received (delayed, not in flight).
    delayed: u64,
    /// FIFO: in-flight messages per group.
    groups_in_flight: FxHashMap<String, u32>,
}

impl Waiting {
    fn park(&mut self, msg: &Msg) {
        self.set.insert((msg.visible_ms, msg.seq));
        if msg.receive_count == 0 {
            self.delayed += 1;
        } else if let Some(g) = &msg.group_id {
            *self.groups_in_flight.entry(g.clone()).or_default() += 1;
        }
    }

    fn unpark(&mut self, msg: &Msg) {
        if !self.set.remove(&(msg.visible_ms, msg.seq)) {
            return;
        }
        if msg.receive_count == 0 {
            self.delayed -= 1;
        } else if let Some(g) = &msg.group_id {
            if let Some(n) = self.groups_in_flight.get_mut(g) {
                *n -= 1;
                if *n == 0 {
                    self.groups_in_flight.remove(g);
                }
            }
        }
    }
}

/// FIFO sequence numbers: the message's seq, zero-padded as SQS's are.
pub(crate) fn sequence_number(seq: i64) -> String {
    format!("{seq:020}")
}
