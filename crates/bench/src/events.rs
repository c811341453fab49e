//! `updraft-bench events`: the event services under load, each against a
//! peer in the same run.
//!
//! ```text
//!   async      Invoke Event (durable 202) to a no-op function: accepted/s,
//!              delivered/s end to end; then delivery alone: a backlog
//!              built under reserved concurrency 0, drained once lifted;
//!              peer: synchronous Invoke on the same function and server
//!   latency    PutEvents -> rule -> function done, p50/p99; peer: Invoke
//!              Event -> function done, the same way
//!   rules      PutEvents (10 entries, each matching one rule) with 1,000
//!              rules on the bus; peer: the same with 1 rule
//!   sqs        SendMessageBatch, then ReceiveMessage + DeleteMessageBatch,
//!              10 messages a call: messages/s
//! ```
//! Delivery is observed through `/metrics`
//! (`updraft_event_deliveries_total`), so nothing but the server's own
//! accounting is trusted.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{anyhow, bail, Context};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Request};
use http_body_util::{BodyExt, Full};
use updraft_auth::Credentials;

use crate::lambda::SignedInvoke;
use crate::load::{self, MakeRequest};
use crate::servers::{self, Server};

const ACCOUNT: &str = "000000000000";
const REGION: &str = "us-east-1";

pub struct Settings {
    pub updraft: PathBuf,
    pub hello: PathBuf,
    pub load: load::Settings,
    /// Samples of each latency measurement.
    pub samples: usize,
    /// Rules on the bus of the matching run.
    pub rules: usize,
}

pub async fn run(s: &Settings) -> anyhow::Result<String> {
    let mut md = String::new();
    md += &async_events(s).await?;
    md += &latency(s).await?;
    md += &rules(s).await?;
    md += &sqs(s).await?;
    Ok(md)
}

/// Signs requests with the server's credentials.
#[derive(Clone)]
struct Signer {
    addr: SocketAddr,
    creds: Arc<Credentials>,
}

impl Signer {
    fn new(server: &Server) -> anyhow::Result<Self> {
        let path = server.credentials()?;
        let creds = updraft_auth::read_profile(path, "default")
            .with_context(|| format!("reading {}", path.display()))?;
        Ok(Signer {
            addr: server.addr,
            creds: Arc::new(creds),
        })
    }

    fn request(
        &self,
        service: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Bytes,
    ) -> anyhow::Result<Request<Full<Bytes>>> {
        self.request_with("POST", service, path, headers, body)
    }

    fn request_with(
        &self,
        method: &str,
        service: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Bytes,
    ) -> anyhow::Result<Request<Full<Bytes>>> {
        let mut map = HeaderMap::new();
        map.insert(
            http::header::HOST,
            HeaderValue::from_str(&self.addr.to_string())?,
        );
        for (k, v) in headers {
            map.insert(
                http::HeaderName::from_bytes(k.as_bytes())?,
                HeaderValue::from_str(v)?,
            );
        }
        let signed = updraft_auth::sign(
            method,
            &format!("http://{}{path}", self.addr),
            &map,
            &body,
            &self.creds,
            REGION,
            service,
            SystemTime::now(),
        )
        .map_err(|e| anyhow!("signing: {e}"))?;
        let mut req = Request::new(Full::new(body));
        *req.method_mut() = method.parse()?;
        *req.uri_mut() = path.parse()?;
        *req.headers_mut() = signed;
        Ok(req)
    }

    /// A JSON-protocol request (`X-Amz-Target`).
    fn target(
        &self,
        service: &str,
        target: &str,
        body: &serde_json::Value,
    ) -> anyhow::Result<Request<Full<Bytes>>> {
        let ct = if service == "sqs" {
            "application/x-amz-json-1.0"
        } else {
            "application/x-amz-json-1.1"
        };
        self.request(
            service,
            "/",
            &[("content-type", ct), ("x-amz-target", target)],
            Bytes::from(body.to_string()),
        )
    }

