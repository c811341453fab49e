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
//!   clocks and randomness, a private `/tmp` holding no more than the
//!   function's ephemeral storage (its [`TmpQuota`], see `quota`), and
//!   nothing else: no other directory, no sockets, no name lookup;
//! - outgoing `wasi:http` requests go to the platform's endpoint
//!   ([`Endpoint`], also the guest's `AWS_ENDPOINT_URL`) and nowhere else:
//!   any other destination, or every request when no endpoint is
//!   configured, is refused with `HTTP-request-denied`.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use updraft_pool::EnvConfig;
use wasmtime::component::ResourceTable;
use wasmtime::{Engine, ResourceLimiter, Store, UpdateDeadline};
use wasmtime_wasi::filesystem::WasiFilesystemCtxView;
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::p2::pipe::MemoryInputPipe;
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiBody, WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks, WasiHttpView};

use crate::output::GuestOutput;
use crate::quota::p2::TmpFsView;
use crate::quota::TmpQuota;

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
    hooks: OutgoingHttp,
    pub limits: Limits,
    quota: TmpQuota,
}

impl ComponentState {
    pub fn new(
        wasi: WasiCtx,
        memory_mb: u32,
        endpoint: Option<Arc<Endpoint>>,
        quota: TmpQuota,
    ) -> Self {
        ComponentState {
            wasi,
            table: ResourceTable::new(),
            http: WasiHttpCtx::new(),
            hooks: OutgoingHttp { endpoint },
            limits: Limits::new(memory_mb),
            quota,
        }
    }

    /// `wasi:filesystem/types` with the `/tmp` quota.
    pub fn tmp_fs(&mut self) -> TmpFsView<'_> {
        TmpFsView {
            fs: WasiFilesystemCtxView {
                ctx: self.wasi.filesystem(),
                table: &mut self.table,
            },
            quota: &self.quota,
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
    /// Enforced by `quota::p1`.
    pub quota: TmpQuota,
}

impl HasLimits for P1State {
    fn limits(&mut self) -> &mut Limits {
        &mut self.limits
    }
    fn limits_ref(&self) -> &Limits {
        &self.limits
    }
}

/// The platform's endpoint: the one destination of guests' outgoing
/// requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Endpoint {
    /// As configured (`http://127.0.0.1:9000`), without a trailing `/`.
    pub url: String,
    scheme: http::uri::Scheme,
    host: String,
    port: u16,
}

/// Why an endpoint URL was refused.
#[derive(Debug, thiserror::Error)]
#[error("the endpoint URL `{url}` {problem}")]
pub struct InvalidEndpoint {
    url: String,
    problem: &'static str,
}

impl Endpoint {
    /// `http://HOST[:PORT]` or `https://HOST[:PORT]`, with no path.
    pub fn parse(url: &str) -> Result<Endpoint, InvalidEndpoint> {
        let invalid = |problem| InvalidEndpoint {
            url: url.to_string(),
            problem,
        };
        let uri: http::Uri = url.parse().map_err(|_| invalid("is not a URL"))?;
        let scheme = uri
            .scheme()
            .filter(|s| **s == http::uri::Scheme::HTTP || **s == http::uri::Scheme::HTTPS)
            .ok_or_else(|| invalid("must start with http:// or https://"))?
            .clone();
        let authority = uri.authority().ok_or_else(|| invalid("has no host"))?;
        if authority.as_str().contains('@') {
            return Err(invalid("must not carry user information"));
        }
        if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
            return Err(invalid("must not have a path or a query"));
        }
        Ok(Endpoint {
            url: format!("{scheme}://{authority}"),
            port: authority.port_u16().unwrap_or(default_port(&scheme)),
            host: authority.host().to_ascii_lowercase(),
            scheme,
        })
    }

    /// Whether a request's URI names this endpoint.
    fn admits(&self, uri: &http::Uri) -> bool {
        let (Some(scheme), Some(authority)) = (uri.scheme(), uri.authority()) else {
            return false;
        };
        *scheme == self.scheme
            && !authority.as_str().contains('@')
            && authority.host().eq_ignore_ascii_case(&self.host)
            && authority.port_u16().unwrap_or(default_port(scheme)) == self.port
    }
}

fn default_port(scheme: &http::uri::Scheme) -> u16 {
    if *scheme == http::uri::Scheme::HTTPS {
        443
    } else {
        80
    }
}

/// Functions have no network but the platform's endpoint: an outgoing
/// `wasi:http` request to it is sent, every other one fails with
/// `HTTP-request-denied`.
struct OutgoingHttp {
    endpoint: Option<Arc<Endpoint>>,
}

