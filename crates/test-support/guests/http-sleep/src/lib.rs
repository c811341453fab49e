//! Sleeps `?ms=N` milliseconds in a host call, then answers `slept N`.

#[path = "../../common/http.rs"]
mod common;

use common::*;
use wasi::http::types::{IncomingRequest, ResponseOutparam};

struct Sleep;

wasi::http::proxy::export!(Sleep);

impl wasi::exports::http::incoming_handler::Guest for Sleep {
    fn handle(req: IncomingRequest, out: ResponseOutparam) {
        let (_, query) = path_and_query(&req);
        let ms: u64 = query_param(&query, "ms")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        sleep_ms(ms);
        respond(out, 200, &[], format!("slept {ms}").as_bytes());
    }
}
