//! A small signed client for updraft's own API, used by the CLI.

use std::path::Path;
use std::time::SystemTime;

use anyhow::{anyhow, bail, Context};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method};
use updraft_auth::Credentials;

pub struct Client {
    endpoint: String,
    creds: Credentials,
    /// The session token of temporary credentials.
    session_token: Option<String>,
    region: String,
    http: reqwest::Client,
}

/// An answer from the server.
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Answer {
    pub fn json(&self) -> anyhow::Result<serde_json::Value> {
        serde_json::from_slice(&self.body).context("the server's answer is not JSON")
    }

    /// Turns a Lambda or JSON-protocol error answer into one clear line.
    pub fn error_for_status(self) -> anyhow::Result<Answer> {
        if self.status < 300 {
            return Ok(self);
        }
        let error_type = self
            .headers
            .get("x-amzn-errortype")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("Error")
            .to_string();
        let body: serde_json::Value = serde_json::from_slice(&self.body).unwrap_or_default();
        let message = body["Message"]
            .as_str()
            .or(body["message"].as_str())
            .map(str::to_string)
            .unwrap_or_else(|| String::from_utf8_lossy(&self.body).into_owned());
        bail!("{error_type}: {message}")
    }
}

impl Client {
    /// Credentials from `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY` (and
    /// `AWS_SESSION_TOKEN` for temporary ones), else from the server's
    /// `<data-dir>/credentials`.
    pub fn new(endpoint: &str, data_dir: &Path, region: &str) -> anyhow::Result<Self> {
        let mut session_token = None;
        let creds = match (
            std::env::var("AWS_ACCESS_KEY_ID"),
            std::env::var("AWS_SECRET_ACCESS_KEY"),
        ) {
            (Ok(id), Ok(secret)) => {
                session_token = std::env::var("AWS_SESSION_TOKEN")
                    .ok()
                    .filter(|t| !t.is_empty());
                Credentials {
                    access_key_id: id,
                    secret_access_key: secret,
                }
            }
            _ => {
                let path = data_dir.join("credentials");
                updraft_auth::read_profile(&path, "default").with_context(|| {
                    format!(
                        "no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or point --data-dir at the server's data directory ({} is not readable)",
                        path.display()
                    )
                })?
            }
        };
        Ok(Client {
            endpoint: endpoint.trim_end_matches('/').to_string(),
            creds,
            session_token,
            region: region.to_string(),
            http: reqwest::Client::new(),
        })
    }

    /// Sends a signed request; `path_and_query` must be percent-encoded.
    pub async fn send(
        &self,
        method: Method,
        path_and_query: &str,
        service: &str,
        extra: &[(&str, &str)],
        body: Vec<u8>,
    ) -> anyhow::Result<Answer> {
        let url = format!("{}{}", self.endpoint, path_and_query);
        let mut headers = HeaderMap::new();
        for (k, v) in extra {
            headers.insert(
                http::HeaderName::from_bytes(k.as_bytes())?,
                HeaderValue::from_str(v)?,
            );
        }
        if let Some(token) = &self.session_token {
            // Signed, as the AWS SDKs sign it.
            headers.insert("x-amz-security-token", HeaderValue::from_str(token)?);
        }
        let signed = updraft_auth::sign(
            method.as_str(),
            &url,
            &headers,
            &body,
            &self.creds,
            &self.region,
            service,
            SystemTime::now(),
        )
        .map_err(|e| anyhow!("{e}"))?;
        let resp = self
            .http
            .request(method, &url)
            .headers(signed)
            .body(body)
            .send()
            .await
            .with_context(|| format!("cannot reach updraft at {}", self.endpoint))?;
        Ok(Answer {
            status: resp.status().as_u16(),
            headers: resp.headers().clone(),
            body: resp.bytes().await?,
        })
    }

    pub async fn lambda(
        &self,
        method: Method,
        path_and_query: &str,
        body: Option<serde_json::Value>,
    ) -> anyhow::Result<Answer> {
        let (extra, bytes): (&[(&str, &str)], Vec<u8>) = match &body {
            Some(b) => (
                &[("content-type", "application/json")],
                b.to_string().into_bytes(),
            ),
            None => (&[], Vec::new()),
        };
        self.send(method, path_and_query, "lambda", extra, bytes)
            .await
    }
}

/// Encodes one path segment (a function name, a qualifier).
pub fn seg(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}
