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
//! When no segment can be made (the disk is full), `record` holds the
//! frames in memory instead, at most [`MeteringConfig::max_buffered`] of
//! them; the flusher puts them back into the journal once it can, or
//! stores them directly. Beyond that bound records are dropped, counted
//! ([`MeteringStats::dropped`]) and reported in a warning at most every
//! [`LOG_EVERY`]: a full disk costs usage records, never the node's
//! memory.
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

mod held;
mod journal;
pub mod pricing;
pub mod report;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::thread::{JoinHandle, Thread};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub use held::{DEFAULT_MAX_BUFFERED, LOG_EVERY};
pub use pricing::{estimate, Cost, Prices};
pub use report::{ReportGroup, UsageReport};
pub use updraft_store::usage::UsageRecordRef;
pub use updraft_store::usage::{outcome, trigger};
pub use updraft_store::{StoreError, UsageGroup, UsageGroupRow, UsageQuery, UsageRecord};

use held::{Every, Held};
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
    /// How many records the journal could not take are held in memory at
    /// most ([`DEFAULT_MAX_BUFFERED`] explains the default). Beyond it, the
    /// newest records are dropped: those held stay as they are, so a batch
    /// that was handed to the store (which may have committed it even
    /// though it answered with an error) is retried unchanged and the
    /// store's deduplication by batch id keeps it from being billed twice
    /// or in part; what is lost is one stretch of usage at the end of the
    /// outage, whose size the drop count gives exactly.
    pub max_buffered: usize,
    pub prices: Prices,
}

