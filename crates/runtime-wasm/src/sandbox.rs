//! What a guest's store holds, and the walls around it.
//!
//! Each store gets:
//! - a [`Limits`] resource limiter: the total of all its linear memories is
//!   capped at the function's memory size, the peak is recorded, and a
//!   refused growth is remembered so the failure that follows is reported
//!   as out-of-memory;
//! - an epoch callback: on every tick the guest yields to tokio (a busy
//!   guest cannot starve other tasks), and once the invocation deadline has
//!   passed the guest traps with [`DeadlinePassed`];
//! - a WASI context with the function's environment, `argv = [name]`,
//!   clocks and randomness, a private `/tmp`, and nothing else: no other
//!   directory, no sockets, no name lookup, and outgoing `wasi:http`
//!   requests are refused with `HTTP-request-denied`.

use std::path::Path;
use std::time::Instant;

use bytes::Bytes;
use updraft_pool::EnvConfig;
use wasmtime::component::ResourceTable;
use wasmtime::{Engine, ResourceLimiter, Store, UpdateDeadline};
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::p2::pipe::MemoryInputPipe;
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiBody, WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks, WasiHttpView};

use crate::output::GuestOutput;

/// Memory accounting and the deadline of the invocation in progress.
#[derive(Debug)]
pub(crate) struct Limits {
    memory_limit: usize,
    total: usize,
    peak: usize,
    refused: bool,
    /// When the running invocation (or init) must stop.
    pub deadline: Option<Instant>,
}

impl Limits {
    pub fn new(memory_mb: u32) -> Self {
        Limits {
            memory_limit: (memory_mb as usize).saturating_mul(1 << 20),
            total: 0,
            peak: 0,
            refused: false,
            deadline: None,
        }
    }

    pub fn peak_bytes(&self) -> u64 {
        self.peak as u64
    }

    /// Whether a memory growth was refused since the store was created.
    pub fn refused(&self) -> bool {
        self.refused
    }

    pub fn deadline_passed(&self) -> bool {
        self.deadline.is_some_and(|d| Instant::now() >= d)
    }
}

impl ResourceLimiter for Limits {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let total = self.total.saturating_sub(current).saturating_add(desired);
        if total > self.memory_limit {
            self.refused = true;
            return Ok(false);
        }
        self.total = total;
        self.peak = self.peak.max(total);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        _desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        // Tables are bounded by the engine's per-table element limit.
        Ok(true)
    }
}

/// The trap raised when an invocation runs past its deadline.
#[derive(Debug)]
pub(crate) struct DeadlinePassed;

impl std::fmt::Display for DeadlinePassed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the invocation ran past its deadline")
    }
}

impl std::error::Error for DeadlinePassed {}

/// Store data with [`Limits`].
pub(crate) trait HasLimits: Send + 'static {
    fn limits(&mut self) -> &mut Limits;
    fn limits_ref(&self) -> &Limits;
}

/// A store with the memory limiter and the epoch callback installed.
pub(crate) fn new_store<T: HasLimits>(engine: &Engine, data: T) -> Store<T> {
    let mut store = Store::new(engine, data);
    store.limiter(|data| data.limits() as &mut dyn ResourceLimiter);
    store.epoch_deadline_callback(|ctx| {
        if ctx.data().limits_ref().deadline_passed() {
            return Err(wasmtime::Error::new(DeadlinePassed));
        }
        Ok(UpdateDeadline::YieldCustom(
            1,
            Box::pin(tokio::task::yield_now()),
        ))
    });
    store.set_epoch_deadline(1);
    store
}

/// Store data of components (`wasi:http` handlers and `wasi:cli` commands).
pub(crate) struct ComponentState {
    wasi: WasiCtx,
    table: ResourceTable,
    http: WasiHttpCtx,
    hooks: NoOutgoingHttp,
    pub limits: Limits,
}

impl ComponentState {
    pub fn new(wasi: WasiCtx, memory_mb: u32) -> Self {
        ComponentState {
            wasi,
            table: ResourceTable::new(),
            http: WasiHttpCtx::new(),
            hooks: NoOutgoingHttp,
            limits: Limits::new(memory_mb),
        }
    }
}

impl WasiView for ComponentState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for ComponentState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

impl HasLimits for ComponentState {
    fn limits(&mut self) -> &mut Limits {
        &mut self.limits
    }
    fn limits_ref(&self) -> &Limits {
        &self.limits
    }
}

/// Store data of WASI preview1 core modules.
pub(crate) struct P1State {
    pub wasi: WasiP1Ctx,
    pub limits: Limits,
}

impl HasLimits for P1State {
    fn limits(&mut self) -> &mut Limits {
        &mut self.limits
    }
    fn limits_ref(&self) -> &Limits {
        &self.limits
    }
}

/// Functions have no network: every outgoing `wasi:http` request fails.
struct NoOutgoingHttp;

type SendRequestFuture = Box<
    dyn std::future::Future<
            Output = wasmtime_wasi_http::Result<(
                http::Response<WasiBody>,
                Box<dyn std::future::Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
            )>,
        > + Send,
>;

impl WasiHttpHooks for NoOutgoingHttp {
    fn send_request(
        &mut self,
        _request: http::Request<WasiBody>,
        _options: Option<wasmtime_wasi_http::RequestOptions>,
        _fut: Box<dyn std::future::Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
    ) -> SendRequestFuture {
        Box::new(async { Err(wasmtime_wasi_http::Error::HttpRequestDenied) })
    }
}

/// The WASI context of one environment (or, for commands, one invocation).
pub(crate) fn wasi_builder(
    config: &EnvConfig,
    tmp: &Path,
    stdin: Option<Bytes>,
    stdout: GuestOutput,
    stderr: GuestOutput,
) -> Result<WasiCtxBuilder, String> {
    let mut builder = WasiCtxBuilder::new();
    let env: Vec<(&str, &str)> = config
        .env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    builder
        .envs(&env)
        .arg(&config.function_name)
        .stdout(stdout)
        .stderr(stderr)
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false);
    if let Some(stdin) = stdin {
        builder.stdin(MemoryInputPipe::new(stdin));
    }
    builder
        .preopened_dir(tmp, "/tmp", FsPerms::ReadWrite)
        .map_err(|e| format!("cannot open the function's /tmp: {e}"))?;
    Ok(builder)
}
