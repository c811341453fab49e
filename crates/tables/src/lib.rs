//! Tables: a DynamoDB-compatible database (JSON 1.0 API, expressions, indexes, streams, TTL, transactions).
//!
//! [`Tables`] is one account's tables in one region, stored in SQLite
//! under a directory. It is independent of HTTP: the gateway hands it the
//! operation (the `X-Amz-Target` suffix) and the JSON body, and renders
//! the JSON value or [`TablesError`] it returns.
//!
//! ```text
//! execute(op, json) ─> ops::* (parse + validate) ─> expr (conditions, updates)
//!                                               └─> store (SQLite transaction:
//!                                                   item + index entries + stream record)
//! ```
//!
//! One thread owns the connection and runs every operation in arrival
//! order ([`committer`]): operations that arrive together share one SQLite
//! transaction and one sync (`synchronous=FULL`), each in its own
//! savepoint, and every caller is answered only after the commit.
//! Conditional writes and transactions are serializable, an answer is
//! durable, and a stream record commits with its change.

mod committer;
mod error;
mod expr;
mod number;
mod ops;
mod partiql;
mod schema;
mod store;
mod streams;
mod value;

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use rusqlite::Connection;
use std::time::SystemTime;

use serde_json::Value;

use committer::Committer;
pub use error::TablesError;
pub use number::Number;
pub use streams::StreamInfo;
pub use value::{AttrValue, Item};

/// Operations that only read: they run on a reader connection, beside the
/// committer, and see every write acknowledged before they started.
const READ_ONLY: &[&str] = &[
    "GetItem",
    "Query",
    "Scan",
    "BatchGetItem",
    "TransactGetItems",
    "DescribeTable",
    "ListTables",
    "ListTagsOfResource",
    "DescribeTimeToLive",
    "DescribeLimits",
    "DescribeEndpoints",
];

/// Reader connections per account.
const READERS: usize = 4;

/// One account's tables.
pub struct Tables {
    committer: Committer,
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
    account_id: Arc<str>,
    region: Arc<str>,
}

impl Tables {
    /// One account's tables, stored under `dir` (SQLite, WAL, synchronous=FULL).
    pub fn open(dir: &Path, account_id: &str, region: &str) -> Result<Arc<Tables>, TablesError> {
        let conn = store::open(dir)?;
        let readers = (0..READERS)
            .map(|_| store::open_reader(dir).map(Mutex::new))
            .collect::<Result<_, _>>()?;
        Ok(Arc::new(Tables {
            committer: Committer::start(conn)?,
            readers,
            next_reader: AtomicUsize::new(0),
            account_id: account_id.into(),
            region: region.into(),
        }))
    }

    /// Runs one operation (`operation` is the X-Amz-Target suffix, e.g.
    /// "PutItem") on its JSON input; the output is the JSON the API
    /// returns, once it is durable. Blocking: call it on a blocking thread.
    pub fn execute(&self, operation: &str, input: &[u8]) -> Result<Value, TablesError> {
        let input = parse_input(input)?;
        if READ_ONLY.contains(&operation) {
            let ctx = ops::Ctx {
                account_id: &self.account_id,
                region: &self.region,
            };
            let mut reader = self.reader();
            return ops::dispatch(&ctx, &mut reader, operation, &input);
        }
        let operation = operation.to_string();
        let (account_id, region) = (Arc::clone(&self.account_id), Arc::clone(&self.region));
        self.committer.run(Box::new(move |conn| {
            let ctx = ops::Ctx {
                account_id: &account_id,
                region: &region,
            };
            ops::dispatch(&ctx, conn, &operation, &input)
        }))
    }

    /// A free reader connection, or the next one in turn.
    fn reader(&self) -> std::sync::MutexGuard<'_, Connection> {
        for reader in &self.readers {
            if let Ok(guard) = reader.try_lock() {
                return guard;
            }
        }
        let i = self.next_reader.fetch_add(1, Ordering::Relaxed) % self.readers.len();
        self.readers[i]
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The table names an operation's input acts on (for IAM: the gateway
    /// builds `arn:aws:dynamodb:REGION:ACCOUNT:table/NAME` per name), or an
    /// error for bad input.
    pub fn tables_named(operation: &str, input: &[u8]) -> Result<Vec<String>, TablesError> {
        let input = parse_input(input)?;
        ops::tables_named(operation, &input)
    }

    /// Deletes expired TTL items once (recording them in the stream as
    /// service deletions) and drops stream records older than 24 hours;
    /// returns how many items were deleted.
    pub fn expire_ttl(&self, now: SystemTime) -> Result<usize, TablesError> {
        let now = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        let deleted = self.committer.run(Box::new(move |conn| {
            ops::ttl::expire(conn, now).map(Value::from)
        }))?;
        Ok(deleted.as_u64().unwrap_or(0) as usize)
    }

    /// Stream records of `table` with sequence numbers after
    /// `after_sequence` (0 for the oldest), at most `limit`, oldest first,
    /// in the shape of DynamoDB Streams' `GetRecords`.
    pub fn stream_records(
        &self,
        table: &str,
        after_sequence: u64,
        limit: usize,
    ) -> Result<Vec<Value>, TablesError> {
        let table = table.to_string();
        let records = self.committer.run(Box::new(move |conn| {
            let meta = store::require_table(conn, &table)?;
            store::stream_records(conn, &meta, after_sequence, limit).map(Value::Array)
        }))?;
        match records {
            Value::Array(list) => Ok(list),
            _ => Ok(Vec::new()),
        }
    }
}

impl Tables {
    /// Every table's stream (DynamoDB Streams' ListStreams), by table
    /// name; `range` is not filled in. Blocking.
    pub fn streams(&self) -> Result<Vec<StreamInfo>, TablesError> {
        streams::list(&self.reader())
    }

    /// `table`'s stream with the sequence numbers it holds, or
    /// `ResourceNotFoundException` when it has none. Blocking.
    pub fn stream(&self, table: &str) -> Result<StreamInfo, TablesError> {
        streams::describe(&self.reader(), table)
    }
}

fn parse_input(input: &[u8]) -> Result<Value, TablesError> {
    if input.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Default::default()));
    }
    let value: Value = serde_json::from_slice(input)
        .map_err(|e| TablesError::Serialization(format!("Malformed JSON: {e}")))?;
    if !value.is_object() {
        return Err(TablesError::Serialization(
            "Start of list found where not expected".into(),
        ));
    }
    Ok(value)
}
