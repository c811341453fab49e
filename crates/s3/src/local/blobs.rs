//! Blob files of the local backend: a [`LocalBlobWriter`] writes to
//! `tmp/`, and on finish fsyncs, renames into `blobs/` and fsyncs the
//! folder; dropped unfinished, it removes its file.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::backend::{BackendError, BlobRef, BlobWriter, Result};

use super::rows::io_err;

pub(super) fn remove_quietly(path: &Path) {
    match fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => tracing::warn!(path = %path.display(), error = %e, "could not remove a blob"),
    }
}

pub(super) struct LocalBlobWriter {
    file: Option<File>,
    tmp: PathBuf,
    dest: PathBuf,
    id: String,
    size: u64,
}

impl LocalBlobWriter {
    /// A writer filling `tmp` (already created), to become `dest`.
    pub(super) fn new(file: File, tmp: PathBuf, dest: PathBuf, id: String) -> Self {
        LocalBlobWriter {
            file: Some(file),
            tmp,
            dest,
            id,
            size: 0,
        }
    }
}

impl BlobWriter for LocalBlobWriter {
    fn write(&mut self, bytes: &[u8]) -> Result<()> {
        let file = self.file.as_mut().ok_or_else(|| BackendError::Storage {
            context: "writing a finished blob".into(),
            transient: false,
            source: "blob already finished".into(),
        })?;
        file.write_all(bytes)
            .map_err(|e| io_err(format!("writing {}", self.tmp.display()), e))?;
        self.size += bytes.len() as u64;
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> Result<BlobRef> {
        let file = self.file.take().ok_or_else(|| BackendError::Storage {
            context: "finishing a blob twice".into(),
            transient: false,
            source: "blob already finished".into(),
        })?;
        let ctx = |what: &str| format!("{what} {}", self.tmp.display());
        file.sync_all().map_err(|e| io_err(ctx("fsyncing"), e))?;
        drop(file);
        let parent = self.dest.parent().unwrap_or(Path::new("."));
        if !parent.exists() {
            fs::create_dir_all(parent).map_err(|e| io_err(ctx("creating a folder for"), e))?;
            if let Some(grand) = parent.parent() {
                sync_dir(grand).map_err(|e| io_err(ctx("fsyncing the folder of"), e))?;
            }
        }
        fs::rename(&self.tmp, &self.dest).map_err(|e| io_err(ctx("renaming"), e))?;
        sync_dir(parent).map_err(|e| io_err(ctx("fsyncing the folder of"), e))?;
        Ok(BlobRef {
            id: std::mem::take(&mut self.id),
            size: self.size,
        })
    }
}

impl Drop for LocalBlobWriter {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            remove_quietly(&self.tmp);
        }
    }
}

pub(super) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}
