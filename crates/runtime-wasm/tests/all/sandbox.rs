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
