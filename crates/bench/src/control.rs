//! The control plane and the server's own numbers: signed Lambda API calls
//! (each signed with `updraft_auth::sign`), `/metrics` samples, and the
//! server process's resident memory and CPU time from `/proc`.

use std::net::SocketAddr;
use std::path::Path;
use std::time::SystemTime;

use anyhow::{anyhow, bail, Context};
use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Request};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;

use crate::load::connect;

/// A client of one updraft's Lambda API on one keep-alive connection.
pub struct Api {
    addr: SocketAddr,
    creds: updraft_auth::Credentials,
    conn: SendRequest<Full<Bytes>>,
}

impl Api {
    pub async fn new(addr: SocketAddr, credentials: &Path) -> anyhow::Result<Self> {
        let creds = updraft_auth::read_profile(credentials, "default")
            .with_context(|| format!("reading {}", credentials.display()))?;
        Ok(Api {
            addr,
            creds,
            conn: connect(addr).await?,
        })
    }

    /// One signed request: the status and the body.
    pub async fn call(
        &mut self,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> anyhow::Result<(u16, Bytes)> {
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::HOST,
            HeaderValue::from_str(&self.addr.to_string())?,
        );
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        let signed = updraft_auth::sign(
            method,
            &format!("http://{}{path}", self.addr),
            &headers,
            body,
            &self.creds,
            "us-east-1",
            "lambda",
            SystemTime::now(),
        )
        .map_err(|e| anyhow!("signing {method} {path}: {e}"))?;
        let mut req = Request::new(Full::new(Bytes::copy_from_slice(body)));
        *req.method_mut() = method.parse()?;
        *req.uri_mut() = path.parse()?;
        *req.headers_mut() = signed;
        if self.conn.ready().await.is_err() {
            self.conn = connect(self.addr).await?;
        }
        let resp = self.conn.send_request(req).await?;
        let status = resp.status().as_u16();
        let body = resp.into_body().collect().await?.to_bytes();
        Ok((status, body))
    }

    /// CreateFunction from a zip; fails unless the answer is 201.
    pub async fn create_function(
        &mut self,
        name: &str,
        runtime: &str,
        handler: Option<&str>,
        zip_b64: &str,
    ) -> anyhow::Result<()> {
        let handler = handler
            .map(|h| format!(r#""Handler":"{h}","#))
            .unwrap_or_default();
        let body = format!(
            r#"{{"FunctionName":"{name}","Runtime":"{runtime}",{handler}"Role":"arn:aws:iam::000000000000:role/updraft","Code":{{"ZipFile":"{zip_b64}"}}}}"#
        );
        let (status, resp) = self
            .call("POST", "/2015-03-31/functions", body.as_bytes())
            .await?;
        if status != 201 {
            bail!(
                "CreateFunction {name}: {status} {}",
                String::from_utf8_lossy(&resp)
            );
        }
        Ok(())
    }
}

/// Base64 of a package, as `Code.ZipFile` carries it.
pub fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// `GET /metrics` on `conn`: the text.
pub async fn scrape(
    conn: &mut SendRequest<Full<Bytes>>,
    addr: SocketAddr,
) -> anyhow::Result<String> {
    let req = Request::get("/metrics")
        .header(http::header::HOST, addr.to_string())
        .body(Full::new(Bytes::new()))?;
    conn.ready().await?;
    let resp = conn.send_request(req).await?;
    let body = resp.into_body().collect().await?.to_bytes();
    Ok(String::from_utf8_lossy(&body).into_owned())
}

/// The value of `name{function="function"}` in a Prometheus text, 0 when
/// the series is absent (a gauge without environments is not rendered).
pub fn metric(text: &str, name: &str, function: &str) -> f64 {
    let series = format!("{name}{{function=\"{function}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(series.as_str()))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

/// `VmRSS` of a process, in KiB.
pub fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmRSS in /proc/PID/status")
}

/// User + system CPU time of a process (all its threads), in seconds.
pub fn cpu_seconds(pid: u32) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The fields after the command name, which is in parentheses.
    let rest = &stat[stat.rfind(')').context("malformed stat")? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of stat, 12 and 13 here.
    let ticks: f64 = fields[11].parse::<f64>()? + fields[12].parse::<f64>()?;
    Ok(ticks / clock_ticks())
}

/// CPU seconds a thread of `pid` named `comm` has used (its
/// `schedstat`, in nanoseconds), or `None` if it has no such thread.
pub fn thread_cpu_seconds(pid: u32, comm: &str) -> anyhow::Result<Option<f64>> {
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))? {
        let dir = task?.path();
        let name = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
        if name.trim_end() == comm {
            let stat = std::fs::read_to_string(dir.join("schedstat"))?;
            let ns: f64 = stat
                .split_whitespace()
                .next()
                .context("empty schedstat")?
                .parse()?;
            return Ok(Some(ns / 1e9));
        }
    }
    Ok(None)
}

/// `getconf CLK_TCK`, 100 when it cannot be run.
fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// The machine, for the results section: date, CPUs, memory, kernel, load.
pub fn machine() -> String {
    let run = |prog: &str, args: &[&str]| {
        std::process::Command::new(prog)
            .args(args)
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default()
    };
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
        .unwrap_or_default();
    let mem_gib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0 / 1024.0)
        .unwrap_or(0.0);
    format!(
        "- date: {} (`date -u`)\n- machine: `nproc` = {}; {model}; {mem_gib:.0} GiB RAM; Linux {}\n- load average at the start: {}",
        run("date", &["-u"]),
        run("nproc", &[]),
        run("uname", &["-r"]),
        loadavg(),
    )
}

/// The 1-, 5- and 15-minute load averages.
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::metric;

    #[test]
    fn reads_one_series() {
        let text = "# TYPE updraft_environments gauge\n\
                    updraft_environments{function=\"a\"} 12\n\
                    updraft_environments{function=\"ab\"} 3\n\
                    updraft_cold_starts_total{function=\"a\"} 7\n";
        assert_eq!(metric(text, "updraft_environments", "a"), 12.0);
        assert_eq!(metric(text, "updraft_environments", "ab"), 3.0);
        assert_eq!(metric(text, "updraft_cold_starts_total", "a"), 7.0);
        assert_eq!(metric(text, "updraft_environments", "b"), 0.0);
    }
}
