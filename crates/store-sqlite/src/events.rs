//! The embedded [`EventStore`]: its own SQLite file (`events.db`), so
//! message traffic never waits behind the metadata store's writes.
//!
//! ```text
//! messages   (queue, seq) PK | id | body BLOB | attributes JSON | sent_ms |
//!            visible_ms | receive_count | first_receive_ms
//! resources  (kind, key) PK | value JSON
//! ```
//!
//! Messages are keyed by `(queue, seq)`, the order they are sent in, so
//! new rows go to the end of the table and a backlog's pages are touched
//! only where it is consumed: an index on the (random) message ids would
//! rewrite pages all over the file on every commit. Writes name messages
//! by id; the store keeps each message's `seq` by id in memory (about a
//! hundred bytes a message), loaded at open. One process owns the file.
//!
//! WAL with `synchronous=FULL`: a batch is on disk when `apply` returns.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use updraft_store::{EventStore, EventWrite, Result, StoredMessage};

use crate::backend;
const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS messages (
        queue            TEXT NOT NULL,
        seq              INTEGER NOT NULL,
        id               TEXT NOT NULL,
        body             BLOB NOT NULL,
        attributes       TEXT NOT NULL,
        sent_ms          INTEGER NOT NULL,
        visible_ms       INTEGER NOT NULL,
        receive_count    INTEGER NOT NULL,
        first_receive_ms INTEGER,
        PRIMARY KEY (queue, seq)
    ) STRICT, WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS resources (
        kind  TEXT NOT NULL,
        key   TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (kind, key)
    ) STRICT, WITHOUT ROWID;
";

/// The page cache, in KiB (SQLite takes a negative `cache_size` as KiB):
/// a backlog of messages is rewritten on every receive and delete, and
/// pages that fall out of the cache are read again from the OS.
const CACHE_KIB: i64 = -65_536;

/// Each stored message's `seq`, by queue and id.
type Seqs = HashMap<String, HashMap<String, i64>>;

pub struct SqliteEventStore {
    inner: Mutex<Inner>,
}

struct Inner {
    conn: Connection,
    seqs: Seqs,
}

impl fmt::Debug for SqliteEventStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteEventStore").finish_non_exhaustive()
    }
}

impl SqliteEventStore {
    /// Opens (creating it if needed) the database at `path`. The directory
    /// must exist.
    pub fn open(path: &Path) -> Result<Self> {
        let (conn, context) = crate::open_wal(path)?;
        Self::init(conn, &context)
    }

    /// A private database in memory, gone when the store is dropped.
    pub fn open_in_memory() -> Result<Self> {
        let context = "opening an in-memory event database";
        let conn = Connection::open_in_memory().map_err(|e| backend(context, e))?;
        Self::init(conn, context)
    }

    fn init(conn: Connection, context: &str) -> Result<Self> {
        conn.busy_timeout(Duration::from_secs(5))
            .and_then(|()| conn.pragma_update(None, "synchronous", "FULL"))
            .and_then(|()| conn.pragma_update(None, "cache_size", CACHE_KIB))
            .and_then(|()| conn.execute_batch(SCHEMA))
            .map_err(|e| backend(context, e))?;
        let seqs = load_seqs(&conn).map_err(|e| backend(context, e))?;
        Ok(SqliteEventStore {
            inner: Mutex::new(Inner { conn, seqs }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock dropped its transaction, which
        // rolled back; `apply` reloads the seqs when a batch fails.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn load_seqs(conn: &Connection) -> rusqlite::Result<Seqs> {
    let mut seqs = Seqs::new();
    let mut stmt = conn.prepare("SELECT queue, id, seq FROM messages")?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let queue: String = row.get(0)?;
        seqs.entry(queue)
            .or_default()
            .insert(row.get(1)?, row.get(2)?);
    }
    Ok(seqs)
}

impl Inner {
    /// Applies `writes` in one transaction, updating `seqs` as it goes.
    fn apply(&mut self, writes: &[EventWrite]) -> rusqlite::Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut put = tx.prepare_cached(
                "INSERT OR REPLACE INTO messages (queue, seq, id, body, attributes, sent_ms,
                 visible_ms, receive_count, first_receive_ms) VALUES (?,?,?,?,?,?,?,?,?)",
            )?;
            let mut update = tx.prepare_cached(
                "UPDATE messages SET visible_ms = ?3, receive_count = ?4, first_receive_ms = ?5
                 WHERE queue = ?1 AND seq = ?2",
            )?;
            let mut delete =
                tx.prepare_cached("DELETE FROM messages WHERE queue = ? AND seq = ?")?;
            let seqs = &mut self.seqs;
            let seq_of = |seqs: &Seqs, queue: &str, id: &str| seqs.get(queue)?.get(id).copied();
            for w in writes {
                match w {
                    EventWrite::PutMessage(m) => {
                        // A put replaces the message with the same id.
                        if let Some(old) = seq_of(seqs, &m.queue, &m.id).filter(|s| *s != m.seq) {
                            delete.execute(params![m.queue, old])?;
                        }
                        put.execute(params![
                            m.queue,
                            m.seq,
                            m.id,
                            m.body,
                            m.attributes,
                            m.sent_ms,
                            m.visible_ms,
                            m.receive_count,
                            m.first_receive_ms
                        ])?;
                        let queue = match seqs.get_mut(&m.queue) {
                            Some(q) => q,
                            None => seqs.entry(m.queue.clone()).or_default(),
                        };
                        queue.insert(m.id.clone(), m.seq);
                    }
                    EventWrite::UpdateMessage {
                        queue,
                        id,
                        visible_ms,
                        receive_count,
                        first_receive_ms,
                    } => {
                        if let Some(seq) = seq_of(seqs, queue, id) {
                            update.execute(params![
                                queue,
                                seq,
                                visible_ms,
                                receive_count,
                                first_receive_ms
                            ])?;
                        }
                    }
                    EventWrite::DeleteMessage { queue, id } => {
                        if let Some(seq) = seqs.get_mut(queue.as_str()).and_then(|q| q.remove(id)) {
                            delete.execute(params![queue, seq])?;
                        }
                    }
                    EventWrite::PurgeQueue { queue } => {
                        tx.execute("DELETE FROM messages WHERE queue = ?", params![queue])?;
                        seqs.remove(queue.as_str());
                    }
                    EventWrite::PutResource { kind, key, value } => {
                        tx.execute(
                            "INSERT OR REPLACE INTO resources (kind, key, value) VALUES (?,?,?)",
                            params![kind, key, value],
                        )?;
                    }
                    EventWrite::DeleteResource { kind, key } => {
                        tx.execute(
                            "DELETE FROM resources WHERE kind = ? AND key = ?",
                            params![kind, key],
                        )?;
                    }
                }
            }
        }
        tx.commit()
    }
}

