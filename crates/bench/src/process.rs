//! `updraft-bench process`: native-process functions (issue 3).
//!
//! ```text
//!   updraft serve --idle-timeout 100ms --deploy hello=COMPONENT
//!     CreateFunction rust (provided.al2023, `bootstrap` built with
//!                    lambda_runtime) and py (python3.11, app.handler)
//!   cold    wait until /metrics shows no environment of the function,
//!           then one Invoke (log tail): client-observed latency and the
//!           REPORT line's Init Duration
//!   warm    one connection, Invoke after Invoke for a fixed window:
//!           client-observed p50 and the REPORT line's Duration, for rust
//!           and for the wasm hello on the same server
//!   rate    from zero environments, M Invokes at once on M connections:
//!           cold starts (from /metrics) over the time to the last response
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use hdrhistogram::Histogram;

use crate::control::{self, Api};
use crate::lambda::{init_duration_ms, SignedInvoke};
use crate::load::{connect, histogram, send};
use crate::servers;

pub struct Settings {
    pub updraft: PathBuf,
    pub hello: PathBuf,
    pub bootstrap: PathBuf,
    pub python_app: PathBuf,
    pub python_runtime_dir: PathBuf,
    pub cold_samples: usize,
    pub warm: Duration,
    pub burst: usize,
    pub bursts: usize,
}

const RUST: &str = "rust";
const PY: &str = "py";
const HELLO: &str = "hello";

pub async fn run(s: &Settings) -> anyhow::Result<String> {
    eprintln!("process: starting updraft");
    let extra: Vec<String> = [
        "--idle-timeout".to_string(),
        "100ms".to_string(),
        "--python-runtime-dir".to_string(),
        s.python_runtime_dir.display().to_string(),
    ]
    .into();
    let server = servers::start_updraft_with(&s.updraft, &[(HELLO, &s.hello)], &extra)?;
    let addr = server.addr;
    let creds = server.credentials()?.to_path_buf();
    let mut api = Api::new(addr, &creds).await?;

    let bootstrap = std::fs::read(&s.bootstrap)
        .with_context(|| format!("reading {}", s.bootstrap.display()))?;
    let zip = crate::zip::stored(&[("bootstrap", &bootstrap, 0o755)]);
    api.create_function(
        RUST,
        "provided.al2023",
        Some("bootstrap"),
        &control::b64(&zip),
    )
    .await?;
    let app = std::fs::read(&s.python_app)
        .with_context(|| format!("reading {}", s.python_app.display()))?;
    let zip = crate::zip::stored(&[("app.py", &app, 0o644)]);
    let python = api
        .create_function(PY, "python3.11", Some("app.handler"), &control::b64(&zip))
        .await;
    if let Err(e) = &python {
        eprintln!("process: python function not deployed: {e:#}");
    }

    let mut md = format!(
        "- Rust `bootstrap` ({} bytes, `lambda_runtime`), Python `app.py` through awslambdaric; MemorySize 128 MB; `--idle-timeout 100ms`\n\n",
        bootstrap.len()
    );

    md += "Cold starts (idle function → response; each sample waits until /metrics shows no environment of the function):\n\n";
    md += "| function | samples | not cold | Init Duration p50 ms | p99 ms | client-observed Invoke p50 ms | p99 ms |\n|---|---:|---:|---:|---:|---:|---:|\n";
    let mut targets = vec![(RUST, "Rust bootstrap (provided.al2023)")];
    if python.is_ok() {
        targets.push((PY, "Python 3.11 (awslambdaric)"));
    }
    for (f, label) in &targets {
        eprintln!("process: cold starts of {f}");
        let c = cold(addr, &creds, f, s.cold_samples).await?;
        md += &format!(
            "| {label} | {} | {} | {:.2} | {:.2} | {:.2} | {:.2} |\n",
            c.client.len(),
            c.not_cold,
            q_ms(&c.init, 0.5),
            q_ms(&c.init, 0.99),
            q_ms(&c.client, 0.5),
            q_ms(&c.client, 0.99)
        );
    }
    if let Err(e) = &python {
        md += &format!(
            "| Python 3.11 | not deployed: {} | | | | | |\n",
            one_line(e)
        );
    }

    md += &format!(
        "\nWarm Invoke (one connection, closed loop, {:?} each, log tail on every request):\n\n",
        s.warm
    );
    md += "| function | invokes | client p50 µs | p99 µs | REPORT Duration p50 µs | p99 µs |\n|---|---:|---:|---:|---:|---:|\n";
    let mut p50 = Vec::new();
    for (f, label) in [
        (RUST, "Rust bootstrap"),
        (HELLO, "wasm hello (`hello_http`)"),
    ] {
        eprintln!("process: warm invokes of {f}");
        let w = warm(addr, &creds, f, s.warm).await?;
        md += &format!(
            "| {label} | {} | {:.0} | {:.0} | {:.0} | {:.0} |\n",
            w.client.len(),
            q_us(&w.client, 0.5),
            q_us(&w.client, 0.99),
            q_us(&w.duration, 0.5),
            q_us(&w.duration, 0.99)
        );
        p50.push(q_us(&w.client, 0.5));
    }
    md += &format!(
        "\nRust bootstrap Invoke p50 − wasm hello Invoke p50: **{:+.0} µs**\n\n",
        p50[0] - p50[1]
    );

    md += &format!(
        "Environments started per second (bursts of {} Invokes at once from zero environments):\n\n",
        s.burst
    );
    md += "| function | burst | cold starts | time to last response ms | environments/s | errors |\n|---|---:|---:|---:|---:|---:|\n";
    for (f, label) in &targets {
        for b in 0..s.bursts {
            eprintln!("process: burst {} of {f}", b + 1);
            let r = rate(addr, &creds, f, s.burst).await?;
            md += &format!(
                "| {label} | {} | {} | {:.1} | {:.0} | {} |\n",
                b + 1,
                r.cold,
                r.took.as_secs_f64() * 1000.0,
                r.cold / r.took.as_secs_f64(),
                r.errors
            );
        }
    }
    md += "\n";
    drop(server);
    Ok(md)
}

