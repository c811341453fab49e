//! The API as the real boto3 drives it: a small HTTP server hands every
//! POST to `Tables::execute` by its `X-Amz-Target` (no signature check),
//! and tests/py/boto3_tables.py uses boto3's client and resource layers.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use updraft_tables::Tables;

use crate::Db;

async fn handle(
    State(tables): State<Arc<Tables>>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, [(&'static str, &'static str); 1], String) {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let op = target
        .strip_prefix("DynamoDB_20120810.")
        .unwrap_or(target)
        .to_string();
    let result = tokio::task::spawn_blocking(move || tables.execute(&op, &body))
        .await
        .expect("execute does not panic");
    let (status, body) = match result {
        Ok(out) => (200, out.to_string()),
        Err(e) => (e.status(), e.body().to_string()),
    };
    (
        StatusCode::from_u16(status).expect("status"),
        [("content-type", "application/x-amz-json-1.0")],
        body,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boto3_client_and_resource_layers() {
    let db = Db::new();
    let app = Router::new()
        .route("/", post(handle))
        .with_state(db.tables.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/py/boto3_tables.py");
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("python3")
            .arg(script)
            .env("ENDPOINT", format!("http://{addr}"))
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .output()
            .expect("python3 runs")
    })
    .await
    .unwrap();
    server.abort();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.trim_end().ends_with("OK"),
        "boto3_tables.py failed:\n{stdout}\n{stderr}"
    );
}
