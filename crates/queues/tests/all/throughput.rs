//! Throughput of the async-invocation path: messages enqueued, received
//! and deleted, each write durable. Run in release:
//!
//! ```text
//! cargo test -p updraft-queues --release --test all throughput -- --ignored --nocapture
//! ```
//!
//! Prints messages per second of wall time and of process CPU time (the
//! second is steadier on a shared machine).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use updraft_queues::invocation::queue_name;
use updraft_queues::{Queues, ReceiveRequest};

use crate::invocations::invocation;
use crate::Counting;

const MESSAGES: usize = 200_000;
/// Concurrent producers.
const PRODUCERS: usize = 1024;
/// Consumers, each receiving up to 1000 messages and deleting them in one
/// call (as the async-invocation workers do).
const CONSUMERS: usize = 4;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: run in release with --ignored --nocapture"]
async fn async_invocations_one_per_call() {
    // As `Invoke` with `Event` does: one invocation per call.
    measure(1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: run in release with --ignored --nocapture"]
async fn async_invocations_ten_per_call() {
    // As a `PutEvents` of ten entries matching one rule does.
    measure(10).await;
}

async fn measure(per_call: usize) {
    let dir = tempfile::tempdir().unwrap();
    let store = Counting::open(dir.path());
    let queues = Queues::open(store.clone(), "us-east-1", "123456789012").unwrap();
    let queue = queue_name("bench");
    let started = Instant::now();
    let cpu_before = cpu_time();
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let queues = queues.clone();
            tokio::spawn(async move {
                let mine: Vec<usize> = (p..MESSAGES).step_by(PRODUCERS).collect();
                for chunk in mine.chunks(per_call) {
                    let batch = chunk
                        .iter()
                        .map(|_| invocation("bench", &uuid::Uuid::new_v4().to_string()))
                        .collect();
                    queues.enqueue_invocations(batch).await.unwrap();
                }
            })
        })
        .collect();
    let done = Arc::new(AtomicUsize::new(0));
    let consumers: Vec<_> = (0..CONSUMERS)
        .map(|_| {
            let (queues, queue, done) = (queues.clone(), queue.clone(), done.clone());
            tokio::spawn(async move { consume(&queues, &queue, &done).await })
        })
        .collect();
    for p in producers {
        p.await.unwrap();
    }
    let enqueued = started.elapsed();
    for c in consumers {
        c.await.unwrap();
    }
    let elapsed = started.elapsed();
    let cpu = cpu_time() - cpu_before;
    queues.close();
    println!(
        "{MESSAGES} async invocations, {per_call} per call from {PRODUCERS} producers ({:.0}/s enqueued), received and deleted by {CONSUMERS} consumers in {elapsed:.2?}: {:.0} msgs/s; {cpu:.2?} CPU: {:.0} msgs per CPU-second",
        MESSAGES as f64 / enqueued.as_secs_f64(),
        MESSAGES as f64 / elapsed.as_secs_f64(),
        MESSAGES as f64 / cpu.as_secs_f64(),
    );
    let applies = store.applies.load(Ordering::SeqCst);
    let writes = store.writes.load(Ordering::SeqCst);
    let apply_time = Duration::from_micros(store.apply_micros.load(Ordering::SeqCst) as u64);
    println!("  {applies} group commits of {writes} writes in all took {apply_time:.2?}");
    assert_eq!(queues.stats(&queue).unwrap(), Default::default());
}

/// Receives and deletes until `done` counts every message.
async fn consume(queues: &Queues, queue: &str, done: &AtomicUsize) {
    while done.load(Ordering::SeqCst) < MESSAGES {
        let request = ReceiveRequest {
            max_messages: 1000,
            visibility_timeout: Some(Duration::from_secs(60)),
            wait: Some(Duration::from_millis(100)),
        };
        let Ok(got) = queues.receive(queue, request).await else {
            // Before the first enqueue the queue does not exist.
            tokio::time::sleep(Duration::from_millis(1)).await;
            continue;
        };
        let handles: Vec<&str> = got.iter().map(|r| r.receipt_handle.as_str()).collect();
        for outcome in queues.delete_many(queue, &handles).await.unwrap() {
            outcome.unwrap();
        }
        done.fetch_add(got.len(), Ordering::SeqCst);
    }
}

/// This process's CPU time (user and system), from `/proc/self/stat`.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    // After the command name (which may hold spaces) the state is the
    // first field; utime and stime are the 12th and 13th, in ticks of
    // 10 ms.
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after.split(' ').collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    Duration::from_millis(ticks * 10)
}
