//! Usage metering: one [`UsageRecord`] per invocation, durable from the
//! moment [`Metering::record`] returns, summed into reports with an
//! estimated cost.
//!
//! ```text
//! invoke path ── record() ──> journal segment (one write(2), O_APPEND)
//!                   │          + in-memory batch            [caller's thread]
//!                   ▼
//!           flusher thread, every flush interval or batch:
//!             seal the segment, start the next      (append lock, exclusive)
//!             store.append_usage(batch)             (one transaction)
//!             delete the sealed segment
//!           hourly: store.prune_usage(now - retention)
//!
//! open(): replay the segments a crash left into the store, delete them
//! ```
//!
//! `record` costs a JSON encoding and one `write(2)` under a lock that
//! appenders share; it never touches the store and never waits for the
//! flusher. A record is in
//! the kernel's page cache when `record` returns, so killing the process
//! (even with SIGKILL) loses nothing: the next [`Metering::open`] replays
//! it. The store ignores records it has (same request id and start time),
//! which makes replaying a segment twice harmless. What a power loss can take is what the store
//! had not committed yet: at most about one flush interval.
//!
//! The [`pricing`] module prices the usage (AWS Lambda's x86 list prices
//! by default); [`report`] builds what the usage API answers.

mod journal;
pub mod pricing;
pub mod report;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::thread::{JoinHandle, Thread};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub use pricing::{estimate, Cost, Prices};
pub use report::{ReportGroup, UsageReport};
pub use updraft_store::usage::{outcome, trigger};
pub use updraft_store::{StoreError, UsageGroup, UsageGroupRow, UsageQuery, UsageRecord};

use journal::Journal;
use updraft_store::Store;

/// How usage is metered and priced.
#[derive(Debug, Clone)]
pub struct MeteringConfig {
    /// How often pending records are committed to the store (at most this
    /// much usage is only in the journal).
    pub flush_interval: Duration,
    /// Commit as soon as this many records are pending.
    pub batch: usize,
    /// Usage records older than this are pruned (hourly); `None` keeps
    /// them forever.
    pub retention: Option<Duration>,
    pub prices: Prices,
}

impl Default for MeteringConfig {
    fn default() -> Self {
        MeteringConfig {
            flush_interval: Duration::from_millis(200),
            batch: 4096,
            retention: Some(DEFAULT_RETENTION),
            prices: Prices::default(),
        }
    }
}

/// How long usage is kept by default: 90 days, three monthly bills.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(90 * 86_400);
/// How often the flusher prunes old usage.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);
/// Replayed records are committed in transactions of this many.
const REPLAY_CHUNK: usize = 8192;

#[derive(Debug, thiserror::Error)]
pub enum MeteringError {
    #[error("opening the usage journal in {}", path.display())]
    Journal {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("replaying the usage journal into the store")]
    Replay(#[source] StoreError),
}

/// Counters, for metrics and benchmarks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MeteringStats {
    /// Records given to `record` since open.
    pub recorded: u64,
    /// Records committed to the store since open (replayed ones included).
    pub stored: u64,
    /// Records the journal could not write (they still reach the store,
    /// but a crash before the next flush would lose them).
    pub journal_errors: u64,
    /// Store commits that failed (retried at the next flush).
    pub store_errors: u64,
}

/// The meter. Share it (`Arc`); dropping the last handle, or [`close`],
/// commits what is pending and stops the flusher.
///
/// [`close`]: Metering::close
pub struct Metering {
    shared: Arc<Shared>,
    flusher: Thread,
    handle: Mutex<Option<JoinHandle<()>>>,
}

struct Shared {
    store: Arc<dyn Store>,
    config: MeteringConfig,
    /// The append lock: shared by appends (each one `write(2)`; the
    /// kernel keeps concurrent appends whole), exclusive for sealing a
    /// segment, so a sealed segment holds exactly its batch's records.
    journal: RwLock<Journal>,
    /// The records of the current segment, not sealed in a batch yet;
    /// pushed to while the journal lock is held shared.
    pending: Mutex<Vec<UsageRecord>>,
    /// The flush lock: sealed batches not committed yet, oldest first.
    unflushed: Mutex<Vec<Batch>>,
    stop: AtomicBool,
    abandon: AtomicBool,
    recorded: AtomicU64,
    stored: AtomicU64,
    journal_errors: AtomicU64,
    store_errors: AtomicU64,
}

