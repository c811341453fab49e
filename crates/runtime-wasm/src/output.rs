//! Where a guest's stdout and stderr go.
//!
//! An environment is reused across invocations, but each invocation has its
//! own [`LogSink`]: a [`LogSlot`] holds the sink of the invocation in
//! progress (or none between invocations, when output is dropped). A
//! command's stdout is its result and goes to a bounded [`ResultBuffer`].
//! Writes are synchronous, so nothing is left in flight when an invocation
//! ends and the slot is swapped.
//!
//! Nothing here grows with what a guest writes: the sink keeps the last
//! bytes up to its limit (256 KB per invocation in the pools), a result
//! buffer stops at its limit, and a single write reaches the sink in
//! pieces of at most [`LOG_PIECE`], so a guest flooding its output costs
//! the node no more than the limit plus one piece.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use tokio::io::AsyncWrite;
use updraft_pool::LogSink;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

/// The log sink of the invocation in progress.
#[derive(Clone, Default)]
pub(crate) struct LogSlot(Arc<Mutex<Option<LogSink>>>);

impl LogSlot {
    pub fn set(&self, sink: Option<LogSink>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = sink;
    }

    fn write(&self, bytes: &[u8]) {
        if let Some(sink) = &*self.0.lock().unwrap_or_else(|e| e.into_inner()) {
            for piece in bytes.chunks(LOG_PIECE) {
                sink.write(piece);
            }
        }
    }
}

/// The most handed to a [`LogSink`] at once. The sink keeps the tail of
/// what it is given, up to its limit, but takes each piece whole first:
/// a guest's single huge write (`output-stream.write` is not held to the
/// `check-write` grant) would otherwise cost its full size again.
const LOG_PIECE: usize = 64 * 1024;

/// A command's stdout: its result, capped at `limit` bytes.
#[derive(Clone)]
pub(crate) struct ResultBuffer(Arc<Mutex<ResultBuf>>);

struct ResultBuf {
    data: Vec<u8>,
    limit: usize,
    overflowed: bool,
}

impl ResultBuffer {
    pub fn new(limit: usize) -> Self {
        ResultBuffer(Arc::new(Mutex::new(ResultBuf {
            data: Vec::new(),
            limit,
            overflowed: false,
        })))
    }

    fn write(&self, bytes: &[u8]) {
        let mut buf = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let room = buf.limit.saturating_sub(buf.data.len());
        if bytes.len() > room {
            buf.overflowed = true;
        }
        let n = bytes.len().min(room);
        buf.data.extend_from_slice(&bytes[..n]);
    }

    /// The bytes written, or `None` when the guest wrote more than the limit.
    pub fn take(&self) -> Option<Vec<u8>> {
        let mut buf = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if buf.overflowed {
            return None;
        }
        Some(std::mem::take(&mut buf.data))
    }
}

/// A guest output stream (stdout or stderr).
#[derive(Clone)]
pub(crate) enum GuestOutput {
    Log(LogSlot),
    Result(ResultBuffer),
}

impl GuestOutput {
    fn write_bytes(&self, bytes: &[u8]) {
        match self {
            GuestOutput::Log(slot) => slot.write(bytes),
            GuestOutput::Result(buf) => buf.write(bytes),
        }
    }
}

impl IsTerminal for GuestOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for GuestOutput {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[async_trait::async_trait]
impl OutputStream for GuestOutput {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.write_bytes(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(64 * 1024)
    }
}

#[async_trait::async_trait]
impl Pollable for GuestOutput {
    async fn ready(&mut self) {}
}

impl AsyncWrite for GuestOutput {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.write_bytes(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
