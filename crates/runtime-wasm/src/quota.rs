//! The `/tmp` quota of an environment: Lambda's `EphemeralStorage`.
//!
//! What a guest keeps in its `/tmp` may not take more disk than its
//! function's ephemeral storage size (`EnvConfig::ephemeral_storage_mb`,
//! 512 MB when unset). The WASI filesystem layer enforces it: every host
//! call that can take disk space first charges an upper bound of what it
//! can take, and fails with `insufficient-space` (`ENOSPC`) when the
//! charge does not fit. The charges, with `block` the file system's
//! allocation unit:
//!
//! - a write of n bytes (`descriptor.write`, a file's output stream,
//!   preview1 `fd_write`/`fd_pwrite`): every block it can touch,
//!   `(⌈n/block⌉ + 1) × block`;
//! - growing a file (`set-size`, `fd_filestat_set_size`): the growth,
//!   rounded up to blocks;
//! - a new entry (`open-at` with `create`, `create-directory-at`,
//!   `symlink-at`, `link-at`, and their preview1 twins): one block. When
//!   that does not fit, `open-at` still opens (and may truncate) a file
//!   that exists.
//!
//! A failed stream write carries an I/O error whose
//! `filesystem-error-code` is `insufficient-space`; wasi-libc (so Rust's
//! standard library on `wasm32-wasip2`) does not ask for that code and
//! reports any failed stream write as `EIO`.
//!
//! Charges add up to an estimate; the directory is measured only when the
//! estimate would pass the quota:
//!
//! ```text
//!   estimate = measured + pending + in_flight  ≤  limit ?
//!                 │          │          └─ charged for stream writes still running
//!                 │          └─ charged since the last measurement began
//!                 └─ the last measurement: Σ allocated size of every entry
//!                    under /tmp (itself included), each at least one block,
//!                    each hard-linked inode once
//!
//!   charge(c): estimate + c ≤ limit → taken, no I/O
//!              otherwise            → measure (on a blocking thread), then
//!                                     estimate + c ≤ limit → taken, else ENOSPC
//! ```
//!
//! A guest that stays well below its quota never causes a measurement;
//! one that deletes files gets the room back at the next measurement.
//! Every charge is an upper bound of the data blocks an operation can
//! take, and a measurement only replaces the charges it saw land, so the
//! estimate stays at or above what `/tmp` holds, but for file-system
//! metadata no charge foresees (extent blocks, a directory growing a
//! block to hold more entries): a small fraction of what was written.
//! A directory that cannot be measured (nested past `PATH_MAX`, say)
//! counts as full until the guest removes enough.
//!
//! Guests that never touch `/tmp` pay nothing: the quota is one `Arc` per
//! environment and is consulted only by the calls above.

pub(crate) mod p1;
pub(crate) mod p2;

use std::collections::HashSet;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// Used when an environment's `ephemeral_storage_mb` is 0 (unset).
pub(crate) const DEFAULT_EPHEMERAL_STORAGE_MB: u32 = 512;

/// The quota of one environment's `/tmp`; clones share it.
#[derive(Clone)]
pub(crate) struct TmpQuota(Arc<Shared>);

struct Shared {
    dir: PathBuf,
    limit: u64,
    /// The file system's allocation unit.
    block: u64,
    usage: Mutex<Usage>,
    /// Held while measuring on a blocking thread: measurements asked for
    /// at once (streams polled together) share one walk of the directory.
    measuring: tokio::sync::Mutex<()>,
}

#[derive(Debug, Default)]
struct Usage {
    measured: u64,
    pending: u64,
    in_flight: u64,
    /// Measurements begun; only the latest one's result is kept.
    measurements: u64,
}

impl Usage {
    fn estimate(&self) -> u64 {
        self.measured
            .saturating_add(self.pending)
            .saturating_add(self.in_flight)
    }
}

/// A charge the quota could not take: the guest sees `insufficient-space`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NoSpace;

impl TmpQuota {
    /// The quota of the (empty) directory `dir`: `size_mb` MB (0: the
    /// default), on a file system allocating `block` bytes at a time.
    pub fn new(dir: &Path, size_mb: u32, block: u64) -> Self {
        let size_mb = if size_mb == 0 {
            DEFAULT_EPHEMERAL_STORAGE_MB
        } else {
            size_mb
        };
        TmpQuota(Arc::new(Shared {
            dir: dir.to_path_buf(),
            limit: u64::from(size_mb) << 20,
            block: block.max(512),
            usage: Mutex::new(Usage::default()),
            measuring: tokio::sync::Mutex::new(()),
        }))
    }

    /// The quota in bytes.
    #[cfg(test)]
    pub fn limit(&self) -> u64 {
        self.0.limit
    }

    /// The charge of a write of `bytes` bytes anywhere in a file: every
    /// block it can touch.
    pub fn write_charge(&self, bytes: u64) -> u64 {
        if bytes == 0 {
            return 0;
        }
        let block = self.0.block;
        bytes
            .div_ceil(block)
            .saturating_add(1)
            .saturating_mul(block)
    }

