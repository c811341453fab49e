//! `hello-http`: a `wasi:http/incoming-handler` component.
//!
//! Build with `cargo build --release --target wasm32-wasip2` and deploy the
//! resulting `hello_http.wasm` with runtime `wasm`. Every request gets
//! `Hello from updraft!` plus its method and path. The request counter lives
//! in the instance, so `x-invocation-count` grows while the same warm
//! environment serves requests and starts again at 1 after a cold start.

use std::sync::atomic::{AtomicU64, Ordering};

use wasi::http::types::{
    Fields, IncomingRequest, Method, OutgoingBody, OutgoingResponse, ResponseOutparam,
};

static INVOCATIONS: AtomicU64 = AtomicU64::new(0);

struct Hello;

wasi::http::proxy::export!(Hello);

fn method_name(method: Method) -> String {
    match method {
        Method::Get => "GET".into(),
        Method::Head => "HEAD".into(),
        Method::Post => "POST".into(),
        Method::Put => "PUT".into(),
        Method::Delete => "DELETE".into(),
        Method::Connect => "CONNECT".into(),
        Method::Options => "OPTIONS".into(),
        Method::Trace => "TRACE".into(),
        Method::Patch => "PATCH".into(),
        Method::Other(other) => other,
    }
}

impl wasi::exports::http::incoming_handler::Guest for Hello {
    fn handle(request: IncomingRequest, response_out: ResponseOutparam) {
        let count = INVOCATIONS.fetch_add(1, Ordering::Relaxed) + 1;
        let method = method_name(request.method());
        let path = request.path_with_query().unwrap_or_else(|| "/".into());
        eprintln!("hello-http: {method} {path} (invocation {count})");

        let text = format!("Hello from updraft!\nYou sent {method} {path}\n");
        let headers = Fields::from_list(&[
            ("content-type".to_string(), b"text/plain; charset=utf-8".to_vec()),
            ("x-invocation-count".to_string(), count.to_string().into_bytes()),
        ])
        .expect("static headers are valid");
        let response = OutgoingResponse::new(headers);
        let body = response.body().expect("the body is taken once");
        ResponseOutparam::set(response_out, Ok(response));

        let stream = body.write().expect("the stream is taken once");
        stream
            .blocking_write_and_flush(text.as_bytes())
            .expect("the response body is written");
        drop(stream);
        OutgoingBody::finish(body, None).expect("the response body is finished");
    }
}
