//! `updraft-bench scale`: scaling, density and metering cost (wasm).
//!
//! ```text
//!   ramp      updraft serve --deploy sleep=http_sleep.wasm
//!             N connections opened first; then N GET /fn/sleep/?ms=HOLD at
//!             once; /metrics scraped in a loop on its own connection until
//!             N environments have started (cold burst) or are all busy
//!             (warm burst); every request holds its environment HOLD ms,
//!             so all N overlap when the ramp is shorter than HOLD
//!   density   updraft serve (nothing deployed): CreateFunction of one zip
//!             under new names until the count or the time is reached;
//!             VmRSS before and after; then Invoke K of them, VmRSS again
//!   metering  updraft serve --deploy hello=COMPONENT --metering on, and
//!             another with --metering off, both up the whole time; rounds
//!             of short slices (function URL, then Invoke), each server
//!             loaded in turn, the order swapped every round ([`ab`]);
//!             req/s and server CPU seconds (utime + stime) per request
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use http_body_util::Full;

use crate::ab;
use crate::control::{self, Api};
use crate::lambda::SignedInvoke;
use crate::load::{self, connect, send};
use crate::servers;

pub struct Settings {
    pub updraft: PathBuf,
    pub sleep: PathBuf,
    pub hello: PathBuf,
    pub n: usize,
    pub hold_ms: u64,
    pub rounds: usize,
    pub metering_rounds: usize,
    pub density_max: usize,
    pub density_time: Duration,
    pub deployers: usize,
    pub warm: usize,
    pub load: load::Settings,
    pub record_ns: Option<f64>,
    /// Both metering servers with metering off (an A/A control run).
    pub metering_control: bool,
    pub skip: Vec<String>,
}

impl Settings {
    fn runs(&self, part: &str) -> bool {
        !self.skip.iter().any(|s| s == part)
    }
}

/// One burst of N concurrent requests.
struct Burst {
    /// Cold: from the first request sent until /metrics shows N cold starts
    /// since the burst began. Warm: until it shows N concurrent executions
    /// and no idle environment.
    ready: Option<Duration>,
    /// The end of the last scrape that did not show it yet (a lower bound).
    not_yet: Duration,
    /// The last response less HOLD: an upper bound on when the last
    /// request began to run (it includes delivering N responses).
    last_minus_hold: Duration,
    /// The first response less HOLD.
    first_minus_hold: Duration,
    errors: usize,
    scrapes: usize,
    /// The most cold starts / concurrent executions seen.
    max_seen: f64,
}

pub async fn run(s: &Settings) -> anyhow::Result<String> {
    let mut md = String::new();
    if s.runs("ramp") {
        md += &ramp(s).await.context("the ramp benchmark")?;
    }
    if s.runs("density") {
        md += &density(s).await.context("the density benchmark")?;
    }
    if s.runs("metering") {
        md += &metering(s).await.context("the metering benchmark")?;
    }
    Ok(md)
}

const SLEEP: &str = "sleep";

