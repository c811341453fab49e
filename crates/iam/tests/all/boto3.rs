//! The replies as the real boto3 parses them: a small HTTP server hands
//! every POST body to `Iam::handle` as the root of the bootstrap account
//! (no signature check), and tests/py/shapes.py drives it with boto3.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use percent_encoding::percent_decode_str;
use updraft_iam::{Api, Iam};

use crate::*;

fn form_pairs(body: &[u8]) -> Vec<(String, String)> {
    let decode = |s: &str| {
        let s = s.replace('+', " ");
        percent_decode_str(&s).decode_utf8_lossy().into_owned()
    };
    String::from_utf8_lossy(body)
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

async fn handle(State(dir): State<Arc<Iam>>, body: Bytes) -> (StatusCode, String) {
    let params = form_pairs(&body);
    let api = if params
        .iter()
        .any(|(k, v)| k == "Version" && v == "2011-06-15")
    {
        Api::Sts
    } else {
        Api::Iam
    };
    let reply = dir.handle(api, &root(), &params, &meta());
    (StatusCode::from_u16(reply.status).unwrap(), reply.body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boto3_parses_every_reply() {
    let (_d, dir) = open();
    let app = Router::new()
        .route("/", post(handle))
        .with_state(Arc::new(dir));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/py/shapes.py");
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
        "shapes.py failed:\n{stdout}\n{stderr}"
    );
}
