//! The quota for components: `wasi:filesystem/types` with the calls that
//! take disk space charged first.
//!
//! ```text
//!   wasmtime_wasi::p2::add_to_linker_async   every WASI interface
//!   quota::p2::add_to_linker                 wasi:filesystem/types again
//!     └─ TmpFsView ── charge ──> TmpQuota      (shadowing the first)
//!          └─ delegates to WasiFilesystemCtxView, wasmtime-wasi's own
//! ```
//!
//! Output streams of files (`write-via-stream`, `append-via-stream`) are
//! wrapped in a [`QuotaStream`]: `check-write` grants no more than the
//! quota's room; with no room left it grants nothing until the guest
//! waits on the stream, which measures the directory; if there is still
//! no room, the next write fails with `insufficient-space`.
//! Everything else goes straight to wasmtime-wasi.

use bytes::Bytes;
use wasmtime::component::{HasData, Linker, Resource};
use wasmtime_wasi::filesystem::{Descriptor, WasiFilesystemCtxView};
use wasmtime_wasi::p2::bindings::filesystem::types::{
    self, Advice, DescriptorFlags, DescriptorStat, DescriptorType, DirectoryEntry,
    DirectoryEntryStream, ErrorCode, Filesize, Host, HostDescriptor, HostDirectoryEntryStream,
    MetadataHashValue, NewTimestamp, OpenFlags, PathFlags,
};
use wasmtime_wasi::p2::{
    DynOutputStream, FsError, FsResult, OutputStream, Pollable, StreamError, StreamResult,
};

use super::{no_space_error, TmpQuota};

/// `wasi:filesystem/types` with the quota (see [`HasData`]).
pub(crate) struct TmpFs;

impl HasData for TmpFs {
    type Data<'a> = TmpFsView<'a>;
}

/// wasmtime-wasi's filesystem view and the environment's quota.
pub(crate) struct TmpFsView<'a> {
    pub fs: WasiFilesystemCtxView<'a>,
    pub quota: &'a TmpQuota,
}

/// Replaces `wasi:filesystem/types` in `linker` (which already has all of
/// WASI) with the quota-keeping one.
pub(crate) fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    view: fn(&mut T) -> TmpFsView<'_>,
) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    let added = types::add_to_linker::<T, TmpFs>(linker, view);
    linker.allow_shadowing(false);
    added
}

fn no_space() -> FsError {
    ErrorCode::InsufficientSpace.into()
}

/// The same handle, borrowed again (for a second call on it).
fn again<T: 'static>(r: &Resource<T>) -> Resource<T> {
    Resource::new_borrow(r.rep())
}

impl TmpFsView<'_> {
    /// Whether writes through `fd` reach a file (the others fail in
    /// wasmtime-wasi, uncharged).
    fn writable_file(&self, fd: &Resource<Descriptor>) -> bool {
        matches!(self.fs.table.get(fd), Ok(Descriptor::File(f)) if !f.perms.write_not_permitted())
    }

    /// Wraps the output stream `stream` of a file in a [`QuotaStream`].
    fn watch(&mut self, stream: Resource<DynOutputStream>) -> FsResult<Resource<DynOutputStream>> {
        let inner = self.fs.table.delete(stream)?;
        let watched: DynOutputStream = Box::new(QuotaStream {
            inner,
            quota: self.quota.clone(),
            in_flight: 0,
            measure: false,
            full: false,
            refused: false,
        });
        Ok(self.fs.table.push(watched)?)
    }
}

impl Host for TmpFsView<'_> {
    fn convert_error_code(&mut self, err: FsError) -> wasmtime::Result<ErrorCode> {
        Host::convert_error_code(&mut self.fs, err)
    }

    fn filesystem_error_code(
        &mut self,
        err: Resource<wasmtime::Error>,
    ) -> wasmtime::Result<Option<ErrorCode>> {
        Host::filesystem_error_code(&mut self.fs, err)
    }
}

