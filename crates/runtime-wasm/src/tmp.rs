//! Private `/tmp` directories for environments, kept for reuse.
//!
//! ```text
//! <parent>/                     `WasmConfig::tmp_dir` (`<data-dir>/tmp`)
//!   run-XXXXXX/                 one runtime's root, removed with it
//!     LOCK                      flock'ed while the runtime lives
//!     00000000000000000001/     one environment's /tmp (0700)
//!     ...                       spare: empty, waiting for the next
//! ```
//!
//! Making and removing a directory is a handful of filesystem operations
//! (tens of microseconds on ext4, with its journal): in a burst of a
//! thousand cold starts it was a quarter of the node's CPU. So an
//! environment's directory goes back to the pool when the environment is
//! dropped, and the next environment gets it, provided it is empty (the
//! guest left nothing behind; otherwise it is removed). The pool is
//! filled in the background when the runtime starts, up to its instance
//! slots, so even the first burst finds directories ready.
//!
//! A process that is killed cannot remove its root; the next runtime
//! under the same parent removes every root whose lock nobody holds.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use updraft_pool::FunctionError;

use crate::fault::INIT_ERROR;
use crate::quota::{self, TmpQuota};

/// Roots without a lock file younger than this may be in the making.
const UNLOCKED_GRACE: std::time::Duration = std::time::Duration::from_secs(60);

/// The pool; share it (`Arc`).
pub(crate) struct TmpDirs {
    root: tempfile::TempDir,
    /// Held (flock) while the pool lives: the root is in use.
    _lock: std::fs::File,
    spares: Mutex<Vec<PathBuf>>,
    next: AtomicU64,
    max_spares: usize,
    /// The allocation unit of the file system the directories are on.
    block: u64,
}

/// An environment's `/tmp`: back to the pool (or removed) when dropped.
pub(crate) struct PrivateTmp {
    path: PathBuf,
    pool: Arc<TmpDirs>,
}

impl TmpDirs {
    /// A pool under `parent` (created, mode 0700) keeping at most
    /// `max_spares` spare directories; roots that dead processes left
    /// under `parent` are removed first.
    pub fn new(parent: &Path, max_spares: usize) -> std::io::Result<Arc<TmpDirs>> {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(parent)?;
        remove_abandoned(parent);
        let root = tempfile::Builder::new().prefix("run-").tempdir_in(parent)?;
        let lock = std::fs::File::create(root.path().join("LOCK"))?;
        rustix::fs::flock(&lock, rustix::fs::FlockOperation::NonBlockingLockExclusive)?;
        let block = quota::block_size(root.path());
        Ok(Arc::new(TmpDirs {
            root,
            _lock: lock,
            spares: Mutex::new(Vec::new()),
            next: AtomicU64::new(1),
            max_spares,
            block,
        }))
    }

