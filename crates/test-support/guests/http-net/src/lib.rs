//! Tries an outgoing HTTP request and a TCP connection, and reports what
//! happened as `{"http": "...", "tcp": "..."}`.

#[path = "../../common/http.rs"]
mod common;

use common::*;
use wasi::http::outgoing_handler;
use wasi::http::types::{Fields, IncomingRequest, OutgoingRequest, ResponseOutparam, Scheme};

struct Net;

wasi::http::proxy::export!(Net);

fn try_http() -> String {
    let req = OutgoingRequest::new(Fields::new());
    let _ = req.set_scheme(Some(&Scheme::Http));
    let _ = req.set_authority(Some("127.0.0.1:9"));
    let _ = req.set_path_with_query(Some("/"));
    match outgoing_handler::handle(req, None) {
        Err(e) => format!("error: {e:?}"),
        Ok(fut) => {
            fut.subscribe().block();
            match fut.get() {
                Some(Ok(Ok(resp))) => format!("status {}", resp.status()),
                Some(Ok(Err(e))) => format!("error: {e:?}"),
                Some(Err(())) => "error: response taken twice".into(),
                None => "error: not ready".into(),
            }
        }
    }
}

fn try_tcp() -> String {
    match std::net::TcpStream::connect("127.0.0.1:9") {
        Ok(_) => "connected".into(),
        Err(e) => format!("error: {e}"),
    }
}

impl wasi::exports::http::incoming_handler::Guest for Net {
    fn handle(_req: IncomingRequest, out: ResponseOutparam) {
        let doc = format!(
            "{{\"http\":{},\"tcp\":{}}}",
            json_str(&try_http()),
            json_str(&try_tcp())
        );
        respond(out, 200, &[("content-type", "application/json")], doc.as_bytes());
    }
}
