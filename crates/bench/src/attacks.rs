//! `updraft-bench attacks`: the load a normal client holds while hostile
//! clients attack the same server, one attack at a time.
//!
//! ```text
//!   updraft serve --deploy hello=C --header-timeout 5s
//!   each row: the normal load (keep-alive GETs of hello's function URL,
//!   connections opened before the attack starts) for the measured window,
//!   while one attack runs from its own threads:
//!     none            (the baseline)
//!     slowloris       N connections sending a request head a byte at a time
//!     2 GB bodies     4 uploads declaring 2 GB to the public URL, sending
//!                     as fast as they can
//!     endless chunks  4 chunked uploads that never end
//!     idle flood      up to 10,000 connections that send nothing
//!   reported: the load's req/s (and as a share of the baseline), p50/p99
//!   latency and failed requests; what happened to the attacker; the
//!   server's resident memory before the attack and its peak after.
//! ```

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;

use crate::load::{self, MakeRequest, Measured};
use crate::servers;

/// The server's header timeout in these runs: short enough that the
/// attacks it ends do so within a measured window.
const HEADER_TIMEOUT: &str = "5s";

pub struct Settings {
    pub updraft: std::path::PathBuf,
    pub hello: std::path::PathBuf,
    pub load: load::Settings,
    /// Slowloris connections.
    pub slowloris: usize,
    /// Idle connections of the idle flood.
    pub idle: usize,
}

/// One attack: started in the background, it runs until `stop` is set and
/// then says what happened to it.
type Attack = fn(SocketAddr, Arc<AtomicBool>, &Settings) -> String;

pub async fn run(s: &Settings) -> anyhow::Result<String> {
    let server = servers::start_updraft_with(
        &s.updraft,
        &[("hello", &s.hello)],
        &["--header-timeout".to_string(), HEADER_TIMEOUT.to_string()],
    )?;
    let addr = server.addr;
    let make: MakeRequest = Arc::new(move || {
        http::Request::get("/fn/hello/")
            .header(http::header::HOST, addr.to_string())
            .body(Full::new(Bytes::new()))
            .expect("a valid request")
    });
    // Warm the function up.
    load::run(
        addr,
        &load::Settings {
            duration: Duration::from_millis(500),
            ..s.load.clone()
        },
        make.clone(),
    )
    .await?;

    let attacks: [(&str, Attack); 5] = [
        ("none (baseline)", |_, stop, _| {
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(50));
            }
            "—".to_string()
        }),
        ("slowloris", slowloris),
        ("2 GB bodies", huge_bodies),
        ("endless chunked bodies", endless_chunks),
        ("idle connection flood", idle_flood),
    ];
    let mut rows = Vec::new();
    let mut baseline = None;
    for (name, attack) in attacks {
        let before = memory_kib(server.pid(), "VmRSS:");
        reset_peak(server.pid());
        let stop = Arc::new(AtomicBool::new(false));
        let attacker = {
            let stop = stop.clone();
            let settings = Settings {
                updraft: s.updraft.clone(),
                hello: s.hello.clone(),
                load: s.load.clone(),
                slowloris: s.slowloris,
                idle: s.idle,
            };
            std::thread::spawn(move || {
                // The load's connections are open by then.
                std::thread::sleep(Duration::from_millis(300));
                attack(addr, stop, &settings)
            })
        };
        let measured = load::run(addr, &s.load, make.clone()).await?;
        stop.store(true, Ordering::Relaxed);
        let outcome = tokio::task::spawn_blocking(move || attacker.join())
            .await?
            .map_err(|_| anyhow::anyhow!("the {name} attacker panicked"))?;
        let peak = memory_kib(server.pid(), "VmHWM:");
        let baseline_rps = *baseline.get_or_insert(measured.rps());
        rows.push(row(name, &measured, baseline_rps, &outcome, before, peak));
        // Let the server close what the attack left before the next one.
        tokio::time::sleep(Duration::from_secs(6)).await;
    }
    Ok(format!(
        "Normal load: {} keep-alive connections, GET of a wasi-http function URL (`hello`), {:?} per row; `--header-timeout {HEADER_TIMEOUT}`, other limits at their defaults.\n\n\
         | attack | load req/s | of baseline | p50 | p99 | failed | attacker's outcome | server RSS before → peak |\n\
         |---|---|---|---|---|---|---|---|\n{}\n",
        s.load.connections,
        s.load.duration,
        rows.join("\n")
    ))
}

