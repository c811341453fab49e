//! Integration tests of the WebAssembly runtime, against guest programs
//! built from source by `updraft-test-support`. One binary, one module per
//! area.

mod cache;
mod command;
mod incoming;
mod kinds;
mod limits;
mod sandbox;
mod storage;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use sha2::{Digest, Sha256};
use tokio::sync::oneshot;
use updraft_pool::{
    Body, EnvConfig, Environment, Input, Invocation, LogSink, Outcome, Runtime, Template,
};
use updraft_runtime_wasm::{WasmConfig, WasmRuntime};
use updraft_types::{ArchiveFile, CodeArchive};

/// A runtime with its own cache directory (kept alive by the returned guard).
pub fn runtime() -> (WasmRuntime, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime_in(dir.path());
    (rt, dir)
}

pub fn runtime_in(cache: &std::path::Path) -> WasmRuntime {
    WasmRuntime::new(WasmConfig {
        max_instances: 16,
        tmp_dir: cache.join("tmp"),
        ..WasmConfig::new(cache)
    })
    .unwrap()
}

pub fn archive_of(files: &[(&str, &[u8])]) -> CodeArchive {
    CodeArchive {
        files: files
            .iter()
            .map(|(path, data)| ArchiveFile {
                path: path.to_string(),
                data: Bytes::copy_from_slice(data),
                mode: None,
            })
            .collect(),
    }
}

pub fn guest_archive(guest: &str) -> CodeArchive {
    let bytes = updraft_test_support::read_guest(guest);
    archive_of(&[("function.wasm", &bytes)])
}

pub fn sha_of(guest: &str) -> String {
    hex::encode(Sha256::digest(updraft_test_support::read_guest(guest)))
}

pub fn config() -> EnvConfig {
    let mut env = BTreeMap::new();
    env.insert(
        "AWS_LAMBDA_FUNCTION_NAME".to_string(),
        "test-fn".to_string(),
    );
    env.insert("GREETING".to_string(), "hi".to_string());
    EnvConfig {
        handler: None,
        function_name: "test-fn".into(),
        version: "$LATEST".into(),
        memory_mb: 128,
        ephemeral_storage_mb: 512,
        timeout: Duration::from_secs(3),
        env,
        function_arn: "arn:aws:lambda:us-east-1:000000000000:function:test-fn".into(),
        role: "arn:aws:iam::000000000000:role/test-role".into(),
    }
}

/// Prepares and loads a guest.
pub fn template(rt: &WasmRuntime, guest: &str) -> Arc<dyn Template> {
    let archive = guest_archive(guest);
    let sha = sha_of(guest);
    let kind = rt.prepare("wasm", &sha, &archive).unwrap();
    rt.load("wasm", &sha, &kind, &|| Ok(archive.clone()))
        .unwrap_or_else(|e| panic!("load: {e}"))
}

pub async fn start(template: &Arc<dyn Template>) -> Box<dyn Environment> {
    start_with(template, &config()).await
}

pub async fn start_with(template: &Arc<dyn Template>, config: &EnvConfig) -> Box<dyn Environment> {
    match template.start(config, &LogSink::new(1 << 20)).await {
        Ok(env) => env,
        Err(e) => panic!("start: {e:?}"),
    }
}

pub fn body_of(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

pub fn get(path: &str) -> http::Request<Body> {
    http::Request::builder()
        .uri(path)
        .header("host", "fn.example")
        .body(body_of(Bytes::new()))
        .unwrap()
}

/// What an HTTP invocation produced.
pub struct HttpResult {
    pub outcome: Outcome,
    pub response: Option<(http::response::Parts, Bytes)>,
    pub log: String,
}

/// Invokes with an HTTP request, reading the response while the
/// invocation runs (as a server would).
pub async fn call(
    env: &mut Box<dyn Environment>,
    request: http::Request<Body>,
    timeout: Duration,
) -> HttpResult {
    let (respond, response) = oneshot::channel();
    let log = LogSink::new(1 << 20);
    let inv = Invocation {
        request_id: "req-1".into(),
        input: Input::Http { request, respond },
        timeout,
        log: log.clone(),
        traceparent: None,
    };
    let read = async {
        let response = response.await.ok()?;
        let (parts, body) = response.into_parts();
        let body = body.collect().await.ok()?.to_bytes();
        Some((parts, body))
    };
    let (outcome, response) = tokio::join!(env.invoke(inv), read);
    HttpResult {
        outcome,
        response,
        log: String::from_utf8_lossy(&log.take()).into_owned(),
    }
}

/// Invokes with an event payload; returns the outcome and the log.
pub async fn event(
    env: &mut Box<dyn Environment>,
    payload: &str,
    timeout: Duration,
) -> (Outcome, String) {
    let log = LogSink::new(1 << 20);
    let inv = Invocation {
        request_id: "req-1".into(),
        input: Input::Event(Bytes::copy_from_slice(payload.as_bytes())),
        timeout,
        log: log.clone(),
        traceparent: None,
    };
    let outcome = env.invoke(inv).await;
    (outcome, String::from_utf8_lossy(&log.take()).into_owned())
}

pub fn json(bytes: &[u8]) -> serde_json::Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(bytes)))
}

pub const SECS_3: Duration = Duration::from_secs(3);