    /// An Invoke `Event` of `function` with `{}`.
    fn event(&self, function: &str) -> anyhow::Result<Request<Full<Bytes>>> {
        self.request(
            "lambda",
            &format!("/2015-03-31/functions/{function}/invocations"),
            &[("x-amz-invocation-type", "Event")],
            Bytes::from_static(b"{}"),
        )
    }

    /// Sends one request on a new connection and returns status and body.
    async fn call(&self, req: Request<Full<Bytes>>) -> anyhow::Result<(u16, Bytes)> {
        let mut sender = load::connect(self.addr).await?;
        send_on(&mut sender, req).await
    }
}

async fn send_on(
    sender: &mut hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    req: Request<Full<Bytes>>,
) -> anyhow::Result<(u16, Bytes)> {
    sender.ready().await?;
    let resp = sender.send_request(req).await?;
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await?.to_bytes();
    Ok((status, body))
}

/// Calls and insists on a 2xx; returns the JSON answer.
async fn ok_json(
    signer: &Signer,
    req: Request<Full<Bytes>>,
    what: &str,
) -> anyhow::Result<serde_json::Value> {
    let (status, body) = signer.call(req).await?;
    if !(200..300).contains(&status) {
        bail!("{what}: {status} {}", String::from_utf8_lossy(&body));
    }
    if body.is_empty() {
        return Ok(serde_json::Value::Null);
    }
    serde_json::from_slice(&body).with_context(|| format!("{what}: the answer is not JSON"))
}

/// Sends copies of one signed request: the server verifies each in full,
/// and the load generator does not spend the shared CPU on signing.
async fn replay(template: Request<Full<Bytes>>) -> anyhow::Result<MakeRequest> {
    let (parts, body) = template.into_parts();
    let body = body.collect().await?.to_bytes();
    Ok(Arc::new(move || {
        let mut req = Request::new(Full::new(body.clone()));
        *req.method_mut() = parts.method.clone();
        *req.uri_mut() = parts.uri.clone();
        *req.headers_mut() = parts.headers.clone();
        req
    }))
}

/// `updraft_event_deliveries_total` of `function`'s successful async
/// deliveries, from `/metrics`.
async fn delivered(addr: SocketAddr, function: &str) -> anyhow::Result<u64> {
    let mut sender = load::connect(addr).await?;
    let req = Request::get("/metrics")
        .header(http::header::HOST, addr.to_string())
        .body(Full::new(Bytes::new()))?;
    let (_, body) = send_on(&mut sender, req).await?;
    let text = String::from_utf8_lossy(&body);
    let prefix = format!(
        "updraft_event_deliveries_total{{function=\"{function}\",source=\"async\",result=\"Success\"}} "
    );
    Ok(text
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map_or(0, |v| v as u64))
}

