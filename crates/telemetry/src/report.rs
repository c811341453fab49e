//! Lambda's log framing.
//!
//! ```text
//! START RequestId: 6f1c... Version: $LATEST
//! ...what the function wrote...
//! END RequestId: 6f1c...
//! REPORT RequestId: 6f1c... Duration: 1.52 ms  Billed Duration: 2 ms  Memory Size: 128 MB  ...
//! ```
//!
//! The REPORT fields are separated by tabs, as Lambda separates them.

use std::fmt::Write;
use std::time::Duration;

/// What the REPORT line says about one invocation.
#[derive(Debug, Clone)]
pub struct Report<'a> {
    pub request_id: &'a str,
    pub version: &'a str,
    pub duration: Duration,
    pub memory_size_mb: u32,
    pub max_memory_used_bytes: u64,
    /// Set on cold starts.
    pub init_duration: Option<Duration>,
    /// Set when the invocation ended in an error the platform detected
    /// (timeout, crash), shown as Lambda shows it.
    pub status: Option<&'a str>,
}

/// Billed duration: the duration rounded up to the next millisecond, at
/// least 1 ms.
pub fn billed_ms(duration: Duration) -> u64 {
    let ms = duration.as_nanos().div_ceil(1_000_000) as u64;
    ms.max(1)
}

pub fn start_line(request_id: &str, version: &str) -> String {
    format!("START RequestId: {request_id} Version: {version}\n")
}

/// The END and REPORT lines.
pub fn end_lines(r: &Report<'_>) -> String {
    let mut out = format!("END RequestId: {}\n", r.request_id);
    let _ = write!(
        out,
        "REPORT RequestId: {}\tDuration: {:.2} ms\tBilled Duration: {} ms\tMemory Size: {} MB\tMax Memory Used: {} MB\t",
        r.request_id,
        r.duration.as_secs_f64() * 1000.0,
        billed_ms(r.duration),
        r.memory_size_mb,
        r.max_memory_used_bytes.div_ceil(1024 * 1024).max(1),
    );
    if let Some(init) = r.init_duration {
        let _ = write!(
            out,
            "Init Duration: {:.2} ms\t",
            init.as_secs_f64() * 1000.0
        );
    }
    if let Some(status) = r.status {
        let _ = write!(out, "Status: {status}\t");
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn billed_duration_rounds_up_to_the_millisecond() {
        assert_eq!(billed_ms(Duration::from_micros(1)), 1);
        assert_eq!(billed_ms(Duration::from_micros(1000)), 1);
        assert_eq!(billed_ms(Duration::from_micros(1001)), 2);
        assert_eq!(billed_ms(Duration::ZERO), 1);
    }

    #[test]
    fn report_line_matches_lambda() {
        let text = end_lines(&Report {
            request_id: "abc",
            version: "$LATEST",
            duration: Duration::from_micros(1520),
            memory_size_mb: 128,
            max_memory_used_bytes: 3 * 1024 * 1024 + 1,
            init_duration: Some(Duration::from_micros(410)),
            status: None,
        });
        assert_eq!(
            text,
            "END RequestId: abc\nREPORT RequestId: abc\tDuration: 1.52 ms\tBilled Duration: 2 ms\t\
             Memory Size: 128 MB\tMax Memory Used: 4 MB\tInit Duration: 0.41 ms\t\n"
        );
    }
}
