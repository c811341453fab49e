//! Never returns: burns CPU forever.

use wasi::http::types::{IncomingRequest, ResponseOutparam};

struct Spin;

wasi::http::proxy::export!(Spin);

impl wasi::exports::http::incoming_handler::Guest for Spin {
    fn handle(_req: IncomingRequest, _out: ResponseOutparam) {
        let mut x: u64 = 0;
        loop {
            x = std::hint::black_box(x.wrapping_add(1));
        }
    }
}