    /// Makes spare directories until there are `n` (or the pool's limit),
    /// on a thread of its own.
    pub fn fill_in_background(self: &Arc<Self>, n: usize) {
        let pool = Arc::clone(self);
        let spawned = std::thread::Builder::new()
            .name("wasm-tmp-dirs".into())
            .spawn(move || {
                let n = n.min(pool.max_spares);
                while pool.spare_count() < n {
                    match pool.create() {
                        Ok(path) => pool.give_back(path),
                        Err(e) => {
                            tracing::warn!(error = %e, "could not prepare environment /tmp directories");
                            return;
                        }
                    }
                }
            });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "could not start preparing /tmp directories");
        }
    }

    /// An empty directory for one environment.
    pub fn take(self: &Arc<Self>) -> Result<PrivateTmp, FunctionError> {
        let spare = self.lock().pop();
        let path = match spare {
            Some(path) => path,
            None => self
                .create()
                .map_err(|e| FunctionError::new(INIT_ERROR, format!("cannot create /tmp: {e}")))?,
        };
        Ok(PrivateTmp {
            path,
            pool: Arc::clone(self),
        })
    }

    fn create(&self) -> std::io::Result<PathBuf> {
        use std::os::unix::fs::DirBuilderExt;
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let path = self.root.path().join(format!("{n:020}"));
        std::fs::DirBuilder::new().mode(0o700).create(&path)?;
        Ok(path)
    }

    fn give_back(&self, path: PathBuf) {
        let empty = std::fs::read_dir(&path).is_ok_and(|mut entries| entries.next().is_none());
        if empty {
            let mut spares = self.lock();
            if spares.len() < self.max_spares {
                spares.push(path);
                return;
            }
        }
        if let Err(e) = std::fs::remove_dir_all(&path) {
            tracing::warn!(path = %path.display(), error = %e, "could not remove an environment's /tmp");
        }
    }

    fn spare_count(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<PathBuf>> {
        self.spares.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Removes the roots under `parent` that no live runtime holds.
fn remove_abandoned(parent: &Path) {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let root = entry.path();
        if !entry.file_name().to_string_lossy().starts_with("run-") || !root.is_dir() {
            continue;
        }
        let abandoned = match std::fs::File::open(root.join("LOCK")) {
            Ok(lock) => {
                rustix::fs::flock(&lock, rustix::fs::FlockOperation::NonBlockingLockExclusive)
                    .is_ok()
            }
            Err(_) => entry
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| t.elapsed().is_ok_and(|age| age > UNLOCKED_GRACE)),
        };
        if abandoned {
            if let Err(e) = std::fs::remove_dir_all(&root) {
                tracing::warn!(path = %root.display(), error = %e, "could not remove an abandoned /tmp root");
            }
        }
    }
}

impl PrivateTmp {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A quota of `size_mb` MB (0: the default) for this directory, which
    /// is empty when taken.
    pub fn quota(&self, size_mb: u32) -> TmpQuota {
        TmpQuota::new(&self.path, size_mb, self.pool.block)
    }
}

impl Drop for PrivateTmp {
    fn drop(&mut self) {
        self.pool.give_back(std::mem::take(&mut self.path));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_directories_are_reused_and_others_removed() {
        let parent = tempfile::tempdir().unwrap();
        let pool = TmpDirs::new(parent.path(), 2).unwrap();
        let a = pool.take().unwrap();
        let b = pool.take().unwrap();
        let c = pool.take().unwrap();
        let (pa, pb, pc) = (
            a.path().to_path_buf(),
            b.path().to_path_buf(),
            c.path().to_path_buf(),
        );
        assert!(pa.is_dir() && pa != pb);
        std::fs::write(pb.join("left-behind"), b"x").unwrap();
        drop(a);
        drop(b);
        drop(c);
        assert!(!pb.exists(), "a directory with files in it is removed");
        let again: Vec<PathBuf> = (0..3)
            .map(|_| pool.take().unwrap().path().to_path_buf())
            .collect();
        assert!(
            again.contains(&pa) || again.contains(&pc),
            "an empty one comes back"
        );
        assert!(!again.contains(&pb));

        let root = pool.root.path().to_path_buf();
        drop(pool);
        assert!(!root.exists(), "the root goes with the pool");
    }

    #[test]
    fn roots_of_dead_runtimes_are_removed_and_live_ones_kept() {
        let parent = tempfile::tempdir().unwrap();
        let live = TmpDirs::new(parent.path(), 2).unwrap();
        let dead = parent.path().join("run-dead");
        std::fs::create_dir_all(dead.join("00000000000000000001")).unwrap();
        std::fs::write(dead.join("LOCK"), b"").unwrap();
        let other = TmpDirs::new(parent.path(), 2).unwrap();
        assert!(!dead.exists(), "nobody held its lock");
        assert!(live.root.path().exists(), "a live runtime's root stays");
        assert_ne!(live.root.path(), other.root.path());
    }

    #[test]
    fn the_pool_fills_in_the_background_up_to_its_limit() {
        let parent = tempfile::tempdir().unwrap();
        let pool = TmpDirs::new(parent.path(), 5).unwrap();
        pool.fill_in_background(50);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while pool.spare_count() < 5 {
            assert!(std::time::Instant::now() < deadline, "not filled");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert_eq!(pool.spare_count(), 5);
    }
}
