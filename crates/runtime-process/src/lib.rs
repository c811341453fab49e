//! The process runtime: functions as native processes speaking the AWS
//! Lambda Runtime API, each environment in its own bubblewrap sandbox.
//!
//! ```text
//!   ProcessRuntime ── prepare(zip) ──> code/<sha256>/ (read-only, content-addressed)
//!       │                               kind "bootstrap" (provided.*) | "python" (python3.x) | "nodejs"
//!       └─ load ──> ProcessTemplate ── start ──> ProcessEnvironment (reused while healthy)
//! ```
//!
//! - `provided`, `provided.al2`, `provided.al2023`: the package's
//!   executable `bootstrap` runs as the runtime, as on Lambda.
//! - `python3.9` … `python3.13`: the node's Python runs
//!   `python -S -m awslambdaric <Handler>`, with `awslambdaric` from the
//!   managed runtime directory ([`install_awslambdaric`]).
//! - `nodejs20.x`, `nodejs22.x`: the node's `node` runs the platform's own
//!   runtime interface client (JavaScript, [`node`]), with the AWS SDK for
//!   JavaScript from the managed runtime directory ([`install_node_sdk`]).
//!
//! A runtime whose prerequisite is missing (bubblewrap, Python and
//! awslambdaric, Node.js and the SDK) is still named, and refused at
//! deploy with what to install ([`ProcessRuntime::availability`]).
//!
//! Every environment gets its own Runtime API ([`api`]), sandbox
//! ([`sandbox`], see its threat model; a seccomp filter from
//! [`seccomp`]) and cgroups ([`cgroup`]: memory, processes, a CPU weight
//! that follows `MemorySize`); its `/tmp` holds `EphemeralStorage`. The
//! host needs `bwrap` 0.8.0 or later (Debian: `bubblewrap`), an x86_64 or
//! aarch64 kernel with seccomp filters, and the `updraft-sandbox-init`
//! helper built by this crate.

pub mod api;
pub mod cgroup;
mod code;
mod environment;
mod fault;
pub mod init;
pub mod node;
mod output;
mod python;
mod runtime;
pub mod sandbox;
pub mod seccomp;

pub use cgroup::LimitMechanism;
pub use code::{check_paths, KIND_BOOTSTRAP, KIND_NODE, KIND_PYTHON};
pub use node::{install_node_sdk, installed_node_sdk, NodeInstall, NODE_SDK_VERSION};
pub use python::{
    install_awslambdaric, installed_awslambdaric, PythonInstall, AWSLAMBDARIC_VERSION,
};
pub use runtime::{
    ProcessConfig, ProcessRuntime, NODE_RUNTIMES, PROVIDED_RUNTIMES, PYTHON_RUNTIMES,
};
