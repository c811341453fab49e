//! Operational visibility: what ran, how long, how often.
//!
//! - [`Metrics`]: the `/metrics` registry (Prometheus text format).
//! - [`report`]: the `START` / `END` / `REPORT` lines Lambda frames every
//!   invocation's log with.
//! - [`LogWriter`]: moves finished invocation logs to the store on a
//!   background thread, in batches, off the invoke path.
//! - [`OtlpExporter`]: sends each invocation's span to an OpenTelemetry
//!   collector over OTLP/HTTP, also in batches off the invoke path.

mod logs;
mod metrics;
mod otlp;
pub mod report;
pub mod trace;

pub use logs::LogWriter;
pub use metrics::{Delivery, FunctionGauges, Metrics, Outcome, QueueGauges};
pub use otlp::{OtlpError, OtlpExporter};
pub use trace::{InvocationSpan, SpanSink, TraceContext};
