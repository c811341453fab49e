//! How process failures are reported: Lambda's error types and messages.
//!
//! | what happened                                   | `errorType`                      | environment |
//! |-------------------------------------------------|----------------------------------|-------------|
//! | the runtime posted `/invocation/{id}/error`     | the client's (`errorType`)       | kept        |
//! | ... and then exited (Node.js: uncaught error)   | the client's (`errorType`)       | discarded   |
//! | the runtime posted `/init/error`                | the client's (header or body)    | not started |
//! | init did not reach `/invocation/next` in time   | `Sandbox.Timedout`               | not started |
//! | ran past the timeout                            | `Sandbox.Timedout`               | discarded   |
//! | exited during init or an invocation             | `Runtime.ExitError`              | discarded   |
//! | killed by the memory limit                      | `Runtime.OutOfMemory`            | discarded   |
//! | response over the size limit                    | `Function.ResponseSizeTooLarge`  | kept        |

use std::time::Duration;

use updraft_pool::FunctionError;

pub(crate) const TIMED_OUT: &str = "Sandbox.Timedout";
pub(crate) const EXIT_ERROR: &str = "Runtime.ExitError";
pub(crate) const OUT_OF_MEMORY: &str = "Runtime.OutOfMemory";
pub(crate) const INIT_ERROR: &str = "Runtime.InitError";
pub(crate) const RESPONSE_TOO_LARGE: &str = "Function.ResponseSizeTooLarge";
pub(crate) const UNHANDLED: &str = "Unhandled";

pub(crate) fn timed_out(timeout: Duration) -> FunctionError {
    FunctionError::new(
        TIMED_OUT,
        format!("Task timed out after {:.2} seconds", timeout.as_secs_f64()),
    )
}

pub(crate) fn init_timed_out(timeout: Duration) -> FunctionError {
    FunctionError::new(
        TIMED_OUT,
        format!(
            "INIT_REPORT Init Duration: {:.2} ms Phase: init Status: timeout",
            timeout.as_secs_f64() * 1000.0
        ),
    )
}

/// How a process ended, in the words of Lambda's `Runtime exited` errors.
pub(crate) fn describe_exit(status: &std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        // The sandbox's init reports a signal as 128 + n.
        (Some(code), _) if code > 128 && code < 128 + 32 => {
            format!("signal: {}", signal_name(code - 128))
        }
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(sig)) => format!("signal: {}", signal_name(sig)),
        _ => "unknown exit".to_string(),
    }
}

fn signal_name(sig: i32) -> String {
    match sig {
        9 => "killed".into(),
        6 => "aborted".into(),
        11 => "segmentation fault".into(),
        15 => "terminated".into(),
        n => format!("{n}"),
    }
}

pub(crate) fn exited(request_id: Option<&str>, how: &str) -> FunctionError {
    let msg = match request_id {
        Some(id) => format!("RequestId: {id} Error: Runtime exited with error: {how}"),
        None => format!("Runtime exited with error: {how}"),
    };
    FunctionError::new(EXIT_ERROR, msg)
}

pub(crate) fn out_of_memory(request_id: Option<&str>, memory_mb: u32) -> FunctionError {
    let what =
        format!("Runtime exited with error: function exceeded its memory limit of {memory_mb} MB");
    let msg = match request_id {
        Some(id) => format!("RequestId: {id} Error: {what}"),
        None => what,
    };
    FunctionError::new(OUT_OF_MEMORY, msg)
}
