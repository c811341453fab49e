//! Writes to `/tmp` and to stdout on request, and reports what happened.
//!
//! - `?op=write&name=NAME&bytes=N&via=HOW` writes N bytes to `/tmp/NAME`
//!   (created or truncated), in 64 KiB pieces, through one of the paths a
//!   guest has to grow a file:
//!   - `std`: `std::fs::File::write_all` (whatever the standard library
//!     uses);
//!   - `stream`: `descriptor.write-via-stream` driven by `check-write`,
//!     `write`, `flush` and `subscribe`;
//!   - `append`: `descriptor.append-via-stream` with
//!     `blocking-write-and-flush`;
//!   - `descriptor`: `descriptor.write` at increasing offsets;
//!   - `set-size`: one `descriptor.set-size` to N.
//!
//!   Answers `{"written":W,"error":E}`: the bytes accepted before the
//!   first failure, and that failure (`null`, a `wasi:filesystem`
//!   error-code name, or `std: <kind>: <message>`).
//! - `?op=delete&name=NAME` removes `/tmp/NAME`; `{"error":E}`.
//! - `?op=log&bytes=N&chunk=C` writes N bytes to stdout with
//!   `output-stream.write` calls of C bytes each (ignoring `check-write`,
//!   as a careless guest might), the last line being `END`; answers
//!   `{"logged":N}`.

#[path = "../../common/http.rs"]
mod common;

use std::io::Write as _;

use common::*;
use wasi::filesystem::types::{Descriptor, DescriptorFlags, ErrorCode, OpenFlags, PathFlags};
use wasi::http::types::{IncomingRequest, ResponseOutparam};
use wasi::io::streams::{OutputStream, StreamError};

struct Tmp;

wasi::http::proxy::export!(Tmp);

const PIECE: usize = 64 * 1024;

impl wasi::exports::http::incoming_handler::Guest for Tmp {
    fn handle(req: IncomingRequest, out: ResponseOutparam) {
        let (_, query) = path_and_query(&req);
        let param = |k| query_param(&query, k).unwrap_or_default();
        let number = |k| param(k).parse::<u64>().unwrap_or(0);
        let doc = match param("op").as_str() {
            "write" => {
                let name = param("name");
                let (written, error) = match param("via").as_str() {
                    "std" | "" => write_std(&name, number("bytes")),
                    "stream" => write_wasi(&name, number("bytes"), Via::Stream),
                    "append" => write_wasi(&name, number("bytes"), Via::Append),
                    "descriptor" => write_wasi(&name, number("bytes"), Via::Descriptor),
                    "set-size" => write_wasi(&name, number("bytes"), Via::SetSize),
                    other => (0, Some(format!("unknown via {other}"))),
                };
                format!("{{\"written\":{written},\"error\":{}}}", json_opt(error))
            }
            "delete" => {
                let error = std::fs::remove_file(format!("/tmp/{}", param("name")))
                    .err()
                    .map(|e| std_error(&e));
                format!("{{\"error\":{}}}", json_opt(error))
            }
            "log" => {
                let n = number("bytes");
                log(n, number("chunk").max(1) as usize);
                format!("{{\"logged\":{n}}}")
            }
            other => format!("{{\"error\":{}}}", json_str(&format!("unknown op {other}"))),
        };
        respond(
            out,
            200,
            &[("content-type", "application/json")],
            doc.as_bytes(),
        );
    }
}

fn json_opt(s: Option<String>) -> String {
    s.map_or_else(|| "null".to_string(), |s| json_str(&s))
}

fn std_error(e: &std::io::Error) -> String {
    format!("std: {:?}: {e}", e.kind())
}

fn write_std(name: &str, bytes: u64) -> (u64, Option<String>) {
    let mut file = match std::fs::File::create(format!("/tmp/{name}")) {
        Ok(f) => f,
        Err(e) => return (0, Some(std_error(&e))),
    };
    let piece = vec![b'x'; PIECE];
    let mut written = 0;
    while written < bytes {
        let n = (bytes - written).min(PIECE as u64) as usize;
        if let Err(e) = file.write_all(&piece[..n]) {
            return (written, Some(std_error(&e)));
        }
        written += n as u64;
    }
    match file.flush() {
        Ok(()) => (written, None),
        Err(e) => (written, Some(std_error(&e))),
    }
}

