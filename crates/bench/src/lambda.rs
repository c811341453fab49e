//! Signed `Invoke` requests (`POST /2015-03-31/functions/{name}/invocations`)
//! and signed `GET`s of `AWS_IAM` function URLs.
//!
//! A request is signed once with `updraft_auth::sign` and then sent as many
//! times as a run needs: the server verifies every copy in full (there is
//! no replay cache, and a signature stays valid for the 15-minute clock
//! skew), so the server-side cost is the real one while the load generator
//! does not spend the shared CPU on signing.

use std::net::SocketAddr;
use std::path::Path;
use std::time::SystemTime;

use anyhow::{anyhow, Context};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Request};
use http_body_util::Full;

/// The event every Invoke sends.
const PAYLOAD: &[u8] = b"{}";

pub struct SignedInvoke {
    path: String,
    headers: HeaderMap,
}

impl SignedInvoke {
    /// Signs an Invoke of `function` on the server at `addr` with the
    /// `[default]` profile of `credentials`; `tail` asks for the log tail.
    pub fn new(
        addr: SocketAddr,
        credentials: &Path,
        function: &str,
        tail: bool,
    ) -> anyhow::Result<Self> {
        let creds = updraft_auth::read_profile(credentials, "default")
            .with_context(|| format!("reading {}", credentials.display()))?;
        Self::with_key(addr, &creds, function, tail)
    }

    /// Signs an Invoke of `function` with the key `creds`.
    pub fn with_key(
        addr: SocketAddr,
        creds: &updraft_auth::Credentials,
        function: &str,
        tail: bool,
    ) -> anyhow::Result<Self> {
        let path = format!("/2015-03-31/functions/{function}/invocations");
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        headers.insert(
            "x-amz-invocation-type",
            HeaderValue::from_static("RequestResponse"),
        );
        headers.insert(
            "x-amz-log-type",
            HeaderValue::from_static(if tail { "Tail" } else { "None" }),
        );
        Ok(SignedInvoke {
            headers: sign(addr, creds, "POST", &path, headers, PAYLOAD)?,
            path,
        })
    }

    pub fn request(&self) -> Request<Full<Bytes>> {
        let mut req = Request::new(Full::new(Bytes::from_static(PAYLOAD)));
        *req.method_mut() = http::Method::POST;
        *req.uri_mut() = self.path.parse().expect("a valid path");
        *req.headers_mut() = self.headers.clone();
        req
    }
}

/// A `GET` of an `AWS_IAM` function URL (`/fn/{function}/`), signed once
/// for service `lambda` like [`SignedInvoke`] and sent as often as needed.
pub struct SignedUrlGet {
    path: String,
    headers: HeaderMap,
}

impl SignedUrlGet {
    pub fn new(
        addr: SocketAddr,
        creds: &updraft_auth::Credentials,
        function: &str,
    ) -> anyhow::Result<Self> {
        let path = format!("/fn/{function}/");
        Ok(SignedUrlGet {
            headers: sign(addr, creds, "GET", &path, HeaderMap::new(), b"")?,
            path,
        })
    }

    pub fn request(&self) -> Request<Full<Bytes>> {
        let mut req = Request::new(Full::new(Bytes::new()));
        *req.uri_mut() = self.path.parse().expect("a valid path");
        *req.headers_mut() = self.headers.clone();
        req
    }
}

/// `headers` with `Host` and the SigV4 headers of `method path` with
/// `body`, for service `lambda` in `us-east-1`.
fn sign(
    addr: SocketAddr,
    creds: &updraft_auth::Credentials,
    method: &str,
    path: &str,
    mut headers: HeaderMap,
    body: &[u8],
) -> anyhow::Result<HeaderMap> {
    headers.insert(
        http::header::HOST,
        HeaderValue::from_str(&addr.to_string())?,
    );
    updraft_auth::sign(
        method,
        &format!("http://{addr}{path}"),
        &headers,
        body,
        creds,
        "us-east-1",
        "lambda",
        SystemTime::now(),
    )
    .map_err(|e| anyhow!("signing {method} {path}: {e}"))
}

/// `Init Duration: 0.41 ms` from the base64 log tail of an Invoke, in
/// milliseconds; `None` for a warm invocation.
pub fn init_duration_ms(log_result: &str) -> Option<f64> {
    use base64::Engine as _;
    let log = base64::engine::general_purpose::STANDARD
        .decode(log_result.trim())
        .ok()?;
    let log = String::from_utf8_lossy(&log);
    let rest = &log[log.find("Init Duration: ")? + "Init Duration: ".len()..];
    rest.split(" ms").next()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;

    use super::init_duration_ms;

    #[test]
    fn reads_init_duration_from_the_report_line() {
        let log = "START RequestId: a Version: $LATEST\nEND RequestId: a\n\
                   REPORT RequestId: a\tDuration: 0.20 ms\tBilled Duration: 1 ms\t\
                   Memory Size: 128 MB\tMax Memory Used: 1 MB\tInit Duration: 0.41 ms\t\n";
        let b64 = base64::engine::general_purpose::STANDARD.encode(log);
        assert_eq!(init_duration_ms(&b64), Some(0.41));
        let warm = base64::engine::general_purpose::STANDARD
            .encode("REPORT RequestId: a\tDuration: 0.20 ms\t\n");
        assert_eq!(init_duration_ms(&warm), None);
    }
}