impl HostDescriptor for TmpFsView<'_> {
    async fn write(
        &mut self,
        fd: Resource<Descriptor>,
        buf: Vec<u8>,
        offset: Filesize,
    ) -> FsResult<Filesize> {
        if self.writable_file(&fd) {
            let charge = self.quota.write_charge(buf.len() as u64);
            self.quota.charge(charge).await.map_err(|_| no_space())?;
        }
        self.fs.write(fd, buf, offset).await
    }

    fn write_via_stream(
        &mut self,
        fd: Resource<Descriptor>,
        offset: Filesize,
    ) -> FsResult<Resource<DynOutputStream>> {
        let stream = self.fs.write_via_stream(fd, offset)?;
        self.watch(stream)
    }

    fn append_via_stream(
        &mut self,
        fd: Resource<Descriptor>,
    ) -> FsResult<Resource<DynOutputStream>> {
        let stream = self.fs.append_via_stream(fd)?;
        self.watch(stream)
    }

    async fn set_size(&mut self, fd: Resource<Descriptor>, size: Filesize) -> FsResult<()> {
        if self.writable_file(&fd) {
            let now = self.fs.stat(again(&fd)).await?.size;
            let charge = self.quota.growth_charge(size.saturating_sub(now));
            self.quota.charge(charge).await.map_err(|_| no_space())?;
        }
        self.fs.set_size(fd, size).await
    }

    async fn open_at(
        &mut self,
        fd: Resource<Descriptor>,
        path_flags: PathFlags,
        path: String,
        oflags: OpenFlags,
        flags: DescriptorFlags,
    ) -> FsResult<Resource<Descriptor>> {
        if oflags.contains(OpenFlags::CREATE)
            && self.quota.charge(self.quota.entry_charge()).await.is_err()
        {
            // No room for a new file, but an existing one may be opened
            // (and truncated, which frees space).
            if oflags.contains(OpenFlags::EXCLUSIVE) {
                return Err(no_space());
            }
            let existing = oflags & !OpenFlags::CREATE;
            return match self.fs.open_at(fd, path_flags, path, existing, flags).await {
                Err(e) if matches!(e.downcast_ref(), Some(ErrorCode::NoEntry)) => Err(no_space()),
                opened => opened,
            };
        }
        self.fs.open_at(fd, path_flags, path, oflags, flags).await
    }

    async fn create_directory_at(
        &mut self,
        fd: Resource<Descriptor>,
        path: String,
    ) -> FsResult<()> {
        self.quota
            .charge(self.quota.entry_charge())
            .await
            .map_err(|_| no_space())?;
        self.fs.create_directory_at(fd, path).await
    }

    async fn symlink_at(
        &mut self,
        fd: Resource<Descriptor>,
        old_path: String,
        new_path: String,
    ) -> FsResult<()> {
        self.quota
            .charge(self.quota.entry_charge())
            .await
            .map_err(|_| no_space())?;
        self.fs.symlink_at(fd, old_path, new_path).await
    }

    async fn link_at(
        &mut self,
        fd: Resource<Descriptor>,
        old_path_flags: PathFlags,
        old_path: String,
        new_descriptor: Resource<Descriptor>,
        new_path: String,
    ) -> FsResult<()> {
        self.quota
            .charge(self.quota.entry_charge())
            .await
            .map_err(|_| no_space())?;
        self.fs
            .link_at(fd, old_path_flags, old_path, new_descriptor, new_path)
            .await
    }

    // Everything below takes no space: straight to wasmtime-wasi.

    async fn advise(
        &mut self,
        fd: Resource<Descriptor>,
        offset: Filesize,
        len: Filesize,
        advice: Advice,
    ) -> FsResult<()> {
        self.fs.advise(fd, offset, len, advice).await
    }

    async fn sync_data(&mut self, fd: Resource<Descriptor>) -> FsResult<()> {
        self.fs.sync_data(fd).await
    }

    async fn get_flags(&mut self, fd: Resource<Descriptor>) -> FsResult<DescriptorFlags> {
        self.fs.get_flags(fd).await
    }

    async fn get_type(&mut self, fd: Resource<Descriptor>) -> FsResult<DescriptorType> {
        self.fs.get_type(fd).await
    }

    async fn set_times(
        &mut self,
        fd: Resource<Descriptor>,
        atim: NewTimestamp,
        mtim: NewTimestamp,
    ) -> FsResult<()> {
        self.fs.set_times(fd, atim, mtim).await
    }

    async fn read(
        &mut self,
        fd: Resource<Descriptor>,
        len: Filesize,
        offset: Filesize,
    ) -> FsResult<(Vec<u8>, bool)> {
        self.fs.read(fd, len, offset).await
    }

    async fn read_directory(
        &mut self,
        fd: Resource<Descriptor>,
    ) -> FsResult<Resource<DirectoryEntryStream>> {
        self.fs.read_directory(fd).await
    }

    async fn sync(&mut self, fd: Resource<Descriptor>) -> FsResult<()> {
        self.fs.sync(fd).await
    }

    async fn stat(&mut self, fd: Resource<Descriptor>) -> FsResult<DescriptorStat> {
        self.fs.stat(fd).await
    }

    async fn stat_at(
        &mut self,
        fd: Resource<Descriptor>,
        path_flags: PathFlags,
        path: String,
    ) -> FsResult<DescriptorStat> {
        self.fs.stat_at(fd, path_flags, path).await
    }

    async fn set_times_at(
        &mut self,
        fd: Resource<Descriptor>,
        path_flags: PathFlags,
        path: String,
        atim: NewTimestamp,
        mtim: NewTimestamp,
    ) -> FsResult<()> {
        self.fs.set_times_at(fd, path_flags, path, atim, mtim).await
    }

    fn drop(&mut self, fd: Resource<Descriptor>) -> wasmtime::Result<()> {
        HostDescriptor::drop(&mut self.fs, fd)
    }

    async fn readlink_at(&mut self, fd: Resource<Descriptor>, path: String) -> FsResult<String> {
        self.fs.readlink_at(fd, path).await
    }

    async fn remove_directory_at(
        &mut self,
        fd: Resource<Descriptor>,
        path: String,
    ) -> FsResult<()> {
        self.fs.remove_directory_at(fd, path).await
    }

    async fn rename_at(
        &mut self,
        fd: Resource<Descriptor>,
        old_path: String,
        new_fd: Resource<Descriptor>,
        new_path: String,
    ) -> FsResult<()> {
        self.fs.rename_at(fd, old_path, new_fd, new_path).await
    }

    async fn unlink_file_at(&mut self, fd: Resource<Descriptor>, path: String) -> FsResult<()> {
        self.fs.unlink_file_at(fd, path).await
    }

    fn read_via_stream(
        &mut self,
        fd: Resource<Descriptor>,
        offset: Filesize,
    ) -> FsResult<Resource<wasmtime_wasi::p2::DynInputStream>> {
        self.fs.read_via_stream(fd, offset)
    }

    async fn is_same_object(
        &mut self,
        a: Resource<Descriptor>,
        b: Resource<Descriptor>,
    ) -> wasmtime::Result<bool> {
        self.fs.is_same_object(a, b).await
    }

    async fn metadata_hash(&mut self, fd: Resource<Descriptor>) -> FsResult<MetadataHashValue> {
        self.fs.metadata_hash(fd).await
    }

    async fn metadata_hash_at(
        &mut self,
        fd: Resource<Descriptor>,
        path_flags: PathFlags,
        path: String,
    ) -> FsResult<MetadataHashValue> {
        self.fs.metadata_hash_at(fd, path_flags, path).await
    }
}