fn row(
    name: &str,
    m: &Measured,
    baseline_rps: f64,
    outcome: &str,
    before_kib: u64,
    peak_kib: u64,
) -> String {
    format!(
        "| {name} | {:.0} | {:.0}% | {:.2} ms | {:.2} ms | {} | {outcome} | {} → {} MiB |",
        m.rps(),
        100.0 * m.rps() / baseline_rps,
        m.pct_us(0.5) / 1000.0,
        m.pct_us(0.99) / 1000.0,
        m.errors,
        before_kib / 1024,
        peak_kib / 1024,
    )
}

/// A `/proc/PID/status` memory line, in KiB.
fn memory_kib(pid: u32, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// Resets the peak resident memory (`VmHWM`) so each row shows its own.
fn reset_peak(pid: u32) {
    let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
}

fn connect(addr: SocketAddr) -> Option<TcpStream> {
    let tcp = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    tcp.set_write_timeout(Some(Duration::from_secs(2))).ok()?;
    tcp.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    Some(tcp)
}

/// Median of `values` (seconds), or `None` when empty.
fn median(mut values: Vec<f64>) -> Option<f64> {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied()
}

/// `n` connections each sending a request head one byte every 200 ms;
/// each one is over when a write fails.
fn slowloris(addr: SocketAddr, stop: Arc<AtomicBool>, s: &Settings) -> String {
    let started = Instant::now();
    let mut open: Vec<(TcpStream, Instant)> = (0..s.slowloris)
        .filter_map(|_| connect(addr))
        .map(|mut tcp| {
            let _ = tcp.write_all(b"GET /fn/hello/ HTTP/1.1\r\nHost: x\r\n");
            (tcp, Instant::now())
        })
        .collect();
    let opened = open.len();
    let mut cut_after = Vec::new();
    while !stop.load(Ordering::Relaxed) && !open.is_empty() {
        open.retain_mut(|(tcp, since)| {
            if tcp.write_all(b"a").is_ok() {
                true
            } else {
                cut_after.push(since.elapsed().as_secs_f64());
                false
            }
        });
        std::thread::sleep(Duration::from_millis(200));
    }
    format!(
        "{opened} opened; {} cut off, median after {:.1} s; {} still open at {:.0} s",
        cut_after.len(),
        median(cut_after).unwrap_or(f64::NAN),
        open.len(),
        started.elapsed().as_secs_f64()
    )
}

/// Sends `head` and then `chunk` as fast as the server takes it until a
/// write fails or `stop`; returns the bytes sent and the status line read.
fn upload(addr: SocketAddr, head: &str, chunk: &[u8], stop: &AtomicBool) -> (u64, String) {
    let Some(mut tcp) = connect(addr) else {
        return (0, "not connected".into());
    };
    let mut sent = 0u64;
    if tcp.write_all(head.as_bytes()).is_ok() {
        while !stop.load(Ordering::Relaxed) && tcp.write_all(chunk).is_ok() {
            sent += chunk.len() as u64;
        }
    }
    let mut answer = [0u8; 64];
    let n = tcp.read(&mut answer).unwrap_or(0);
    let status = String::from_utf8_lossy(&answer[..n])
        .lines()
        .next()
        .unwrap_or("no answer")
        .to_string();
    (sent, status)
}

/// Runs `uploads` uploads at once and describes what the server did.
fn uploads(addr: SocketAddr, stop: Arc<AtomicBool>, head: String, chunk: Vec<u8>) -> String {
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let (stop, head, chunk) = (stop.clone(), head.clone(), chunk.clone());
            std::thread::spawn(move || upload(addr, &head, &chunk, &stop))
        })
        .collect();
    let results: Vec<(u64, String)> = threads.into_iter().filter_map(|t| t.join().ok()).collect();
    let most = results.iter().map(|(sent, _)| *sent).max().unwrap_or(0);
    let mut statuses: Vec<&str> = results.iter().map(|(_, s)| s.as_str()).collect();
    statuses.dedup();
    format!(
        "{} uploads; at most {:.1} MiB sent before the server stopped reading; answered {}",
        results.len(),
        most as f64 / (1024.0 * 1024.0),
        statuses.join(", ")
    )
}

