//! The function's stdout and stderr: one pipe (so their lines interleave
//! as written), read by one task into the [`LogSink`] of the invocation in
//! progress.
//!
//! A runtime writes its log lines and then posts its response over
//! another channel, so when the response arrives its output may still sit
//! in the pipe. [`OutputPump::flush`] reads the pipe directly (not through
//! the reactor's readiness cache) for as many bytes as it holds when the
//! flush starts: everything written before the response is then in the
//! sink. It does not read until the pipe is empty: a process that keeps
//! writing (a background `yes`) would keep it from ever being empty.
//!
//! Memory: the pump holds one 64 KB buffer, and a [`LogSink`] keeps at
//! most its limit (the oldest output goes first); output while no
//! invocation runs is read and dropped. A flood costs the platform the
//! CPU to read it, not memory.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::{Arc, Mutex};

use tokio::net::unix::pipe::Receiver;
use tokio::sync::{mpsc, oneshot};
use updraft_pool::LogSink;

/// The sink of the invocation (or init) in progress; output between
/// invocations is dropped.
#[derive(Clone, Default)]
pub(crate) struct LogSlot(Arc<Mutex<Option<LogSink>>>);

impl LogSlot {
    pub fn set(&self, sink: Option<LogSink>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = sink;
    }

    fn write(&self, bytes: &[u8]) {
        if let Some(sink) = &*self.0.lock().unwrap_or_else(|e| e.into_inner()) {
            sink.write(bytes);
        }
    }
}

/// Creates the pipe: the read end for the pump, the write end for the
/// child's stdout and stderr. Both close on exec; the child gets its copies
/// through dup2.
pub(crate) fn pipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let (read, write) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?;
    Ok((read, write))
}

pub(crate) struct OutputPump {
    flush_tx: mpsc::Sender<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl OutputPump {
    pub fn start(read: OwnedFd, slot: LogSlot) -> std::io::Result<OutputPump> {
        let rx = Receiver::from_owned_fd(read)?;
        let (flush_tx, mut flush_rx) = mpsc::channel::<oneshot::Sender<()>>(4);
        let task = tokio::spawn(async move {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                tokio::select! {
                    ready = rx.readable() => {
                        if ready.is_err() {
                            break;
                        }
                        match rx.try_read(&mut buf) {
                            Ok(0) => break,
                            Ok(n) => slot.write(&buf[..n]),
                            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                            Err(_) => break,
                        }
                    }
                    Some(ack) = flush_rx.recv() => {
                        let eof = drain(rx.as_fd(), &mut buf, &mut |b| slot.write(b));
                        let _ = ack.send(());
                        if eof {
                            break;
                        }
                    }
                }
            }
            // The write end is closed: answer flushes until dropped.
            while let Some(ack) = flush_rx.recv().await {
                let _ = ack.send(());
            }
        });
        Ok(OutputPump { flush_tx, task })
    }

    /// Returns once everything written to the pipe so far is in the slot's
    /// sink.
    pub async fn flush(&self) {
        let (tx, rx) = oneshot::channel();
        if self.flush_tx.send(tx).await.is_ok() {
            let _ = rx.await;
        }
    }
}

impl Drop for OutputPump {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Reads what the pipe holds now (and no more: writers may keep adding),
/// with plain `read(2)` calls that do not consult the reactor; `true` at
/// end of file.
fn drain(fd: BorrowedFd<'_>, buf: &mut [u8], sink: &mut dyn FnMut(&[u8])) -> bool {
    // FIONREAD on a pipe: the bytes in it. A failure (never seen on a
    // pipe) reads one pipe's worth at most.
    let mut left = rustix::io::ioctl_fionread(fd).unwrap_or(1 << 20);
    loop {
        // At least one byte, so that an empty pipe still tells the end of
        // file (0) from nothing written yet (EAGAIN).
        let want = buf
            .len()
            .min(usize::try_from(left).unwrap_or(usize::MAX).max(1));
        match rustix::io::read(fd, &mut buf[..want]).map_err(std::io::Error::from) {
            Ok(0) => return true,
            Ok(n) => {
                sink(&buf[..n]);
                left = left.saturating_sub(n as u64);
                if left == 0 {
                    return false;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return false,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A flush must end even when a writer refills the pipe as fast as it
    /// is read: it reads what was there when it started.
    #[test]
    fn drain_stops_at_what_the_pipe_held() {
        let (read, write) = pipe().unwrap();
        rustix::io::ioctl_fionbio(&read, true).unwrap();
        // Less than the pipe holds (64 KB).
        let written = rustix::io::write(&write, &[b'a'; 60_000]).unwrap();
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 4096];
            let mut seen = 0usize;
            // Every read is answered by as many new bytes.
            let eof = drain(read.as_fd(), &mut buf, &mut |b| {
                seen += b.len();
                rustix::io::write(&write, &vec![b'b'; b.len()]).unwrap();
            });
            let _ = done_tx.send((eof, seen));
        });
        let (eof, seen) = done_rx
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("drain kept reading while the pipe was refilled");
        assert!(!eof);
        assert_eq!(seen, written);
    }
}
