//! Execution environments and their pools.
//!
//! ```text
//!   Runtime ──prepare(code)──> kind        (deploy time: validate, compile, cache)
//!   Runtime ──load(code)─────> Template    (once per code hash, in memory)
//!   Template ──start(config)─> Environment (a cold start)
//!   Environment ──invoke(inv)─> Outcome    (one invocation at a time)
//! ```
//!
//! A runtime (wasm, native process, ...) implements [`Runtime`],
//! [`Template`] and [`Environment`]; nothing else in updraft knows which
//! kind of code it runs. The [`Pools`] keep idle environments per function
//! version, hand out the most recently used one first, start new ones when
//! none is free, and drop those idle for longer than the idle timeout so a
//! function scales to zero. With a [`CredentialIssuer`], every environment
//! runs with its execution role's temporary credentials and is retired
//! before they expire.

mod credentials;
mod environment;
mod limits;
mod pools;

pub use credentials::{
    CredentialIssuer, ExecutionCredentials, ACCESS_KEY_ID_VAR, REFRESH_MARGIN, ROLE_NOT_ASSUMABLE,
    SECRET_ACCESS_KEY_VAR, SESSION_TOKEN_VAR,
};
pub use environment::{
    Body, BoxError, CodeError, EnvConfig, Environment, FunctionError, Input, Invocation, LogSink,
    Outcome, Protocol, Runtime, Template,
};
pub use limits::{Limits, Permit, Throttle};
pub use pools::{FunctionStats, Lease, PoolKey, Pools, PoolsConfig, ScaleUp, StartError};