/// Waits until `function` has `target` successful deliveries; returns when.
async fn until_delivered(
    addr: SocketAddr,
    function: &str,
    target: u64,
    bound: Duration,
) -> anyhow::Result<Instant> {
    let deadline = Instant::now() + bound;
    loop {
        if delivered(addr, function).await? >= target {
            return Ok(Instant::now());
        }
        if Instant::now() > deadline {
            bail!("{function}: not all {target} events delivered within {bound:?}");
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

fn start(s: &Settings) -> anyhow::Result<(Server, Signer)> {
    let server = servers::start_updraft(&s.updraft, &s.hello, None)?;
    let signer = Signer::new(&server)?;
    Ok((server, signer))
}

fn function_arn(name: &str) -> String {
    format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}")
}

async fn async_events(s: &Settings) -> anyhow::Result<String> {
    eprintln!("events: async invocations");
    let (server, signer) = start(s)?;
    let addr = server.addr;
    // The peer: synchronous Invoke of the same function.
    let invoke = Arc::new(SignedInvoke::new(
        addr,
        server.credentials()?,
        "hello",
        false,
    )?);
    let make: MakeRequest = Arc::new(move || invoke.request());
    let sync = load::run(addr, &s.load, make).await?;

    // Invoke Event: every 202 is a durable message. No warmup, so every
    // accepted event is counted.
    let template = signer.event("hello")?;
    let make = replay(template).await?;
    let before = delivered(addr, "hello").await?;
    let settings = load::Settings {
        warmup: Duration::ZERO,
        ..s.load.clone()
    };
    let began = Instant::now();
    let accepted = load::run(addr, &settings, make).await?;
    let sent_for = began.elapsed();
    let done = until_delivered(
        addr,
        "hello",
        before + accepted.ok,
        Duration::from_secs(300),
    )
    .await?;
    let total = done - began;

    // Delivery alone: a backlog built while the function may not run
    // (reserved concurrency 0), then released.
    let concurrency = |method: &str| -> anyhow::Result<Request<Full<Bytes>>> {
        let body = if method == "PUT" {
            Bytes::from_static(br#"{"ReservedConcurrentExecutions":0}"#)
        } else {
            Bytes::new()
        };
        signer.request_with(
            method,
            "lambda",
            "/2017-10-31/functions/hello/concurrency",
            &[("content-type", "application/json")],
            body,
        )
    };
    ok_json(&signer, concurrency("PUT")?, "PutFunctionConcurrency").await?;
    let before = delivered(addr, "hello").await?;
    let backlog = load::run(addr, &settings, replay(signer.event("hello")?).await?).await?;
    let released = Instant::now();
    ok_json(&signer, concurrency("DELETE")?, "DeleteFunctionConcurrency").await?;
    let drained = until_delivered(addr, "hello", before + backlog.ok, Duration::from_secs(300))
        .await?
        - released;
    drop(server);

    let delivered_rate = accepted.ok as f64 / total.as_secs_f64();
    let mut md = format!(
        "#### Async invocations (`{}` component, {} connections, {:?})\n\n",
        file_name(&s.hello),
        s.load.connections,
        s.load.duration
    );
    md += "| | requests/s | p50 µs | p99 µs | errors |\n|---|---:|---:|---:|---:|\n";
    md += &format!(
        "| Invoke `RequestResponse` (peer) | {:.0} | {:.0} | {:.0} | {} |\n",
        sync.rps(),
        sync.pct_us(0.5),
        sync.pct_us(0.99),
        sync.errors
    );
    md += &format!(
        "| Invoke `Event` accepted (durable 202) | {:.0} | {:.0} | {:.0} | {} |\n\n",
        accepted.rps(),
        accepted.pct_us(0.5),
        accepted.pct_us(0.99),
        accepted.errors
    );
    md += &format!(
        "{} events accepted in {:.2} s, all delivered {:.2} s after the first was sent: **{:.0} events/s enqueued and delivered** end to end (accepted/s over the peer: {:.2}×).\n\n",
        accepted.ok,
        sent_for.as_secs_f64(),
        total.as_secs_f64(),
        delivered_rate,
        accepted.rps() / sync.rps().max(1.0)
    );
    md += &format!(
        "Delivery alone: a backlog of {} events (built while the function's reserved concurrency was 0) drained in {:.2} s after the limit was lifted: **{:.0} events/s delivered** from the durable queue.\n\n",
        backlog.ok,
        drained.as_secs_f64(),
        backlog.ok as f64 / drained.as_secs_f64()
    );
    Ok(md)
}

async fn latency(s: &Settings) -> anyhow::Result<String> {
    eprintln!("events: PutEvents to function latency");
    let (server, signer) = start(s)?;
    let addr = server.addr;
    ok_json(
        &signer,
        signer.target(
            "events",
            "AWSEvents.PutRule",
            &serde_json::json!({"Name": "bench", "EventPattern": r#"{"source":["bench.latency"]}"#}),
        )?,
        "PutRule",
    )
    .await?;
    ok_json(
        &signer,
        signer.target(
            "events",
            "AWSEvents.PutTargets",
            &serde_json::json!({"Rule": "bench", "Targets": [{"Id": "hello", "Arn": function_arn("hello")}]}),
        )?,
        "PutTargets",
    )
    .await?;
    let put = serde_json::json!({"Entries": [{"Source": "bench.latency", "DetailType": "tick", "Detail": "{}"}]});
    let mut bus = load::histogram();
    let mut direct = load::histogram();
    let mut count = delivered(addr, "hello").await?;
    for i in 0..s.samples * 2 {
        let via_bus = i % 2 == 0;
        let req = if via_bus {
            signer.target("events", "AWSEvents.PutEvents", &put)?
        } else {
            signer.event("hello")?
        };
        let mut sender = load::connect(addr).await?;
        let t0 = Instant::now();
        let (status, body) = send_on(&mut sender, req).await?;
        if !(200..300).contains(&status) {
            bail!("{status} {}", String::from_utf8_lossy(&body));
        }
        count += 1;
        let done = until_delivered(addr, "hello", count, Duration::from_secs(30)).await?;
        let ns = (done - t0).as_nanos() as u64;
        if via_bus { &mut bus } else { &mut direct }.record(ns).ok();
    }
    drop(server);
    let q = |h: &hdrhistogram::Histogram<u64>, p: f64| h.value_at_quantile(p) as f64 / 1e6;
    let mut md = format!(
        "#### Event to function latency ({} samples each, one at a time, no-op function, observed through `/metrics`)\n\n",
        s.samples
    );
    md += "| path | p50 ms | p99 ms |\n|---|---:|---:|\n";
    md += &format!(
        "| PutEvents → rule → function done | {:.2} | {:.2} |\n",
        q(&bus, 0.5),
        q(&bus, 0.99)
    );
    md += &format!(
        "| Invoke `Event` → function done (peer) | {:.2} | {:.2} |\n\n",
        q(&direct, 0.5),
        q(&direct, 0.99)
    );
    Ok(md)
}

/// PutEvents throughput with `rules` rules on a bus; each event matches
/// exactly one of them (which has no target: matching is measured, not
/// delivery).
async fn put_events_with_rules(s: &Settings, rules: usize) -> anyhow::Result<load::Measured> {
    let (server, signer) = start(s)?;
    let addr = server.addr;
    for i in 0..rules {
        let pattern = serde_json::json!({
            "source": [format!("bench.r{i}")],
            "detail-type": ["order"],
            "detail": {"amount": [{"numeric": [">", i]}], "region": [{"prefix": "eu-"}]},
        });
        ok_json(
            &signer,
            signer.target(
                "events",
                "AWSEvents.PutRule",
                &serde_json::json!({"Name": format!("r{i}"), "EventPattern": pattern.to_string()}),
            )?,
            "PutRule",
        )
        .await?;
    }
    let entries: Vec<_> = (0..10)
        .map(|k| {
            let i = (k * 97) % rules;
            serde_json::json!({
                "Source": format!("bench.r{i}"),
                "DetailType": "order",
                "Detail": serde_json::json!({"amount": i + 1, "region": "eu-west-1"}).to_string(),
            })
        })
        .collect();
    let template = signer.target(
        "events",
        "AWSEvents.PutEvents",
        &serde_json::json!({"Entries": entries}),
    )?;
    let make = replay(template).await?;
    let m = load::run(addr, &s.load, make).await?;
    drop(server);
    Ok(m)
}

async fn rules(s: &Settings) -> anyhow::Result<String> {
    eprintln!("events: rule matching with {} rules", s.rules);
    let one = put_events_with_rules(s, 1).await?;
    let many = put_events_with_rules(s, s.rules).await?;
    let mut md = format!(
        "#### Rule matching (PutEvents of 10 entries, each matching one rule; {} connections, {:?})\n\n",
        s.load.connections, s.load.duration
    );
    md += "| rules on the bus | PutEvents/s | events matched/s | p50 µs | p99 µs |\n|---:|---:|---:|---:|---:|\n";
    for (n, m) in [(1, &one), (s.rules, &many)] {
        md += &format!(
            "| {n} | {:.0} | {:.0} | {:.0} | {:.0} |\n",
            m.rps(),
            m.rps() * 10.0,
            m.pct_us(0.5),
            m.pct_us(0.99)
        );
    }
    md += &format!(
        "\nWith {} rules: {:.2}× the throughput with 1 rule.\n\n",
        s.rules,
        many.rps() / one.rps().max(1.0)
    );
    Ok(md)
}

async fn sqs(s: &Settings) -> anyhow::Result<String> {
    eprintln!("events: SQS send, receive and delete");
    let (server, signer) = start(s)?;
    let addr = server.addr;
    ok_json(
        &signer,
        signer.target(
            "sqs",
            "AmazonSQS.CreateQueue",
            &serde_json::json!({"QueueName": "bench"}),
        )?,
        "CreateQueue",
    )
    .await?;
    let queue_url = format!("http://{addr}/{ACCOUNT}/bench");
    let entries: Vec<_> = (0..10)
        .map(|i| serde_json::json!({"Id": format!("m{i}"), "MessageBody": "x".repeat(100)}))
        .collect();
    let template = signer.target(
        "sqs",
        "AmazonSQS.SendMessageBatch",
        &serde_json::json!({"QueueUrl": queue_url, "Entries": entries}),
    )?;
    let make = replay(template).await?;
    let settings = load::Settings {
        warmup: Duration::ZERO,
        ..s.load.clone()
    };
    let sent = load::run(addr, &settings, make).await?;
    let messages = sent.ok * 10;

    // Receive and delete until the queue is empty, on every connection.
    let began = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..s.load.connections {
        let signer = signer.clone();
        let queue_url = queue_url.clone();
        tasks.push(tokio::spawn(async move {
            let mut sender = load::connect(signer.addr).await?;
            let mut done = 0u64;
            loop {
                let req = signer.target(
                    "sqs",
                    "AmazonSQS.ReceiveMessage",
                    &serde_json::json!({"QueueUrl": queue_url, "MaxNumberOfMessages": 10, "WaitTimeSeconds": 0}),
                )?;
                let (_, body) = send_on(&mut sender, req).await?;
                let v: serde_json::Value = serde_json::from_slice(&body)?;
                let got = v["Messages"].as_array().cloned().unwrap_or_default();
                if got.is_empty() {
                    return anyhow::Ok(done);
                }
                let entries: Vec<_> = got
                    .iter()
                    .enumerate()
                    .map(|(i, m)| serde_json::json!({"Id": i.to_string(), "ReceiptHandle": m["ReceiptHandle"]}))
                    .collect();
                let req = signer.target(
                    "sqs",
                    "AmazonSQS.DeleteMessageBatch",
                    &serde_json::json!({"QueueUrl": queue_url, "Entries": entries}),
                )?;
                send_on(&mut sender, req).await?;
                done += got.len() as u64;
            }
        }));
    }
    let mut received = 0;
    for t in tasks {
        received += t.await??;
    }
    let drained = began.elapsed();
    drop(server);
    let mut md = format!(
        "#### SQS (batches of 10 messages of 100 bytes, {} connections)\n\n",
        s.load.connections
    );
    md += "| phase | calls/s | messages/s | p50 µs | p99 µs |\n|---|---:|---:|---:|---:|\n";
    md += &format!(
        "| SendMessageBatch (durable) | {:.0} | {:.0} | {:.0} | {:.0} |\n",
        sent.rps(),
        sent.rps() * 10.0,
        sent.pct_us(0.5),
        sent.pct_us(0.99)
    );
    md += &format!(
        "| ReceiveMessage + DeleteMessageBatch | {:.0} | {:.0} | | |\n\n",
        received as f64 / 10.0 * 2.0 / drained.as_secs_f64(),
        received as f64 / drained.as_secs_f64()
    );
    md += &format!(
        "{messages} messages sent, {received} received and deleted in {:.2} s.\n\n",
        drained.as_secs_f64()
    );
    Ok(md)
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned()
}
