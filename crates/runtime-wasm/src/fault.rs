//! How guest failures are reported: Lambda's error types and messages.
//!
//! | what happened                          | `errorType`            | environment |
//! |----------------------------------------|------------------------|-------------|
//! | ran past the timeout                   | `Sandbox.Timedout`     | discarded   |
//! | memory growth refused, then failed     | `Runtime.OutOfMemory`  | discarded   |
//! | trap (panic, `unreachable`, ...)       | `Runtime.Trap`         | discarded   |
//! | command exited with a non-zero status  | `Runtime.ExitError`    | discarded   |
//! | HTTP handler answered an error / 5xx   | `Function.ResponseError` | kept       |

use std::time::Duration;

use updraft_pool::FunctionError;

use crate::sandbox::{DeadlinePassed, Limits};

pub(crate) const TIMED_OUT: &str = "Sandbox.Timedout";
pub(crate) const OUT_OF_MEMORY: &str = "Runtime.OutOfMemory";
pub(crate) const TRAP: &str = "Runtime.Trap";
pub(crate) const EXIT_ERROR: &str = "Runtime.ExitError";
pub(crate) const RESPONSE_ERROR: &str = "Function.ResponseError";
pub(crate) const INIT_ERROR: &str = "Runtime.InitError";
pub(crate) const RESPONSE_TOO_LARGE: &str = "Function.ResponseSizeTooLarge";

pub(crate) fn timed_out(timeout: Duration) -> FunctionError {
    FunctionError::new(
        TIMED_OUT,
        format!("Task timed out after {:.2} seconds", timeout.as_secs_f64()),
    )
}

pub(crate) fn out_of_memory(request_id: &str, memory_mb: u32) -> FunctionError {
    FunctionError::new(
        OUT_OF_MEMORY,
        format!(
            "RequestId: {request_id} Error: Runtime exited with error: \
             function exceeded its memory limit of {memory_mb} MB"
        ),
    )
}

pub(crate) fn exit_status(request_id: &str, status: i32) -> FunctionError {
    FunctionError::new(
        EXIT_ERROR,
        format!("RequestId: {request_id} Error: Runtime exited with error: exit status {status}"),
    )
}

/// Whether `err` is the trap of the epoch callback or happened past the
/// deadline.
pub(crate) fn is_timeout(err: &wasmtime::Error, limits: &Limits) -> bool {
    err.is::<DeadlinePassed>() || limits.deadline_passed()
}

/// The function error for a failed call into the guest.
pub(crate) fn from_guest_error(
    err: &wasmtime::Error,
    limits: &Limits,
    request_id: &str,
    memory_mb: u32,
    timeout: Duration,
) -> FunctionError {
    if is_timeout(err, limits) {
        return timed_out(timeout);
    }
    if limits.refused() {
        return out_of_memory(request_id, memory_mb);
    }
    let (error_type, what) = match err.downcast_ref::<wasmtime::Trap>() {
        Some(trap) => (TRAP, format!("wasm trap: {trap}")),
        None => (TRAP, err.to_string()),
    };
    FunctionError::new(
        error_type,
        format!("RequestId: {request_id} Error: Runtime exited with error: {what}"),
    )
}
