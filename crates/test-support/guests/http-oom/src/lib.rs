//! Allocates 1 MiB blocks until the allocator fails (which aborts).

use wasi::http::types::{IncomingRequest, ResponseOutparam};

struct Oom;

wasi::http::proxy::export!(Oom);

impl wasi::exports::http::incoming_handler::Guest for Oom {
    fn handle(_req: IncomingRequest, _out: ResponseOutparam) {
        let mut blocks: Vec<Vec<u8>> = Vec::new();
        loop {
            blocks.push(std::hint::black_box(vec![1u8; 1 << 20]));
        }
    }
}