async fn ramp(s: &Settings) -> anyhow::Result<String> {
    let n = s.n;
    eprintln!("ramp: starting updraft for {n} concurrent environments");
    let extra: Vec<String> = [
        "--max-concurrency".to_string(),
        n.to_string(),
        "--max-instances".to_string(),
        n.max(1000).to_string(),
        // Every round starts N environments again: the default limit
        // (1,000 per 10 s) would throttle the second round.
        "--scale-up-limit".to_string(),
        (n * (s.rounds + 1)).max(1000).to_string(),
        "--memory-budget".to_string(),
        (n as u64 * 128 + 1024).to_string(),
        "--idle-timeout".to_string(),
        "3s".to_string(),
    ]
    .into();
    let server = servers::start_updraft_with(&s.updraft, &[(SLEEP, &s.sleep)], &extra)?;
    let addr = server.addr;
    // Load the template once (compiled at deploy, loaded on first use).
    let mut probe = connect(addr).await?;
    let (ok, _) = send(&mut probe, sleep_request(addr, 0)).await?;
    anyhow::ensure!(ok, "GET /fn/sleep/ failed");

    // N connections, opened once: connecting is not what is measured.
    let mut conns = Vec::with_capacity(n);
    for _ in 0..n {
        conns.push(connect(addr).await?);
    }
    let mut rows = Vec::new();
    let pid = server.pid();
    for round in 0..s.rounds {
        wait_for_zero(&mut probe, addr, SLEEP, Duration::from_secs(30)).await?;
        eprintln!("ramp: round {}: cold burst of {n}", round + 1);
        let rss = control::rss_kib(pid)?;
        let cold = burst(addr, &mut conns, s.hold_ms, true).await?;
        let cold_rss = (rss, control::rss_kib(pid)?);
        eprintln!("ramp: round {}: warm burst of {n}", round + 1);
        let rss = control::rss_kib(pid)?;
        let warm = burst(addr, &mut conns, s.hold_ms, false).await?;
        let warm_rss = (rss, control::rss_kib(pid)?);
        rows.push(((cold, cold_rss), (warm, warm_rss)));
    }
    drop(server);

    let mut md = format!(
        "#### 0 to {n} concurrent environments (wasm, `http_sleep`, HOLD = {} ms)\n\n",
        s.hold_ms
    );
    md += "| round | burst | ready (/metrics: not yet at → reached by) | last response − HOLD | first response − HOLD | errors | scrapes | server VmRSS before → after |\n|---|---|---:|---:|---:|---:|---:|---:|\n";
    let ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1000.0);
    for (i, (cold, warm)) in rows.iter().enumerate() {
        for (what, (b, (rss0, rss1))) in [("cold (0 → N)", cold), ("warm (N idle)", warm)] {
            let ready = match b.ready {
                Some(d) => format!("{} → **{}**", ms(b.not_yet), ms(d)),
                None => format!("not reached (max {})", b.max_seen),
            };
            md += &format!(
                "| {} | {what} | {ready} | {} | {} | {} | {} | {:.0} → {:.0} MiB |\n",
                i + 1,
                ms(b.last_minus_hold),
                ms(b.first_minus_hold),
                b.errors,
                b.scrapes,
                mib(*rss0),
                mib(*rss1)
            );
        }
    }
    md += "\n";
    Ok(md)
}

fn sleep_request(addr: SocketAddr, ms: u64) -> http::Request<Full<Bytes>> {
    http::Request::get(format!("/fn/{SLEEP}/?ms={ms}"))
        .header(http::header::HOST, addr.to_string())
        .body(Full::new(Bytes::new()))
        .expect("a valid request")
}

