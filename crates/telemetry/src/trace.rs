//! W3C trace context and the span each invocation produces.
//!
//! An invocation joins the caller's trace when the request carries a
//! `traceparent` header, else starts a new one; the environment receives a
//! `traceparent` naming the invocation's own span as parent, so what the
//! function does is part of the same trace. Finished spans go to a
//! [`SpanSink`] (an OTLP exporter when one is configured).

use std::fmt;
use std::time::SystemTime;

/// A W3C `traceparent`: `00-<trace id>-<parent span id>-<flags>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceContext {
    pub trace_id: [u8; 16],
    pub span_id: [u8; 8],
    pub sampled: bool,
}

impl TraceContext {
    /// Parses a `traceparent` header value; `None` if it is not a valid
    /// version-00 value (an invalid header starts a new trace, per spec).
    pub fn parse(header: &str) -> Option<TraceContext> {
        let mut parts = header.trim().split('-');
        let (version, trace, span, flags) =
            (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        if version.len() != 2 || version == "ff" || trace.len() != 32 || span.len() != 16 {
            return None;
        }
        let mut trace_id = [0u8; 16];
        let mut span_id = [0u8; 8];
        hex_into(trace, &mut trace_id)?;
        hex_into(span, &mut span_id)?;
        let flags = u8::from_str_radix(flags.get(..2)?, 16).ok()?;
        if trace_id == [0; 16] || span_id == [0; 8] {
            return None;
        }
        Some(TraceContext {
            trace_id,
            span_id,
            sampled: flags & 1 == 1,
        })
    }

    /// A new trace (sampled), for a request that carried none.
    pub fn new_root() -> TraceContext {
        TraceContext {
            trace_id: rand::random::<[u8; 16]>(),
            span_id: rand::random::<[u8; 8]>(),
            sampled: true,
        }
    }

    /// The same trace with a new span id (the invocation's own span).
    pub fn child(&self) -> TraceContext {
        TraceContext {
            span_id: rand::random::<[u8; 8]>(),
            ..*self
        }
    }
}

fn hex_into(s: &str, out: &mut [u8]) -> Option<()> {
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(())
}

impl fmt::Display for TraceContext {
    /// The `traceparent` header value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "00-")?;
        for b in self.trace_id {
            write!(f, "{b:02x}")?;
        }
        write!(f, "-")?;
        for b in self.span_id {
            write!(f, "{b:02x}")?;
        }
        write!(f, "-{:02x}", u8::from(self.sampled))
    }
}

/// One invocation, as a span.
#[derive(Debug, Clone)]
pub struct InvocationSpan {
    /// The invocation's own span (its `span_id` is what the environment
    /// sees as parent).
    pub context: TraceContext,
    /// The caller's span, when the request carried a `traceparent`.
    pub parent_span_id: Option<[u8; 8]>,
    pub function: String,
    pub version: String,
    pub request_id: String,
    /// `invoke`, `event` or `url`.
    pub trigger: &'static str,
    pub start: SystemTime,
    pub end: SystemTime,
    pub cold_start: bool,
    /// `None` on success, else the function error's type.
    pub error_type: Option<String>,
}

/// Where finished invocation spans go.
pub trait SpanSink: Send + Sync {
    /// Must not block: called on the invoke path.
    fn record(&self, span: InvocationSpan);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_formats_traceparent() {
        let h = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let t = TraceContext::parse(h).unwrap();
        assert!(t.sampled);
        assert_eq!(t.to_string(), h);
        let child = t.child();
        assert_eq!(child.trace_id, t.trace_id);
        assert_ne!(child.span_id, t.span_id);
    }

    #[test]
    fn rejects_invalid_values() {
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-xyz92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ] {
            assert!(TraceContext::parse(bad).is_none(), "{bad}");
        }
        let root = TraceContext::new_root();
        assert_eq!(TraceContext::parse(&root.to_string()), Some(root));
    }
}
