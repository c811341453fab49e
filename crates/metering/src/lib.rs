//! Usage metering: one [`UsageRecord`] per invocation, durable from the
//! moment [`Metering::record`] returns, summed into reports with an
//! estimated cost.
//!
//! ```text
//! invoke path ── record() ──> encode one frame, copy it into the mapped
//!                              journal segment (an atomic add reserves
//!                              its bytes; no system call) [caller's thread]
//!                   ▼
//!           flusher thread, every flush interval or batch:
//!             seal the segment, a spare one next    (journal lock, exclusive)
//!             store.append_usage(segment's batch)   (one row, one transaction)
//!             reuse the sealed segment: a new batch id, appends from the front
//!           hourly: store.prune_usage(now - retention)
//!
//! open(): store the batches of the segments a crash left, delete them
//! ```
//!
//! `record` costs an encoding and a copy under a lock that appenders
//! share; it never touches the store and never waits for the flusher. A
//! record is in the kernel's page cache when `record` returns, so killing
//! the process (even with SIGKILL) loses nothing: the next
//! [`Metering::open`] stores it. A segment is one batch, and the store
//! ignores a batch it has, which makes storing a segment twice harmless.
//! What a power loss can take is what the store had not committed yet: at
//! most about one flush interval.
//!
//! The [`pricing`] module prices the usage (AWS Lambda's x86 list prices
//! by default); [`report`] builds what the usage API answers.

mod journal;
pub mod pricing;
pub mod report;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::thread::{JoinHandle, Thread};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub use pricing::{estimate, Cost, Prices};
pub use report::{ReportGroup, UsageReport};
pub use updraft_store::usage::UsageRecordRef;
pub use updraft_store::usage::{outcome, trigger};
pub use updraft_store::{StoreError, UsageGroup, UsageGroupRow, UsageQuery, UsageRecord};

use journal::{Journal, Segment};
use updraft_store::usage::{encode_frame, frames as usage_frames};
use updraft_store::{Store, UsageBatch};

/// How usage is metered and priced.
#[derive(Debug, Clone)]
pub struct MeteringConfig {
    /// How often pending records are committed to the store (at most this
    /// much usage is only in the journal).
    pub flush_interval: Duration,
    /// Commit as soon as this many records are pending.
    pub batch: usize,
    /// The size of a journal segment (a mapped file, allocated on disk
    /// when made); a full one is replaced at once and sealed at the next
    /// flush.
    pub segment_bytes: usize,
    /// Usage records older than this are pruned (hourly); `None` keeps
    /// them forever.
    pub retention: Option<Duration>,
    pub prices: Prices,
}

impl Default for MeteringConfig {
    fn default() -> Self {
        MeteringConfig {
            flush_interval: Duration::from_millis(200),
            batch: 16_384,
            segment_bytes: journal::SEGMENT_BYTES,
            retention: Some(DEFAULT_RETENTION),
            prices: Prices::default(),
        }
    }
}

/// How long usage is kept by default: 90 days, three monthly bills.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(90 * 86_400);
/// How often the flusher prunes old usage.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

#[derive(Debug, thiserror::Error)]
pub enum MeteringError {
    #[error("opening the usage journal in {}", path.display())]
    Journal {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("storing the usage the journal holds")]
    Replay(#[source] StoreError),
}

/// Counters, for metrics and benchmarks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MeteringStats {
    /// Records given to `record` since open.
    pub recorded: u64,
    /// Records committed to the store since open (replayed ones included).
    pub stored: u64,
    /// Records the journal could not take (they still reach the store,
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
    /// The journal lock: shared by appends (each reserves its own bytes),
    /// exclusive for sealing or replacing a segment, so a sealed segment
    /// holds whole frames only.
    journal: RwLock<Journal>,
    /// Frames no segment could take (the journal failed); they go to the
    /// store with the next flush.
    unjournaled: Mutex<Vec<u8>>,
    /// Records appended since the last seal.
    pending: AtomicUsize,
    /// The flush lock: sealed batches not stored yet, oldest first.
    unflushed: Mutex<Vec<Sealed>>,
    stop: AtomicBool,
    abandon: AtomicBool,
    recorded: AtomicU64,
    stored: AtomicU64,
    journal_errors: AtomicU64,
    store_errors: AtomicU64,
}

/// A batch to store, and the segment that holds it (`None` for frames the
/// journal could not take), deleted once the batch is stored.
struct Sealed {
    batch: UsageBatch,
    segment: Option<Segment>,
}

