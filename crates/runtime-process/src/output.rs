//! The function's stdout and stderr: one pipe (so their lines interleave
//! as written), read by one task into the [`LogSink`] of the invocation in
//! progress.
//!
//! A runtime writes its log lines and then posts its response over
//! another channel, so when the response arrives its output may still sit
//! in the pipe. [`OutputPump::flush`] reads the pipe directly (not through
//! the reactor's readiness cache) until it is empty: everything written
//! before the response is then in the sink.

use std::os::fd::{AsFd, OwnedFd};
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
                        let eof = drain(&rx, &mut buf, &slot);
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

/// Reads until the pipe is empty, with plain `read(2)` calls that do not
/// consult the reactor; `true` at end of file.
fn drain(rx: &Receiver, buf: &mut [u8], slot: &LogSlot) -> bool {
    loop {
        match rustix::io::read(rx.as_fd(), &mut *buf).map_err(std::io::Error::from) {
            Ok(0) => return true,
            Ok(n) => slot.write(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return false,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return true,
        }
    }
}