impl Default for MeteringConfig {
    fn default() -> Self {
        MeteringConfig {
            flush_interval: Duration::from_millis(200),
            batch: 16_384,
            segment_bytes: journal::SEGMENT_BYTES,
            retention: Some(DEFAULT_RETENTION),
            max_buffered: DEFAULT_MAX_BUFFERED,
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
    /// Records the journal could not take (held in memory, or dropped).
    /// The held ones reach the journal or the store with a later flush,
    /// but a crash before that loses them.
    pub journal_errors: u64,
    /// Store commits that failed (retried at the next flush).
    pub store_errors: u64,
    /// Records lost: the journal could not take them and
    /// [`MeteringConfig::max_buffered`] records were held in memory
    /// already. A counter, for `updraft_usage_records_dropped_total`.
    pub dropped: u64,
    /// Records held in memory only, now: the journal could not take them
    /// and the store does not have them yet. At most
    /// [`MeteringConfig::max_buffered`].
    pub buffered: u64,
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
    /// Frames no segment could take (the journal failed); the next flush
    /// puts them back into the journal if it can, or stores them.
    unjournaled: Mutex<Held>,
    /// Records in memory only: those in `unjournaled`, and those of
    /// `Sealed::Memory` batches. Grows only under the `unjournaled` lock,
    /// up to `config.max_buffered`.
    buffered: AtomicU64,
    /// Set when no segment could be made; appends then stop trying to
    /// make one (the flusher does, every flush) until one is made.
    journal_failing: AtomicBool,
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
    dropped: AtomicU64,
    /// `dropped` when the last warning about drops was logged.
    dropped_logged: AtomicU64,
    drop_log: Every,
    journal_log: Every,
    store_log: Every,
}

/// A batch to store.
enum Sealed {
    /// A journal segment, reused once its batch is stored. The batch is
    /// read from the segment when it is next to be stored, so batches
    /// waiting for the store cost disk, not memory.
    Segment {
        segment: Segment,
        batch: Option<UsageBatch>,
    },
    /// Records the journal could not take: in memory only, counted in
    /// `buffered`.
    Memory(UsageBatch),
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
            unjournaled: Mutex::new(Held::default()),
            buffered: AtomicU64::new(0),
            journal_failing: AtomicBool::new(false),
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
            dropped: AtomicU64::new(0),
            dropped_logged: AtomicU64::new(0),
            drop_log: Every::new(LOG_EVERY),
            journal_log: Every::new(LOG_EVERY),
            store_log: Every::new(LOG_EVERY),
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
    /// segment fills up and the next one is mapped. When the journal
    /// cannot take it, the record is held in memory, or dropped if
    /// [`MeteringConfig::max_buffered`] are held already.
    pub fn record<'a>(&self, record: impl Into<UsageRecordRef<'a>>) {
        let s = &self.shared;
        let record = record.into();
        // One buffer per thread: no allocation per record.
        FRAME.with_borrow_mut(|frame| {
            frame.clear();
            encode_frame(&record, 0, frame);
            if !s.journal(frame, false) {
                s.hold(frame);
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
            dropped: s.dropped.load(Ordering::Relaxed),
            buffered: s.buffered.load(Ordering::Relaxed),
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
                let lost = self.buffered.load(Ordering::Relaxed);
                if lost > 0 {
                    tracing::error!(
                        records = lost,
                        "usage records held in memory are lost: neither the usage journal \
                         nor the store could take them before the meter closed"
                    );
                }
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

    /// Appends `frame` to the journal, making a new segment when the
    /// current one is full; `false` if the journal cannot take it. While
    /// no segment can be made, only a `retry` (the flusher's) tries to make
    /// one: appends do not pay for a failing system call each.
    fn journal(&self, frame: &[u8], retry: bool) -> bool {
        let journal = self.journal.read().unwrap_or_else(PoisonError::into_inner);
        if journal.append(frame) {
            return true;
        }
        if !retry && self.journal_failing.load(Ordering::Relaxed) {
            return false;
        }
        let full = journal.current_id();
        drop(journal);
        self.append_to_new_segment(full, frame)
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
        let made = match spare {
            Ok(spare) => {
                if let Some(unused) = journal.replace_full(full, spare) {
                    journal.reuse(unused);
                }
                Ok(())
            }
            Err(e) => Err(e),
        };
        let appended = journal.append(frame);
        drop(journal);
        match made {
            Ok(()) => self.journal_recovered(),
            Err(e) => self.journal_failed(&e),
        }
        appended
    }

    /// Holds a frame the journal could not take, or drops it when
    /// `max_buffered` records are held already (the newest are dropped:
    /// see [`MeteringConfig::max_buffered`]).
    fn hold(&self, frame: &[u8]) {
        self.journal_errors.fetch_add(1, Ordering::Relaxed);
        let held = {
            let mut held = lock(&self.unjournaled);
            let room = self.buffered.load(Ordering::Relaxed) < self.config.max_buffered as u64;
            if room {
                held.push(frame);
                self.buffered.fetch_add(1, Ordering::Relaxed);
            }
            room
        };
        if !held {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            self.warn_dropped();
        }
    }

    /// Logs the records dropped since the last such warning, if any, at
    /// most once per [`LOG_EVERY`].
    fn warn_dropped(&self) {
        let total = self.dropped.load(Ordering::Relaxed);
        if total > self.dropped_logged.load(Ordering::Relaxed) && self.drop_log.ready() {
            let before = self.dropped_logged.swap(total, Ordering::Relaxed);
            tracing::warn!(
                dropped = total.saturating_sub(before),
                dropped_total = total,
                max_buffered = self.config.max_buffered,
                "usage records dropped: the usage journal cannot be written and \
                 the records held in memory reached their limit"
            );
        }
    }

    /// No segment could be made: appends hold their records in memory
    /// until the flusher makes one.
    fn journal_failed(&self, error: &std::io::Error) {
        self.journal_failing.store(true, Ordering::Relaxed);
        if self.journal_log.ready() {
            tracing::warn!(
                error = %error,
                buffered = self.buffered.load(Ordering::Relaxed),
                max_buffered = self.config.max_buffered,
                dropped_total = self.dropped.load(Ordering::Relaxed),
                "could not make a usage journal segment; usage records are held \
                 in memory until one can be made or the store takes them"
            );
        }
    }

    /// A segment was made: appends use the journal again.
    fn journal_recovered(&self) {
        if self.journal_failing.swap(false, Ordering::Relaxed) {
            tracing::info!(
                dropped_total = self.dropped.load(Ordering::Relaxed),
                buffered = self.buffered.load(Ordering::Relaxed),
                "the usage journal can be written again"
            );
        }
    }

    /// Puts what is held in memory back into the journal if it can take
    /// it, seals what was recorded into batches and stores every batch, in
    /// order, stopping at the first failure. The caller holds the flush
    /// lock (`unflushed`).
    fn flush(&self, unflushed: &mut Vec<Sealed>) -> Result<(), StoreError> {
        self.rejournal();
        let appended = !self
            .journal
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .is_empty();
        if appended {
            self.seal(unflushed);
        }
        self.warn_dropped();
        self.store_all(unflushed)?;
        // What the journal still cannot take goes to the store directly,
        // once everything before it is stored: at most one such batch
        // waits in memory, and it is never changed (its id may be stored).
        let held = std::mem::take(&mut *lock(&self.unjournaled));
        if !held.is_empty() {
            let (batch, _) =
                UsageBatch::from_frames(journal::new_batch_id(), usage_frames(held.bytes()));
            // Frames `record` encoded all decode; this keeps the count
            // exact even so.
            let undecoded = (held.len() as u64).saturating_sub(batch.records);
            self.buffered.fetch_sub(undecoded, Ordering::Relaxed);
            drop(held);
            unflushed.push(Sealed::Memory(batch));
            self.store_all(unflushed)?;
        }
        Ok(())
    }

    /// Puts the frames held in memory back into the journal, as many as it
    /// takes, oldest first. Makes a segment even while the journal is
    /// failing: this is the flusher's retry.
    fn rejournal(&self) {
        let held = std::mem::take(&mut *lock(&self.unjournaled));
        if held.is_empty() {
            return;
        }
        let taken = held
            .frames()
            .take_while(|frame| self.journal(frame, true))
            .count();
        self.buffered.fetch_sub(taken as u64, Ordering::Relaxed);
        if taken < held.len() {
            let mut rest = held.without_first(taken);
            let mut now = lock(&self.unjournaled);
            rest.append(std::mem::take(&mut *now));
            *now = rest;
        }
    }

    /// Stores the batches of `unflushed` in order, stopping at the first
    /// failure; reuses the segments of those stored.
    fn store_all(&self, unflushed: &mut Vec<Sealed>) -> Result<(), StoreError> {
        while let Some(first) = unflushed.first_mut() {
            let batch = match first {
                Sealed::Segment { segment, batch } => batch.get_or_insert_with(|| read(segment)),
                Sealed::Memory(batch) => batch,
            };
            if !batch.is_empty() {
                if let Err(e) = self.store.append_usage(batch) {
                    let failures = self.store_errors.fetch_add(1, Ordering::Relaxed) + 1;
                    if self.store_log.ready() {
                        tracing::error!(error = %e, records = batch.records, failures,
                            "could not store usage records; they are retried at the next flush");
                    }
                    return Err(e);
                }
            }
            let records = batch.records;
            self.stored.fetch_add(records, Ordering::Relaxed);
            match unflushed.remove(0) {
                Sealed::Segment { segment, .. } => self
                    .journal
                    .read()
                    .unwrap_or_else(PoisonError::into_inner)
                    .reuse(segment),
                Sealed::Memory(_) => {
                    self.buffered.fetch_sub(records, Ordering::Relaxed);
                }
            }
        }
        Ok(())
    }

    /// Moves the journal's segments into `unflushed`, a new segment taking
    /// their place. If no new segment can be made, the records stay in the
    /// current one until a later flush.
    fn seal(&self, unflushed: &mut Vec<Sealed>) {
        let spare = self
            .journal
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .spare();
        let spare = match spare {
            Ok(spare) => spare,
            Err(e) => {
                self.journal_failed(&e);
                return;
            }
        };
        let sealed = {
            let mut journal = self.journal.write().unwrap_or_else(PoisonError::into_inner);
            self.pending.store(0, Ordering::Relaxed);
            journal.seal(spare)
        };
        self.journal_recovered();
        for segment in sealed {
            if segment.is_empty() {
                self.journal
                    .read()
                    .unwrap_or_else(PoisonError::into_inner)
                    .reuse(segment);
            } else {
                unflushed.push(Sealed::Segment {
                    segment,
                    batch: None,
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

/// A sealed segment's batch; frames that do not decode are left out.
fn read(segment: &mut Segment) -> UsageBatch {
    let (batch, damaged) = segment.batch();
    if damaged > 0 {
        tracing::warn!(path = %segment.path().display(), frames = damaged,
            "usage journal frames that do not decode were skipped");
    }
    batch
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
