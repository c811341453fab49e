//! What a guest can see: its environment, a private /tmp, nothing else.

use updraft_test_support as guests;

use crate::*;

async fn report(env: &mut Box<dyn Environment>, path: &str) -> serde_json::Value {
    let result = call(env, get(path), SECS_3).await;
    assert!(result.outcome.result.is_ok(), "{:?}", result.outcome.result);
    json(&result.response.unwrap().1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sees_its_environment_and_arguments() {
    let (rt, _dir) = runtime();
    let template = template(&rt, guests::HTTP_ENV);
    let mut env = start(&template).await;
    let doc = report(&mut env, "/").await;
    assert_eq!(doc["env"]["GREETING"], "hi");
    assert_eq!(doc["env"]["AWS_LAMBDA_FUNCTION_NAME"], "test-fn");
    assert_eq!(doc["env"].as_object().unwrap().len(), 2, "{doc}");
    assert_eq!(doc["args"], serde_json::json!(["test-fn"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tmp_is_empty_and_private() {
    let (rt, _dir) = runtime();
    let template = template(&rt, guests::HTTP_ENV);
    let mut a = start(&template).await;
    let mut b = start(&template).await;
    assert_eq!(report(&mut a, "/").await["tmp"], serde_json::json!([]));

    let doc = report(&mut a, "/?write=secret.txt").await;
    assert_eq!(doc["write_error"], serde_json::Value::Null);
    assert_eq!(doc["tmp"], serde_json::json!(["secret.txt"]));
    // Survives in the same (warm) environment, invisible to another.
    assert_eq!(
        report(&mut a, "/").await["tmp"],
        serde_json::json!(["secret.txt"])
    );
    assert_eq!(report(&mut b, "/").await["tmp"], serde_json::json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_files_outside_tmp() {
    let (rt, _dir) = runtime();
    let template = template(&rt, guests::HTTP_ENV);
    let mut env = start(&template).await;
    let doc = report(&mut env, "/").await;
    let passwd = doc["passwd"].as_str().unwrap();
    assert!(passwd.starts_with("error:"), "{passwd}");
    let doc = report(&mut env, "/?write=../escape.txt").await;
    assert!(doc["write_error"].is_string(), "{doc}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_network() {
    let (rt, _dir) = runtime();
    let template = template(&rt, guests::HTTP_NET);
    let mut env = start(&template).await;
    let doc = report(&mut env, "/").await;
    let http = doc["http"].as_str().unwrap();
    assert!(http.contains("HttpRequestDenied"), "{http}");
    let tcp = doc["tcp"].as_str().unwrap();
    assert!(tcp.starts_with("error:"), "{tcp}");
}

/// A runtime whose guests may call `endpoint_url`.
fn runtime_with_endpoint(endpoint_url: &str) -> (WasmRuntime, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let rt = WasmRuntime::new(WasmConfig {
        max_instances: 4,
        tmp_dir: dir.path().join("tmp"),
        endpoint_url: Some(endpoint_url.to_string()),
        ..WasmConfig::new(dir.path())
    })
    .unwrap();
    (rt, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sees_the_platforms_endpoint_and_its_roles_credentials() {
    let (rt, _dir) = runtime_with_endpoint("http://127.0.0.1:9000");
    let template = template(&rt, guests::HTTP_ENV);
    let mut config = config();
    // What the pools add on a cold start.
    for (k, v) in [
        ("AWS_ACCESS_KEY_ID", "ASIAEXAMPLE"),
        ("AWS_SECRET_ACCESS_KEY", "secret"),
        ("AWS_SESSION_TOKEN", "token"),
        ("AWS_ENDPOINT_URL", "http://attacker.example"),
    ] {
        config.env.insert(k.into(), v.into());
    }
    let mut env = start_with(&template, &config).await;
    let doc = report(&mut env, "/").await;
    assert_eq!(doc["env"]["AWS_ACCESS_KEY_ID"], "ASIAEXAMPLE");
    assert_eq!(doc["env"]["AWS_SECRET_ACCESS_KEY"], "secret");
    assert_eq!(doc["env"]["AWS_SESSION_TOKEN"], "token");
    assert_eq!(
        doc["env"]["AWS_ENDPOINT_URL"], "http://127.0.0.1:9000",
        "the platform's endpoint wins: {doc}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outgoing_requests_reach_the_endpoint_and_nothing_else() {
    // The guest calls http://127.0.0.1:9/. With another endpoint it is
    // refused before any connection is tried.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (rt, _dir) = runtime_with_endpoint(&format!("http://127.0.0.1:{port}"));
    let mut env = start(&template(&rt, guests::HTTP_NET)).await;
    let doc = report(&mut env, "/").await;
    let http = doc["http"].as_str().unwrap();
    assert!(http.contains("HttpRequestDenied"), "{http}");
    let tcp = doc["tcp"].as_str().unwrap();
    assert!(tcp.starts_with("error:"), "sockets stay closed: {tcp}");

    // With 127.0.0.1:9 as the endpoint the same request is sent: it fails
    // only because nothing listens there.
    let (rt, _dir) = runtime_with_endpoint("http://127.0.0.1:9");
    let mut env = start(&template(&rt, guests::HTTP_NET)).await;
    let doc = report(&mut env, "/").await;
    let http = doc["http"].as_str().unwrap();
    assert!(!http.contains("HttpRequestDenied"), "{http}");
    assert!(http.contains("ConnectionRefused"), "{http}");
    let tcp = doc["tcp"].as_str().unwrap();
    assert!(tcp.starts_with("error:"), "sockets stay closed: {tcp}");
}

#[test]
fn an_invalid_endpoint_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let err = WasmRuntime::new(WasmConfig {
        endpoint_url: Some("127.0.0.1:9000".into()),
        tmp_dir: dir.path().join("tmp"),
        ..WasmConfig::new(dir.path())
    })
    .err()
    .expect("refused");
    assert!(err.to_string().contains("http://"), "{err}");
}
