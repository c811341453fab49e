//! Cold starts: the first request to a function with no idle environment.
//!
//! The updraft under test runs with `--idle-timeout 10ms`, so its reaper
//! drops the idle environment within a few tens of milliseconds. Each sample
//! waits [`GAP`] with no traffic, then sends one request on an open
//! keep-alive connection (so neither TCP setup nor compilation is counted):
//!
//! - an Invoke with `X-Amz-Log-Type: Tail`: the server-side `Init Duration`
//!   of the REPORT line, and the client-observed latency;
//! - a function URL GET: the client-observed latency. `hello-http` counts
//!   its requests in the instance (`x-invocation-count`), so `1` proves the
//!   request met a fresh instance.
//!
//! A sample that turned out warm (not reaped yet) is counted, not recorded.
//!
//! The control, [`measure_idle_warm`], sends the same function URL requests
//! after the same gap to an updraft with the default idle timeout: what is
//! left of the client-observed cold latency once the control is subtracted
//! is the cost of the cold start itself, not of waking an idle process.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::Full;

use crate::lambda::{init_duration_ms, SignedInvoke};
use crate::load::{connect, histogram, send};

/// Quiet time before each sample: several reaper periods past the timeout.
pub const GAP: Duration = Duration::from_millis(80);
/// The idle timeout the cold-start server runs with.
pub const IDLE_TIMEOUT: &str = "10ms";

/// Nanosecond histograms.
pub struct Cold {
    pub init: Histogram<u64>,
    pub invoke_client: Histogram<u64>,
    pub url_client: Histogram<u64>,
    /// The control: function URL requests after the same idle gap on a
    /// server that keeps its environment (what the gap alone costs).
    pub url_idle_warm: Histogram<u64>,
    /// Samples that found a warm environment or failed.
    pub not_cold: u64,
}

pub async fn measure(
    addr: SocketAddr,
    invoke: &SignedInvoke,
    samples: usize,
) -> anyhow::Result<Cold> {
    let mut out = Cold {
        init: histogram(),
        invoke_client: histogram(),
        url_client: histogram(),
        url_idle_warm: histogram(),
        not_cold: 0,
    };
    let mut conn = connect(addr).await?;
    for _ in 0..samples {
        tokio::time::sleep(GAP).await;
        match cold_invoke(&mut conn, invoke).await? {
            Some((init_ms, took)) => {
                out.init.record((init_ms * 1e6) as u64).ok();
                out.invoke_client.record(took.as_nanos() as u64).ok();
            }
            None => out.not_cold += 1,
        }

        tokio::time::sleep(GAP).await;
        let (ok, took, count) = get_after_gap(&mut conn, addr).await?;
        if ok && count == Some(1) {
            out.url_client.record(took.as_nanos() as u64).ok();
        } else {
            out.not_cold += 1;
        }
    }
    Ok(out)
}

/// Sends one Invoke (with the log tail) and times it: its `Init Duration`
/// in ms and the client-observed time, or `None` if it failed or was not
/// a cold start.
pub async fn cold_invoke(
    conn: &mut hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    invoke: &SignedInvoke,
) -> anyhow::Result<Option<(f64, Duration)>> {
    let sent = Instant::now();
    let (ok, headers) = send(conn, invoke.request()).await?;
    let took = sent.elapsed();
    let init = headers
        .get("x-amz-log-result")
        .and_then(|v| v.to_str().ok())
        .and_then(init_duration_ms);
    Ok(init.filter(|_| ok).map(|ms| (ms, took)))
}

/// The control for [`measure`]: `samples` function URL requests to the
/// server at `warm_addr` (default idle timeout), each after [`GAP`].
/// Only requests that met an instance which served before are recorded.
pub async fn measure_idle_warm(
    warm_addr: SocketAddr,
    samples: usize,
) -> anyhow::Result<Histogram<u64>> {
    let mut out = histogram();
    let mut conn = connect(warm_addr).await?;
    for _ in 0..samples {
        tokio::time::sleep(GAP).await;
        let (ok, took, count) = get_after_gap(&mut conn, warm_addr).await?;
        if ok && count.is_some_and(|c| c > 1) {
            out.record(took.as_nanos() as u64).ok();
        }
    }
    Ok(out)
}

/// One `GET /fn/hello/`: success, latency and `x-invocation-count`.
async fn get_after_gap(
    conn: &mut hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    addr: SocketAddr,
) -> anyhow::Result<(bool, Duration, Option<u64>)> {
    let req = http::Request::get("/fn/hello/")
        .header(http::header::HOST, addr.to_string())
        .body(Full::new(Bytes::new()))?;
    let sent = Instant::now();
    let (ok, headers) = send(conn, req).await?;
    let took = sent.elapsed();
    let count = headers
        .get("x-invocation-count")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    Ok((ok, took, count))
}
