//! Integration tests of the durable queues against a real SQLite event
//! store in a temporary directory.

mod delivery;
mod durability;
mod invocations;
mod policies;
mod sqs;
mod throughput;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use updraft_queues::{NewMessage, QueueConfig, Queues, ReceiveRequest, Received};
use updraft_store::{EventStore, EventWrite, StoredMessage};
use updraft_store_sqlite::SqliteEventStore;

/// An event store that counts `apply` calls, the writes in them and the
/// time they take.
pub struct Counting {
    inner: SqliteEventStore,
    pub applies: AtomicUsize,
    pub writes: AtomicUsize,
    pub apply_micros: AtomicUsize,
}

impl Counting {
    pub fn open(dir: &Path) -> Arc<Counting> {
        Arc::new(Counting {
            inner: SqliteEventStore::open(&dir.join("events.db")).unwrap(),
            applies: AtomicUsize::new(0),
            writes: AtomicUsize::new(0),
            apply_micros: AtomicUsize::new(0),
        })
    }
}

impl EventStore for Counting {
    fn apply(&self, writes: &[EventWrite]) -> updraft_store::Result<()> {
        self.applies.fetch_add(1, Ordering::SeqCst);
        self.writes.fetch_add(writes.len(), Ordering::SeqCst);
        let started = std::time::Instant::now();
        let outcome = self.inner.apply(writes);
        let micros = started.elapsed().as_micros() as usize;
        self.apply_micros.fetch_add(micros, Ordering::SeqCst);
        outcome
    }
    fn load_messages(&self) -> updraft_store::Result<Vec<StoredMessage>> {
        self.inner.load_messages()
    }
    fn resources(&self, kind: &str) -> updraft_store::Result<Vec<(String, String)>> {
        self.inner.resources(kind)
    }
    fn resource(&self, kind: &str, key: &str) -> updraft_store::Result<Option<String>> {
        self.inner.resource(kind, key)
    }
}

/// Queues over a fresh SQLite event store in `dir`.
pub fn open(dir: &Path) -> Arc<Queues> {
    let store = Arc::new(SqliteEventStore::open(&dir.join("events.db")).unwrap());
    Queues::open(store, "us-east-1", "123456789012").unwrap()
}

/// Creates a standard queue with `attributes`.
pub async fn create(queues: &Queues, name: &str, attributes: &[(&str, &str)]) -> QueueConfig {
    let mut config = QueueConfig::new(name);
    let attributes: BTreeMap<String, String> = attributes
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    config.apply_attributes(&attributes).unwrap();
    queues.create_queue(config).await.unwrap()
}

pub fn text(body: &str) -> NewMessage {
    NewMessage {
        body: body.to_owned().into(),
        ..Default::default()
    }
}

/// A receive of up to `max` messages without waiting.
pub fn now(max: usize) -> ReceiveRequest {
    ReceiveRequest {
        max_messages: max,
        visibility_timeout: None,
        wait: Some(Duration::ZERO),
    }
}

pub fn bodies(received: &[Received]) -> Vec<String> {
    received
        .iter()
        .map(|r| String::from_utf8(r.body.to_vec()).unwrap())
        .collect()
}

/// Receives from `queue` until `count` messages arrived or 10 s passed.
pub async fn receive_until(queues: &Queues, queue: &str, count: usize) -> Vec<Received> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut got = Vec::new();
    while got.len() < count && tokio::time::Instant::now() < deadline {
        let request = ReceiveRequest {
            max_messages: count - got.len(),
            visibility_timeout: None,
            wait: Some(Duration::from_millis(200)),
        };
        got.extend(queues.receive(queue, request).await.unwrap());
    }
    got
}
