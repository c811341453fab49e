//! `updraft-bench objects`: S3 PUT and GET throughput on the shared
//! endpoint against the disk's own sequential bandwidth, measured in the
//! same run on the same filesystem (the peer).
//!
//! ```text
//!   peer       write 64 MiB files (1 MiB writes, fsync, folder fsync),
//!              read them back; 4 KiB files written + fsynced one by one
//!   objects    PUT then GET of 4 KiB, 1 MiB, 64 MiB objects at 1 and N
//!              connections (connection i uses key i: overwrites keep the
//!              disk bounded); path-style, SigV4 with UNSIGNED-PAYLOAD
//!   big        one multi-GiB object PUT then GET, streamed from and into
//!              1 MiB chunks, the server's VmRSS sampled every 100 ms
//!   notify     PUT -> bucket notification -> function done ([`notify`])
//! ```
//! Every request is signed once and replayed: the server verifies each in
//! full, and the load generator does not spend the shared CPU on signing.
//! GET bodies are counted frame by frame and dropped, never buffered.

use std::convert::Infallible;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{anyhow, bail, Context};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Request};
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, SizeHint};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use updraft_auth::Credentials;

use crate::load::{self, Measured};
use crate::servers::{self, Server};

mod notify;

const REGION: &str = "us-east-1";
const BUCKET: &str = "bench";
const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;
/// The object sizes measured.
const SIZES: [u64; 3] = [4 * KIB, MIB, 64 * MIB];

pub struct Settings {
    pub updraft: PathBuf,
    /// Connections of the concurrent runs (the other runs use one).
    pub connections: usize,
    pub warmup: Duration,
    pub duration: Duration,
    /// Bytes of the streamed object; 0 skips it.
    pub big: u64,
    /// Bytes the disk peer writes and reads.
    pub peer_bytes: u64,
    /// The no-op function of the notification latency run, and its
    /// samples; `None` skips the run.
    pub notify: Option<(PathBuf, usize)>,
}

/// A request body: `left` bytes sent as slices of one shared chunk.
pub struct Payload {
    chunk: Bytes,
    left: u64,
}

impl Payload {
    /// `len` bytes of `chunk` repeated (`chunk` must not be empty unless
    /// `len` is 0).
    pub fn repeat(chunk: Bytes, len: u64) -> Self {
        Payload { chunk, left: len }
    }
}

impl Body for Payload {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = self.get_mut();
        if this.left == 0 || this.chunk.is_empty() {
            return Poll::Ready(None);
        }
        let n = this.left.min(this.chunk.len() as u64);
        this.left -= n;
        Poll::Ready(Some(Ok(Frame::data(this.chunk.slice(..n as usize)))))
    }

    fn is_end_stream(&self) -> bool {
        self.left == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.left)
    }
}

/// Signs S3 requests (path-style, `UNSIGNED-PAYLOAD`) for one server.
#[derive(Clone)]
struct S3Client {
    addr: SocketAddr,
    creds: Arc<Credentials>,
}

/// A signed request without its body, replayed with a fresh one.
#[derive(Clone)]
struct Template {
    method: http::Method,
    uri: http::Uri,
    headers: HeaderMap,
    len: u64,
}

impl Template {
    fn request(&self, chunk: &Bytes) -> Request<Payload> {
        let mut req = Request::new(Payload::repeat(chunk.clone(), self.len));
        *req.method_mut() = self.method.clone();
        *req.uri_mut() = self.uri.clone();
        *req.headers_mut() = self.headers.clone();
        req
    }
}

impl S3Client {
    fn new(server: &Server) -> anyhow::Result<Self> {
        let path = server.credentials()?;
        let creds = updraft_auth::read_profile(path, "default")
            .with_context(|| format!("reading {}", path.display()))?;
        Ok(S3Client {
            addr: server.addr,
            creds: Arc::new(creds),
        })
    }

    /// `method path` with a body of `len` bytes, signed as the SDKs sign
    /// with `UNSIGNED-PAYLOAD`.
    fn template(&self, method: &str, path: &str, len: u64) -> anyhow::Result<Template> {
        let mut map = HeaderMap::new();
        map.insert(
            http::header::HOST,
            HeaderValue::from_str(&self.addr.to_string())?,
        );
        map.insert(
            "x-amz-content-sha256",
            HeaderValue::from_static("UNSIGNED-PAYLOAD"),
        );
        if method == "PUT" {
            map.insert(http::header::CONTENT_LENGTH, HeaderValue::from(len));
        }
        let (signed, _) = updraft_auth::sign_s3(
            method,
            &format!("http://{}{path}", self.addr),
            &map,
            "UNSIGNED-PAYLOAD",
            &self.creds,
            REGION,
            SystemTime::now(),
        )
        .map_err(|e| anyhow!("signing {method} {path}: {e}"))?;
        Ok(Template {
            method: method.parse()?,
            uri: path.parse()?,
            headers: signed,
            len,
        })
    }
}

