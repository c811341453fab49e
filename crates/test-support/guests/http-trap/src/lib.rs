//! Panics (a trap) before answering.

use wasi::http::types::{IncomingRequest, ResponseOutparam};

struct Trap;

wasi::http::proxy::export!(Trap);

impl wasi::exports::http::incoming_handler::Guest for Trap {
    fn handle(_req: IncomingRequest, _out: ResponseOutparam) {
        panic!("guest panicked on purpose");
    }
}