impl HostDirectoryEntryStream for TmpFsView<'_> {
    async fn read_directory_entry(
        &mut self,
        stream: Resource<DirectoryEntryStream>,
    ) -> FsResult<Option<DirectoryEntry>> {
        self.fs.read_directory_entry(stream).await
    }

    fn drop(&mut self, stream: Resource<DirectoryEntryStream>) -> wasmtime::Result<()> {
        HostDirectoryEntryStream::drop(&mut self.fs, stream)
    }
}

/// A file's output stream whose writes are charged to the quota.
///
/// Non-blocking writes run in the background in wasmtime-wasi: their
/// charge stays in flight until the stream is seen ready again (or
/// dropped), so a measurement meanwhile cannot forget them.
struct QuotaStream {
    inner: DynOutputStream,
    quota: TmpQuota,
    /// Charged for writes `inner` may still be doing.
    in_flight: u64,
    /// `check_write` found no room: measure when the guest waits.
    measure: bool,
    /// Measured and still no room: writes are let through to fail.
    full: bool,
    /// A write was refused: like any stream after a failed operation,
    /// this one is closed.
    refused: bool,
}

impl QuotaStream {
    fn land(&mut self) {
        self.quota.land(std::mem::take(&mut self.in_flight));
    }

    fn open(&self) -> StreamResult<()> {
        if self.refused {
            return Err(StreamError::Closed);
        }
        Ok(())
    }

    fn refuse(&mut self) -> StreamError {
        self.refused = true;
        StreamError::LastOperationFailed(wasmtime::Error::new(no_space_error()))
    }
}

#[async_trait::async_trait]
impl OutputStream for QuotaStream {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.open()?;
        let charge = self.quota.write_charge(bytes.len() as u64);
        // Fits when `check_write` granted it, unless another write took
        // the room meanwhile (then the directory is measured here).
        if self.quota.charge_flight_now(charge).is_err() {
            return Err(self.refuse());
        }
        self.in_flight += charge;
        self.inner.write(bytes)
    }

    fn flush(&mut self) -> StreamResult<()> {
        self.open()?;
        self.inner.flush()
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        self.open()?;
        let permit = self.inner.check_write()?;
        if permit == 0 {
            return Ok(0);
        }
        // `inner` is ready: what it was writing is on disk.
        self.land();
        let room = usize::try_from(self.quota.write_room()).unwrap_or(usize::MAX);
        if room > 0 {
            self.full = false;
            return Ok(permit.min(room));
        }
        if self.full {
            // Measured, and still no room: the write will fail, as a
            // write to a full disk does (a flush still succeeds).
            return Ok(permit);
        }
        self.measure = true;
        Ok(0)
    }

    async fn blocking_write_and_flush(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.open()?;
        let charge = self.quota.write_charge(bytes.len() as u64);
        if self.quota.charge(charge).await.is_err() {
            return Err(self.refuse());
        }
        let written = self.inner.blocking_write_and_flush(bytes).await;
        self.land();
        written
    }

    async fn cancel(&mut self) {
        self.inner.cancel().await;
        self.land();
    }
}

#[async_trait::async_trait]
impl Pollable for QuotaStream {
    async fn ready(&mut self) {
        if self.refused {
            return;
        }
        self.inner.ready().await;
        self.land();
        if std::mem::take(&mut self.measure) {
            self.quota.measure().await;
            self.full = self.quota.write_room() == 0;
        }
    }
}

impl Drop for QuotaStream {
    fn drop(&mut self) {
        // A write still running finishes in the background.
        self.land();
    }
}