fn huge_bodies(addr: SocketAddr, stop: Arc<AtomicBool>, _: &Settings) -> String {
    let head = "POST /fn/hello/ HTTP/1.1\r\nHost: x\r\nContent-Length: 2147483648\r\n\r\n";
    uploads(addr, stop, head.to_string(), vec![b'x'; 64 * 1024])
}

fn endless_chunks(addr: SocketAddr, stop: Arc<AtomicBool>, _: &Settings) -> String {
    let head = "POST /fn/hello/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
    let mut chunk = format!("{:x}\r\n", 64 * 1024).into_bytes();
    chunk.extend(std::iter::repeat_n(b'y', 64 * 1024));
    chunk.extend_from_slice(b"\r\n");
    uploads(addr, stop, head.to_string(), chunk)
}

/// Opens up to `s.idle` connections that send nothing (from 8 threads),
/// and watches them being closed: until all are, or 10 s after the last
/// one opened.
fn idle_flood(addr: SocketAddr, _stop: Arc<AtomicBool>, s: &Settings) -> String {
    let started = Instant::now();
    let threads = 8;
    let openers: Vec<_> = (0..threads)
        .map(|i| {
            let n = s.idle / threads + usize::from(i < s.idle % threads);
            std::thread::spawn(move || {
                let mut conns = Vec::with_capacity(n);
                let mut failed = 0;
                for _ in 0..n {
                    match TcpStream::connect_timeout(&addr, Duration::from_secs(2)) {
                        Ok(tcp) => {
                            let _ = tcp.set_nonblocking(true);
                            conns.push((tcp, Instant::now()));
                        }
                        Err(_) => failed += 1,
                    }
                }
                (conns, failed)
            })
        })
        .collect();
    let mut open = Vec::with_capacity(s.idle);
    let mut failed = 0;
    for opener in openers {
        if let Ok((conns, f)) = opener.join() {
            open.extend(conns);
            failed += f;
        }
    }
    let connected = open.len();
    let opened_in = started.elapsed();
    // Closed by the server: a read returns 0 (after the 503's bytes when
    // it was over the limit).
    let (mut refused, mut lived) = (0usize, Vec::new());
    let mut buf = [0u8; 512];
    let watch_until = Instant::now() + Duration::from_secs(10);
    while Instant::now() < watch_until && !open.is_empty() {
        open.retain_mut(|(tcp, since)| match tcp.read(&mut buf) {
            Ok(0) => {
                lived.push(since.elapsed().as_secs_f64());
                false
            }
            Ok(n) => {
                if buf[..n].starts_with(b"HTTP/1.1 503") {
                    refused += 1;
                }
                true
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => true,
            Err(_) => {
                lived.push(since.elapsed().as_secs_f64());
                false
            }
        });
        std::thread::sleep(Duration::from_millis(100));
    }
    format!(
        "{connected} connected in {:.1} s ({failed} failed); {refused} answered 503 (over --max-connections); {} closed by the server, median {:.1} s after connecting; {} still open 10 s after the last connected",
        opened_in.as_secs_f64(),
        lived.len(),
        median(lived).unwrap_or(f64::NAN),
        open.len()
    )
}