/// Waits until `function` has no environment left (scaled to zero).
async fn wait_for_zero(
    conn: &mut hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    addr: SocketAddr,
    function: &str,
    limit: Duration,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + limit;
    loop {
        let text = control::scrape(conn, addr).await?;
        if control::metric(&text, "updraft_environments", function) == 0.0 {
            return Ok(());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "{function} still has environments after {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

type Conn = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

/// N requests at once, one on each of `conns` (handed back afterwards; a
/// broken one is replaced).
async fn burst(
    addr: SocketAddr,
    conns: &mut Vec<Conn>,
    hold_ms: u64,
    cold: bool,
) -> anyhow::Result<Burst> {
    let n = conns.len();
    let mut metrics = connect(addr).await?;
    let before = control::scrape(&mut metrics, addr).await?;
    let cold0 = control::metric(&before, "updraft_cold_starts_total", SLEEP);

    let start = Instant::now();
    let mut tasks = Vec::with_capacity(n);
    for mut conn in conns.drain(..) {
        tasks.push(tokio::spawn(async move {
            let r = send(&mut conn, sleep_request(addr, hold_ms)).await;
            (conn, r.is_ok(), matches!(r, Ok((true, _))), Instant::now())
        }));
    }
    let mut ready = None;
    let mut not_yet = Duration::ZERO;
    let mut scrapes = 0;
    let mut max_seen = 0.0f64;
    let limit = Duration::from_millis(hold_ms) + Duration::from_secs(5);
    while ready.is_none() && start.elapsed() < limit {
        let text = control::scrape(&mut metrics, addr).await?;
        scrapes += 1;
        let seen = if cold {
            control::metric(&text, "updraft_cold_starts_total", SLEEP) - cold0
        } else {
            let busy = control::metric(&text, "updraft_concurrent_executions", SLEEP);
            let idle = control::metric(&text, "updraft_environments_idle", SLEEP);
            if idle == 0.0 {
                busy
            } else {
                0.0
            }
        };
        max_seen = max_seen.max(seen);
        if seen >= n as f64 {
            ready = Some(start.elapsed());
        } else {
            not_yet = start.elapsed();
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    let hold = Duration::from_millis(hold_ms);
    let mut errors = 0;
    let mut first = None::<Instant>;
    let mut last = start;
    for t in tasks {
        let (conn, usable, ok, done) = t.await.context("a burst task panicked")?;
        conns.push(if usable { conn } else { connect(addr).await? });
        if !ok {
            errors += 1;
            continue;
        }
        first = Some(first.map_or(done, |f| f.min(done)));
        last = last.max(done);
    }
    let since = |t: Instant| (t - start).saturating_sub(hold);
    Ok(Burst {
        ready,
        not_yet,
        last_minus_hold: since(last),
        first_minus_hold: since(first.unwrap_or(start)),
        errors,
        scrapes,
        max_seen,
    })
}

async fn density(s: &Settings) -> anyhow::Result<String> {
    eprintln!(
        "density: deploying up to {} functions for at most {:?}",
        s.density_max, s.density_time
    );
    let extra: Vec<String> = [
        "--max-concurrency".to_string(),
        s.warm.max(1000).to_string(),
        "--memory-budget".to_string(),
        (s.warm as u64 * 128 + 1024).to_string(),
        "--max-instances".to_string(),
        s.warm.max(1000).to_string(),
    ]
    .into();
    let server = servers::start_updraft_with(&s.updraft, &[], &extra)?;
    let pid = server.pid();
    let addr = server.addr;
    let creds = server.credentials()?.to_path_buf();
    let wasm = std::fs::read(&s.hello).with_context(|| format!("reading {}", s.hello.display()))?;
    let zip = Arc::new(control::b64(&crate::zip::stored(&[(
        "function.wasm",
        &wasm,
        0o644,
    )])));

    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_empty = control::rss_kib(pid)?;
    let mut api = Api::new(addr, &creds).await?;
    api.create_function(&name(0), "wasm", None, &zip).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_one = control::rss_kib(pid)?;

    let next = Arc::new(AtomicUsize::new(1));
    let started = Instant::now();
    let deadline = started + s.density_time;
    let mut tasks = Vec::new();
    for _ in 0..s.deployers.max(1) {
        let (next, zip, creds) = (next.clone(), zip.clone(), creds.clone());
        let max = s.density_max;
        tasks.push(tokio::spawn(async move {
            let mut api = Api::new(addr, &creds).await?;
            let mut done = 0usize;
            loop {
                if Instant::now() >= deadline {
                    break;
                }
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= max {
                    break;
                }
                api.create_function(&name(i), "wasm", None, &zip).await?;
                done += 1;
            }
            anyhow::Ok(done)
        }));
    }
    let mut deployed = 1;
    for t in tasks {
        deployed += t.await.context("a deploy task panicked")??;
    }
    let deploy_time = started.elapsed();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_deployed = control::rss_kib(pid)?;

    // K live environments, one per function (each stays idle afterwards).
    let k = s.warm.min(deployed);
    eprintln!("density: {deployed} deployed; warming {k} functions");
    let mut conn = connect(addr).await?;
    let mut warm_errors = 0;
    for i in 0..k {
        let invoke = SignedInvoke::new(addr, &creds, &name(i), false)?;
        match send(&mut conn, invoke.request()).await {
            Ok((true, _)) => {}
            _ => warm_errors += 1,
        }
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_warm = control::rss_kib(pid)?;
    let text = control::scrape(&mut conn, addr).await?;
    let envs: f64 = (0..k)
        .map(|i| control::metric(&text, "updraft_environments", &name(i)))
        .sum();
    drop(server);

    let per_fn = (rss_deployed as f64 - rss_one as f64) / (deployed - 1).max(1) as f64;
    let per_env = (rss_warm as f64 - rss_deployed as f64) / envs.max(1.0);
    let mut md = format!(
        "#### Density (wasm, `{}` in one zip, {} deployers)\n\n",
        s.hello.file_name().unwrap_or_default().to_string_lossy(),
        s.deployers
    );
    md += "| measure | value |\n|---|---:|\n";
    md += &format!(
        "| functions deployed | {deployed} in {:.1} s ({:.0}/s) |\n",
        deploy_time.as_secs_f64(),
        (deployed - 1) as f64 / deploy_time.as_secs_f64()
    );
    md += &format!("| VmRSS, nothing deployed | {:.1} MiB |\n", mib(rss_empty));
    md += &format!("| VmRSS, 1 function deployed | {:.1} MiB |\n", mib(rss_one));
    md += &format!(
        "| VmRSS, {deployed} functions deployed, all idle | {:.1} MiB |\n",
        mib(rss_deployed)
    );
    md += &format!(
        "| **per deployed idle function** (Δ over the last {}) | **{:.1} KiB** |\n",
        deployed - 1,
        per_fn
    );
    md += &format!(
        "| VmRSS after invoking {k} functions once ({envs} live environments, {warm_errors} errors) | {:.1} MiB |\n",
        mib(rss_warm)
    );
    md += &format!("| **per live (idle) environment** | **{per_env:.1} KiB** |\n\n");
    Ok(md)
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn name(i: usize) -> String {
    format!("d{i:05}")
}

/// A server with metering on or off, given function URL and Invoke load.
fn metered_server(s: &Settings, on: bool) -> anyhow::Result<ab::Side> {
    let flag = vec![
        "--metering".to_string(),
        if on { "on" } else { "off" }.to_string(),
    ];
    let server = servers::start_updraft_with(&s.updraft, &[("hello", &s.hello)], &flag)?;
    let addr = server.addr;
    let url: load::MakeRequest = Arc::new(move || {
        http::Request::get("/fn/hello/")
            .header(http::header::HOST, addr.to_string())
            .body(Full::new(Bytes::new()))
            .expect("a valid request")
    });
    let signed = Arc::new(SignedInvoke::new(
        addr,
        server.credentials()?,
        "hello",
        false,
    )?);
    let invoke: load::MakeRequest = Arc::new(move || signed.request());
    Ok(ab::Side {
        server,
        loads: vec![("function URL", url), ("Invoke (SigV4)", invoke)],
        thread: Some(METERING_THREAD),
    })
}

/// Longer than the metering flush interval (200 ms).
const SLICE_PAUSE: Duration = Duration::from_millis(400);
/// The metering flusher's thread name (as `comm` truncates it).
const METERING_THREAD: &str = "updraft-meterin";

/// The cost of metering, measured directly ([`ab`]): two servers, one
/// with `--metering on` and one with `--metering off`, loaded in turn in
/// short slices (function URL, then Invoke). With `--metering-control`,
/// both servers run with metering off (an A/A run: what the method
/// reports when there is no difference).
async fn metering(s: &Settings) -> anyhow::Result<String> {
    let sides = [
        metered_server(s, !s.metering_control)?,
        metered_server(s, false)?,
    ];
    let rounds = s.metering_rounds;
    let results = ab::run(&sides, &s.load, rounds, SLICE_PAUSE, "metering").await?;
    let names: Vec<&str> = sides[0].loads.iter().map(|(n, _)| *n).collect();
    drop(sides);

    let mut md = String::new();
    if s.metering_control {
        md += "#### Control run (`--metering-control`): both servers with metering **off**; the \"on\" column is the first of them\n\n";
    }
    md += &format!(
        "#### Metering on and off (`{}`, {} connections, two live servers loaded in turn, {} rounds of {:?} slices)\n\n",
        s.hello.file_name().unwrap_or_default().to_string_lossy(),
        s.load.connections,
        rounds,
        s.load.duration
    );
    md += &ab::table(&results, &names, "metering on", "metering off", "on / off");
    if s.metering_control {
        return Ok(md);
    }
    // Metering's own CPU in the metered server, measured in place: the
    // flusher thread's CPU, plus `record()` on the request path.
    let on: Vec<&ab::Slice> = results.iter().flat_map(|r| r[0].iter()).collect();
    let on_requests = on.iter().map(|x| x.requests).sum::<u64>().max(1) as f64;
    let on_cpu: f64 = on.iter().map(|x| x.cpu).sum();
    let flusher: f64 = on.iter().map(|x| x.thread_cpu).sum();
    let per_request_us = on_cpu * 1e6 / on_requests;
    let flusher_us = flusher * 1e6 / on_requests;
    md += &format!(
        "In the metered server: {per_request_us:.1} µs of CPU per request, of which the metering flusher thread (sealing journal segments, storing their batches) used {flusher_us:.2} µs = **{:.2} %**",
        flusher_us / per_request_us * 100.0
    );
    match s.record_ns {
        Some(ns) => md += &format!(
            "; with `record()` on the request path at {ns:.0} ns (`--record-ns`, from the `record_cost` test), metering is **{:.2} %** of the metered server's CPU.\n\n",
            (flusher_us + ns / 1000.0) / per_request_us * 100.0
        ),
        None => md += ".\n\n",
    }
    Ok(md)
}

/// The default `http_sleep` guest (built by `crates/test-support`).
pub fn default_sleep(root: &Path) -> PathBuf {
    root.join("target/guests/wasm32-wasip2/release/http_sleep.wasm")
}