impl EventStore for SqliteEventStore {
    fn apply(&self, writes: &[EventWrite]) -> Result<()> {
        let mut inner = self.lock();
        let outcome = inner.apply(writes);
        if let Err(e) = outcome {
            // The transaction rolled back; so must the seqs it changed.
            inner.seqs = load_seqs(&inner.conn).map_err(|e| backend("apply: reloading", e))?;
            return Err(backend("apply", e));
        }
        Ok(())
    }

    fn load_messages(&self) -> Result<Vec<StoredMessage>> {
        let inner = self.lock();
        let mut stmt = inner
            .conn
            .prepare(
                "SELECT queue, id, seq, body, attributes, sent_ms, visible_ms, receive_count,
                 first_receive_ms FROM messages ORDER BY queue, seq",
            )
            .map_err(|e| backend("load_messages", e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(StoredMessage {
                    queue: r.get(0)?,
                    id: r.get(1)?,
                    seq: r.get(2)?,
                    body: r.get(3)?,
                    attributes: r.get(4)?,
                    sent_ms: r.get(5)?,
                    visible_ms: r.get(6)?,
                    receive_count: r.get(7)?,
                    first_receive_ms: r.get(8)?,
                })
            })
            .map_err(|e| backend("load_messages", e))?;
        rows.collect::<std::result::Result<_, _>>()
            .map_err(|e| backend("load_messages", e))
    }

    fn resources(&self, kind: &str) -> Result<Vec<(String, String)>> {
        let inner = self.lock();
        let mut stmt = inner
            .conn
            .prepare_cached("SELECT key, value FROM resources WHERE kind = ? ORDER BY key")
            .map_err(|e| backend("resources", e))?;
        let rows = stmt
            .query_map(params![kind], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(|e| backend("resources", e))?;
        rows.collect::<std::result::Result<_, _>>()
            .map_err(|e| backend("resources", e))
    }

    fn resource(&self, kind: &str, key: &str) -> Result<Option<String>> {
        self.lock()
            .conn
            .query_row(
                "SELECT value FROM resources WHERE kind = ? AND key = ?",
                params![kind, key],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| backend("resource", e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conformance_in_memory() {
        updraft_store::conformance::run_all_events(&|| {
            Box::new(SqliteEventStore::open_in_memory().unwrap())
        });
    }

    #[test]
    fn conformance_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let n = std::sync::atomic::AtomicUsize::new(0);
        updraft_store::conformance::run_all_events(&|| {
            let i = n.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let path = dir.path().join(format!("events-{i}.db"));
            Box::new(SqliteEventStore::open(&path).unwrap())
        });
    }

    /// Messages and their ids survive a reopen: a delete after it finds
    /// the message by id.
    #[test]
    fn reopen_keeps_messages_by_id() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.db");
        let m = |id: &str, seq| updraft_store::conformance::stored_message("q", id, seq);
        {
            let store = SqliteEventStore::open(&path).unwrap();
            store
                .apply(&[
                    EventWrite::PutMessage(m("a", 1)),
                    EventWrite::PutMessage(m("b", 2)),
                ])
                .unwrap();
        }
        let store = SqliteEventStore::open(&path).unwrap();
        store
            .apply(&[EventWrite::DeleteMessage {
                queue: "q".into(),
                id: "a".into(),
            }])
            .unwrap();
        assert_eq!(store.load_messages().unwrap(), [m("b", 2)]);
    }

    /// A failed batch changes nothing, and the store still finds
    /// messages by id afterwards.
    #[test]
    fn failed_batch_rolls_back() {
        let store = SqliteEventStore::open_in_memory().unwrap();
        let m = |id: &str, seq| updraft_store::conformance::stored_message("q", id, seq);
        store.apply(&[EventWrite::PutMessage(m("a", 1))]).unwrap();
        store
            .lock()
            .conn
            .execute_batch(
                "CREATE TRIGGER no_x BEFORE INSERT ON messages WHEN NEW.id = 'x'
                 BEGIN SELECT RAISE(ABORT, 'refused'); END;",
            )
            .unwrap();
        let failed = store.apply(&[
            EventWrite::DeleteMessage {
                queue: "q".into(),
                id: "a".into(),
            },
            EventWrite::PutMessage(m("x", 2)),
        ]);
        assert!(failed.is_err());
        assert_eq!(store.load_messages().unwrap(), [m("a", 1)]);
        store
            .apply(&[EventWrite::DeleteMessage {
                queue: "q".into(),
                id: "a".into(),
            }])
            .unwrap();
        assert_eq!(store.load_messages().unwrap(), []);
    }
}
