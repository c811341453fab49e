//! WASI commands: components exporting `wasi:cli/run` and preview1 core
//! modules exporting `_start`.
//!
//! ```text
//!   CommandTemplate (one per code: CommandPre or InstancePre, linked once)
//!     └─ start() ──> CommandEnvironment (a private /tmp and its quota)
//!                      └─ invoke(): new Store + instance, event on stdin,
//!                                   run, result from stdout, log from stderr
//! ```
//!
//! A command cannot run twice in one instance (wasi-libc traps when `_start`
//! is entered again), so every invocation instantiates afresh and the
//! environment is discarded after it.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use bytes::Bytes;
use tracing::Instrument;
use updraft_pool::{
    EnvConfig, Environment, FunctionError, Invocation, LogSink, Outcome, Protocol, Template,
};
use wasmtime::InstancePre;
use wasmtime_wasi::p2::bindings::CommandPre;
use wasmtime_wasi::I32Exit;

use crate::engine::EngineHandle;
use crate::fault::{self, INIT_ERROR, RESPONSE_TOO_LARGE};
use crate::http::MAX_EVENT_RESPONSE;
use crate::output::{GuestOutput, LogSlot, ResultBuffer};
use crate::quota::TmpQuota;
use crate::sandbox::{new_store, wasi_builder, ComponentState, Endpoint, Limits, P1State};
use crate::tmp::{PrivateTmp, TmpDirs};

pub(crate) enum CommandCode {
    Component(CommandPre<ComponentState>),
    Preview1(InstancePre<P1State>),
}

pub(crate) struct CommandTemplate {
    pub engine: Arc<EngineHandle>,
    pub tmp: Arc<TmpDirs>,
    pub code: Arc<CommandCode>,
    /// Where a component's outgoing requests may go.
    pub endpoint: Option<Arc<Endpoint>>,
}

#[async_trait]
impl Template for CommandTemplate {
    fn protocol(&self) -> Protocol {
        Protocol::Event
    }

    async fn start(
        &self,
        config: &EnvConfig,
        _log: &LogSink,
    ) -> Result<Box<dyn Environment>, FunctionError> {
        let tmp = self.tmp.take()?;
        Ok(Box::new(CommandEnvironment {
            engine: self.engine.clone(),
            code: self.code.clone(),
            config: config.clone(),
            quota: tmp.quota(config.ephemeral_storage_mb),
            tmp,
            endpoint: self.endpoint.clone(),
        }))
    }
}

struct CommandEnvironment {
    engine: Arc<EngineHandle>,
    code: Arc<CommandCode>,
    config: EnvConfig,
    tmp: PrivateTmp,
    /// Shared by the runs of this environment, as its `/tmp` is.
    quota: TmpQuota,
    endpoint: Option<Arc<Endpoint>>,
}

/// How a run ended.
enum Exit {
    Status(i32),
    Failed(wasmtime::Error),
    TimedOut,
}

impl Exit {
    fn from_run(run: Result<wasmtime::Result<()>, tokio::time::error::Elapsed>) -> Exit {
        match run {
            Err(_) => Exit::TimedOut,
            Ok(Ok(())) => Exit::Status(0),
            Ok(Err(err)) => match err.downcast_ref::<I32Exit>() {
                Some(exit) => Exit::Status(exit.0),
                None => Exit::Failed(err),
            },
        }
    }
}

#[async_trait]
impl Environment for CommandEnvironment {
    fn protocol(&self) -> Protocol {
        Protocol::Event
    }

