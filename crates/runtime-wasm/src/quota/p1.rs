//! The quota for preview1 core modules: the `wasi_snapshot_preview1`
//! functions that take disk space, charged first.
//!
//! wasmtime-wasi implements preview1 file writes directly on the host
//! file, not through `wasi:filesystem`, so the quota sits in front of the
//! imports themselves: after `wasmtime_wasi::p1::add_to_linker_async`,
//! [`add_to_linker`] redefines `fd_write`, `fd_pwrite`,
//! `fd_filestat_set_size`, `path_open`, `path_create_directory`,
//! `path_symlink` and `path_link`. Each charges the quota (see
//! [`super`]) and then calls wasmtime-wasi's own implementation, or
//! returns `ENOSPC` (`errno::nospc`) without calling it.

use wasmtime::{AsContextMut, Caller, Extern, Linker};
use wasmtime_wasi::p1::types::{self, Errno, Filetype};
use wasmtime_wasi::p1::wasi_snapshot_preview1::{self as p1, WasiSnapshotPreview1};
use wasmtime_wasi::p1::WasiP1Ctx;
use wiggle::{GuestMemory, GuestPtr};

use super::TmpQuota;
use crate::sandbox::P1State;

const MODULE: &str = "wasi_snapshot_preview1";

/// `oflags::creat`, `oflags::excl`.
const O_CREAT: i32 = 1;
const O_EXCL: i32 = 4;

fn nospc() -> i32 {
    Errno::Nospc as i32
}

/// What a call costs before it runs.
enum Charge {
    /// Nothing (not a file, or nothing written).
    Free,
    /// The bytes to charge.
    Bytes(u64),
}

/// Redefines, in `linker` (which already has preview1), the functions
/// that take disk space.
pub(crate) fn add_to_linker(linker: &mut Linker<P1State>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    let added = define(linker);
    linker.allow_shadowing(false);
    added
}

/// One redefinition: `$charge` (an expression over the context, the guest
/// memory, the quota and the arguments) is charged, then wasmtime-wasi's
/// `$call` runs with the same arguments; `$refused` answers instead when
/// the charge does not fit.
macro_rules! charged {
    ($linker:ident, $name:literal, $call:path,
     ($($arg:ident: $ty:ty),*),
     |$ctx:ident, $mem:ident, $quota:ident| $charge:expr,
     refused: |$rctx:ident, $rmem:ident| $refused:expr) => {
        $linker.func_wrap_async(
            MODULE,
            $name,
            move |mut caller: Caller<'_, P1State>, ($($arg,)*): ($($ty,)*)| {
                Box::new(async move {
                    let fuel = caller.as_context_mut().hostcall_fuel();
                    let Some(Extern::Memory(memory)) = caller.get_export("memory") else {
                        wasmtime::bail!("missing required memory export");
                    };
                    let (data, state) = memory.data_and_store_mut(&mut caller);
                    let mut $mem = GuestMemory::Unshared(data);
                    let P1State { wasi: $ctx, quota: $quota, .. } = state;
                    let charge: Charge = $charge;
                    if let Charge::Bytes(bytes) = charge {
                        if $quota.charge(bytes).await.is_err() {
                            let $rctx: &mut WasiP1Ctx = $ctx;
                            let $rmem = &mut $mem;
                            $rctx.set_hostcall_fuel(fuel);
                            return $refused;
                        }
                    }
                    $ctx.set_hostcall_fuel(fuel);
                    $call($ctx, &mut $mem, $($arg),*).await
                })
            },
        )?;
    };
}