/// Records sealed together, and the journal segment that holds them
/// (`None` if sealing could not start a new segment: the records are then
/// in the current one, which is deleted after a later batch).
struct Batch {
    records: Vec<UsageRecord>,
    segment: Option<PathBuf>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section leaves its data consistent between
    // statements that can panic.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Metering {
    /// [`Metering::open_with`] the default configuration.
    pub fn open(data_dir: &Path, store: Arc<dyn Store>) -> Result<Metering, MeteringError> {
        Self::open_with(data_dir, store, MeteringConfig::default())
    }

    /// Opens the journal in `<data_dir>/usage-journal` (one process at a
    /// time), replays into `store` whatever a previous process left there,
    /// and starts the flusher.
    pub fn open_with(
        data_dir: &Path,
        store: Arc<dyn Store>,
        config: MeteringConfig,
    ) -> Result<Metering, MeteringError> {
        let dir = data_dir.join(journal::DIR);
        let (journal, leftover) = Journal::open(&dir).map_err(|source| MeteringError::Journal {
            path: dir.clone(),
            source,
        })?;
        if leftover.skipped > 0 {
            tracing::warn!(
                lines = leftover.skipped,
                "usage journal lines that do not decode were skipped"
            );
        }
        let mut replayed = 0u64;
        for (path, records) in &leftover.segments {
            for chunk in records.chunks(REPLAY_CHUNK) {
                store.append_usage(chunk).map_err(MeteringError::Replay)?;
            }
            replayed += records.len() as u64;
            journal::remove(path);
        }
        if replayed > 0 {
            tracing::info!(records = replayed, "replayed the usage journal");
        }

        let batch = config.batch.max(1);
        let shared = Arc::new(Shared {
            store,
            journal: RwLock::new(journal),
            pending: Mutex::new(Vec::with_capacity(batch.min(1024))),
            config: MeteringConfig { batch, ..config },
            unflushed: Mutex::new(Vec::new()),
            stop: AtomicBool::new(false),
            abandon: AtomicBool::new(false),
            recorded: AtomicU64::new(0),
            stored: AtomicU64::new(replayed),
            journal_errors: AtomicU64::new(0),
            store_errors: AtomicU64::new(0),
        });
        let handle = std::thread::Builder::new()
            .name("updraft-metering".into())
            .spawn({
                let shared = shared.clone();
                move || shared.run()
            })
            .map_err(|source| MeteringError::Journal {
                path: dir.clone(),
                source,
            })?;
        Ok(Metering {
            shared,
            flusher: handle.thread().clone(),
            handle: Mutex::new(Some(handle)),
        })
    }

    /// Meters one invocation: journals the record (one `write(2)`) and
    /// queues it for the store. Never blocks on the store.
    pub fn record(&self, record: UsageRecord) {
        let s = &self.shared;
        // Encoded outside any lock; the lock is held for the write(2) and
        // the push only, and shared between appenders.
        let mut line = Vec::with_capacity(320);
        let encoded = journal::encode(&record, &mut line);
        let full = {
            let journal = s.journal.read().unwrap_or_else(PoisonError::into_inner);
            if let Err(e) = encoded.and_then(|()| journal.append(&line)) {
                let n = s.journal_errors.fetch_add(1, Ordering::Relaxed);
                if n.is_power_of_two() || n == 0 {
                    tracing::error!(error = %e, failures = n + 1, "could not journal a usage record");
                }
            }
            let mut pending = lock(&s.pending);
            pending.push(record);
            pending.len() >= s.config.batch
        };
        s.recorded.fetch_add(1, Ordering::Relaxed);
        if full {
            self.flusher.unpark();
        }
    }

    /// Commits everything recorded so far to the store.
    pub fn flush(&self) -> Result<(), StoreError> {
        let mut unflushed = lock(&self.shared.unflushed);
        self.shared.flush(&mut unflushed)
    }