#[derive(Clone, Copy)]
enum Via {
    Stream,
    Append,
    Descriptor,
    SetSize,
}

fn tmp_dir() -> Descriptor {
    wasi::filesystem::preopens::get_directories()
        .into_iter()
        .find(|(_, path)| path == "/tmp")
        .map(|(dir, _)| dir)
        .expect("/tmp is preopened")
}

fn write_wasi(name: &str, bytes: u64, via: Via) -> (u64, Option<String>) {
    let code = |c: ErrorCode| Some(c.name().to_string());
    let file = match tmp_dir().open_at(
        PathFlags::empty(),
        name,
        OpenFlags::CREATE | OpenFlags::TRUNCATE,
        DescriptorFlags::READ | DescriptorFlags::WRITE,
    ) {
        Ok(f) => f,
        Err(c) => return (0, code(c)),
    };
    let piece = vec![b'x'; PIECE];
    let mut written = 0u64;
    match via {
        Via::SetSize => match file.set_size(bytes) {
            Ok(()) => (bytes, None),
            Err(c) => (0, code(c)),
        },
        Via::Descriptor => {
            while written < bytes {
                let n = (bytes - written).min(PIECE as u64) as usize;
                match file.write(&piece[..n], written) {
                    Ok(done) => written += done,
                    Err(c) => return (written, code(c)),
                }
            }
            (written, None)
        }
        Via::Append => {
            let stream = match file.append_via_stream() {
                Ok(s) => s,
                Err(c) => return (0, code(c)),
            };
            while written < bytes {
                let n = (bytes - written).min(4096) as usize;
                if let Err(e) = stream.blocking_write_and_flush(&piece[..n]) {
                    return (written, stream_error(e));
                }
                written += n as u64;
            }
            (written, None)
        }
        Via::Stream => {
            let stream = match file.write_via_stream(0) {
                Ok(s) => s,
                Err(c) => return (0, code(c)),
            };
            match write_nonblocking(&stream, &piece, bytes, &mut written) {
                Ok(()) => (written, None),
                Err(e) => (written, stream_error(e)),
            }
        }
    }
}

/// Writes with `check-write`/`write`, waiting on the stream's pollable
/// whenever it grants nothing, then flushes.
fn write_nonblocking(
    stream: &OutputStream,
    piece: &[u8],
    bytes: u64,
    written: &mut u64,
) -> Result<(), StreamError> {
    let ready = stream.subscribe();
    while *written < bytes {
        let permit = stream.check_write()?;
        if permit == 0 {
            ready.block();
            continue;
        }
        let n = (bytes - *written).min(permit).min(piece.len() as u64) as usize;
        stream.write(&piece[..n])?;
        *written += n as u64;
    }
    stream.flush()?;
    ready.block();
    stream.check_write()?;
    Ok(())
}

fn stream_error(e: StreamError) -> Option<String> {
    match e {
        StreamError::Closed => Some("closed".to_string()),
        StreamError::LastOperationFailed(err) => {
            match wasi::filesystem::types::filesystem_error_code(&err) {
                Some(c) => Some(c.name().to_string()),
                None => Some(err.to_debug_string()),
            }
        }
    }
}

fn log(bytes: u64, chunk: usize) {
    let stdout = wasi::cli::stdout::get_stdout();
    let line = b"flooding the log with this line, again and again\n";
    let mut buf = Vec::with_capacity(chunk);
    while buf.len() < chunk {
        let n = line.len().min(chunk - buf.len());
        buf.extend_from_slice(&line[..n]);
    }
    let mut left = bytes.saturating_sub(4);
    while left > 0 {
        let n = left.min(chunk as u64) as usize;
        stdout.write(&buf[..n]).expect("stdout accepts writes");
        left -= n as u64;
    }
    stdout.write(b"END\n").expect("stdout accepts writes");
    stdout.blocking_flush().expect("stdout flushes");
}
