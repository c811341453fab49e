//! `wasi:http` components: round trips, streaming, warm reuse, events.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body::Frame;
use http_body_util::{BodyExt, StreamBody};
use updraft_pool::{BoxError, Protocol};
use updraft_test_support as guests;

use crate::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echoes_a_request() {
    let (rt, _dir) = runtime();
    let template = template(&rt, guests::HTTP_ECHO);
    assert_eq!(template.protocol(), Protocol::Http);
    let mut env = start(&template).await;
    assert_eq!(env.protocol(), Protocol::Http);

    let request = http::Request::builder()
        .method("PUT")
        .uri("/items/7?color=blue&size=9")
        .header("host", "fn.example")
        .header("x-custom", "yes")
        .body(body_of("the body"))
        .unwrap();
    let result = call(&mut env, request, SECS_3).await;
    assert_eq!(result.outcome.result.unwrap(), None);
    assert!(!result.outcome.discard);
    assert!(result.outcome.max_memory_bytes > 0);
    let (parts, body) = result.response.expect("a response");
    assert_eq!(parts.status, 200);
    assert_eq!(parts.headers["content-type"], "application/json");
    let doc = json(&body);
    assert_eq!(doc["method"], "PUT");
    assert_eq!(doc["path"], "/items/7");
    assert_eq!(doc["query"], "color=blue&size=9");
    assert_eq!(doc["headers"]["x-custom"], "yes");
    assert_eq!(doc["body"], "the body");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_the_response_head_before_the_body() {
    let (rt, _dir) = runtime();
    let template = template(&rt, guests::HTTP_ECHO);
    let mut env = start(&template).await;

    let (respond, response) = oneshot::channel();
    let inv = Invocation {
        request_id: "req-stream".into(),
        input: Input::Http {
            request: get("/stream?chunks=3&delay_ms=200"),
            respond,
        },
        timeout: SECS_3,
        log: LogSink::new(1024),
        traceparent: None,
    };
    let began = Instant::now();
    let read = async {
        let response = response.await.unwrap();
        let head_at = began.elapsed();
        let mut body = response.into_body();
        let mut chunks = Vec::new();
        while let Some(frame) = body.frame().await {
            if let Ok(data) = frame.unwrap().into_data() {
                chunks.push((began.elapsed(), data));
            }
        }
        (head_at, chunks)
    };
    let (outcome, (head_at, chunks)) = tokio::join!(env.invoke(inv), read);
    let finished = began.elapsed();
    assert_eq!(outcome.result.unwrap(), None);
    let text: Vec<u8> = chunks.iter().flat_map(|(_, c)| c.to_vec()).collect();
    assert_eq!(text, b"chunk 0\nchunk 1\nchunk 2\n");
    // The head arrived before the first chunk was even written, and the
    // chunks arrived one by one.
    assert!(
        head_at < Duration::from_millis(150),
        "head after {head_at:?}"
    );
    assert!(chunks.len() >= 3, "{} frames", chunks.len());
    let (last_at, _) = chunks.last().unwrap();
    assert!(
        *last_at >= Duration::from_millis(550),
        "body done after {last_at:?}"
    );
    assert!(finished >= *last_at);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_the_request_body_both_ways() {
    let (rt, _dir) = runtime();
    let template = template(&rt, guests::HTTP_ECHO);
    let mut env = start(&template).await;

    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, BoxError>>(1);
    let stream = futures_stream(rx);
    let request = http::Request::builder()
        .method("POST")
        .uri("/echo-body")
        .header("host", "fn.example")
        .body(StreamBody::new(stream).boxed_unsync())
        .unwrap();
    let (respond, response) = oneshot::channel();
    let inv = Invocation {
        request_id: "req-echo".into(),
        input: Input::Http { request, respond },
        timeout: SECS_3,
        log: LogSink::new(1024),
        traceparent: None,
    };
    let conversation = async {
        let mut body = response.await.unwrap().into_body();
        // Each piece comes back before the next one is sent.
        for piece in ["ping-1", "ping-2", "ping-3"] {
            tx.send(Ok(Frame::data(Bytes::from(piece)))).await.unwrap();
            let frame = body.frame().await.unwrap().unwrap();
            assert_eq!(frame.into_data().unwrap(), piece);
        }
        drop(tx);
        assert!(body.frame().await.is_none(), "body ends with the request");
    };
    let (outcome, ()) = tokio::join!(env.invoke(inv), conversation);
    assert_eq!(outcome.result.unwrap(), None);
}

/// A `Stream` over an mpsc receiver.
fn futures_stream<T: Send + 'static>(
    rx: tokio::sync::mpsc::Receiver<T>,
) -> impl futures::Stream<Item = T> {
    futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|v| (v, rx)) })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warm_environments_keep_their_state() {
    let (rt, _dir) = runtime();
    let template = template(&rt, guests::HTTP_STATE);
    let mut env = start(&template).await;
    for expected in ["1", "2", "3"] {
        let result = call(&mut env, get("/"), SECS_3).await;
        assert!(!result.outcome.discard);
        assert_eq!(result.response.unwrap().1, expected);
    }
    // A cold start is a new instance.
    let mut other = start(&template).await;
    assert_eq!(
        call(&mut other, get("/"), SECS_3).await.response.unwrap().1,
        "1"
    );
    assert_eq!(
        call(&mut env, get("/"), SECS_3).await.response.unwrap().1,
        "4"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hello_http_example_counts_invocations() {
    let (rt, _dir) = runtime();
    let template = template(&rt, guests::EXAMPLE_HELLO_HTTP);
    let mut env = start(&template).await;
    for count in ["1", "2"] {
        let result = call(&mut env, get("/hi?x=1"), SECS_3).await;
        let (parts, body) = result.response.unwrap();
        assert_eq!(parts.status, 200);
        assert_eq!(parts.headers["x-invocation-count"], count);
        let text = String::from_utf8(body.to_vec()).unwrap();
        assert!(text.starts_with("Hello from updraft!"), "{text}");
        assert!(text.contains("GET /hi?x=1"), "{text}");
        assert!(
            result.log.contains("hello-http: GET /hi?x=1"),
            "{}",
            result.log
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_become_post_requests() {
    let (rt, _dir) = runtime();
    let template = template(&rt, guests::HTTP_ECHO);
    let mut env = start(&template).await;
    let (outcome, _) = event(&mut env, r#"{"name":"Ada"}"#, SECS_3).await;
    assert!(!outcome.discard);
    let doc = json(&outcome.result.unwrap().unwrap());
    assert_eq!(doc["method"], "POST");
    assert_eq!(doc["path"], "/");
    assert_eq!(doc["headers"]["content-type"], "application/json");
    assert_eq!(doc["body"], r#"{"name":"Ada"}"#);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_500_is_a_response_or_a_function_error() {
    let (rt, _dir) = runtime();
    let template = template(&rt, guests::HTTP_500);
    let mut env = start(&template).await;

    // Over HTTP the caller gets the 500 as the function sent it.
    let result = call(&mut env, get("/"), SECS_3).await;
    assert_eq!(result.outcome.result.unwrap(), None);
    let (parts, body) = result.response.unwrap();
    assert_eq!(parts.status, 500);
    assert_eq!(body, "boom");

    // As an event it is a function error; the environment stays usable.
    let (outcome, _) = event(&mut env, "{}", SECS_3).await;
    let err = outcome.result.unwrap_err();
    assert_eq!(err.error_type, "Function.ResponseError");
    assert_eq!(err.error_message, "function returned HTTP status 500");
    assert!(!outcome.discard);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trap_is_a_function_error_and_discards() {
    let (rt, _dir) = runtime();
    let template = template(&rt, guests::HTTP_TRAP);
    let mut env = start(&template).await;
    let result = call(&mut env, get("/"), SECS_3).await;
    assert!(
        result.response.is_none(),
        "no response from a trapped guest"
    );
    assert!(result.outcome.discard);
    let err = result.outcome.result.unwrap_err();
    assert_eq!(err.error_type, "Runtime.Trap");
    assert!(
        err.error_message
            .starts_with("RequestId: req-1 Error: Runtime exited with error: wasm trap:"),
        "{}",
        err.error_message
    );
    assert!(
        result.log.contains("guest panicked on purpose"),
        "{}",
        result.log
    );

    // The same guest as an event: same error.
    let mut env = start(&template).await;
    let (outcome, _) = event(&mut env, "{}", SECS_3).await;
    assert_eq!(outcome.result.unwrap_err().error_type, "Runtime.Trap");
    assert!(outcome.discard);
}
