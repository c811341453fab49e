//! The group committer: one thread that turns many callers' writes into
//! few [`EventStore::apply`] calls.
//!
//! ```text
//! send ──┐                      ┌─> wake send
//! send ──┼─> channel ─> drain ──┤   one apply (one transaction, one sync)
//! delete ┘   (in order)         └─> wake delete
//! ```
//!
//! While one group is being applied the next one accumulates in the
//! channel, so the number of syncs per second stays bounded by the disk
//! while the number of writes per sync grows with the load. Writes are
//! applied in the order they were submitted, so a message's put always
//! precedes its update or delete.
//!
//! A receive's new delivery state is bookkeeping nobody waits for, and
//! most received messages are deleted soon after. Such updates are held
//! back for [`HOLD`] ([`Held`]): when the message's delete (or any later
//! write of it) comes first, the update is never written. A crash loses
//! at most the held updates, which only makes receive counts lower.

use std::ops::Range;
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use std::time::{Duration, Instant};

use rustc_hash::{FxHashMap, FxHashSet};
use tokio::sync::oneshot;
use updraft_store::{EventStore, EventWrite};

/// A group stops growing at this many writes, so one huge backlog does not
/// become one huge transaction.
const MAX_GROUP_WRITES: usize = 65_536;

/// How long a receive's delivery-state update may wait for the message's
/// delete before it is written.
const HOLD: Duration = Duration::from_secs(1);

/// What a waiting caller learns: durable, or the store's error.
pub(crate) type Outcome = Result<(), String>;

enum Job {
    Write {
        writes: Vec<EventWrite>,
        done: Option<oneshot::Sender<Outcome>>,
    },
    Close,
}