pub async fn connect(addr: SocketAddr) -> anyhow::Result<SendRequest<Payload>> {
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

/// Sends `req` and reads the answer frame by frame: the status and the
/// body's length (the body is dropped as it arrives), and the body's text
/// when the status is not a success (for the error message).
async fn send(
    sender: &mut SendRequest<Payload>,
    req: Request<Payload>,
) -> anyhow::Result<(u16, u64, String)> {
    sender.ready().await?;
    let resp = sender.send_request(req).await?;
    let status = resp.status().as_u16();
    let mut body = resp.into_body();
    let mut len = 0u64;
    let mut text = Vec::new();
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame?.into_data() {
            len += data.len() as u64;
            if !(200..300).contains(&status) && text.len() < 4096 {
                text.extend_from_slice(&data);
            }
        }
    }
    Ok((status, len, String::from_utf8_lossy(&text).into_owned()))
}

/// One request on a new connection; fails unless it is a 2xx.
async fn call(addr: SocketAddr, req: Request<Payload>, what: &str) -> anyhow::Result<u64> {
    let mut sender = connect(addr).await?;
    let (status, len, text) = send(&mut sender, req).await?;
    if !(200..300).contains(&status) {
        bail!("{what}: {status} {text}");
    }
    Ok(len)
}

