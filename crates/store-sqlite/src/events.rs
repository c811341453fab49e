//! The embedded [`EventStore`]: its own SQLite file (`events.db`), so
//! message traffic never waits behind the metadata store's writes.
//!
//! ```text
//! messages   (queue, id) PK | seq | body BLOB | attributes JSON | sent_ms |
//!            visible_ms | receive_count | first_receive_ms
//!            index (queue, seq): load order
//! resources  (kind, key) PK | value JSON
//! ```
//!
//! WAL with `synchronous=FULL`: a batch is on disk when `apply` returns.

use std::fmt;
use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use updraft_store::{EventStore, EventWrite, Result, StoreError, StoredMessage};

const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS messages (
        queue            TEXT NOT NULL,
        id               TEXT NOT NULL,
        seq              INTEGER NOT NULL,
        body             BLOB NOT NULL,
        attributes       TEXT NOT NULL,
        sent_ms          INTEGER NOT NULL,
        visible_ms       INTEGER NOT NULL,
        receive_count    INTEGER NOT NULL,
        first_receive_ms INTEGER,
        PRIMARY KEY (queue, id)
    ) STRICT, WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS messages_by_seq ON messages (queue, seq);
    CREATE TABLE IF NOT EXISTS resources (
        kind  TEXT NOT NULL,
        key   TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (kind, key)
    ) STRICT, WITHOUT ROWID;
";

pub struct SqliteEventStore {
    conn: Mutex<Connection>,
}

impl fmt::Debug for SqliteEventStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteEventStore").finish_non_exhaustive()
    }
}

fn backend(context: &str, e: rusqlite::Error) -> StoreError {
    StoreError::Backend(format!("{context}: {e}"))
}

impl SqliteEventStore {
    /// Opens (creating it if needed) the database at `path`. The directory
    /// must exist.
    pub fn open(path: &Path) -> Result<Self> {
        let context = format!("opening {}", path.display());
        let conn = Connection::open(path).map_err(|e| backend(&context, e))?;
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
            .map_err(|e| backend(&context, e))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Backend(format!(
                "{context}: the database refused WAL mode (journal_mode is {mode})"
            )));
        }
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
            .and_then(|()| conn.execute_batch(SCHEMA))
            .map_err(|e| backend(context, e))?;
        Ok(SqliteEventStore {
            conn: Mutex::new(conn),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock dropped its transaction, which
        // rolled back: the connection is still consistent.
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl EventStore for SqliteEventStore {
    fn apply(&self, writes: &[EventWrite]) -> Result<()> {
        let mut conn = self.lock();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| backend("apply", e))?;
        {
            let mut put = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO messages (queue, id, seq, body, attributes, sent_ms,
                     visible_ms, receive_count, first_receive_ms) VALUES (?,?,?,?,?,?,?,?,?)",
                )
                .map_err(|e| backend("apply", e))?;
            let mut update = tx
                .prepare_cached(
                    "UPDATE messages SET visible_ms = ?3, receive_count = ?4, first_receive_ms = ?5
                     WHERE queue = ?1 AND id = ?2",
                )
                .map_err(|e| backend("apply", e))?;
            let mut delete = tx
                .prepare_cached("DELETE FROM messages WHERE queue = ? AND id = ?")
                .map_err(|e| backend("apply", e))?;
            for w in writes {
                let done = match w {
                    EventWrite::PutMessage(m) => put.execute(params![
                        m.queue,
                        m.id,
                        m.seq,
                        m.body,
                        m.attributes,
                        m.sent_ms,
                        m.visible_ms,
                        m.receive_count,
                        m.first_receive_ms
                    ]),
                    EventWrite::UpdateMessage {
                        queue,
                        id,
                        visible_ms,
                        receive_count,
                        first_receive_ms,
                    } => update.execute(params![
                        queue,
                        id,
                        visible_ms,
                        receive_count,
                        first_receive_ms
                    ]),
                    EventWrite::DeleteMessage { queue, id } => delete.execute(params![queue, id]),
                    EventWrite::PurgeQueue { queue } => {
                        tx.execute("DELETE FROM messages WHERE queue = ?", params![queue])
                    }
                    EventWrite::PutResource { kind, key, value } => tx.execute(
                        "INSERT OR REPLACE INTO resources (kind, key, value) VALUES (?,?,?)",
                        params![kind, key, value],
                    ),
                    EventWrite::DeleteResource { kind, key } => tx.execute(
                        "DELETE FROM resources WHERE kind = ? AND key = ?",
                        params![kind, key],
                    ),
                };
                done.map_err(|e| backend("apply", e))?;
            }
        }
        tx.commit().map_err(|e| backend("apply: commit", e))
    }

    fn load_messages(&self) -> Result<Vec<StoredMessage>> {
        let conn = self.lock();
        let mut stmt = conn
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
        let conn = self.lock();
        let mut stmt = conn
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
            .query_row(
                "SELECT value FROM resources WHERE kind = ? AND key = ?",
                params![kind, key],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| backend("resource", e))
    }
}
