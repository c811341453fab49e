//! Counts the requests this instance has served: state that survives warm
//! invocations.

#[path = "../../common/http.rs"]
mod common;

use std::sync::atomic::{AtomicU64, Ordering};

use wasi::http::types::{IncomingRequest, ResponseOutparam};

static COUNT: AtomicU64 = AtomicU64::new(0);

struct State;

wasi::http::proxy::export!(State);

impl wasi::exports::http::incoming_handler::Guest for State {
    fn handle(_req: IncomingRequest, out: ResponseOutparam) {
        let n = COUNT.fetch_add(1, Ordering::SeqCst) + 1;
        common::respond(out, 200, &[("content-type", "text/plain")], n.to_string().as_bytes());
    }
}