/// Closed loops on `templates.len()` keep-alive connections, connection
/// `i` replaying `templates[i]`; a GET counts only when `expect` bytes
/// came back.
async fn closed_loop(
    addr: SocketAddr,
    templates: Vec<Template>,
    chunk: Bytes,
    expect: Option<u64>,
    warmup: Duration,
    duration: Duration,
) -> anyhow::Result<Measured> {
    let mut senders = Vec::with_capacity(templates.len());
    for _ in &templates {
        senders.push(connect(addr).await?);
    }
    let window = Instant::now() + warmup;
    let end = window + duration;
    let mut tasks = Vec::new();
    for (mut sender, template) in senders.into_iter().zip(templates) {
        let chunk = chunk.clone();
        tasks.push(tokio::spawn(async move {
            let mut hist = load::histogram();
            let (mut ok, mut errors, mut last_done) = (0u64, 0u64, window);
            let mut first_error = None;
            // At least one request each, so every key exists afterwards.
            let mut sent_any = false;
            loop {
                let sent = Instant::now();
                if sent >= end && sent_any {
                    break;
                }
                sent_any = true;
                let result = send(&mut sender, template.request(&chunk)).await;
                let done = Instant::now();
                let recorded = sent >= window;
                match result {
                    Ok((status, len, _))
                        if (200..300).contains(&status) && expect.is_none_or(|e| e == len) =>
                    {
                        if recorded {
                            hist.record((done - sent).as_nanos() as u64).ok();
                            ok += 1;
                            last_done = done;
                        }
                    }
                    Ok((status, len, text)) => {
                        errors += 1;
                        first_error.get_or_insert(format!("{status}, {len} bytes: {text}"));
                    }
                    Err(e) => {
                        errors += 1;
                        first_error.get_or_insert(format!("{e:#}"));
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
            (hist, ok, errors, last_done, first_error)
        }));
    }
    let mut total = Measured {
        latency: load::histogram(),
        ok: 0,
        errors: 0,
        elapsed: Duration::ZERO,
    };
    let mut last = window;
    let mut first_error = None;
    for task in tasks {
        let (hist, ok, errors, last_done, error) = task.await.context("a load task panicked")?;
        total.latency.add(&hist).ok();
        total.ok += ok;
        total.errors += errors;
        last = last.max(last_done);
        first_error = first_error.or(error);
    }
    if let Some(e) = first_error {
        eprintln!("objects: {} errors, the first: {e}", total.errors);
    }
    total.elapsed = (last - window).max(Duration::from_micros(1));
    Ok(total)
}

pub async fn run(s: &Settings) -> anyhow::Result<String> {
    eprintln!("objects: the disk peer");
    let peer = {
        let bytes = s.peer_bytes;
        let dir = tempfile::Builder::new()
            .prefix("updraft-bench.disk.")
            .tempdir()
            .context("creating the peer's directory")?;
        tokio::task::spawn_blocking(move || disk_peer(dir.path(), bytes))
            .await
            .context("the disk peer panicked")??
    };

    let deploy: Vec<(&str, &Path)> = s
        .notify
        .iter()
        .map(|(hello, _)| ("hello", hello.as_path()))
        .collect();
    let server = servers::start_updraft_with(&s.updraft, &deploy, &[])?;
    let client = S3Client::new(&server)?;
    let addr = server.addr;
    call(
        addr,
        client
            .template("PUT", &format!("/{BUCKET}"), 0)?
            .request(&Bytes::new()),
        "CreateBucket",
    )
    .await?;

    let mut md = format!(
        "#### Object storage (S3 path-style over HTTP/1.1, SigV4 with `UNSIGNED-PAYLOAD`; {:?} measured after {:?} warmup)\n\n",
        s.duration, s.warmup
    );
    md += &format!(
        "Disk peer, same filesystem as the server's data directory (`{}`): sequential write of {} MiB as 64 MiB files, 1 MiB writes, each file fsynced and its folder fsynced: **{:.0} MiB/s**; read back: **{:.0} MiB/s** (likely from the page cache, as the server's GETs of just-written objects are); 4 KiB files written, fsynced and folder-fsynced one at a time: **{:.0}/s**.\n\n",
        std::env::temp_dir().display(),
        s.peer_bytes / MIB,
        peer.write_mib_s,
        peer.read_mib_s,
        peer.small_per_s,
    );
    md += "| object | connections | op | ops/s | MiB/s | of the disk peer | p50 ms | p99 ms | errors |\n|---|---:|---|---:|---:|---:|---:|---:|---:|\n";
    for size in SIZES {
        let chunk = Bytes::from(vec![b'u'; size.min(MIB) as usize]);
        for conns in [1, s.connections] {
            let key = |i: usize| format!("/{BUCKET}/o{size}-{i}");
            let puts = (0..conns)
                .map(|i| client.template("PUT", &key(i), size))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let gets = (0..conns)
                .map(|i| client.template("GET", &key(i), 0))
                .collect::<anyhow::Result<Vec<_>>>()?;
            for (op, templates, expect, peer_rate) in [
                ("PUT", puts, None, peer.write_mib_s),
                ("GET", gets, Some(size), peer.read_mib_s),
            ] {
                eprintln!("objects: {op} {} at {conns} connections", human(size));
                // One round of the largest objects at many connections can
                // outlast the warmup and the window (32 x 64 MiB is 2 GiB):
                // no warmup then, so the first round is measured.
                let warmup = if size >= 64 * MIB && conns > 1 {
                    Duration::ZERO
                } else {
                    s.warmup
                };
                let m =
                    closed_loop(addr, templates, chunk.clone(), expect, warmup, s.duration).await?;
                let mib_s = m.rps() * size as f64 / MIB as f64;
                md += &format!(
                    "| {} | {conns} | {op} | {:.0} | {:.1} | {:.0} % | {:.2} | {:.2} | {} |\n",
                    human(size),
                    m.rps(),
                    mib_s,
                    100.0 * mib_s / peer_rate.max(f64::MIN_POSITIVE),
                    m.pct_us(0.5) / 1000.0,
                    m.pct_us(0.99) / 1000.0,
                    m.errors
                );
            }
        }
    }
    md += "\n";
    if s.big > 0 {
        md += &big(&server, &client, s.big).await?;
    }
    if let Some((_, samples)) = &s.notify {
        eprintln!("objects: notification latency");
        md += &notify::latency(&server, *samples).await?;
    }
    Ok(md)
}

/// `4 KiB`, `1 MiB`, `3 GiB`.
fn human(bytes: u64) -> String {
    if bytes >= 1024 * MIB {
        format!("{} GiB", bytes / (1024 * MIB))
    } else if bytes >= MIB {
        format!("{} MiB", bytes / MIB)
    } else {
        format!("{} KiB", bytes / KIB)
    }
}

/// Samples `pid`'s VmRSS every 100 ms until `stop`; returns the largest.
fn sample_rss(pid: u32, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<u64> {
    let peak = Arc::new(AtomicU64::new(0));
    tokio::spawn(async move {
        while !stop.load(Ordering::Relaxed) {
            if let Ok(kib) = crate::control::rss_kib(pid) {
                peak.fetch_max(kib, Ordering::Relaxed);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        peak.load(Ordering::Relaxed)
    })
}

/// One `bytes`-long object PUT then GET, the server's RSS sampled.
async fn big(server: &Server, client: &S3Client, bytes: u64) -> anyhow::Result<String> {
    let pid = server.pid();
    let before = crate::control::rss_kib(pid)?;
    let chunk = Bytes::from(vec![b'b'; MIB as usize]);
    let path = format!("/{BUCKET}/big");
    let mut rows = String::new();
    for op in ["PUT", "GET"] {
        eprintln!("objects: {op} of one {} object", human(bytes));
        let template = client.template(op, &path, if op == "PUT" { bytes } else { 0 })?;
        let stop = Arc::new(AtomicBool::new(false));
        let sampler = sample_rss(pid, stop.clone());
        let t0 = Instant::now();
        let len = call(server.addr, template.request(&chunk), op).await;
        let took = t0.elapsed();
        stop.store(true, Ordering::Relaxed);
        let peak = sampler.await.context("the RSS sampler panicked")?;
        let len = len?;
        if op == "GET" && len != bytes {
            bail!("GET of the big object returned {len} bytes, not {bytes}");
        }
        rows += &format!(
            "| {op} | {:.1} | {:.0} | {} |\n",
            took.as_secs_f64(),
            bytes as f64 / MIB as f64 / took.as_secs_f64(),
            peak / 1024
        );
    }
    let after = crate::control::rss_kib(pid)?;
    Ok(format!(
        "#### One {} object streamed through (1 MiB chunks), the server's VmRSS sampled every 100 ms\n\nServer RSS before: {} MiB, after: {} MiB.\n\n| op | seconds | MiB/s | peak RSS MiB |\n|---|---:|---:|---:|\n{rows}\n",
        human(bytes),
        before / 1024,
        after / 1024
    ))
}

struct Peer {
    write_mib_s: f64,
    read_mib_s: f64,
    small_per_s: f64,
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

/// The disk's own sequential write and read bandwidth in `dir`, and its
/// rate of durable 4 KiB file writes.
fn disk_peer(dir: &Path, bytes: u64) -> anyhow::Result<Peer> {
    let block = vec![b'd'; MIB as usize];
    let files = (bytes / (64 * MIB)).max(1);
    let t0 = Instant::now();
    for i in 0..files {
        let path = dir.join(format!("f{i}"));
        let mut f =
            std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
        for _ in 0..64 {
            f.write_all(&block)?;
        }
        f.sync_all()?;
        sync_dir(dir)?;
    }
    let write = t0.elapsed();
    let t0 = Instant::now();
    let mut buf = vec![0u8; MIB as usize];
    let mut read = 0u64;
    for i in 0..files {
        let mut f = std::fs::File::open(dir.join(format!("f{i}")))?;
        loop {
            let n = f.read(&mut buf)?;
            if n == 0 {
                break;
            }
            read += n as u64;
        }
    }
    let read_time = t0.elapsed();
    let total = files * 64 * MIB;
    anyhow::ensure!(read == total, "read {read} bytes of {total}");
    for i in 0..files {
        std::fs::remove_file(dir.join(format!("f{i}")))?;
    }
    let small = &block[..4096];
    let t0 = Instant::now();
    let mut n = 0u64;
    while t0.elapsed() < Duration::from_secs(2) {
        let path = dir.join(format!("s{}", n % 64));
        let mut f = std::fs::File::create(&path)?;
        f.write_all(small)?;
        f.sync_all()?;
        sync_dir(dir)?;
        n += 1;
    }
    let mib = total as f64 / MIB as f64;
    Ok(Peer {
        write_mib_s: mib / write.as_secs_f64(),
        read_mib_s: mib / read_time.as_secs_f64(),
        small_per_s: n as f64 / t0.elapsed().as_secs_f64(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_payload_sends_exactly_its_length_in_slices_of_the_chunk() {
        let mut body = Payload::repeat(Bytes::from_static(b"abc"), 7);
        assert_eq!(body.size_hint().exact(), Some(7));
        let mut cx = TaskContext::from_waker(std::task::Waker::noop());
        let mut got = Vec::new();
        while let Poll::Ready(Some(Ok(frame))) = Pin::new(&mut body).poll_frame(&mut cx) {
            got.push(frame.into_data().unwrap_or_default());
        }
        assert_eq!(got, [&b"abc"[..], b"abc", b"a"]);
        assert!(body.is_end_stream());
        assert_eq!(human(4 * KIB), "4 KiB");
        assert_eq!(human(64 * MIB), "64 MiB");
        assert_eq!(human(3 << 30), "3 GiB");
    }
}