type SendRequestFuture = Box<
    dyn std::future::Future<
            Output = wasmtime_wasi_http::Result<(
                http::Response<WasiBody>,
                Box<dyn std::future::Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
            )>,
        > + Send,
>;

impl WasiHttpHooks for OutgoingHttp {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<wasmtime_wasi_http::RequestOptions>,
        _fut: Box<dyn std::future::Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
    ) -> SendRequestFuture {
        let admitted = self
            .endpoint
            .as_ref()
            .is_some_and(|e| e.admits(request.uri()));
        if !admitted {
            tracing::debug!(uri = %request.uri(), "outgoing request refused: not the platform's endpoint");
            return Box::new(async { Err(wasmtime_wasi_http::Error::HttpRequestDenied) });
        }
        Box::new(async move {
            use http_body_util::BodyExt;
            let (response, io) = wasmtime_wasi_http::default_send_request(request, options).await?;
            let io: Box<dyn std::future::Future<Output = wasmtime_wasi_http::Result<()>> + Send> =
                Box::new(io);
            Ok((response.map(BodyExt::boxed_unsync), io))
        })
    }
}

/// The guest's environment variables: the function's (credentials
/// included), and `AWS_ENDPOINT_URL` naming the platform when it has an
/// endpoint, whatever the function's own variables say.
pub(crate) fn guest_env<'a>(
    config: &'a EnvConfig,
    endpoint: Option<&'a Endpoint>,
) -> Vec<(&'a str, &'a str)> {
    let mut env: Vec<(&str, &str)> = config
        .env
        .iter()
        .filter(|(k, _)| endpoint.is_none() || k.as_str() != ENDPOINT_URL_VAR)
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    if let Some(endpoint) = endpoint {
        env.push((ENDPOINT_URL_VAR, endpoint.url.as_str()));
    }
    env
}

/// The variable the AWS SDKs take their endpoint from.
pub(crate) const ENDPOINT_URL_VAR: &str = "AWS_ENDPOINT_URL";

/// The WASI context of one environment (or, for commands, one invocation).
pub(crate) fn wasi_builder(
    config: &EnvConfig,
    endpoint: Option<&Endpoint>,
    tmp: &Path,
    stdin: Option<Bytes>,
    stdout: GuestOutput,
    stderr: GuestOutput,
) -> Result<WasiCtxBuilder, String> {
    let mut builder = WasiCtxBuilder::new();
    let env = guest_env(config, endpoint);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(s: &str) -> http::Uri {
        s.parse().unwrap()
    }

    #[test]
    fn only_the_endpoint_is_admitted() {
        let e = Endpoint::parse("http://127.0.0.1:9000/").unwrap();
        assert_eq!(e.url, "http://127.0.0.1:9000");
        assert!(e.admits(&uri("http://127.0.0.1:9000/")));
        assert!(e.admits(&uri("http://127.0.0.1:9000/2015-03-31/functions?x=1")));
        for other in [
            "http://127.0.0.1:9001/",
            "https://127.0.0.1:9000/",
            "http://localhost:9000/",
            "http://127.0.0.1/",
            "http://10.0.0.1:9000/",
            "http://user@127.0.0.1:9000/",
            "/relative",
        ] {
            assert!(!e.admits(&uri(other)), "{other}");
        }
        let named = Endpoint::parse("https://Updraft.Example").unwrap();
        assert!(named.admits(&uri("https://updraft.example:443/x")));
        assert!(!named.admits(&uri("http://updraft.example/x")));
    }

    #[test]
    fn endpoint_urls_are_checked() {
        for bad in [
            "ftp://127.0.0.1:9000",
            "127.0.0.1:9000",
            "http://127.0.0.1:9000/path",
            "http://u:p@127.0.0.1:9000",
            "not a url",
        ] {
            assert!(Endpoint::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_guest_gets_the_endpoint_and_keeps_its_credentials() {
        let mut config = EnvConfig::default();
        config
            .env
            .insert("AWS_ENDPOINT_URL".into(), "http://elsewhere".into());
        config
            .env
            .insert("AWS_SESSION_TOKEN".into(), "token".into());
        let e = Endpoint::parse("http://127.0.0.1:9000").unwrap();
        let env = guest_env(&config, Some(&e));
        assert_eq!(
            env,
            vec![
                ("AWS_SESSION_TOKEN", "token"),
                ("AWS_ENDPOINT_URL", "http://127.0.0.1:9000")
            ]
        );
        // Without an endpoint the function's variables are left alone.
        assert_eq!(guest_env(&config, None).len(), 2);
    }
}