fn define(linker: &mut Linker<P1State>) -> wasmtime::Result<()> {
    charged!(linker, "fd_write", p1::fd_write,
        (fd: i32, iovs: i32, iovs_len: i32, nwritten: i32),
        |ctx, mem, quota| write_charge(ctx, &mut mem, quota, fd, iovs, iovs_len).await,
        refused: |_ctx, _mem| Ok(nospc()));
    charged!(linker, "fd_pwrite", p1::fd_pwrite,
        (fd: i32, iovs: i32, iovs_len: i32, offset: i64, nwritten: i32),
        |ctx, mem, quota| write_charge(ctx, &mut mem, quota, fd, iovs, iovs_len).await,
        refused: |_ctx, _mem| Ok(nospc()));
    charged!(linker, "fd_filestat_set_size", p1::fd_filestat_set_size,
        (fd: i32, size: i64),
        |ctx, mem, quota| growth_charge(ctx, &mut mem, quota, fd, size).await,
        refused: |_ctx, _mem| Ok(nospc()));
    charged!(linker, "path_open", p1::path_open,
    (dirfd: i32, dirflags: i32, path: i32, path_len: i32, oflags: i32,
     rights_base: i64, rights_inheriting: i64, fdflags: i32, opened: i32),
    |_ctx, _mem, quota| if oflags & O_CREAT != 0 {
        Charge::Bytes(quota.entry_charge())
    } else {
        Charge::Free
    },
    // No room for a new file, but an existing one may be opened (and
    // truncated, which frees space).
    refused: |ctx, mem| {
        if oflags & O_EXCL != 0 {
            return Ok(nospc());
        }
        let errno = p1::path_open(ctx, mem, dirfd, dirflags, path, path_len,
            oflags & !O_CREAT, rights_base, rights_inheriting, fdflags, opened).await?;
        Ok(if errno == Errno::Noent as i32 { nospc() } else { errno })
    });
    charged!(linker, "path_create_directory", p1::path_create_directory,
        (dirfd: i32, path: i32, path_len: i32),
        |_ctx, _mem, quota| Charge::Bytes(quota.entry_charge()),
        refused: |_ctx, _mem| Ok(nospc()));
    charged!(linker, "path_symlink", p1::path_symlink,
        (old_path: i32, old_path_len: i32, dirfd: i32, new_path: i32, new_path_len: i32),
        |_ctx, _mem, quota| Charge::Bytes(quota.entry_charge()),
        refused: |_ctx, _mem| Ok(nospc()));
    charged!(linker, "path_link", p1::path_link,
        (old_fd: i32, old_flags: i32, old_path: i32, old_path_len: i32,
         new_fd: i32, new_path: i32, new_path_len: i32),
        |_ctx, _mem, quota| Charge::Bytes(quota.entry_charge()),
        refused: |_ctx, _mem| Ok(nospc()));
    Ok(())
}

/// Whether `fd` is a file (the only descriptors besides stdout and stderr
/// that take writes). `fd_tell` answers from the descriptor table, where
/// `fd_fdstat_get` would ask the host file system twice.
fn is_file(ctx: &mut WasiP1Ctx, mem: &mut GuestMemory<'_>, fd: i32) -> bool {
    ctx.fd_tell(mem, types::Fd::from(fd as u32)).is_ok()
}

/// A write to a file: wasmtime-wasi writes the first non-empty buffer of
/// `iovs` (one call, one buffer). Unreadable buffers cost nothing here;
/// the write itself reports them.
async fn write_charge(
    ctx: &mut WasiP1Ctx,
    mem: &mut GuestMemory<'_>,
    quota: &TmpQuota,
    fd: i32,
    iovs: i32,
    iovs_len: i32,
) -> Charge {
    if !is_file(ctx, mem, fd) {
        return Charge::Free;
    }
    let array: types::CiovecArray = GuestPtr::new((iovs as u32, iovs_len as u32));
    for iov in array.iter() {
        let Ok(iov) = iov.and_then(|p| mem.read(p)) else {
            return Charge::Free;
        };
        if iov.buf_len > 0 {
            return Charge::Bytes(quota.write_charge(u64::from(iov.buf_len)));
        }
    }
    Charge::Free
}

/// Growing a file with `fd_filestat_set_size`.
async fn growth_charge(
    ctx: &mut WasiP1Ctx,
    mem: &mut GuestMemory<'_>,
    quota: &TmpQuota,
    fd: i32,
    size: i64,
) -> Charge {
    let fd = types::Fd::from(fd as u32);
    match ctx.fd_filestat_get(mem, fd).await {
        Ok(stat) if stat.filetype == Filetype::RegularFile => {
            Charge::Bytes(quota.growth_charge((size as u64).saturating_sub(stat.size)))
        }
        _ => Charge::Free,
    }
}