    async fn invoke(&mut self, inv: Invocation) -> Outcome {
        let Invocation {
            request_id,
            input,
            timeout,
            log,
            traceparent,
        } = inv;
        let payload = match input.into_event(&request_id, "a WASI command") {
            Ok(payload) => payload,
            Err(e) => {
                return Outcome {
                    result: Err(e),
                    discard: true,
                    max_memory_bytes: 0,
                }
            }
        };
        let span = tracing::debug_span!("wasm_invoke", request_id = %request_id);
        let stdout = ResultBuffer::new(MAX_EVENT_RESPONSE);
        let stderr = LogSlot::default();
        stderr.set(Some(log));
        let builder = match wasi_builder(
            &self.config,
            self.endpoint.as_deref(),
            self.tmp.path(),
            Some(payload),
            GuestOutput::Result(stdout.clone()),
            GuestOutput::Log(stderr.clone()),
        ) {
            Ok(mut builder) => {
                // A fresh instance per invocation: the trace context can be
                // an environment variable.
                if let Some(tp) = &traceparent {
                    builder.env("TRACEPARENT", tp);
                }
                builder
            }
            Err(e) => {
                return Outcome {
                    result: Err(FunctionError::new(INIT_ERROR, e)),
                    discard: true,
                    max_memory_bytes: 0,
                }
            }
        };
        let memory_mb = self.config.memory_mb;
        let deadline = Some(Instant::now() + timeout);
        let engine = &self.engine.engine;

        let (exit, limits) = match &*self.code {
            CommandCode::Component(pre) => {
                let mut builder = builder;
                let mut store = new_store(
                    engine,
                    ComponentState::new(
                        builder.build(),
                        memory_mb,
                        self.endpoint.clone(),
                        self.quota.clone(),
                    ),
                );
                store.data_mut().limits.deadline = deadline;
                let run = async {
                    let command = pre.instantiate_async(&mut store).await?;
                    match command.wasi_cli_run().call_run(&mut store).await? {
                        Ok(()) => Ok(()),
                        Err(()) => Err(wasmtime::Error::new(I32Exit(1))),
                    }
                };
                let run = tokio::time::timeout(timeout, run.instrument(span)).await;
                let exit = Exit::from_run(run);
                (exit, take_limits(&mut store.data_mut().limits))
            }
            CommandCode::Preview1(pre) => {
                let mut builder = builder;
                let state = P1State {
                    wasi: builder.build_p1(),
                    limits: Limits::new(memory_mb),
                    quota: self.quota.clone(),
                };
                let mut store = new_store(engine, state);
                store.data_mut().limits.deadline = deadline;
                let run = async {
                    let instance = pre.instantiate_async(&mut store).await?;
                    let start = instance.get_typed_func::<(), ()>(&mut store, "_start")?;
                    start.call_async(&mut store, ()).await
                };
                let run = tokio::time::timeout(timeout, run.instrument(span)).await;
                let exit = Exit::from_run(run);
                (exit, take_limits(&mut store.data_mut().limits))
            }
        };
        stderr.set(None);

        let result = match exit {
            Exit::Status(0) => match stdout.take() {
                Some(out) => Ok(Some(Bytes::from(out))),
                None => Err(FunctionError::new(
                    RESPONSE_TOO_LARGE,
                    format!(
                        "RequestId: {request_id} Error: the function's output exceeded the maximum of {MAX_EVENT_RESPONSE} bytes"
                    ),
                )),
            },
            Exit::Status(status) if limits.refused() => {
                // A guest whose allocator fails may exit instead of trapping.
                let _ = status;
                Err(fault::out_of_memory(&request_id, memory_mb))
            }
            Exit::Status(status) => Err(fault::exit_status(&request_id, status)),
            Exit::TimedOut => Err(fault::timed_out(timeout)),
            Exit::Failed(err) => {
                tracing::debug!(request_id = %request_id, error = %err, "guest failed");
                Err(fault::from_guest_error(
                    &err,
                    &limits,
                    &request_id,
                    memory_mb,
                    timeout,
                ))
            }
        };
        Outcome {
            result,
            // Each run needs a fresh instance: never reuse a command.
            discard: true,
            max_memory_bytes: limits.peak_bytes(),
        }
    }
}

/// The store's limits, kept after the store is gone.
fn take_limits(limits: &mut Limits) -> Limits {
    std::mem::replace(limits, Limits::new(0))
}
