//! A `provided.al2023` bootstrap built with the official `lambda_runtime`
//! crate (`tests/fixtures/rust-bootstrap`, compiled on first use into the
//! target directory; the first build takes a few minutes).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::*;

fn bootstrap_binary() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("rust-bootstrap");
        let _lock = FileLock::take(&target.with_extension("lock"));
        let manifest = Path::new(FIXTURES).join("rust-bootstrap/Cargo.toml");
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = std::process::Command::new(cargo)
            .args([
                "build",
                "--release",
                "--locked",
                "--quiet",
                "--manifest-path",
            ])
            .arg(&manifest)
            .env("CARGO_TARGET_DIR", &target)
            .status()
            .expect("running cargo");
        assert!(
            status.success(),
            "building the lambda_runtime bootstrap failed"
        );
        target.join("release/bootstrap")
    })
    .clone()
}

fn rust_archive() -> CodeArchive {
    archive(vec![file(
        "bootstrap",
        std::fs::read(bootstrap_binary()).unwrap(),
        0o100755,
    )])
}

#[tokio::test]
async fn lambda_runtime_bootstrap_serves_warm_and_reports_errors() {
    let fx = runtime();
    let t = template(&fx.rt, "provided.al2023", &rust_archive());
    let mut env = start_ok(&t, &env_config(None)).await;
    for n in 1..=2 {
        let ran = invoke(
            &mut env,
            json!({"hello": "rust"}).to_string(),
            Duration::from_secs(5),
        )
        .await;
        let v = ran.json();
        assert_eq!(v["event"], json!({"hello": "rust"}));
        assert_eq!(v["count"], n);
        assert_eq!(v["request_id"], ran.request_id.as_str());
        assert_eq!(
            v["function_arn"],
            "arn:aws:lambda:eu-west-1:000000000000:function:test-fn"
        );
        assert!(
            ran.log
                .contains(&format!("rust handler {} count={n}", ran.request_id)),
            "{}",
            ran.log
        );
    }
    // lambda_runtime posts /error with `lambda-runtime-function-error-type`
    // and no content type.
    let ran = invoke(
        &mut env,
        json!({"fail": "no good"}).to_string(),
        Duration::from_secs(5),
    )
    .await;
    let err = ran.error();
    assert_eq!(err.error_message, "no good");
    assert!(!err.error_type.is_empty());
    assert!(!ran.outcome.discard);
    assert_eq!(
        invoke(&mut env, "{}", Duration::from_secs(5)).await.json()["count"],
        4
    );
}

#[tokio::test]
async fn cold_start_time_of_a_lambda_runtime_bootstrap() {
    let archive = rust_archive();
    let _heavy = heavy().await;
    let fx = runtime();
    let t = template(&fx.rt, "provided.al2023", &archive);
    let config = env_config(None);
    let mut init = Vec::new();
    let mut first = Vec::new();
    for _ in 0..20 {
        let started = Instant::now();
        let mut env = start_ok(&t, &config).await;
        init.push(started.elapsed());
        let ran = invoke(&mut env, "{}", Duration::from_secs(5)).await;
        first.push(started.elapsed());
        ran.json();
        if first.len() == 20 {
            let mut warm = Vec::new();
            for _ in 0..200 {
                let started = Instant::now();
                invoke(&mut env, "{}", Duration::from_secs(5)).await.json();
                warm.push(started.elapsed());
            }
            warm.sort();
            eprintln!(
                "lambda_runtime warm invoke: p50 {:?} p99 {:?}",
                warm[100], warm[198]
            );
        }
    }
    init.sort();
    first.sort();
    eprintln!(
        "lambda_runtime bootstrap: spawn → first /next p50 {:?} max {:?}; spawn → first response p50 {:?} max {:?}",
        init[10], init[19], first[10], first[19]
    );
    assert!(first[10] < Duration::from_secs(1));
}