    /// The charge of growing a file by `bytes`.
    pub fn growth_charge(&self, bytes: u64) -> u64 {
        bytes.div_ceil(self.0.block).saturating_mul(self.0.block)
    }

    /// The charge of a new directory entry.
    pub fn entry_charge(&self) -> u64 {
        self.0.block
    }

    /// The largest write whose charge fits the estimate now (0: measure
    /// before writing).
    pub fn write_room(&self) -> u64 {
        let available = self.0.limit.saturating_sub(self.lock().estimate());
        let blocks = available / self.0.block;
        blocks.saturating_sub(1).saturating_mul(self.0.block)
    }

    /// Takes `charge` if it fits the estimate, without I/O.
    pub fn try_charge(&self, charge: u64) -> bool {
        self.try_take(charge, |usage| &mut usage.pending)
    }

    /// Takes `charge`, measuring the directory on a blocking thread when
    /// the estimate would pass the limit.
    pub async fn charge(&self, charge: u64) -> Result<(), NoSpace> {
        if self.try_charge(charge) {
            return Ok(());
        }
        self.measure().await;
        self.try_charge(charge).then_some(()).ok_or(NoSpace)
    }

    /// Takes `charge` for a stream write that runs in the background; it
    /// counts as in flight until [`land`](Self::land)ed. Measures on this
    /// thread when needed (for callers that cannot wait).
    pub fn charge_flight_now(&self, charge: u64) -> Result<(), NoSpace> {
        let take = |quota: &Self| quota.try_take(charge, |usage| &mut usage.in_flight);
        if take(self) {
            return Ok(());
        }
        self.measure_now();
        take(self).then_some(()).ok_or(NoSpace)
    }

    /// A background write charged with `charge` is over: its bytes are on
    /// disk (or never will be).
    pub fn land(&self, charge: u64) {
        if charge == 0 {
            return;
        }
        let mut usage = self.lock();
        usage.in_flight = usage.in_flight.saturating_sub(charge);
        usage.pending = usage.pending.saturating_add(charge);
    }

    /// Measures the directory on a blocking thread and replaces the
    /// charges the measurement saw with its result.
    pub async fn measure(&self) {
        let asked = self.lock().measurements;
        let _turn = self.0.measuring.lock().await;
        if self.lock().measurements > asked {
            // One began after this was asked for, and is over.
            return;
        }
        let (measurement, pending) = self.begin_measurement();
        let shared = Arc::clone(&self.0);
        let found = tokio::task::spawn_blocking(move || usage(&shared.dir, shared.block))
            .await
            .unwrap_or_else(|e| Err(io::Error::other(e)));
        self.end_measurement(measurement, pending, found);
    }

    /// [`measure`](Self::measure) on this thread (letting tokio move other
    /// tasks away when it can).
    pub fn measure_now(&self) {
        let (measurement, pending) = self.begin_measurement();
        let measure = || usage(&self.0.dir, self.0.block);
        let multi_thread = tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
        let found = if multi_thread {
            tokio::task::block_in_place(measure)
        } else {
            measure()
        };
        self.end_measurement(measurement, pending, found);
    }

    fn try_take(&self, charge: u64, into: impl FnOnce(&mut Usage) -> &mut u64) -> bool {
        if charge == 0 {
            return true;
        }
        let mut usage = self.lock();
        if usage.estimate().saturating_add(charge) > self.0.limit {
            return false;
        }
        let counter = into(&mut usage);
        *counter = counter.saturating_add(charge);
        true
    }

    fn begin_measurement(&self) -> (u64, u64) {
        let mut usage = self.lock();
        usage.measurements += 1;
        (usage.measurements, usage.pending)
    }

