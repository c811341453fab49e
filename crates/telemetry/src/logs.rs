//! Moves invocation logs to the store without blocking invocations.
//!
//! Records go through a bounded channel to one thread that appends them in
//! batches (one store transaction per batch). If the store falls behind and
//! the channel is full, records are dropped and counted rather than
//! slowing the invoke path; dropping the writer flushes what is queued.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use updraft_store::{LogRecord, Store};

const QUEUE: usize = 65_536;
const BATCH: usize = 1024;

pub struct LogWriter {
    tx: Option<SyncSender<LogRecord>>,
    dropped: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

impl LogWriter {
    pub fn spawn(store: Arc<dyn Store>) -> Self {
        let (tx, rx) = sync_channel(QUEUE);
        let thread = std::thread::Builder::new()
            .name("updraft-log-writer".into())
            .spawn(move || run(store, rx))
            .expect("spawn log writer thread");
        LogWriter {
            tx: Some(tx),
            dropped: Arc::new(AtomicU64::new(0)),
            thread: Some(thread),
        }
    }

    /// Queues a record; never blocks.
    pub fn write(&self, record: LogRecord) {
        if let Some(tx) = &self.tx {
            if let Err(TrySendError::Full(_)) = tx.try_send(record) {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Records dropped because the store could not keep up.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Writes out everything queued and stops the thread.
    pub fn close(&mut self) {
        self.tx.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for LogWriter {
    fn drop(&mut self) {
        self.close();
    }
}

/// How long the writer gathers records before a write: one store
/// transaction (one fsync) per window rather than per invocation.
const WINDOW: Duration = Duration::from_millis(100);

fn run(store: Arc<dyn Store>, rx: Receiver<LogRecord>) {
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        // Wait for a first record, then gather for up to WINDOW.
        match rx.recv() {
            Ok(r) => batch.push(r),
            Err(_) => return,
        }
        let deadline = std::time::Instant::now() + WINDOW;
        while batch.len() < BATCH {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match rx.recv_timeout(left) {
                Ok(r) => batch.push(r),
                Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) => {
                    flush(&*store, &mut batch);
                    return;
                }
            }
        }
        flush(&*store, &mut batch);
    }
}

fn flush(store: &dyn Store, batch: &mut Vec<LogRecord>) {
    if batch.is_empty() {
        return;
    }
    if let Err(e) = store.append_logs(batch) {
        tracing::error!(error = %e, records = batch.len(), "could not store invocation logs");
    }
    batch.clear();
}