fn one_line(e: &anyhow::Error) -> String {
    let s = format!("{e:#}").replace(['\n', '|'], " ");
    s.chars().take(160).collect()
}

fn q_ms(h: &Histogram<u64>, q: f64) -> f64 {
    h.value_at_quantile(q) as f64 / 1e6
}

fn q_us(h: &Histogram<u64>, q: f64) -> f64 {
    h.value_at_quantile(q) as f64 / 1e3
}

struct Cold {
    init: Histogram<u64>,
    client: Histogram<u64>,
    not_cold: usize,
}

/// Waits (polling /metrics) until `function` has no environment.
async fn until_idle(
    conn: &mut hyper::client::conn::http1::SendRequest<http_body_util::Full<bytes::Bytes>>,
    addr: SocketAddr,
    function: &str,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = control::scrape(conn, addr).await?;
        if control::metric(&text, "updraft_environments", function) == 0.0 {
            return Ok(());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "{function} was not scaled to zero within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn cold(
    addr: SocketAddr,
    creds: &Path,
    function: &str,
    samples: usize,
) -> anyhow::Result<Cold> {
    let invoke = SignedInvoke::new(addr, creds, function, true)?;
    let mut metrics = connect(addr).await?;
    let mut conn = connect(addr).await?;
    let mut out = Cold {
        init: histogram(),
        client: histogram(),
        not_cold: 0,
    };
    for _ in 0..samples {
        until_idle(&mut metrics, addr, function).await?;
        // A short quiet moment after the scrape, as in `cold.rs`.
        tokio::time::sleep(Duration::from_millis(20)).await;
        match crate::cold::cold_invoke(&mut conn, &invoke).await? {
            Some((init_ms, took)) => {
                out.init.record((init_ms * 1e6) as u64).ok();
                out.client.record(took.as_nanos() as u64).ok();
            }
            None => out.not_cold += 1,
        }
    }
    Ok(out)
}

struct Warm {
    client: Histogram<u64>,
    duration: Histogram<u64>,
}

/// `Duration: 0.21 ms` (not Billed or Init) from a base64 log tail, in ms.
pub fn report_duration_ms(log_result: &str) -> Option<f64> {
    use base64::Engine as _;
    let log = base64::engine::general_purpose::STANDARD
        .decode(log_result.trim())
        .ok()?;
    let log = String::from_utf8_lossy(&log);
    let report = &log[log.find("REPORT ")?..];
    let rest = &report[report.find("\tDuration: ")? + "\tDuration: ".len()..];
    rest.split(" ms").next()?.trim().parse().ok()
}

async fn warm(
    addr: SocketAddr,
    creds: &Path,
    function: &str,
    window: Duration,
) -> anyhow::Result<Warm> {
    let invoke = SignedInvoke::new(addr, creds, function, true)?;
    let mut conn = connect(addr).await?;
    // Warm up: the first invocations start the environment.
    let warmup_end = Instant::now() + Duration::from_millis(300);
    while Instant::now() < warmup_end {
        send(&mut conn, invoke.request()).await?;
    }
    let mut out = Warm {
        client: histogram(),
        duration: histogram(),
    };
    let end = Instant::now() + window;
    while Instant::now() < end {
        let sent = Instant::now();
        let (ok, headers) = send(&mut conn, invoke.request()).await?;
        let took = sent.elapsed();
        if !ok {
            continue;
        }
        let log = headers
            .get("x-amz-log-result")
            .and_then(|v| v.to_str().ok());
        // Only warm invocations (no Init Duration) count.
        if log.and_then(init_duration_ms).is_some() {
            continue;
        }
        out.client.record(took.as_nanos() as u64).ok();
        if let Some(ms) = log.and_then(report_duration_ms) {
            out.duration.record((ms * 1e6) as u64).ok();
        }
    }
    Ok(out)
}

struct Rate {
    cold: f64,
    took: Duration,
    errors: usize,
}

async fn rate(addr: SocketAddr, creds: &Path, function: &str, m: usize) -> anyhow::Result<Rate> {
    let invoke = std::sync::Arc::new(SignedInvoke::new(addr, creds, function, false)?);
    let mut metrics = connect(addr).await?;
    until_idle(&mut metrics, addr, function).await?;
    let mut conns = Vec::with_capacity(m);
    for _ in 0..m {
        conns.push(connect(addr).await?);
    }
    let before = control::scrape(&mut metrics, addr).await?;
    let cold0 = control::metric(&before, "updraft_cold_starts_total", function);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for mut conn in conns {
        let invoke = invoke.clone();
        tasks.push(tokio::spawn(async move {
            matches!(send(&mut conn, invoke.request()).await, Ok((true, _)))
        }));
    }
    let mut errors = 0;
    for t in tasks {
        if !t.await.context("a burst task panicked")? {
            errors += 1;
        }
    }
    let took = start.elapsed();
    let after = control::scrape(&mut metrics, addr).await?;
    let cold = control::metric(&after, "updraft_cold_starts_total", function) - cold0;
    Ok(Rate { cold, took, errors })
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;

    use super::report_duration_ms;

    #[test]
    fn reads_the_duration_not_billed_or_init() {
        let log = "START RequestId: a Version: $LATEST\nEND RequestId: a\n\
                   REPORT RequestId: a\tDuration: 0.23 ms\tBilled Duration: 1 ms\t\
                   Memory Size: 128 MB\tMax Memory Used: 1 MB\tInit Duration: 9.41 ms\t\n";
        let b64 = base64::engine::general_purpose::STANDARD.encode(log);
        assert_eq!(report_duration_ms(&b64), Some(0.23));
    }
}
