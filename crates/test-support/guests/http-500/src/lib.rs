//! Answers `500 Internal Server Error` with a short body.

#[path = "../../common/http.rs"]
mod common;

use wasi::http::types::{IncomingRequest, ResponseOutparam};

struct Fail;

wasi::http::proxy::export!(Fail);

impl wasi::exports::http::incoming_handler::Guest for Fail {
    fn handle(_req: IncomingRequest, out: ResponseOutparam) {
        common::respond(out, 500, &[("content-type", "text/plain")], b"boom");
    }
}
