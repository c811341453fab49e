//! Object-created notification latency: PUT of a 4 KiB object -> bucket
//! notification -> the no-op function done, one at a time, against Invoke
//! `Event` -> the same function done (the peer), observed the same way:
//! `updraft_event_deliveries_total{source="async",result="Success"}` in
//! `/metrics`, polled every 2 ms (S3's function notifications are
//! delivered as async invocations).

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{anyhow, bail, Context};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Request};
use http_body_util::{BodyExt, Full};

use super::{call, S3Client, BUCKET, KIB, REGION};
use crate::load;
use crate::servers::Server;

const FUNCTION: &str = "hello";
const ACCOUNT: &str = "000000000000";

/// One signed Lambda API call; fails unless it is a 2xx.
async fn lambda(
    addr: SocketAddr,
    creds: &updraft_auth::Credentials,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> anyhow::Result<()> {
    let mut map = HeaderMap::new();
    map.insert(
        http::header::HOST,
        HeaderValue::from_str(&addr.to_string())?,
    );
    for (k, v) in headers {
        map.insert(
            http::HeaderName::from_bytes(k.as_bytes())?,
            HeaderValue::from_str(v)?,
        );
    }
    let signed = updraft_auth::sign(
        "POST",
        &format!("http://{addr}{path}"),
        &map,
        body,
        creds,
        REGION,
        "lambda",
        SystemTime::now(),
    )
    .map_err(|e| anyhow!("signing {path}: {e}"))?;
    let mut req = Request::new(Full::new(Bytes::copy_from_slice(body)));
    *req.method_mut() = http::Method::POST;
    *req.uri_mut() = path.parse()?;
    *req.headers_mut() = signed;
    let mut sender = load::connect(addr).await?;
    sender.ready().await?;
    let resp = sender.send_request(req).await?;
    let status = resp.status();
    let text = resp.into_body().collect().await?.to_bytes();
    if !status.is_success() {
        bail!("POST {path}: {status} {}", String::from_utf8_lossy(&text));
    }
    Ok(())
}

/// The function's successful async deliveries, from `/metrics`.
async fn delivered(addr: SocketAddr) -> anyhow::Result<u64> {
    let mut sender = load::connect(addr).await?;
    let text = crate::control::scrape(&mut sender, addr).await?;
    let prefix = format!(
        "updraft_event_deliveries_total{{function=\"{FUNCTION}\",source=\"async\",result=\"Success\"}} "
    );
    Ok(text
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map_or(0, |v| v as u64))
}

async fn until_delivered(addr: SocketAddr, target: u64) -> anyhow::Result<Instant> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if delivered(addr).await? >= target {
            return Ok(Instant::now());
        }
        if Instant::now() > deadline {
            bail!("delivery {target} did not happen within 30 s");
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Measures `samples` of each path on `server`, which has the no-op
/// function `hello` deployed; returns the report's section.
pub async fn latency(server: &Server, samples: usize) -> anyhow::Result<String> {
    let addr = server.addr;
    let creds_path: &Path = server.credentials()?;
    let creds = updraft_auth::read_profile(creds_path, "default")
        .with_context(|| format!("reading {}", creds_path.display()))?;
    let client = S3Client::new(server)?;
    let bucket_arn = format!("arn:aws:s3:::{BUCKET}");
    let permission = serde_json::json!({
        "StatementId": "s3",
        "Action": "lambda:InvokeFunction",
        "Principal": "s3.amazonaws.com",
        "SourceArn": bucket_arn,
    });
    lambda(
        addr,
        &creds,
        &format!("/2015-03-31/functions/{FUNCTION}/policy"),
        &[("content-type", "application/json")],
        permission.to_string().as_bytes(),
    )
    .await?;
    let config = format!(
        "<NotificationConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><CloudFunctionConfiguration><Id>bench</Id><CloudFunction>arn:aws:lambda:{REGION}:{ACCOUNT}:function:{FUNCTION}</CloudFunction><Event>s3:ObjectCreated:*</Event></CloudFunctionConfiguration></NotificationConfiguration>"
    );
    let config = Bytes::from(config);
    call(
        addr,
        client
            .template(
                "PUT",
                &format!("/{BUCKET}?notification"),
                config.len() as u64,
            )?
            .request(&config),
        "PutBucketNotificationConfiguration",
    )
    .await?;

    let chunk = Bytes::from(vec![b'n'; (4 * KIB) as usize]);
    let mut via_s3 = load::histogram();
    let mut direct = load::histogram();
    let mut count = delivered(addr).await?;
    for i in 0..samples * 2 {
        let through_s3 = i % 2 == 0;
        let t0 = Instant::now();
        if through_s3 {
            let put = client.template("PUT", &format!("/{BUCKET}/notified-{i}"), 4 * KIB)?;
            call(addr, put.request(&chunk), "PUT").await?;
        } else {
            lambda(
                addr,
                &creds,
                &format!("/2015-03-31/functions/{FUNCTION}/invocations"),
                &[("x-amz-invocation-type", "Event")],
                b"{}",
            )
            .await?;
        }
        count += 1;
        let done = until_delivered(addr, count).await?;
        let ns = (done - t0).as_nanos() as u64;
        if through_s3 { &mut via_s3 } else { &mut direct }
            .record(ns)
            .ok();
    }
    let q = |h: &hdrhistogram::Histogram<u64>, p: f64| h.value_at_quantile(p) as f64 / 1e6;
    let mut md = format!(
        "#### Object-created notification latency ({samples} samples each, one at a time, no-op `hello` function; signing and connecting included in both)\n\n"
    );
    md += "| path | p50 ms | p99 ms |\n|---|---:|---:|\n";
    md += &format!(
        "| PUT 4 KiB → notification → function done | {:.2} | {:.2} |\n",
        q(&via_s3, 0.5),
        q(&via_s3, 0.99)
    );
    md += &format!(
        "| Invoke `Event` → function done (peer) | {:.2} | {:.2} |\n\n",
        q(&direct, 0.5),
        q(&direct, 0.99)
    );
    Ok(md)
}
