//! Echoes the request.
//!
//! - `/stream?chunks=N&delay_ms=M`: sends the head, then `chunk i\n` N times,
//!   sleeping M ms before each chunk.
//! - `/echo-body`: sends the head, then copies the request body back as it
//!   arrives.
//! - anything else: a JSON document with method, path, query, headers and
//!   body (as a string).

#[path = "../../common/http.rs"]
mod common;

use common::*;
use wasi::http::types::{IncomingRequest, ResponseOutparam};
use wasi::io::streams::StreamError;

struct Echo;

wasi::http::proxy::export!(Echo);

impl wasi::exports::http::incoming_handler::Guest for Echo {
    fn handle(req: IncomingRequest, out: ResponseOutparam) {
        let method = method(&req);
        let (path, query) = path_and_query(&req);
        match path.as_str() {
            "/stream" => {
                let chunks: u32 = query_param(&query, "chunks")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(3);
                let delay: u64 = query_param(&query, "delay_ms")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                let (body, stream) = start_response(out, 200, &[("content-type", "text/plain")]);
                for i in 0..chunks {
                    if delay > 0 {
                        sleep_ms(delay);
                    }
                    write_all(&stream, format!("chunk {i}\n").as_bytes());
                }
                finish(body, stream);
            }
            "/echo-body" => {
                let (body, stream) =
                    start_response(out, 200, &[("content-type", "application/octet-stream")]);
                let incoming = req.consume().expect("body consumed once");
                {
                    let input = incoming.stream().expect("stream taken once");
                    loop {
                        match input.blocking_read(64 * 1024) {
                            Ok(chunk) => write_all(&stream, &chunk),
                            Err(StreamError::Closed) => break,
                            Err(e) => panic!("reading request body: {e:?}"),
                        }
                    }
                }
                finish(body, stream);
            }
            _ => {
                let mut headers = String::from("{");
                for (i, (name, value)) in req.headers().entries().iter().enumerate() {
                    if i > 0 {
                        headers.push(',');
                    }
                    headers.push_str(&json_str(name));
                    headers.push(':');
                    headers.push_str(&json_str(&String::from_utf8_lossy(value)));
                }
                headers.push('}');
                let body = read_body(req);
                let doc = format!(
                    "{{\"method\":{},\"path\":{},\"query\":{},\"headers\":{},\"body\":{}}}",
                    json_str(&method),
                    json_str(&path),
                    json_str(&query),
                    headers,
                    json_str(&String::from_utf8_lossy(&body)),
                );
                respond(out, 200, &[("content-type", "application/json")], doc.as_bytes());
            }
        }
    }
}