thread_local! {
    /// The frame `Metering::record` encodes into.
    static FRAME: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(Vec::with_capacity(256));
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
        let (journal, leftovers) =
            Journal::open(&dir, config.segment_bytes.max(4096)).map_err(|source| {
                MeteringError::Journal {
                    path: dir.clone(),
                    source,
                }
            })?;
        let mut replayed = 0u64;
        for leftover in leftovers {
            if leftover.damaged > 0 {
                tracing::warn!(path = %leftover.path.display(), frames = leftover.damaged,
                    "usage journal frames that do not decode were skipped");
            }
            store
                .append_usage(&leftover.batch)
                .map_err(MeteringError::Replay)?;
            replayed += leftover.batch.records;
            journal::remove(&leftover.path);
        }
        if replayed > 0 {
            tracing::info!(records = replayed, "stored the usage the journal held");
        }

        let shared = Arc::new(Shared {
            store,
            journal: RwLock::new(journal),
            unjournaled: Mutex::new(Vec::new()),
            pending: AtomicUsize::new(0),
            config: MeteringConfig {
                batch: config.batch.max(1),
                ..config
            },
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

    /// Meters one invocation: copies its frame into the journal and
    /// counts it. Never blocks on the store or on file I/O, except when a
    /// segment fills up and the next one is mapped.
    pub fn record<'a>(&self, record: impl Into<UsageRecordRef<'a>>) {
        let s = &self.shared;
        let record = record.into();
        // One buffer per thread: no allocation per record.
        FRAME.with_borrow_mut(|frame| {
            frame.clear();
            encode_frame(&record, 0, frame);
            let journaled = {
                let journal = s.journal.read().unwrap_or_else(PoisonError::into_inner);
                if journal.append(frame) {
                    true
                } else {
                    let full = journal.current_id();
                    drop(journal);
                    s.append_to_new_segment(full, frame)
                }
            };
            if !journaled {
                lock(&s.unjournaled).extend_from_slice(frame);
                let n = s.journal_errors.fetch_add(1, Ordering::Relaxed);
                if n.is_power_of_two() || n == 0 {
                    tracing::error!(failures = n + 1, "could not journal a usage record");
                }
            }
        });
        s.recorded.fetch_add(1, Ordering::Relaxed);
        if s.pending.fetch_add(1, Ordering::Relaxed) + 1 == s.config.batch {
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

    /// After segment `full` refused `frame`: maps a new segment in its
    /// place (unless another append did) and appends there.
    fn append_to_new_segment(&self, full: u64, frame: &[u8]) -> bool {
        let spare = self
            .journal
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .spare();
        let mut journal = self.journal.write().unwrap_or_else(PoisonError::into_inner);
        match spare {
            Ok(spare) => {
                if let Some(unused) = journal.replace_full(full, spare) {
                    journal.reuse(unused);
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not start a usage journal segment"),
        }
        journal.append(frame)
    }

    /// Seals what was recorded into batches and stores every batch, in
    /// order, stopping at the first failure. The caller holds the flush
    /// lock (`unflushed`).
    fn flush(&self, unflushed: &mut Vec<Sealed>) -> Result<(), StoreError> {
        let appended = !self
            .journal
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .is_empty();
        if appended {
            self.seal(unflushed);
        }
        let frames = std::mem::take(&mut *lock(&self.unjournaled));
        if !frames.is_empty() {
            let (batch, _) =
                UsageBatch::from_frames(journal::new_batch_id(), usage_frames(&frames));
            unflushed.push(Sealed {
                batch,
                segment: None,
            });
        }
        while let Some(sealed) = unflushed.first() {
            if let Err(e) = self.store.append_usage(&sealed.batch) {
                self.store_errors.fetch_add(1, Ordering::Relaxed);
                tracing::error!(error = %e, records = sealed.batch.records,
                    "could not store usage records; they stay journaled and are retried");
                return Err(e);
            }
            self.stored
                .fetch_add(sealed.batch.records, Ordering::Relaxed);
            if let Some(segment) = unflushed.remove(0).segment {
                self.journal
                    .read()
                    .unwrap_or_else(PoisonError::into_inner)
                    .reuse(segment);
            }
        }
        Ok(())
    }

    /// Moves the journal's segments into `unflushed` as batches, a new
    /// segment taking their place. If no new segment can be made, the
    /// records stay in the current one until a later flush.
    fn seal(&self, unflushed: &mut Vec<Sealed>) {
        let spare = self
            .journal
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .spare();
        let spare = match spare {
            Ok(spare) => spare,
            Err(e) => {
                tracing::warn!(error = %e,
                    "could not start a usage journal segment; the current one stays open");
                return;
            }
        };
        let sealed = {
            let mut journal = self.journal.write().unwrap_or_else(PoisonError::into_inner);
            self.pending.store(0, Ordering::Relaxed);
            journal.seal(spare)
        };
        for mut segment in sealed {
            let (batch, damaged) = segment.batch();
            if damaged > 0 {
                tracing::warn!(path = %segment.path().display(), frames = damaged,
                    "usage journal frames that do not decode were skipped");
            }
            if batch.is_empty() {
                self.journal
                    .read()
                    .unwrap_or_else(PoisonError::into_inner)
                    .reuse(segment);
            } else {
                unflushed.push(Sealed {
                    batch,
                    segment: Some(segment),
                });
            }
        }
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
