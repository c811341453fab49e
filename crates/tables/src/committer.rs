//! Group commit: one thread owns the account's SQLite connection and runs
//! every operation; operations that arrive together run in one SQLite
//! transaction (each in its own savepoint, so a failed one leaves no
//! trace) committed with a single sync, and only then does any caller get
//! its answer.
//!
//! ```text
//! execute ─┐                     ┌─ BEGIN IMMEDIATE
//! execute ─┼─> channel ─> thread ┼─ op 1 (SAVEPOINT … RELEASE | ROLLBACK TO)
//! execute ─┘                     ├─ op 2 …
//!                                └─ COMMIT (one fsync) ─> every caller answered
//! ```
//!
//! An answer is therefore durable when it is given, reads see every
//! acknowledged write, and operations are serialized in arrival order.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc;

use rusqlite::Connection;
use serde_json::Value;

use crate::error::TablesError;

/// Work for the connection's thread.
pub type Job = Box<dyn FnOnce(&mut Connection) -> Result<Value, TablesError> + Send>;

struct Request {
    job: Job,
    reply: mpsc::SyncSender<Result<Value, TablesError>>,
}

/// Most operations committed together.
const MAX_BATCH: usize = 256;

/// The handle callers use; dropping it ends the thread and closes the
/// connection.
pub struct Committer {
    sender: mpsc::Sender<Request>,
}

impl Committer {
    /// Starts the thread that owns `conn`.
    pub fn start(conn: Connection) -> Result<Self, TablesError> {
        let (sender, receiver) = mpsc::channel();
        std::thread::Builder::new()
            .name("tables-commit".into())
            .stack_size(8 << 20)
            .spawn(move || serve(conn, receiver))
            .map_err(|source| TablesError::Io {
                context: "starting the tables thread".into(),
                source,
            })?;
        Ok(Self { sender })
    }

    /// Runs `job` and returns its result once it is committed. Blocking.
    pub fn run(&self, job: Job) -> Result<Value, TablesError> {
        let (reply, answer) = mpsc::sync_channel(1);
        self.sender
            .send(Request { job, reply })
            .map_err(|_| closed())?;
        answer.recv().map_err(|_| closed())?
    }
}

fn closed() -> TablesError {
    TablesError::Commit("the tables thread has stopped".into())
}

fn serve(mut conn: Connection, receiver: mpsc::Receiver<Request>) {
    while let Ok(first) = receiver.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match receiver.try_recv() {
                Ok(request) => batch.push(request),
                Err(_) => break,
            }
        }
        if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
            tracing::error!(error = %e, "tables: cannot begin a transaction");
            for request in batch {
                let _ = request.reply.send(Err(TablesError::Commit(e.to_string())));
            }
            continue;
        }
        let mut answers = Vec::with_capacity(batch.len());
        for request in batch {
            let result = catch_unwind(AssertUnwindSafe(|| (request.job)(&mut conn)))
                .unwrap_or_else(|_| Err(TablesError::Commit("an operation panicked".into())));
            answers.push((request.reply, result));
        }
        match conn.execute_batch("COMMIT") {
            Ok(()) => {
                for (reply, result) in answers {
                    let _ = reply.send(result);
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "tables: commit failed; the batch is rolled back");
                let _ = conn.execute_batch("ROLLBACK");
                for (reply, _) in answers {
                    let _ = reply.send(Err(TablesError::Commit(e.to_string())));
                }
            }
        }
    }
}
