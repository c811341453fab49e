//! The load generator: closed-loop HTTP/1.1 over keep-alive connections.
//!
//! ```text
//!   connection 1: send ─ wait for the whole response ─ send ─ ...
//!   connection N: send ─ wait ─ send ─ ...
//!   |── warmup (not recorded) ──|────── measured window ──────| stop sending
//! ```
//! A request is recorded when it was sent inside the measured window;
//! throughput is those requests over the time from the window's start to
//! the last response. A connection the server closes is opened again.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::Request;
use hyper_util::rt::TokioIo;

#[derive(Debug, Clone)]
pub struct Settings {
    pub connections: usize,
    pub warmup: Duration,
    pub duration: Duration,
}

/// Builds one request; called for every request sent.
pub type MakeRequest = Arc<dyn Fn() -> Request<Full<Bytes>> + Send + Sync>;

/// What one run measured. Latencies are in nanoseconds.
#[derive(Clone)]
pub struct Measured {
    pub latency: Histogram<u64>,
    pub ok: u64,
    pub errors: u64,
    pub elapsed: Duration,
}

impl Measured {
    pub fn rps(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64()
    }

    /// A percentile in microseconds.
    pub fn pct_us(&self, p: f64) -> f64 {
        self.latency.value_at_quantile(p) as f64 / 1000.0
    }
}

pub fn histogram() -> Histogram<u64> {
    // 1 ns to 60 s, 3 significant digits.
    Histogram::new_with_bounds(1, 60_000_000_000, 3).expect("valid bounds")
}

pub async fn connect(addr: SocketAddr) -> anyhow::Result<SendRequest<Full<Bytes>>> {
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .with_context(|| format!("connecting to {addr}"))?;
    stream.set_nodelay(true)?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .context("HTTP/1.1 handshake")?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

/// Sends one request and reads the whole response: `Ok(true)` for a 2xx.
pub async fn send(
    sender: &mut SendRequest<Full<Bytes>>,
    req: Request<Full<Bytes>>,
) -> anyhow::Result<(bool, http::HeaderMap)> {
    sender.ready().await?;
    let resp = sender.send_request(req).await?;
    let ok = resp.status().is_success();
    let (parts, body) = resp.into_parts();
    body.collect().await?;
    Ok((ok, parts.headers))
}

/// Runs `settings.connections` closed loops against `addr`.
pub async fn run(
    addr: SocketAddr,
    settings: &Settings,
    make: MakeRequest,
) -> anyhow::Result<Measured> {
    // Open every connection first: connecting is not what is measured.
    let mut senders = Vec::with_capacity(settings.connections);
    for _ in 0..settings.connections {
        senders.push(connect(addr).await?);
    }
    let begin = Instant::now();
    let window = begin + settings.warmup;
    let end = window + settings.duration;
    let mut tasks = Vec::new();
    for mut sender in senders {
        let make = make.clone();
        tasks.push(tokio::spawn(async move {
            let mut hist = histogram();
            let (mut ok, mut errors) = (0u64, 0u64);
            let mut last_done = window;
            loop {
                let sent = Instant::now();
                if sent >= end {
                    break;
                }
                let result = send(&mut sender, make()).await;
                let done = Instant::now();
                let recorded = sent >= window;
                match result {
                    Ok((true, _)) if recorded => {
                        hist.record((done - sent).as_nanos() as u64).ok();
                        ok += 1;
                        last_done = done;
                    }
                    Ok((true, _)) => {}
                    Ok((false, _)) => errors += u64::from(recorded),
                    Err(_) => {
                        errors += u64::from(recorded);
                        // The connection is gone or broken: open a new one,
                        // unless the run is over.
                        if Instant::now() >= end {
                            break;
                        }
                        match connect(addr).await {
                            Ok(s) => sender = s,
                            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
                        }
                    }
                }
            }
            (hist, ok, errors, last_done)
        }));
    }
    let mut total = Measured {
        latency: histogram(),
        ok: 0,
        errors: 0,
        elapsed: Duration::ZERO,
    };
    let mut last = window;
    for task in tasks {
        let (hist, ok, errors, last_done) = task.await.context("a load task panicked")?;
        total.latency.add(&hist).expect("same bounds");
        total.ok += ok;
        total.errors += errors;
        last = last.max(last_done);
    }
    total.elapsed = (last - window).max(Duration::from_micros(1));
    Ok(total)
}