    /// The usage report for `query`, grouped by `group`, priced with the
    /// configured prices. Commits what is pending first, so every
    /// invocation metered before the call is in it.
    pub fn report(&self, query: &UsageQuery, group: UsageGroup) -> Result<UsageReport, StoreError> {
        // Holding the flush lock, no batch lands between the report's reads.
        let mut unflushed = lock(&self.shared.unflushed);
        self.shared.flush(&mut unflushed)?;
        report::build(
            self.shared.store.as_ref(),
            query,
            group,
            &self.shared.config.prices,
        )
    }

    pub fn prices(&self) -> &Prices {
        &self.shared.config.prices
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.shared.store
    }

    pub fn stats(&self) -> MeteringStats {
        let s = &self.shared;
        MeteringStats {
            recorded: s.recorded.load(Ordering::Relaxed),
            stored: s.stored.load(Ordering::Relaxed),
            journal_errors: s.journal_errors.load(Ordering::Relaxed),
            store_errors: s.store_errors.load(Ordering::Relaxed),
        }
    }

    /// Commits what is pending and stops the flusher. Records metered
    /// after this stay in the journal until the next open.
    pub fn close(&self) {
        self.stop(false);
    }

    /// Stops the flusher without committing anything, as a crash would:
    /// the records since the last flush are only in the journal. For tests
    /// of recovery.
    #[doc(hidden)]
    pub fn abandon(self) {
        self.stop(true);
    }

    fn stop(&self, abandon: bool) {
        let Some(handle) = lock(&self.handle).take() else {
            return;
        };
        self.shared.abandon.store(abandon, Ordering::Release);
        self.shared.stop.store(true, Ordering::Release);
        handle.thread().unpark();
        if handle.join().is_err() {
            tracing::error!("the metering thread panicked");
        }
    }
}

impl Drop for Metering {
    fn drop(&mut self) {
        self.stop(false);
    }
}

impl Shared {
    fn run(&self) {
        let mut last_prune: Option<Instant> = None;
        loop {
            std::thread::park_timeout(self.config.flush_interval);
            if self.abandon.load(Ordering::Acquire) {
                return;
            }
            let stopping = self.stop.load(Ordering::Acquire);
            // Errors are logged and counted by `flush`; the batch stays
            // queued for the next round.
            let _ = self.flush(&mut lock(&self.unflushed));
            if stopping {
                return;
            }
            if let Some(retention) = self.config.retention {
                if last_prune.is_none_or(|t| t.elapsed() >= PRUNE_EVERY) {
                    last_prune = Some(Instant::now());
                    self.prune(retention);
                }
            }
        }
    }

    /// Seals the pending records into a batch and commits every batch, in
    /// order, stopping at the first failure. The caller holds the flush
    /// lock (`unflushed`).
    fn flush(&self, unflushed: &mut Vec<Batch>) -> Result<(), StoreError> {
        {
            let mut journal = self.journal.write().unwrap_or_else(PoisonError::into_inner);
            let mut pending = lock(&self.pending);
            if !pending.is_empty() {
                let capacity = self.config.batch.min(1024);
                let records = std::mem::replace(&mut *pending, Vec::with_capacity(capacity));
                let segment = match journal.rotate() {
                    Ok(sealed) => Some(sealed),
                    Err(e) => {
                        tracing::warn!(error = %e, path = %journal.current_path().display(),
                            "could not start a new usage journal segment; keeping the current one");
                        None
                    }
                };
                unflushed.push(Batch { records, segment });
            }
        }
        while let Some(batch) = unflushed.first() {
            if let Err(e) = self.store.append_usage(&batch.records) {
                self.store_errors.fetch_add(1, Ordering::Relaxed);
                tracing::error!(error = %e, records = batch.records.len(),
                    "could not store usage records; they stay journaled and are retried");
                return Err(e);
            }
            self.stored
                .fetch_add(batch.records.len() as u64, Ordering::Relaxed);
            if let Some(segment) = &batch.segment {
                journal::remove(segment);
            }
            unflushed.remove(0);
        }
        Ok(())
    }

    fn prune(&self, retention: Duration) {
        let cutoff =
            now_ms().saturating_sub(i64::try_from(retention.as_millis()).unwrap_or(i64::MAX));
        match self.store.prune_usage(cutoff) {
            Ok(0) => {}
            Ok(n) => tracing::info!(records = n, "pruned old usage records"),
            Err(e) => tracing::warn!(error = %e, "pruning usage records failed"),
        }
    }
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// A duration in whole microseconds (saturating).
pub fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}
