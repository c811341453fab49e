//! Fixtures for updraft's tests.
//!
//! - Path constants of WebAssembly guest programs, compiled from source by
//!   `build.rs`: the test-only guests of `guests/` (`HTTP_*` are
//!   `wasi:http/proxy` components, `CMD_*` WASI command components,
//!   `P1_CMD_ECHO` a WASI preview1 core module) and the examples of
//!   `examples/` (`EXAMPLE_*`).
//! - [`zip_single`], to wrap one file in a deployment package.
//!
//! | constant | behaviour |
//! |---|---|
//! | `HTTP_ECHO` | JSON of method, path, query, headers, body; `/stream?chunks=N&delay_ms=M` streams chunks; `/echo-body` streams the body back |
//! | `HTTP_STATE` | answers the number of requests the instance served |
//! | `HTTP_ENV` | JSON of env vars, args, `/tmp` entries, whether `/etc/passwd` reads; `?write=NAME` creates `/tmp/NAME` |
//! | `HTTP_LOOP` | spins forever |
//! | `HTTP_SLEEP` | sleeps `?ms=N` in a host call |
//! | `HTTP_OOM` | allocates until the allocator aborts |
//! | `HTTP_TRAP` | panics |
//! | `HTTP_500` | answers 500 `boom` |
//! | `HTTP_NET` | reports the errors of an outgoing HTTP request and a TCP connect |
//! | `CMD_ECHO`, `P1_CMD_ECHO` | stdin to stdout, a line on stderr |
//! | `CMD_EXIT` | prints, then exits with status 3 |
//! | `CMD_TRAP` | aborts (a trap) |
//! | `CMD_LOOP` | spins forever |
//! | `CMD_RECORD` | logs `event: <stdin>` and `traceparent: <TRACEPARENT>` if set, answers `{"received": "<stdin>"}`; exits 1 when the event contains `"fail"` |
//! | `EXAMPLE_HELLO_HTTP` | `Hello from updraft!`, `x-invocation-count` header |
//! | `EXAMPLE_JSON_EVENT` | `{"name":"Ada"}` on stdin gives `{"message":"Hello, Ada!"}` |

use std::io::{Cursor, Write};

include!(concat!(env!("OUT_DIR"), "/guests.rs"));

/// Reads a guest program built by `build.rs`.
pub fn read_guest(path: &str) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("reading guest {path}: {e}"))
}

/// A zip archive holding one file `name` with `bytes` (deflated).
pub fn zip_single(name: &str, bytes: &[u8]) -> Vec<u8> {
    zip_files(&[(name, bytes)])
}

/// A zip archive holding the given files, in order (deflated).
pub fn zip_files(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .unix_permissions(0o644);
    for (name, bytes) in files {
        writer.start_file(*name, options).expect("zip entry");
        writer.write_all(bytes).expect("zip write");
    }
    writer.finish().expect("zip finish").into_inner()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_guest_was_built() {
        for (name, path) in ALL {
            let bytes = read_guest(path);
            assert_eq!(&bytes[..4], b"\0asm", "{name} is not wasm");
        }
    }

    #[test]
    fn zip_single_round_trips() {
        let zip = zip_single("f.wasm", b"hello");
        let mut archive = zip::ZipArchive::new(Cursor::new(zip)).unwrap();
        assert_eq!(archive.len(), 1);
        let mut file = archive.by_name("f.wasm").unwrap();
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut file, &mut out).unwrap();
        assert_eq!(out, b"hello");
    }
}
