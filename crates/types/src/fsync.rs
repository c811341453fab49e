//! Making a rename durable: the directory that holds the new name is
//! flushed too, or a crash may forget the rename after the call returned.

use std::io;
use std::path::Path;

/// Flushes directory `dir` (its entries: names created, renamed or removed
/// in it) to disk.
#[cfg(unix)]
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

/// Directories cannot be opened for syncing here; renames are durable as
/// far as the platform allows.
#[cfg(not(unix))]
pub fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}
