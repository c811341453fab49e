//! Lingering close: a connection the server ends while the client is
//! still sending is drained for a moment before its socket is closed.
//!
//! When the server answers early (413 for a body over its limit, an error
//! before the body was read) and closes the socket with request bytes still
//! unread, the kernel sends a TCP reset, and the client's kernel discards
//! whatever it had received but not yet handed to the client: the answer
//! is lost and the client sees "connection reset". Servers avoid that by
//! half-closing (FIN after the answer) and reading what the client still
//! sends, for a bounded time and number of bytes, before closing — Apache
//! calls it lingering close, nginx `lingering_close`.
//!
//! [`Lingering`] wraps the TCP stream handed to hyper (under TLS when
//! there is TLS), and notes in the connection's [`Activity`] when bytes
//! last moved, for the idle timeout. When hyper has closed the connection in order (shut its
//! write side down after the last answer) and drops the stream, a task
//! takes it and reads until the client closes, [`LINGER_TIME`] passes or
//! [`LINGER_BYTES`] have been discarded; the connection's slot (its
//! `--max-connections` permit) is held until then. A connection hyper
//! abandons (a header timeout, a protocol error) is closed at once: a
//! slowloris client is cut off, not drained.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::OwnedSemaphorePermit;

/// How long a closing connection is drained at most.
pub const LINGER_TIME: Duration = Duration::from_secs(5);
/// How many bytes a closing connection may still send before it is cut.
pub const LINGER_BYTES: usize = 64 * 1024 * 1024;

/// What a connection is doing: when bytes last moved either way, and how
/// many requests on it are being answered.
pub struct Activity {
    origin: Instant,
    /// ms after `origin`.
    last_io_ms: AtomicU64,
    in_flight: AtomicUsize,
}

impl Activity {
    pub fn new() -> Arc<Activity> {
        Arc::new(Activity {
            origin: Instant::now(),
            last_io_ms: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
        })
    }

    fn touch(&self) {
        let now = self.origin.elapsed().as_millis() as u64;
        self.last_io_ms.store(now, Ordering::Relaxed);
    }

    /// How long the connection has had no request in flight and no bytes
    /// moving; zero while a request is being answered.
    pub fn idle_for(&self) -> Duration {
        if self.in_flight.load(Ordering::Relaxed) > 0 {
            return Duration::ZERO;
        }
        let last = Duration::from_millis(self.last_io_ms.load(Ordering::Relaxed));
        self.origin.elapsed().saturating_sub(last)
    }

    /// Counts a request as in flight until the guard is dropped.
    pub fn request(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(self.clone())
    }
}

/// A request being answered (see [`Activity::request`]).
pub struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.touch();
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A TCP stream that lingers when dropped (see the module header).
pub struct Lingering {
    tcp: Option<TcpStream>,
    permit: Option<OwnedSemaphorePermit>,
    activity: Arc<Activity>,
    /// Whether the write side was shut down: the connection ended in order.
    closed_in_order: bool,
}

impl Lingering {
    /// `permit` (the connection's slot) is released once the drain is over;
    /// `activity` notes when bytes move.
    pub fn new(tcp: TcpStream, permit: OwnedSemaphorePermit, activity: Arc<Activity>) -> Self {
        Lingering {
            tcp: Some(tcp),
            permit: Some(permit),
            activity,
            closed_in_order: false,
        }
    }

    fn tcp(&mut self) -> Pin<&mut TcpStream> {
        Pin::new(self.tcp.as_mut().expect("present until dropped"))
    }
}

impl Drop for Lingering {
    fn drop(&mut self) {
        if !self.closed_in_order {
            return;
        }
        let (Some(tcp), Ok(runtime)) = (self.tcp.take(), tokio::runtime::Handle::try_current())
        else {
            return;
        };
        runtime.spawn(linger(tcp, self.permit.take()));
    }
}

/// Reads the half-closed `tcp` to its end, within the bounds.
async fn linger(mut tcp: TcpStream, _permit: Option<OwnedSemaphorePermit>) {
    let drain = async {
        let mut buf = vec![0u8; 16 * 1024];
        let mut discarded = 0;
        while discarded < LINGER_BYTES {
            match tcp.read(&mut buf).await? {
                0 => break,
                n => discarded += n,
            }
        }
        io::Result::Ok(())
    };
    let _ = tokio::time::timeout(LINGER_TIME, drain).await;
}

impl AsyncRead for Lingering {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let read = self.tcp().poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.touch();
        }
        read
    }
}

impl AsyncWrite for Lingering {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let written = self.tcp().poll_write(cx, buf);
        if matches!(written, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        written
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let written = self.tcp().poll_write_vectored(cx, bufs);
        if matches!(written, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        written
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.as_ref().is_some_and(|t| t.is_write_vectored())
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.tcp().poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.closed_in_order = true;
        self.tcp().poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read as _, Write as _};
    use std::sync::Arc;
    use tokio::io::AsyncWriteExt as _;

    /// A server that answers before reading a large body and drops the
    /// connection: the client, still sending, reads the whole answer.
    #[tokio::test]
    async fn an_early_answer_reaches_a_client_that_is_still_sending() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let slots = Arc::new(tokio::sync::Semaphore::new(1));
        let server = tokio::spawn({
            let slots = slots.clone();
            async move {
                let (tcp, _) = listener.accept().await.unwrap();
                let permit = slots.try_acquire_owned().unwrap();
                let mut conn = Lingering::new(tcp, permit, Activity::new());
                let mut head = [0u8; 64];
                let _ = conn.read(&mut head).await.unwrap();
                conn.write_all(b"HTTP/1.1 413 Payload Too Large\r\ncontent-length: 0\r\n\r\n")
                    .await
                    .unwrap();
                conn.shutdown().await.unwrap();
                // Dropped with megabytes unread.
            }
        });
        let client = std::thread::spawn(move || {
            let mut tcp = std::net::TcpStream::connect(addr).unwrap();
            tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            tcp.write_all(b"POST / HTTP/1.1\r\ncontent-length: 8388608\r\n\r\n")
                .unwrap();
            // Send it all as a client that has not looked at the answer
            // (HTTP clients give up on a request whose body they cannot
            // finish writing).
            let chunk = vec![b'x'; 64 * 1024];
            for _ in 0..128 {
                tcp.write_all(&chunk)?;
            }
            let mut answer = String::new();
            tcp.read_to_string(&mut answer).map(|_| answer)
        });
        server.await.unwrap();
        let answer = tokio::task::spawn_blocking(move || client.join().unwrap())
            .await
            .unwrap()
            .expect("the whole body sent and the answer read, not a reset");
        assert!(answer.starts_with("HTTP/1.1 413"), "{answer:?}");
        // The slot comes back once the client has gone.
        let permit = tokio::time::timeout(LINGER_TIME * 2, slots.acquire()).await;
        assert!(permit.is_ok(), "the connection's slot was released");
    }
}