    fn end_measurement(&self, measurement: u64, pending: u64, found: io::Result<u64>) {
        let mut usage = self.lock();
        if usage.measurements != measurement {
            // A later measurement is under way; it saw at least as much.
            return;
        }
        match found {
            Ok(bytes) => {
                usage.measured = bytes;
                usage.pending = usage.pending.saturating_sub(pending);
            }
            Err(e) => {
                tracing::debug!(dir = %self.0.dir.display(), error = %e, "cannot measure a /tmp: counting it as full");
                usage.measured = self.0.limit;
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, Usage> {
        self.0.usage.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The disk space under `root`: the allocated size of every entry (the
/// root included, symbolic links not followed), each counted at least one
/// `block`, each inode once.
fn usage(root: &Path, block: u64) -> io::Result<u64> {
    use std::os::unix::fs::MetadataExt;
    let size = |meta: &std::fs::Metadata| meta.blocks().saturating_mul(512).max(block);
    let mut total = size(&std::fs::symlink_metadata(root)?);
    let mut linked = HashSet::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            // `DirEntry::metadata` does not follow symbolic links.
            let meta = match entry.metadata() {
                Ok(meta) => meta,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            if meta.is_dir() {
                dirs.push(entry.path());
            } else if meta.nlink() > 1 && !linked.insert((meta.dev(), meta.ino())) {
                continue;
            }
            total = total.saturating_add(size(&meta));
        }
    }
    Ok(total)
}

/// The allocation unit of the file system holding `dir` (4 KiB when it
/// cannot be found).
pub(crate) fn block_size(dir: &Path) -> u64 {
    rustix::fs::statvfs(dir)
        .map(|s| s.f_frsize)
        .ok()
        .filter(|&b| b >= 512)
        .unwrap_or(4096)
}

/// The I/O error a stream reports when the quota refuses a write; the
/// guest reads it as `insufficient-space`.
pub(crate) fn no_space_error() -> io::Error {
    io::Error::from_raw_os_error(rustix::io::Errno::NOSPC.raw_os_error())
}

#[cfg(test)]
mod tests {
    use super::*;

    const BLOCK: u64 = 4096;

    fn quota(dir: &Path, mb: u32) -> TmpQuota {
        TmpQuota::new(dir, mb, BLOCK)
    }

    #[test]
    fn zero_means_the_default_size() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(quota(dir.path(), 0).limit(), 512 << 20);
        assert_eq!(quota(dir.path(), 1).limit(), 1 << 20);
        assert_eq!(quota(dir.path(), 10240).limit(), 10240 << 20);
    }

    #[test]
    fn charges_cover_every_block_a_write_can_touch() {
        let dir = tempfile::tempdir().unwrap();
        let q = quota(dir.path(), 1);
        assert_eq!(q.write_charge(0), 0);
        assert_eq!(q.write_charge(1), 2 * BLOCK);
        assert_eq!(q.write_charge(BLOCK), 2 * BLOCK);
        assert_eq!(q.write_charge(BLOCK + 1), 3 * BLOCK);
        assert_eq!(q.growth_charge(1), BLOCK);
        assert_eq!(q.growth_charge(0), 0);
        // The room offered for a write is one whose charge fits.
        let room = q.write_room();
        assert_eq!(q.write_charge(room), q.limit());
    }

    #[test]
    fn the_estimate_is_replaced_by_a_measurement_only_when_full() {
        let dir = tempfile::tempdir().unwrap();
        let q = quota(dir.path(), 1);
        // 256 blocks: all of it can be charged without any I/O...
        for _ in 0..256 {
            assert!(q.try_charge(BLOCK));
        }
        assert!(!q.try_charge(BLOCK));
        assert_eq!(q.write_room(), 0);
        // ...and a measurement finds the directory nearly empty.
        q.measure_now();
        assert!(q.try_charge(BLOCK));
        assert!(q.write_room() > 900 * 1024);
    }

    #[tokio::test]
    async fn measured_usage_counts_files_directories_and_links() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let empty = usage(root, BLOCK).unwrap();
        assert!(empty >= BLOCK);
        std::fs::write(root.join("a"), vec![1u8; 100_000]).unwrap();
        std::fs::create_dir(root.join("d")).unwrap();
        std::fs::write(root.join("d/b"), b"").unwrap();
        std::fs::hard_link(root.join("a"), root.join("d/a-again")).unwrap();
        std::os::unix::fs::symlink("/", root.join("d/root")).unwrap();
        let used = usage(root, BLOCK).unwrap();
        // a: ~100 KB once (the hard link is not counted again), d and b
        // and the symbolic link at least a block each; `/` not followed.
        assert!(used >= empty + 100_000 + 3 * BLOCK, "{used}");
        assert!(used < empty + 100_000 + 16 * BLOCK, "{used}");

        let q = quota(root, 1);
        q.measure().await;
        let room = q.write_room();
        assert!(room < (1 << 20) - used + BLOCK, "{room}");
        std::fs::remove_file(root.join("a")).unwrap();
        std::fs::remove_file(root.join("d/a-again")).unwrap();
        q.measure().await;
        assert!(q.write_room() > room + 90_000, "deleting gives room back");
    }

    #[test]
    fn an_unmeasurable_directory_counts_as_full() {
        let dir = tempfile::tempdir().unwrap();
        let q = quota(&dir.path().join("missing"), 1);
        assert!(q.try_charge(BLOCK));
        q.measure_now();
        assert!(!q.try_charge(1));
        assert_eq!(q.charge_flight_now(1), Err(NoSpace));
    }

    #[test]
    fn writes_in_flight_survive_a_measurement() {
        let dir = tempfile::tempdir().unwrap();
        let q = quota(dir.path(), 1);
        q.charge_flight_now(512 * 1024).unwrap();
        // The bytes are not on disk yet: measuring must not forget them.
        q.measure_now();
        assert!(q.write_room() < 512 * 1024);
        q.land(512 * 1024);
        assert!(q.write_room() < 512 * 1024);
    }
}
