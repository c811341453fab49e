//! The Runtime API's edges, driven with curl from inside the sandbox.

use std::time::Duration;

use crate::*;

async fn shell_env(fx: &Fixture) -> Box<dyn updraft_pool::Environment> {
    let t = template(&fx.rt, "provided", &shell_archive());
    start_ok(&t, &env_config(None)).await
}

const API: &str = "http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime";

#[tokio::test]
async fn unknown_request_id_is_400_and_unknown_paths_404() {
    let fx = runtime();
    let mut env = shell_env(&fx).await;
    let out = sh(
        &mut env,
        &format!(
            "curl -s -w ' %{{http_code}}\\n' -X POST {API}/invocation/not-a-request/response -d x; \
             curl -s -w ' %{{http_code}}\\n' -X POST {API}/invocation/not-a-request/error -d x; \
             curl -s -w ' %{{http_code}}\\n' {API}/nowhere; \
             curl -s -w ' %{{http_code}}\\n' -X DELETE {API}/invocation/next"
        ),
    )
    .await;
    let lines: Vec<&str> = out.out.lines().collect();
    assert_eq!(
        lines[0],
        r#"{"errorMessage":"Invalid request ID","errorType":"InvalidRequestID"} 400"#
    );
    assert!(lines[1].ends_with(" 400"), "{}", out.out);
    assert!(lines[2].ends_with(" 404"), "{}", out.out);
    assert!(lines[3].ends_with(" 405"), "{}", out.out);
}

#[tokio::test]
async fn headers_are_case_insensitive_and_content_type_optional() {
    let fx = runtime();
    let mut env = shell_env(&fx).await;
    // The function answers itself, with odd header case and no
    // content type; the runner's own answer then gets 403.
    let ran = invoke(
        &mut env,
        format!(
            "curl -s -o /dev/null -w '%{{http_code}}' -H 'content-type:' -H 'LAMBDA-RUNTIME-FUNCTION-ERROR-TYPE: Custom.Type' \
             -X POST {API}/invocation/$REQUEST_ID/error --data-binary 'plain text failure' >&2"
        ),
        Duration::from_secs(5),
    )
    .await;
    let err = ran.error();
    assert_eq!(err.error_type, "Custom.Type");
    assert_eq!(err.error_message, "plain text failure");
    // The runner's own late answer was refused, and it serves on.
    let out = sh(&mut env, "true").await;
    assert_eq!(out.count, 2);
}

#[tokio::test]
async fn error_without_type_is_unhandled() {
    let fx = runtime();
    let mut env = shell_env(&fx).await;
    let ran = invoke(
        &mut env,
        format!("curl -s -X POST {API}/invocation/$REQUEST_ID/error -d '{{\"errorMessage\":\"no type\"}}' >&2"),
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(
        ran.error(),
        updraft_pool::FunctionError::new("Unhandled", "no type")
    );
}

#[tokio::test]
async fn second_answer_is_refused() {
    let fx = runtime();
    let mut env = shell_env(&fx).await;
    let ran = invoke(
        &mut env,
        format!(
            "curl -s -X POST {API}/invocation/$REQUEST_ID/response -d '\"first\"' >&2; \
             curl -s -w ' %{{http_code}}' -X POST {API}/invocation/$REQUEST_ID/response -d '\"second\"' > /tmp/second"
        ),
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(ran.body(), "\"first\"".as_bytes());
    let out = sh(&mut env, "cat /tmp/second").await;
    assert!(out.out.ends_with(" 403"), "{}", out.out);
    assert!(out.out.contains("InvalidStateTransition"), "{}", out.out);
}

#[tokio::test]
async fn oversized_response_is_413_and_a_function_error() {
    let fx = runtime();
    let mut env = shell_env(&fx).await;
    let ran = invoke(
        &mut env,
        format!(
            "head -c 7000000 /dev/zero | tr '\\0' a | curl -s -w ' %{{http_code}}' -X POST \
             {API}/invocation/$REQUEST_ID/response --data-binary @- > /tmp/status"
        ),
        Duration::from_secs(10),
    )
    .await;
    let err = ran.error();
    assert_eq!(err.error_type, "Function.ResponseSizeTooLarge");
    assert!(!ran.outcome.discard);
    let out = sh(&mut env, "cat /tmp/status").await;
    assert!(out.out.ends_with(" 413"), "{}", out.out);
    assert!(out.out.contains("RequestEntityTooLarge"), "{}", out.out);
    // Exactly 6 MB is fine.
    let ran = invoke(
        &mut env,
        format!(
            "head -c 6291456 /dev/zero | tr '\\0' a | curl -s -X POST \
             {API}/invocation/$REQUEST_ID/response --data-binary @- >&2"
        ),
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(ran.body().len(), 6 * 1024 * 1024);
}

#[tokio::test]
async fn streaming_response_is_collected() {
    let fx = runtime();
    let mut env = shell_env(&fx).await;
    let ran = invoke(
        &mut env,
        format!(
            "(printf 'hello '; sleep 0.2; printf 'streamed '; sleep 0.2; printf 'world') | \
             curl -s -X POST -H 'Lambda-Runtime-Function-Response-Mode: streaming' \
             -H 'Transfer-Encoding: chunked' -T - {API}/invocation/$REQUEST_ID/response >&2"
        ),
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(ran.body(), "hello streamed world".as_bytes());
}

#[tokio::test]
async fn init_error_after_init_is_403() {
    let fx = runtime();
    let mut env = shell_env(&fx).await;
    let out = sh(
        &mut env,
        &format!("curl -s -w ' %{{http_code}}' -X POST {API}/init/error -d '{{}}'"),
    )
    .await;
    assert!(out.out.ends_with(" 403"), "{}", out.out);
}

#[tokio::test]
async fn traceparent_reaches_the_runtime_as_the_xray_header() {
    let fx = runtime();
    let mut env = shell_env(&fx).await;
    let log = updraft_pool::LogSink::new(1 << 16);
    let outcome = env
        .invoke(updraft_pool::Invocation {
            request_id: "trace-test-1".into(),
            input: updraft_pool::Input::Event(bytes::Bytes::from_static(b"echo $TRACE_ID")),
            timeout: Duration::from_secs(5),
            log,
            traceparent: Some("00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01".into()),
        })
        .await;
    let body = outcome.result.unwrap().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    use base64::Engine as _;
    let out = base64::engine::general_purpose::STANDARD
        .decode(v["out"].as_str().unwrap())
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out),
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
    );
}
