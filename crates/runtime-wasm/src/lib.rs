//! The WebAssembly runtime: runs functions in wasmtime.
//!
//! ```text
//!   WasmRuntime ── prepare ──> kind ("http" | "command") + cached artifact
//!       │
//!       └─ load ──> HttpTemplate ── start ──> HttpEnvironment    (reused)
//!               └─> CommandTemplate ─ start ──> CommandEnvironment (one run)
//! ```
//!
//! Two kinds of code run:
//! - **http**: a component exporting `wasi:http/incoming-handler@0.2.x`.
//!   One instance per environment serves invocation after invocation;
//!   events arrive as `POST /` with the payload as a JSON body.
//! - **command**: a WASI command, either a component exporting
//!   `wasi:cli/run@0.2.x` or a preview1 core module exporting `_start`.
//!   The event is stdin, the result stdout, stderr the log.
//!
//! Guests are contained (see `sandbox`): a memory limit over all their
//! linear memories, a deadline enforced by epoch interruption (with a
//! cooperative yield on every tick) and by a tokio timeout, a private
//! `/tmp` that holds no more than the function's ephemeral storage (see
//! `quota`: writes past it fail with `ENOSPC`), a bounded share of what
//! they write to stdout and stderr (see `output`), and no network but the
//! platform's endpoint (`WasmConfig::endpoint_url`, the guest's
//! `AWS_ENDPOINT_URL`, the one destination of outgoing `wasi:http`
//! requests). Their faults become function errors, never panics of the
//! node.

mod command;
mod engine;
mod fault;
mod http;
mod output;
mod quota;
mod runtime;
mod sandbox;
mod tmp;

pub use runtime::{WasmConfig, WasmRuntime, KIND_COMMAND, KIND_HTTP, RUNTIME_NAME};
pub use sandbox::InvalidEndpoint;