pub(crate) struct Committer {
    jobs: mpsc::Sender<Job>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Committer {
    /// Starts the committer thread writing to `store`.
    pub(crate) fn start(store: Arc<dyn EventStore>) -> std::io::Result<Committer> {
        let (jobs, rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("queue-commit".into())
            .spawn(move || run(store.as_ref(), &rx))?;
        Ok(Committer {
            jobs,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Submits `writes` to the next group; the receiver answers when they
    /// are durable.
    pub(crate) fn submit(&self, writes: Vec<EventWrite>) -> oneshot::Receiver<Outcome> {
        let (done, rx) = oneshot::channel();
        // A closed committer drops `done`: the receiver then reports it.
        let _ = self.jobs.send(Job::Write {
            writes,
            done: Some(done),
        });
        rx
    }

    /// Submits `writes` without waiting for them (bookkeeping whose loss in
    /// a crash only repeats a delivery).
    pub(crate) fn submit_detached(&self, writes: Vec<EventWrite>) {
        if !writes.is_empty() {
            let _ = self.jobs.send(Job::Write { writes, done: None });
        }
    }

    /// Applies what was submitted before, then stops the thread.
    pub(crate) fn close(&self) {
        let _ = self.jobs.send(Job::Close);
        let thread = self
            .thread
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(thread) = thread {
            if thread.join().is_err() {
                tracing::error!("the queue committer panicked");
            }
        }
    }
}

/// Writes of one group, and who waits for which of them.
#[derive(Default)]
struct Group {
    writes: Vec<EventWrite>,
    /// Each job's range in `writes`, and its waiter (`None`: detached).
    jobs: Vec<(Range<usize>, Option<oneshot::Sender<Outcome>>)>,
}

impl Group {
    fn push(&mut self, writes: Vec<EventWrite>, done: Option<oneshot::Sender<Outcome>>) {
        let start = self.writes.len();
        self.writes.extend(writes);
        self.jobs.push((start..self.writes.len(), done));
    }

    /// Readies the group for its commit: every message write cancels the
    /// held update of that message; a detached update is held instead of
    /// written, unless a later write of the message in the group replaces
    /// it (then it is dropped); held updates whose time has come (all of
    /// them when `flush_all`) join the group first.
    fn prepare(&mut self, held: &mut Held, flush_all: bool) {
        // Per write: false when it leaves the group (dropped or held).
        let mut keep = vec![true; self.writes.len()];
        let mut hold = vec![false; self.writes.len()];
        {
            let mut detached = vec![false; self.writes.len()];
            for (range, done) in &self.jobs {
                if done.is_none() {
                    detached[range.clone()].fill(true);
                }
            }
            // Messages written later in the group than the current write.
            let mut later: FxHashSet<(&str, &str)> = FxHashSet::default();
            for (i, write) in self.writes.iter().enumerate().rev() {
                let (queue, id) = match write {
                    EventWrite::DeleteMessage { queue, id }
                    | EventWrite::UpdateMessage { queue, id, .. } => (queue, id),
                    EventWrite::PutMessage(m) => (&m.queue, &m.id),
                    EventWrite::PurgeQueue { queue } => {
                        held.cancel_queue(queue);
                        continue;
                    }
                    _ => continue,
                };
                held.cancel(queue, id);
                let first_seen = later.insert((queue, id));
                if detached[i] && matches!(write, EventWrite::UpdateMessage { .. }) {
                    keep[i] = false;
                    hold[i] = first_seen;
                }
            }
        }
        let mut index = 0;
        self.writes.retain_mut(|w| {
            let i = index;
            index += 1;
            if hold[i] {
                held.hold(std::mem::replace(
                    w,
                    EventWrite::PurgeQueue {
                        queue: String::new(),
                    },
                ));
            }
            keep[i]
        });
        let due = held.take_due(flush_all);
        let offset = due.len();
        let mut kept_before = Vec::with_capacity(keep.len() + 1);
        let mut count = offset;
        for k in &keep {
            kept_before.push(count);
            count += usize::from(*k);
        }
        kept_before.push(count);
        for (range, _) in &mut self.jobs {
            *range = kept_before[range.start]..kept_before[range.end];
        }
        if offset > 0 {
            self.writes.splice(0..0, due);
            self.jobs.push((0..offset, None));
        }
    }
}

/// Delivery-state updates held back, by queue and message id, in two
/// generations: every `HOLD / 2` the older one is written and the younger
/// one becomes the older, so an update waits between `HOLD / 2` and
/// `HOLD`.
struct Held {
    young: FxHashMap<String, FxHashMap<String, EventWrite>>,
    old: FxHashMap<String, FxHashMap<String, EventWrite>>,
    rotated: Instant,
}

impl Held {
    fn new() -> Held {
        Held {
            young: FxHashMap::default(),
            old: FxHashMap::default(),
            rotated: Instant::now(),
        }
    }

    fn is_empty(&self) -> bool {
        self.young.is_empty() && self.old.is_empty()
    }

    /// Until the next rotation is due.
    fn until_due(&self) -> Duration {
        (HOLD / 2).saturating_sub(self.rotated.elapsed())
    }

    fn hold(&mut self, update: EventWrite) {
        if let EventWrite::UpdateMessage { queue, id, .. } = &update {
            let (queue, id) = (queue.clone(), id.clone());
            if let Some(q) = self.old.get_mut(&queue) {
                q.remove(&id);
            }
            self.young.entry(queue).or_default().insert(id, update);
        }
    }

    fn cancel(&mut self, queue: &str, id: &str) {
        for generation in [&mut self.young, &mut self.old] {
            if let Some(q) = generation.get_mut(queue) {
                q.remove(id);
            }
        }
    }

    fn cancel_queue(&mut self, queue: &str) {
        self.young.remove(queue);
        self.old.remove(queue);
    }

    /// The held updates to write now: the older generation when its time
    /// has come, everything when `all`.
    fn take_due(&mut self, all: bool) -> Vec<EventWrite> {
        let mut due = Vec::new();
        if all {
            for generation in [&mut self.old, &mut self.young] {
                due.extend(generation.drain().flat_map(|(_, q)| q.into_values()));
            }
        } else if self.until_due().is_zero() {
            due.extend(self.old.drain().flat_map(|(_, q)| q.into_values()));
            std::mem::swap(&mut self.old, &mut self.young);
            self.rotated = Instant::now();
        }
        due
    }
}

fn run(store: &dyn EventStore, rx: &mpsc::Receiver<Job>) {
    // One group's buffers, reused: a large allocation freed per group
    // costs more than the writes it held.
    let mut group = Group::default();
    let mut held = Held::new();
    loop {
        // With updates held, wake in time to write them.
        let first = if held.is_empty() {
            rx.recv().ok()
        } else {
            match rx.recv_timeout(held.until_due()) {
                Ok(job) => Some(job),
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    group.prepare(&mut held, false);
                    commit_group(store, &mut group);
                    continue;
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => None,
            }
        };
        let mut closing = first.is_none();
        let mut next = first;
        while let Some(job) = next.take() {
            match job {
                Job::Write { writes, done } => group.push(writes, done),
                Job::Close => {
                    closing = true;
                    break;
                }
            }
            if group.writes.len() < MAX_GROUP_WRITES {
                next = rx.try_recv().ok();
            }
        }
        group.prepare(&mut held, closing);
        commit_group(store, &mut group);
        if closing {
            return;
        }
    }
}

/// Applies a group in one transaction and answers its waiters, leaving
/// it empty. If the transaction fails, each job is applied on its own, so
/// one bad job fails only its own caller.
fn commit_group(store: &dyn EventStore, group: &mut Group) {
    let outcome = if group.writes.is_empty() {
        Ok(())
    } else {
        store.apply(&group.writes)
    };
    match outcome {
        Ok(()) => {
            for (_, done) in group.jobs.drain(..) {
                if let Some(done) = done {
                    let _ = done.send(Ok(()));
                }
            }
        }
        Err(e) if group.jobs.len() == 1 => {
            tracing::error!(error = %e, "event store write failed");
            if let Some((_, Some(done))) = group.jobs.pop() {
                let _ = done.send(Err(e.to_string()));
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, jobs = group.jobs.len(), "group commit failed; applying its jobs one by one");
            for (range, done) in group.jobs.drain(..) {
                let outcome = store.apply(&group.writes[range]).map_err(|e| e.to_string());
                if let Err(e) = &outcome {
                    tracing::error!(error = %e, "event store write failed");
                }
                if let Some(done) = done {
                    let _ = done.send(outcome);
                }
            }
        }
    }
    group.writes.clear();
}

#[cfg(test)]
mod tests {
    use super::*;
    use updraft_store::StoredMessage;

    /// Records every applied batch.
    #[derive(Default)]
    struct Recorder(Mutex<Vec<Vec<EventWrite>>>);

    impl EventStore for Recorder {
        fn apply(&self, writes: &[EventWrite]) -> updraft_store::Result<()> {
            self.0.lock().unwrap().push(writes.to_vec());
            Ok(())
        }
        fn load_messages(&self) -> updraft_store::Result<Vec<StoredMessage>> {
            Ok(Vec::new())
        }
        fn resources(&self, _: &str) -> updraft_store::Result<Vec<(String, String)>> {
            Ok(Vec::new())
        }
        fn resource(&self, _: &str, _: &str) -> updraft_store::Result<Option<String>> {
            Ok(None)
        }
    }

    impl Recorder {
        fn all(&self) -> Vec<EventWrite> {
            self.0.lock().unwrap().concat()
        }
    }

    fn update(id: &str, receive_count: u32) -> EventWrite {
        EventWrite::UpdateMessage {
            queue: "q".into(),
            id: id.into(),
            visible_ms: 1,
            receive_count,
            first_receive_ms: Some(1),
        }
    }

    fn delete(id: &str) -> EventWrite {
        EventWrite::DeleteMessage {
            queue: "q".into(),
            id: id.into(),
        }
    }

    #[tokio::test]
    async fn held_update_is_dropped_by_a_delete() {
        let store = Arc::new(Recorder::default());
        let committer = Committer::start(store.clone()).unwrap();
        committer.submit_detached(vec![update("a", 1), update("b", 1)]);
        committer.submit(vec![delete("a")]).await.unwrap().unwrap();
        committer.close();
        assert_eq!(store.all(), [delete("a"), update("b", 1)]);
    }

    #[tokio::test]
    async fn held_update_is_written_within_the_hold() {
        let store = Arc::new(Recorder::default());
        let committer = Committer::start(store.clone()).unwrap();
        committer.submit_detached(vec![update("a", 1)]);
        let deadline = Instant::now() + HOLD * 3;
        while store.all().is_empty() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(store.all(), [update("a", 1)]);
        committer.close();
    }

    #[tokio::test]
    async fn later_writes_replace_held_updates() {
        let store = Arc::new(Recorder::default());
        let committer = Committer::start(store.clone()).unwrap();
        committer.submit_detached(vec![update("a", 1)]);
        committer.submit_detached(vec![update("a", 2)]);
        // A waited-for update (a visibility change) is written at once and
        // replaces what was held.
        committer
            .submit(vec![update("a", 3)])
            .await
            .unwrap()
            .unwrap();
        committer.submit_detached(vec![update("b", 1)]);
        committer.submit_detached(vec![update("b", 2)]);
        committer.close();
        assert_eq!(store.all(), [update("a", 3), update("b", 2)]);
    }

    #[tokio::test]
    async fn waited_writes_keep_their_order() {
        let store = Arc::new(Recorder::default());
        let committer = Committer::start(store.clone()).unwrap();
        let first = committer.submit(vec![update("a", 1), delete("a")]);
        let second = committer.submit(vec![delete("b")]);
        first.await.unwrap().unwrap();
        second.await.unwrap().unwrap();
        committer.close();
        assert_eq!(store.all(), [update("a", 1), delete("a"), delete("b")]);
        // Closed: later writes are refused.
        assert!(committer.submit(vec![delete("c")]).await.is_err());
    }
}
