//! Helpers shared by the test guests (included with `#[path]`, so every
//! guest stays a single small crate without extra dependencies).

#![allow(dead_code)]

use wasi::http::types::{
    Fields, IncomingRequest, Method, OutgoingBody, OutgoingResponse, ResponseOutparam,
};
use wasi::io::streams::{OutputStream, StreamError};

pub fn method(req: &IncomingRequest) -> String {
    match req.method() {
        Method::Get => "GET".into(),
        Method::Head => "HEAD".into(),
        Method::Post => "POST".into(),
        Method::Put => "PUT".into(),
        Method::Delete => "DELETE".into(),
        Method::Connect => "CONNECT".into(),
        Method::Options => "OPTIONS".into(),
        Method::Trace => "TRACE".into(),
        Method::Patch => "PATCH".into(),
        Method::Other(m) => m,
    }
}

/// `(path, query)` of the request; the query without its `?`.
pub fn path_and_query(req: &IncomingRequest) -> (String, String) {
    let pq = req.path_with_query().unwrap_or_default();
    match pq.split_once('?') {
        Some((p, q)) => (p.to_string(), q.to_string()),
        None => (pq, String::new()),
    }
}

/// The value of `key` in a `a=1&b=2` query string.
pub fn query_param(query: &str, key: &str) -> Option<String> {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v.to_string())
}

/// Reads the whole request body.
pub fn read_body(req: IncomingRequest) -> Vec<u8> {
    let mut out = Vec::new();
    let body = req.consume().expect("body consumed once");
    {
        let stream = body.stream().expect("stream taken once");
        loop {
            match stream.blocking_read(64 * 1024) {
                Ok(chunk) => out.extend_from_slice(&chunk),
                Err(StreamError::Closed) => break,
                Err(e) => panic!("reading request body: {e:?}"),
            }
        }
    }
    out
}

/// Writes `data` to an output stream, respecting the stream's write budget.
pub fn write_all(stream: &OutputStream, mut data: &[u8]) {
    while !data.is_empty() {
        let n = data.len().min(4096);
        stream
            .blocking_write_and_flush(&data[..n])
            .expect("writing response body");
        data = &data[n..];
    }
}

/// Starts a response: sets the head, returns the body and its stream.
pub fn start_response(
    out: ResponseOutparam,
    status: u16,
    headers: &[(&str, &str)],
) -> (OutgoingBody, OutputStream) {
    let list: Vec<(String, Vec<u8>)> = headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
        .collect();
    let fields = Fields::from_list(&list).expect("valid headers");
    let resp = OutgoingResponse::new(fields);
    resp.set_status_code(status).expect("valid status");
    let body = resp.body().expect("body taken once");
    ResponseOutparam::set(out, Ok(resp));
    let stream = body.write().expect("stream taken once");
    (body, stream)
}

pub fn finish(body: OutgoingBody, stream: OutputStream) {
    drop(stream);
    OutgoingBody::finish(body, None).expect("finishing body");
}

/// Sends a complete response.
pub fn respond(out: ResponseOutparam, status: u16, headers: &[(&str, &str)], body: &[u8]) {
    let (b, s) = start_response(out, status, headers);
    write_all(&s, body);
    finish(b, s);
}

/// A JSON string literal.
pub fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

pub fn sleep_ms(ms: u64) {
    wasi::clocks::monotonic_clock::subscribe_duration(ms * 1_000_000).block();
}
